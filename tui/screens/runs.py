"""Screen 1: every run folder below the roots, live."""

from __future__ import annotations

import time
from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from runner.runs.summary import RunSummary
from tui.format import display_names, run_matches
from tui.screens.run_actions import RunControlMixin, control_bindings
from tui.typed import tapp
from tui.widgets.footer import SteadyFooter
from tui.widgets.run_table import SORTS, RunTable

AGE_REFRESH_S = 5.0
# After the user moves the cursor the row order holds (values still update in place, new runs are
# added at the end) until this long without a move, or until the sort or the filter changes: a re-sort
# never moves another run under a cursor that is on its way somewhere.
HOLD_S = 5.0
# Live updates (runs appending) are drawn at most this often: values change in place at once when the list
# was quiet, then batched; the order they would change ("updated" puts the run that wrote last on top) is
# applied with the ages, every AGE_REFRESH_S (with the live redraw then, when one is coming), or at once
# when a run appears, goes, or leaves the filter. Each redraw of a screenful of changed rows is ~25 ms of
# Textual's compositor: with many runs appending, one every 2 s (their reads come up to every 3 s, the
# statuses' every 2 s) instead of one a second is ~1% of a core less.
LIVE_EVERY_S = 2.0

EMPTY_TEXT = """[b]No runs yet.[/b]

tinkertop watches these folders for run folders (any folder with a metrics.jsonl, config.json,
checkpoints.jsonl or logs.log):
{roots}

To get something to look at:
  • [b]tinkertop demo[/b]  launches a small offline run on the embedded backend and opens it here
  • [b]tinkertop launch ...[/b] or any tinker-cookbook recipe with log_path=results/logs/<name>
  • [b]tinkertop FOLDER ...[/b]  opens the app on other folders

Runs appear here as soon as their folder is created. Press [b]?[/b] for keys, [b]q[/b] to quit."""


def _root_line(root: Path) -> str:
    where = f"  • {root}" if root.is_absolute() else f"  • {root}  ({root.resolve()})"
    return where if root.exists() else f"{where}  (does not exist yet)"


def _in_order(rows: list[RunSummary], order: list[str]) -> list[RunSummary]:
    """``rows`` in ``order`` when they are the runs of ``order`` (else as they are)."""
    place = {path: i for i, path in enumerate(order)}
    if len(rows) != len(place) or any(s.path not in place for s in rows):
        return rows
    return sorted(rows, key=lambda s: place[s.path])


