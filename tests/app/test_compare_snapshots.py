"""Snapshot (pytest-textual-snapshot) of the compare view: the four IF-RLVR runs of ../shared/realdata
marked and compared (the overlay of their reward, the legend), 120x40, frozen clock, fixed mtimes."""

from __future__ import annotations

import os
from pathlib import Path

from tests.app.conftest import FIXED_MTIME, FROZEN_NOW, wait_until
from tests.app.test_compare import copy_versions
from tui.app import TinkertopApp
from tui.screens.compare import CompareScreen

SIZE = (120, 40)


def _app(tmp_path: Path) -> TinkertopApp:
    root = tmp_path / "results" / "logs"
    for i, run in enumerate(copy_versions(root)):
        for path in [run, *run.rglob("*")]:
            os.utime(path, (FIXED_MTIME + 97 * i, FIXED_MTIME + 97 * i))
    return TinkertopApp([root], now=lambda: FROZEN_NOW)


async def _compared(pilot) -> None:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.loaded and len(app.summaries) == 4, what="full read")
    await pilot.press("A", "c")
    await wait_until(pilot, lambda: isinstance(app.screen, CompareScreen), what="compare")
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    await wait_until(pilot, lambda: len(screen.chart.keys) == 4 and screen.table is not None, what="overlay")
    await pilot.pause()


def test_compare_overlay(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=_compared)


def test_compare_table(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def before(pilot) -> None:  # type: ignore[no-untyped-def]
        await _compared(pilot)
        await pilot.press("t")
        await pilot.pause()

    assert snap_compare(_app(tmp_path), terminal_size=SIZE, run_before=before)
