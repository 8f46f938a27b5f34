"""Stop, resume and delete from the app (Pilot) on real supervised processes (the self-test job).

K asks for confirmation naming the run, escape cancels (the run goes on), y stops it (its process
group is gone and the row shows ``stopped``); R resumes it (confirmed); D needs the exact name
typed and refuses a live run; a failed run's view shows the exit code and its last console lines.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from runner.control import procs, state_dir
from runner.control.testing import launch_job, steps, wait_for, wait_status
from tests.app.conftest import wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.widgets.confirm import ConfirmModal, TypeNameModal
from tui.widgets.run_info import RunInfoBar
from tui.widgets.run_table import RunTable

LONG = ("steps=100000", "step_seconds=0.05", "spawn_grandchild=true")


@pytest.fixture
def cleanup() -> object:
    """Run ids to stop at the end whatever happens (no process outlives the test)."""
    from runner.control import actions

    ids: list[str] = []
    yield ids
    for run_id in ids:
        try:
            actions.stop(run_id, grace=2)
        except Exception:  # noqa: BLE001 - already gone
            pass


def _folder(ws: Path, name: str) -> str:
    return str((ws / "results" / "logs" / name).resolve())


async def _select(pilot, app: TinkertopApp, path: str, status: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the list shows ``path`` with ``status`` and put the cursor on it."""
    await wait_until(
        pilot,
        lambda: path in app.summaries and app.summaries[path].status == status,
        30,
        f"{Path(path).name} {status} in the list",
    )
    table = app.runs_screen.query_one(RunTable)
    await wait_until(pilot, lambda: path in table._order, what="row shown")
    table.move_cursor(row=table._order.index(path))
    await pilot.pause()


async def test_K_confirms_naming_the_run_escape_cancels_y_stops(ws: Path, cleanup: list[str]) -> None:
    run_id = launch_job(ws, *LONG, name="long")
    cleanup.append(run_id)
    wait_for(lambda: len(steps(run_id)) >= 2, what="first metrics")
    pgid = (state_dir.read_state(run_id) or {})["pgid"]
    wait_for(lambda: len(procs.group_members(pgid)) >= 2, what="job and grandchild")
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        path = _folder(ws, "long")
        await _select(pilot, app, path, "running")
        await pilot.press("K")
        modal = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmModal) and app.screen, what="modal"
        )
        text = screen_text(app)
        assert "Stop run long?" in text and f"pid {(state_dir.read_state(run_id) or {})['pid']}" in text
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmModal), what="modal closed")
        assert modal is not app.screen
        await pilot.pause(0.5)
        assert wait_status(run_id, "running", timeout=1) == "running"
        assert len(procs.group_members(pgid)) >= 2
        n = len(steps(run_id))
        wait_for(lambda: len(steps(run_id)) > n, what="still writing steps")

        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="modal again")
        await pilot.press("y")
        await wait_until(pilot, lambda: app.summaries[path].status == "stopped", 40, "row shows stopped")
        assert not procs.group_members(pgid)  # job and grandchild are gone
        assert (state_dir.read_state(run_id) or {})["status"] == "stopped"
        await pilot.pause(0.2)
        assert "stopped" in screen_text(app)

        # R resumes it from its folder (confirmed, naming the run)
        last = steps(run_id)[-1]
        await pilot.press("R")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="resume modal")
        assert "Resume run long?" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.summaries[path].status == "running", 40, "running again")
        wait_for(lambda: steps(run_id)[-1] > last + 1, what="steps after resume")
        assert steps(run_id)[: last + 2] == list(range(last + 2))  # resumed, no step lost or repeated


async def test_D_needs_the_exact_name_and_refuses_a_live_run(ws: Path, cleanup: list[str]) -> None:
    live = launch_job(ws, *LONG, name="live")
    cleanup.append(live)
    done = launch_job(ws, "steps=3", "step_seconds=0.01", name="done")
    wait_status(done, "finished", "failed")
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        await _select(pilot, app, _folder(ws, "live"), "running")
        await pilot.press("D")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, TypeNameModal)  # refused: a live run is never deleted
        assert Path(_folder(ws, "live")).is_dir()

        path = _folder(ws, "done")
        await _select(pilot, app, path, "finished")
        await pilot.press("D")
        modal = await wait_until(
            pilot, lambda: isinstance(app.screen, TypeNameModal) and app.screen, what="modal"
        )
        assert "Delete run done?" in screen_text(app)
        await pilot.press(*"don", "enter")  # not the name: nothing happens
        await pilot.pause(0.3)
        assert app.screen is modal and Path(path).is_dir()
        assert modal.query_one("#confirm-yes").disabled
        modal.query_one(Input).value = "Done"
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.screen is modal and Path(path).is_dir()
        modal.query_one(Input).value = "done"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not Path(path).exists(), 20, "folder deleted")
        await wait_until(pilot, lambda: path not in app.summaries, 20, "row gone")
        assert not state_dir.record_dir(done).exists()