class RunsScreen(RunControlMixin, Screen[None]):
    """The runs list with sort, filter and open."""

    BINDINGS = [
        Binding("enter", "open_run", "Open", id="runs.open"),
        Binding("s", "cycle_sort", "Sort", id="runs.sort"),
        Binding("slash", "filter", "Filter", id="runs.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="runs.clear_filter"),
        Binding("j", "cursor_down", "Down", show=False, id="runs.down"),
        Binding("k", "cursor_up", "Up", show=False, id="runs.up"),
        Binding("g", "cursor_top", "Top", show=False, id="runs.top"),
        Binding("G", "cursor_bottom", "Bottom", show=False, id="runs.bottom"),
        Binding("space", "toggle_mark", "Mark", show=False, id="runs.mark"),
        Binding("A", "mark_shown", "Mark all shown", show=False, id="runs.mark_all"),
        Binding("c", "compare", "Compare marked", show=False, id="runs.compare"),
        *control_bindings("runs"),
    ]

    def __init__(self) -> None:
        super().__init__(id="runs")
        self.summaries: list[RunSummary] = []
        self.sort_names = list(SORTS)
        self.sort = "updated"
        self.filter_text = ""
        self.scanned = False
        self.hold_s = HOLD_S
        self.held: list[str] | None = None  # the row order while it holds
        self._release: Timer | None = None
        self.labels: dict[str, str] = {}  # run path -> name shown (parents added when names clash)
        self.marked: dict[str, None] = {}  # run paths marked for compare, in the order marked
        self.live_every_s = LIVE_EVERY_S
        self._live_at = 0.0  # monotonic time of the last live update drawn
        self._live_waiting = False  # a live update waits for its turn
        self._resort_live = False  # the ages' re-sort was left to the live update that waits

    def compose(self) -> ComposeResult:
        yield Static("", id="runs-title")
        yield Input(
            placeholder="filter: words in path, kind, status or config; key=value (esc clears)",
            id="runs-filter",
        )
        with Vertical(id="runs-body"):
            yield RunTable(id="run-table")
            yield Static("Scanning…", id="runs-empty")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self.query_one("#runs-filter").display = False
        table = self.query_one(RunTable)
        table.focus()

        def first_draw() -> None:
            self.refresh()  # the whole screen: nothing drawn inside the start-up batch reached the terminal
            self.render_runs()

        # The app's compose and mount are one batch whose frames Textual draws but never writes: the rows
        # drawn there (80 ms for a screenful) were thrown away and "painted" came before any reached the
        # terminal. The app's own queue runs once that batch is over, after the focus it was just asked
        # for; the table's queue then takes its focus (styles) before the list draws its rows, once.
        # No runs yet (the worker reads them): the list is hidden at once, before it ever shows (hiding
        # a shown table later would move its focus to the next widget).
        if self.summaries:
            self.app.call_later(table.call_later, first_draw)
        else:
            self.render_runs()
        self.set_interval(AGE_REFRESH_S, self._refresh_ages)

    def update_runs(self, summaries: list[RunSummary], live: bool = False) -> None:
        """New summaries from the worker (the whole set); ``live``: runs that changed on disk (new values drawn
        at most every ``live_every_s``, in the order shown; see LIVE_EVERY_S)."""
        before = {s.path: s.status for s in self.summaries}
        if set(before) != {s.path for s in summaries} or not self.labels:
            self.labels = display_names([s.path for s in summaries])
        # a run that appears, goes or changes status (a stop, a finish) is shown at once
        live = (
            live and len(before) == len(summaries) and all(before.get(s.path) == s.status for s in summaries)
        )
        self.summaries = summaries
        self.scanned = True
        known = {s.path for s in summaries}
        self.marked = {p: None for p in self.marked if p in known}  # deleted runs lose their mark
        if not self.is_mounted:
            return
        if not live:
            self.render_runs()
        elif not self._live_waiting:
            self._live_waiting = True
            wait = self._live_at + self.live_every_s - time.monotonic()
            if wait > 0:
                self.set_timer(wait, self._draw_live)
            else:
                self.call_later(self._draw_live)  # after the messages queued now

    def _refresh_ages(self) -> None:
        """Keep "12s ago" current and let the order catch up: now, or with the live update that waits (one
        redraw, not two)."""
        if self._live_waiting:
            self._resort_live = True
        else:
            self.render_runs()

    def _draw_live(self) -> None:
        self._live_waiting = False
        self._live_at = time.monotonic()
        resort, self._resort_live = self._resort_live, False
        self.render_runs(resort=resort)

    def shown_runs(self) -> list[RunSummary]:
        """The runs that match the filter, sorted; while the order holds, in the held order."""
        configs = tapp(self).follower.configs
        text = self.filter_text
        rows = [s for s in self.summaries if run_matches(s, configs.get(s.path), text)]
        rows.sort(key=SORTS[self.sort])
        if self.held is None:
            return rows
        place = {path: i for i, path in enumerate(self.held)}
        kept = sorted((s for s in rows if s.path in place), key=lambda s: place[s.path])
        new = [s for s in rows if s.path not in place]  # added at the end while the order holds
        self.held += [s.path for s in new]
        return kept + new

    def _as_shown(self, order: list[str]) -> list[RunSummary] | None:
        """The runs in ``order``, the order shown, when it shows every run (no filter, none added or gone):
        what ``shown_runs`` would give in that order, without filtering and sorting every run again (a
        live update, each second while runs append); None otherwise."""
        if self.filter_text or len(order) != len(self.summaries):
            return None
        by_path = {s.path: s for s in self.summaries}
        if len(by_path) != len(order) or any(path not in by_path for path in order):
            return None
        return [by_path[path] for path in order]

    def render_runs(self, resort: bool = True) -> None:
        """Draw the list; ``resort=False``: the same runs keep the order shown (values change in place)."""
        table = self.query_one(RunTable)
        rows = None if resort else self._as_shown(table.order)
        if rows is None:
            rows = self.shown_runs()
            if not resort:
                rows = _in_order(rows, table.order)
        table.show(rows, tapp(self).now(), self.labels, self.marked)
        empty = self.query_one("#runs-empty", Static)
        have_any = bool(self.summaries)
        table.display = have_any
        empty.display = not have_any
        if not have_any and self.scanned:
            roots = "\n".join(_root_line(r) for r in tapp(self).roots)
            empty.update(EMPTY_TEXT.format(roots=roots))
        self._title(len(rows))
        if self.scanned:  # through the table's queue, as its first fill's rest: "painted" comes first
            table.call_after_refresh(self._painted, len(rows))

    def _painted(self, rows: int) -> None:
        """The list's rows are on the terminal (the refresh after they were drawn, outside the app's start-up
        batch, is over): the full read and the start-up's other summaries may come (and the benchmark hook)."""
        app = tapp(self)
        if not app.first_paint.is_set():  # the run Enter would open, for the worker's read ahead
            app.first_row = self.query_one(RunTable).selected_path()
        app.first_paint.set()
        app.hook.painted(rows)

    def _title(self, shown: int) -> None:
        total = len(self.summaries)
        count = f"{shown} of {total} runs" if shown != total else f"{total} runs"
        unread = tapp(self).unread  # runs found at start-up, not summarised yet
        count = f"{shown} of {total + unread} runs, reading…" if unread else count
        filt = f" · filter: {escape(repr(self.filter_text))}" if self.filter_text else ""
        held = " (order held while you move)" if self.held is not None else ""
        text = f"[b]tinkertop[/b] · {count} · sort: {self.sort}{held}{filt}"
        title = self.query_one("#runs-title", Static)
        if title.content != text:  # the same title is not laid out and drawn again (each live update)
            title.update(text)

    # --- the order holds while the user moves --------------------------------------------------
    @on(RunTable.Navigated)
    def _navigated(self) -> None:
        if self.held is None:
            self.held = self.query_one(RunTable).order
            self._title(len(self.held))
        if self._release is not None:
            self._release.stop()
        self._release = self.set_timer(self.hold_s, self.release_order)

    def release_order(self) -> None:
        """Sort again (the cursor stays on its run)."""
        if self.held is not None:
            self._drop_hold()
            self.render_runs()

    def _drop_hold(self) -> None:
        if self._release is not None:
            self._release.stop()
            self._release = None
        self.held = None

    def action_open_run(self) -> None:
        path = self.query_one(RunTable).selected_path()
        if path:
            tapp(self).open_run(path)

    def control_path(self) -> str | None:
        return self.query_one(RunTable).selected_path()

    def action_cycle_sort(self) -> None:
        self.set_sort(self.sort_names[(self.sort_names.index(self.sort) + 1) % len(self.sort_names)])

    def set_sort(self, key: str) -> None:
        self.sort = key
        self._drop_hold()
        self.render_runs()

    def action_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#runs-filter", Input)
        box.value = ""
        box.display = False
        self.query_one(RunTable).focus()

    @on(Input.Changed, "#runs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._drop_hold()
        self.render_runs()

    @on(Input.Submitted, "#runs-filter")
    def _filter_done(self) -> None:
        self.query_one(RunTable).focus()

    @on(RunTable.RowSelected)
    def _row_selected(self) -> None:
        self.action_open_run()

    # --- marks for compare (kept by run path across refreshes and sorts) -------------------------
    def action_toggle_mark(self) -> None:
        """Mark or unmark the run under the cursor, then move down (space space marks two rows)."""
        table = self.query_one(RunTable)
        path = table.selected_path()
        if path is None:
            return
        if self.marked.pop(path, 0) == 0:
            self.marked[path] = None
        self.render_runs()
        table.action_cursor_down()

    def action_mark_shown(self) -> None:
        """Mark every run the filter shows; when all of them are marked already, unmark them."""
        shown = self.query_one(RunTable).order
        if shown and all(p in self.marked for p in shown):
            for path in shown:
                self.marked.pop(path, None)
        else:
            self.marked.update(dict.fromkeys(shown))
        self.render_runs()

    def compare_paths(self) -> list[str]:
        """The runs ``c`` compares: the marked ones; with fewer than two marked, the cursor run too."""
        paths = list(self.marked)
        cursor = self.query_one(RunTable).selected_path() if self.is_mounted else None
        if len(paths) < 2 and cursor is not None and cursor not in paths:
            paths.append(cursor)
        return paths

    def action_compare(self) -> None:
        tapp(self).open_compare(self.compare_paths())

    def action_cursor_down(self) -> None:
        self.query_one(RunTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(RunTable).action_cursor_up()

    def action_cursor_top(self) -> None:
        self.query_one(RunTable).move_cursor(row=0)

    def action_cursor_bottom(self) -> None:
        table = self.query_one(RunTable)
        table.move_cursor(row=table.row_count - 1)
