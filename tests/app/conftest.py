"""Shared helpers for the app tests: real run folders from ../shared/formats, condition waits."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widget import Widget

from tests.shared_data import SHARED
from tui.app import TinkertopApp
from tui.screens.launch import LaunchScreen
from tui.screens.rollouts import RolloutsScreen

FORMATS = SHARED / "formats"
FIXED_MTIME = 1_780_000_000.0  # 2026-05-28, long before any test runs: statuses are stable
FROZEN_NOW = FIXED_MTIME + 3600.0


def copy_run(name: str, dest: Path, mtime: float | None = None) -> Path:
    """Copy ``shared/formats/<name>`` to ``dest/<name>`` (skip the test when absent)."""
    src = FORMATS / name
    if not src.is_dir():
        pytest.skip(f"{src} is absent")
    target = dest / name
    shutil.copytree(src, target)
    if mtime is not None:
        for path in [target, *target.rglob("*")]:
            os.utime(path, (mtime, mtime))
    return target


async def wait_until(pilot, cond: Callable[[], object], timeout: float = 15.0, what: str = "") -> object:  # type: ignore[no-untyped-def]
    """Let the app run until ``cond()`` is truthy; fail after ``timeout`` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = cond()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace with results/logs (the working folder), a private state dir and a fake hosted key (the
    self-test job reaches no service)."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "k" * 40)
    work = tmp_path / "work"
    (work / "results" / "logs").mkdir(parents=True)
    monkeypatch.chdir(work)
    return work


async def open_launch_form(pilot, app: TinkertopApp) -> LaunchScreen:  # type: ignore[no-untyped-def]
    """Wait for the app's full read, press ``n`` and return the launch form once it is on screen."""
    await wait_until(pilot, lambda: app.loaded, what="the full read")
    await pilot.press("n")
    form = await wait_until(pilot, lambda: isinstance(app.screen, LaunchScreen) and app.screen, what="form")
    assert isinstance(form, LaunchScreen)
    return form


@pytest.fixture
def logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``formats/rl_arith`` copied to ``<tmp>/logs``; the test's folder the working folder, its own home
    (acks and records)."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "logs"
    copy_run("rl_arith", root)
    return root


async def open_rollouts(pilot, app: TinkertopApp) -> RolloutsScreen:  # type: ignore[no-untyped-def]
    """Wait for the full read, press ``3`` and return the rollouts view once its first iteration is in."""
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="full read")
    await pilot.press("3")
    screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
    assert isinstance(screen, RolloutsScreen)
    await wait_until(pilot, lambda: screen.iteration is not None, what="first iteration loaded")
    return screen


class WidgetHost(App[None]):
    """An app that shows one widget: a widget's own tests, without the whole app."""

    def __init__(self, widget: Widget) -> None:
        super().__init__()
        self.hosted = widget

    def compose(self) -> ComposeResult:
        yield self.hosted


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Seam (a counting wrapper, not a mock): the runs whose cells the runs table builds."""
    from tui.widgets.run_table import RunTable

    paths: list[str] = []
    cells = RunTable._cells

    def counting(self, s, now, label):  # type: ignore[no-untyped-def]
        paths.append(s.path)
        return cells(self, s, now, label)

    monkeypatch.setattr(RunTable, "_cells", counting)
    return paths