async def test_escape_on_delete_keeps_the_run(ws: Path) -> None:
    done = launch_job(ws, "steps=2", "step_seconds=0.01", name="keep")
    wait_status(done, "finished", "failed")
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        path = _folder(ws, "keep")
        await _select(pilot, app, path, "finished")
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, TypeNameModal), what="modal")
        await pilot.press(*"keep", "escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, TypeNameModal), what="closed")
        await pilot.pause(0.3)
        assert Path(path).is_dir() and state_dir.record_dir(done).exists()


async def test_failed_run_shows_exit_code_and_console_tail(ws: Path) -> None:
    run_id = launch_job(ws, "steps=5", "fail_at=2", "step_seconds=0.01", name="boom")
    assert wait_status(run_id, "finished", "failed") == "failed"
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        path = _folder(ws, "boom")
        await _select(pilot, app, path, "failed")
        assert "failed" in screen_text(app)
        await pilot.press("enter")
        view = await wait_until(pilot, app._run_view, what="the run view")
        bar = view.query_one(RunInfoBar)
        await wait_until(pilot, lambda: bar.info is not None and bar.display, 10, "run info")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "exit code 1" in text
        assert "selftest failure at step 2" in text  # the job's last console lines


async def test_queued_run_is_listed_from_its_record_and_K_dequeues_it(ws: Path, cleanup: list[str]) -> None:
    from runner.control import queue

    queue.set_max_parallel(1)
    busy = launch_job(ws, *LONG, name="busy")
    cleanup.append(busy)
    waiting = launch_job(ws, "steps=3", name="waiting", queue=True)
    cleanup.append(waiting)
    assert wait_status(waiting, "queued", timeout=5) == "queued"
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        path = _folder(ws, "waiting")
        assert not Path(path).exists()  # no folder yet: the row comes from the record
        await _select(pilot, app, path, "queued")
        await pilot.pause(0.2)
        assert "queued" in screen_text(app)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="modal")
        assert "Stop run waiting?" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.summaries[path].status == "stopped", 20, "dequeued")
        assert wait_status(busy, "running", timeout=1) == "running"  # the other run is untouched
        # a run that never got a folder can be deleted too: its row leaves the list
        await pilot.press("D")
        modal = await wait_until(
            pilot, lambda: isinstance(app.screen, TypeNameModal) and app.screen, what="D"
        )
        modal.query_one(Input).value = "waiting"
        await pilot.press("enter")
        await wait_until(pilot, lambda: path not in app.summaries, 20, "row gone")
        assert not state_dir.record_dir(waiting).exists()


async def test_lost_run_is_shown_and_K_stops_its_orphaned_job(ws: Path, cleanup: list[str]) -> None:
    import os
    import signal

    run_id = launch_job(ws, *LONG, name="orphan[1]")
    cleanup.append(run_id)
    wait_for(lambda: len(steps(run_id)) >= 2, what="first metrics")
    state = state_dir.read_state(run_id) or {}
    os.kill(state["supervisor_pid"], signal.SIGKILL)  # the supervisor dies; the job goes on
    pgid = state["pgid"]
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        path = _folder(ws, "orphan[1]")
        await _select(pilot, app, path, "lost")
        assert procs.group_members(pgid)
        await pilot.press("K")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="modal")
        assert "Stop run orphan[1]?" in screen_text(app)  # names are shown verbatim, not as markup
        await pilot.press("y")
        await wait_until(pilot, lambda: app.summaries[path].status == "stopped", 40, "stopped")
        assert not procs.group_members(pgid)


async def test_ctrl_k_force_stops_a_job_that_ignores_sigterm(ws: Path, cleanup: list[str]) -> None:
    run_id = launch_job(ws, *LONG, "ignore_term=true", name="stubborn")
    cleanup.append(run_id)
    wait_for(lambda: len(steps(run_id)) >= 2, what="first metrics")
    pgid = (state_dir.read_state(run_id) or {})["pgid"]
    app = TinkertopApp([ws / "results" / "logs"])
    async with app.run_test(size=(140, 40)) as pilot:
        path = _folder(ws, "stubborn")
        await _select(pilot, app, path, "running")
        await pilot.press("ctrl+k")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmModal), what="modal")
        assert "Force-stop run stubborn?" in screen_text(app) and "SIGKILL after 1 s" in screen_text(app)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.summaries[path].status == "stopped", 30, "stopped")
        assert not procs.group_members(pgid)
