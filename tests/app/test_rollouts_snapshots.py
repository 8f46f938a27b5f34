"""Snapshots of the rollouts view (pytest-textual-snapshot, 140x44, frozen clock): an iteration's groups
side by side (``formats/rl_arith``, iteration folders) and a long transcript of a public IF-RLVR run
(older flat HTML layout), both real files copied with fixed mtimes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.app.conftest import FIXED_MTIME, FROZEN_NOW, copy_run, wait_until
from tests.app.test_rollouts import IF_RLVR
from tui.app import TinkertopApp
from tui.screens.rollouts import RolloutsScreen

SIZE = (140, 44)


async def _rollouts(pilot, step: int) -> RolloutsScreen:  # type: ignore[no-untyped-def]
    app = pilot.app
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="full read")
    await pilot.press("3")
    screen = await wait_until(pilot, lambda: isinstance(app.screen, RolloutsScreen) and app.screen)
    await wait_until(pilot, lambda: screen.iteration is not None, what="loaded")
    if step:
        screen.iterations.select("train", step)
        await wait_until(pilot, lambda: screen.iteration.ref.step == step, what=f"step {step}")
    return screen


def test_rollout_groups(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "logs"
    copy_run("rl_arith", root, mtime=FIXED_MTIME)
    app = TinkertopApp([root], now=lambda: FROZEN_NOW)

    async def before(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = await _rollouts(pilot, 1)
        await pilot.press("enter", "right", "down")  # group 1, trajectory 1 (text logged)
        view = screen.transcript
        await wait_until(pilot, lambda: view.trajectory is not None and view.ready, what="transcript")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)


def test_rollout_transcript(tmp_path: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    if not IF_RLVR.is_dir():
        pytest.skip(f"{IF_RLVR} is absent")
    run = tmp_path / "logs" / "if_rlvr"
    shutil.copytree(IF_RLVR, run)
    for path in [run, *run.rglob("*")]:
        os.utime(path, (FIXED_MTIME, FIXED_MTIME))
    app = TinkertopApp([tmp_path / "logs"], now=lambda: FROZEN_NOW)

    async def before(pilot) -> None:  # type: ignore[no-untyped-def]
        screen = await _rollouts(pilot, 0)
        await pilot.press("enter", "enter")  # into the groups, then into the transcript
        view = screen.transcript
        await wait_until(pilot, lambda: view.has_focus and view.ready, what="transcript focused, drawn")
        await pilot.press("pagedown")  # scrolled: the long answer as markdown
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=before)
