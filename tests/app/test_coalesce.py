"""Refresh messages coalesce, and the open run's snapshot is rebuilt only when its files changed.

Real run folders, the real follower and Textual's real message pump. Two seams, named as such:
``Follower.snapshots_built`` counts snapshots built anew, and a spy on ``RunViewScreen.apply`` counts
what the run view was given to draw.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from textual.app import App

from runner.runs.summary import RunSummary
from runner.status import Status
from tests.app.conftest import FIXED_MTIME, copy_run, wait_until
from tui.app import TinkertopApp
from tui.follow import Focus, Follower
from tui.messages import RunsRefreshed

HEAD = "env/all/reward/total"


def _summary(path: str, step: int, removed: bool = False) -> RunSummary:
    return RunSummary(
        path=path, name=Path(path).name, kind="rl", status=Status.RUNNING, step=step, progress=None,
        headline_key=None, headline_value=None, spark=[], last_change=None, n_lines=step, bad_lines=0,
        latest={}, removed=removed,
    )  # fmt: skip


def _append_step(run: Path, step: int) -> None:
    metrics = run / "metrics.jsonl"
    last = json.loads(metrics.read_text().splitlines()[-1])
    with metrics.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(last, step=step)) + "\n")


def _two_runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    root = tmp_path / "runs"
    a = copy_run("rl_arith", root / "a", mtime=FIXED_MTIME)
    b = copy_run("rl_arith", root / "b", mtime=FIXED_MTIME)
    return root, a, b


class Recorder(App[None]):
    """A bare app that records every RunsRefreshed it handles (the real message pump)."""

    def __init__(self) -> None:
        super().__init__()
        self.handled: list[RunsRefreshed] = []

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        self.handled.append(message)


async def test_pending_update_replaced_by_newer_keeps_every_paths_latest_summary() -> None:
    app = Recorder()
    async with app.run_test() as pilot:
        alerts_old: dict = {"/a": []}
        # queued back to back: none is handled before the last is posted
        app.post_message(RunsRefreshed([_summary("/a", 1), _summary("/b", 1)], None, "update", alerts_old))
        app.post_message(RunsRefreshed([_summary("/a", 2)], None, "update", None))
        app.post_message(RunsRefreshed([_summary("/c", 5, removed=True)], None, "update", None))
        await wait_until(pilot, lambda: app.handled, what="a refresh handled")
        await pilot.pause()
        assert len(app.handled) == 1  # one message for three batches
        merged = app.handled[0]
        assert {s.path: (s.step, s.removed) for s in merged.summaries} == {
            "/a": (2, False),
            "/b": (1, False),
            "/c": (5, True),
        }
        assert merged.phase == "update"
        assert merged.alerts is alerts_old  # None is no news: the older map is still the newest


def test_merge_rules_phase_alerts_and_focus() -> None:
    full = RunsRefreshed([_summary("/a", 1), _summary("/b", 1)], None, "full", {"/a": []})
    newer = RunsRefreshed([_summary("/b", 3)], None, "update", {})
    assert full.can_replace(newer)
    assert newer.phase == "full"  # the full read is still marked done
    assert {s.path: s.step for s in newer.summaries} == {"/a": 1, "/b": 3}
    assert newer.alerts == {}  # the newest map wins
    # a tail-only quick list never replaces a full read
    assert not RunsRefreshed([], None, "full").can_replace(RunsRefreshed([], None, "quick"))
    # a newer full list replaces a pending update whole, keeping the update's alerts if it has none
    update = RunsRefreshed([_summary("/x", 1)], None, "update", {"/x": []})
    full2 = RunsRefreshed([_summary("/a", 9)], None, "full", None)
    assert update.can_replace(full2)
    assert [s.path for s in full2.summaries] == ["/a"] and full2.alerts == {"/x": []}
    assert not update.can_replace(object())  # type: ignore[arg-type]


async def test_app_keeps_both_runs_latest_when_updates_coalesce(tmp_path: Path) -> None:
    root, a, b = _two_runs(tmp_path)
    app = TinkertopApp([root])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        sa, sb = app.summaries[str(a)], app.summaries[str(b)]
        app.post_message(RunsRefreshed([replace(sa, step=41), replace(sb, step=42)], None, "update"))
        app.post_message(RunsRefreshed([replace(sa, step=43)], None, "update"))
        await wait_until(pilot, lambda: app.summaries[str(a)].step == 43, what="the newest step of a")
        assert app.summaries[str(b)].step == 42


def test_snapshot_reused_until_the_focused_runs_files_or_focus_change(tmp_path: Path) -> None:
    root, a, b = _two_runs(tmp_path)
    follower = Follower([root])
    follower.full()
    follower.focus = Focus(str(a), (HEAD,))
    first = follower.snapshot()
    assert first is not None and follower.snapshots_built == 1
    assert follower.snapshot() is first  # nothing changed: the same object

    _append_step(b, 6)
    follower.refresh({b})
    follower.resummarise()
    assert follower.snapshot() is first and follower.snapshots_built == 1  # b's batch: not rebuilt

    _append_step(a, 6)
    follower.refresh({a})
    second = follower.snapshot()
    assert second is not first and follower.snapshots_built == 2
    assert second is not None and second.series[HEAD].steps[-1] == 6

    follower.focus = Focus(str(a), (HEAD, "optim/entropy"))  # other keys: a new snapshot
    third = follower.snapshot()
    assert third is not second and third is not None and "optim/entropy" in third.series
    assert follower.snapshots_built == 3


async def test_run_view_not_rebuilt_or_redrawn_for_another_runs_batch(tmp_path: Path) -> None:
    root, a, b = _two_runs(tmp_path)
    app = TinkertopApp([root])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        app.open_run(str(a))
        view = await wait_until(pilot, app._run_view, what="the run view")
        await wait_until(pilot, lambda: view.detail is not None and view.keys, what="the run shown")
        await wait_until(pilot, lambda: app._shown is not None, what="a snapshot shown")
        built = app.follower.snapshots_built
        drawn: list[object] = []  # seam: a spy on what the run view is given to draw
        apply = view.apply
        view.apply = lambda snap: (drawn.append(snap), apply(snap))  # type: ignore[method-assign]

        _append_step(b, 6)
        await wait_until(pilot, lambda: app.summaries[str(b)].step == 6, what="b's new step listed")
        assert app.follower.snapshots_built == built and drawn == []

        _append_step(a, 6)
        await wait_until(pilot, lambda: view.detail.summary.step == 6, what="a's new step shown")
        assert app.follower.snapshots_built > built and drawn
