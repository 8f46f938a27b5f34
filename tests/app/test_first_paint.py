"""The first paint of a long runs list (issue 12): the first frame holding rows is one the terminal gets
(Textual never writes the frames drawn inside the app's start-up batch), the hook says "painted" only once
such a frame went out, and the rows a first fill leaves for later are added after it."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App

from runner.runs.quick import quick_scan, quick_scan_parts
from runner.runs.summary import RunSummary
from tests.app.conftest import FIXED_MTIME, FROZEN_NOW, wait_until
from tui.app import TinkertopApp
from tui.prefetch import FIRST_FILL
from tui.widgets.run_table import RunTable

N = FIRST_FILL + 50  # a first fill leaves rows for after its paint


def make_runs(root: Path, n: int = N) -> None:
    for i in range(n):
        run = root / f"run_{i:03d}"
        run.mkdir(parents=True)
        lines = (json.dumps({"step": s, "env/all/reward/total": (s + i) / 100}) for s in range(20))
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        for path in (run / "metrics.jsonl", run):
            os.utime(path, (FIXED_MTIME + i, FIXED_MTIME + i))


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Seam (recording wrappers, not mocks): the frames the app hands to its terminal (``App._display``
    writes none while a batch is open), the hook's "painted" and the rest of a first fill being added."""
    seen: list[str] = []
    display = App._display

    def recording_display(self, screen, renderable):  # type: ignore[no-untyped-def]
        if renderable is not None and "run_" in _text(self, renderable):
            seen.append("rows in a batch (never written)" if self._batch_count else "rows written")
        return display(self, screen, renderable)

    add_rest = RunTable._add_rest

    def recording_add_rest(self):  # type: ignore[no-untyped-def]
        if self._rest is not None:
            seen.append("rest added")
        return add_rest(self)

    painted = TinkertopApp.__init__

    def recording_init(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        painted(self, *args, **kwargs)
        hook_painted = self.hook.painted
        self.hook.painted = lambda rows: (seen.append(f"painted {rows}"), hook_painted(rows))[1]

    monkeypatch.setattr(App, "_display", recording_display)
    monkeypatch.setattr(RunTable, "_add_rest", recording_add_rest)
    monkeypatch.setattr(TinkertopApp, "__init__", recording_init)
    return seen


def _text(app: App[object], renderable: object) -> str:
    render = getattr(renderable, "render_segments", None)
    return render(app.console) if render is not None else ""


async def test_the_first_rows_frame_is_written_then_painted_then_the_rest_added(
    tmp_path: Path, events: list[str]
) -> None:
    make_runs(tmp_path)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=quick_scan([tmp_path]))
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.runs_screen.query_one(RunTable)
        await wait_until(pilot, lambda: table.row_count == N and "rest added" in events, what="every row")
        await wait_until(pilot, app.first_paint.is_set, what="the first paint")
        assert "rows in a batch (never written)" not in events, events[:3]  # none drawn in vain
        firsts = sorted({e: events.index(e) for e in events}.items(), key=lambda kv: kv[1])
        assert [e for e, _ in firsts] == ["rows written", f"painted {N}", "rest added"], events[:6]
        assert table.order[0].endswith(f"run_{N - 1:03d}")  # newest first


def _title(app: TinkertopApp) -> str:
    return str(app.runs_screen.query_one("#runs-title").render())


async def test_the_list_starts_on_the_newest_runs_then_adds_the_others_once_painted(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=FIRST_FILL)
    taken: list[bool] = []

    def take_rest() -> list[RunSummary]:
        taken.append(app.first_paint.is_set())
        return rest

    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=first, rest=take_rest, found=found)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.runs_screen.query_one(RunTable)
        await wait_until(pilot, lambda: table.row_count, what="the first rows")
        assert table.order[0].endswith(f"run_{N - 1:03d}")  # the newest on top
        assert f"{FIRST_FILL} of {N} runs, reading…" in _title(app)  # the title does not lie
        await wait_until(pilot, lambda: table.row_count == N, what="the others")
        assert taken == [True]  # asked for once the list had painted
        assert f"· {N} runs ·" in _title(app)
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        assert table.row_count == N and f"· {N} runs ·" in _title(app)


async def test_without_the_others_the_full_read_brings_them(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), _ = quick_scan_parts([tmp_path], first=FIRST_FILL)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=first, rest=lambda: None, found=found)
    async with app.run_test(size=(120, 30)) as pilot:
        table = app.runs_screen.query_one(RunTable)
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        await wait_until(pilot, lambda: table.row_count == N, what="every run")
        assert f"· {N} runs ·" in _title(app) and "reading" not in _title(app)


async def test_others_late_after_the_full_read_change_nothing(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=FIRST_FILL)
    full_in = threading.Event()

    def late_rest() -> list[RunSummary]:
        full_in.wait(30)
        return [replace(s, step=-5) for s in rest]

    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=first, rest=late_rest, found=found)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        full = dict(app.summaries)
        full_in.set()
        rest_done = lambda: all(w.is_finished for w in app.workers if w.group == "take-rest")  # noqa: E731
        await wait_until(pilot, rest_done, what="the late rest")
        await pilot.pause()
        assert app.summaries == full and len(full) == N


async def test_the_others_wait_while_a_run_opens_until_its_chart_is_out(tmp_path: Path) -> None:
    make_runs(tmp_path)
    (first, found), (rest, _) = quick_scan_parts([tmp_path], first=FIRST_FILL)
    arrived = threading.Event()

    def take_rest() -> list[RunSummary]:
        arrived.wait(30)
        return rest

    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW, initial=first, rest=take_rest, found=found)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, app.first_paint.is_set, what="the first paint")
        charted: list[int] = []
        shown = app.run_shown
        app.run_shown = lambda: (charted.append(len(app.summaries)), shown())[1]  # type: ignore[method-assign]
        app.open_run(first[0].path)  # Enter right after the first paint
        arrived.set()  # the others come while the run opens
        await wait_until(pilot, lambda: charted, what="the chart")
        await wait_until(pilot, lambda: len(app.summaries) == N, what="the others")
        assert charted[0] == FIRST_FILL  # the chart first, then the list takes the others
