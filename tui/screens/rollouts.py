"""Screen 3: what the model wrote. A run's iterations (train and each eval) with their rewards, an
iteration's groups side by side, a trajectory's transcript; search across all iterations, filters,
sort, a pinned trajectory beside the current one (before/after), and where each step's time goes.

Every read runs in a thread worker that posts one message per result (search: one per batch of hits).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from rich.markup import escape
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from tui.format import number
from tui.screens.rollouts_search import SearchingScreen, same
from tui.screens.rollouts_target import chart_split as chart_split  # re-exported: the run view's import
from tui.screens.rollouts_target import chart_step as chart_step
from tui.screens.rollouts_target import metric_split as metric_split
from tui.widgets.footer import SteadyFooter
from tui.widgets.iteration_list import IterationList, bars, nearest, ref_key, split_label
from tui.widgets.rollout_groups import (
    SORTS,
    FilterError,
    RolloutGroups,
    apply_filter,
    group_trajectories,
    trajectory_summary,
)
from tui.widgets.timing_gantt import TimingGantt
from tui.widgets.transcript import TranscriptView

if TYPE_CHECKING:
    from runner.rollouts import Hit, Iteration, IterationRef, Trajectory

RELIST_S = 5.0  # the iteration list is read again this often while shown (a live run adds iterations)


class IterationsListed(Message):
    """The run's iterations; ``benchmarks``: the benchmark results found (None: not looked for)."""

    def __init__(
        self, refs: list[IterationRef], benchmarks: list[IterationRef] | None = None, error: str = ""
    ) -> None:
        super().__init__()
        self.refs, self.benchmarks, self.error = refs, benchmarks, error


class IterationLoaded(Message):
    def __init__(self, ref: IterationRef, iteration: Iteration | None, error: str = "") -> None:
        super().__init__()
        self.ref, self.iteration, self.error = ref, iteration, error


def open_rollouts(app: App[Any], path: str, step: int | None = None, split: str = "train") -> None:
    """Push the rollouts view of the run at ``path``, on the iteration of ``split`` nearest ``step``."""
    app.push_screen(RolloutsScreen(path, step=step, split=split))


# the pinned trajectory of each app (kept across rollouts views: a run's beside another run's)
PINS: WeakKeyDictionary[App[Any], tuple[IterationRef, Trajectory]] = WeakKeyDictionary()


class RolloutsScreen(SearchingScreen):
    """One run's rollouts. Escape returns to the screen below."""

    BINDINGS = [
        Binding("escape", "back", "Back", id="rollouts.back"),
        Binding("slash", "search", "Search", priority=True, id="rollouts.search"),
        Binding("n", "next_hit(1)", "Next hit", id="rollouts.next_hit"),
        Binding("N", "next_hit(-1)", "Prev hit", show=False, id="rollouts.prev_hit"),
        Binding("ctrl+r", "toggle_regex", "Regex on/off", priority=True, id="rollouts.regex"),
        Binding("f", "filter", "Filter", id="rollouts.filter"),
        Binding("s", "cycle_sort", "Sort", id="rollouts.sort"),
        Binding("t", "flip('thinking')", "Thinking", id="rollouts.thinking"),
        Binding("T", "flip('special')", "Special tokens", show=False, id="rollouts.special"),
        Binding("p", "pin", "Pin/unpin", id="rollouts.pin"),
        Binding("m", "match_pinned", "Same prompt", show=False, id="rollouts.match"),
        Binding("w", "show_tab", "Timing", id="rollouts.timing"),
    ]

    def __init__(self, path: str, step: int | None = None, split: str = "train") -> None:
        super().__init__(id="rollouts")
        self.path, self.step, self.split = path, step, split
        self.iteration: Iteration | None = None
        self.pending_ref: IterationRef | None = None
        self.benchmarks: list[IterationRef] = []  # benchmark results found in the run folder
        self.filter_text = ""
        self.sort = SORTS[0]
        self.regex = False
        self.mode = "search"  # what the input box is for: search or filter
        self.hits: list[Hit] = []
        self.hit_at = -1
        self.search_id = 0
        self.searching = False
        self.target: Hit | None = None  # a hit to show once its iteration is loaded
        self.pinned: tuple[IterationRef, Trajectory] | None = None
        self.iterations = IterationList(id="iteration-list")
        self.groups = RolloutGroups(id="rollout-groups")
        self.transcript = TranscriptView(id="transcript")
        self.pinned_view = TranscriptView(id="pinned-transcript")
        self.gantt = TimingGantt(id="timing")

    def compose(self) -> ComposeResult:
        name = escape(Path(self.path).name)
        yield Static(f"[b]{name}[/b] · rollouts · reading iterations…", id="rollouts-title")
        with TabbedContent(initial="rollouts-main", id="rollouts-tabs"):
            with TabPane("Rollouts", id="rollouts-main"), Horizontal():
                yield self.iterations
                with Vertical(id="rollouts-right"):
                    yield Static("", id="iteration-note", markup=False)
                    yield self.groups
                    yield Static("", id="trajectory-detail", markup=False)
                    with Horizontal(id="transcripts"):
                        yield self.pinned_view
                        yield self.transcript
            with TabPane("Timing", id="rollouts-timing"):
                yield self.gantt
        yield Input(id="rollouts-input")
        yield Static("", id="rollouts-status", markup=False)
        yield SteadyFooter()

    def on_mount(self) -> None:
        self._pin(PINS.get(self.app))
        self.query_one("#rollouts-input", Input).display = False
        self.iterations.focus()
        self.list_iterations()
        self.gantt.load(Path(self.path))
        self.set_interval(RELIST_S, self._relist)

    # --- workers --------------------------------------------------------------
    @work(thread=True, group="list-iterations", exclusive=True, exit_on_error=False)
    def list_iterations(self, known: frozenset[str] | None = None) -> None:
        """The run's iterations with their statistics; ``known``: the ones listed already, when only a
        change is news (a cheap listing first; the statistics are read again only when it differs)."""
        from runner.rollouts import list_iterations
        from runner.rollouts.benchmark import find_benchmarks

        run = Path(self.path)
        try:
            if known is not None and {ref_key(r) for r in list_iterations(run, stats=False)} == known:
                return
            refs = list(list_iterations(run))
            self.post_message(IterationsListed(refs, find_benchmarks(run) if known is None else None))
        except Exception as exc:  # noqa: BLE001 - shown on screen, the view stays up
            self.post_message(IterationsListed([], error=str(exc) or repr(exc)))

    @work(thread=True, group="load-iteration", exclusive=True, exit_on_error=False)
    def load_iteration(self, ref: IterationRef) -> None:
        from runner.rollouts import load_iteration

        try:
            self.post_message(IterationLoaded(ref, load_iteration(ref)))
        except Exception as exc:  # noqa: BLE001
            self.post_message(IterationLoaded(ref, None, error=str(exc) or repr(exc)))

    def _relist(self) -> None:
        if self.is_current:
            known = frozenset(ref_key(r) for r in self.iterations.refs if r.layout != "benchmark")
            self.list_iterations(known)

    # --- results --------------------------------------------------------------
    def on_iterations_listed(self, message: IterationsListed) -> None:
        if message.error:
            self._title(f"the iterations could not be listed: {message.error}")
            return
        first = not self.iterations.refs
        if message.benchmarks is not None:
            self.benchmarks = message.benchmarks
        self.iterations.show(message.refs + self.benchmarks)
        self._title()
        if first and self.iterations.refs:
            self._select_start(self.iterations.refs)

    def _select_start(self, refs: list[IterationRef]) -> None:
        """The iteration of ``split`` nearest the asked step (no such split: train's; else the first)."""
        pool = [r for r in refs if r.split == self.split] or [r for r in refs if r.split == "train"] or refs
        ref = pool[0] if self.step is None else nearest(pool, self.step)
        self.iterations.select_ref(ref)
        self._load(ref)

    def _load(self, ref: IterationRef) -> None:
        current = self.iteration.ref if self.iteration is not None else None
        if same(ref, current):
            self.pending_ref = None  # back on the iteration shown: a load under way is stale
            return
        if same(ref, self.pending_ref):
            return
        self.pending_ref = ref
        self.query_one("#iteration-note", Static).update(f"loading {split_label(ref.split)} step {ref.step}…")
        self.load_iteration(ref)

    def on_iteration_loaded(self, message: IterationLoaded) -> None:
        if not same(message.ref, self.pending_ref):
            return  # the cursor moved on
        self.pending_ref = None
        if message.iteration is None:
            self.query_one("#iteration-note", Static).update(
                f"{split_label(message.ref.split)} step {message.ref.step} could not be read: {message.error}"
            )
            return
        self.iteration = message.iteration
        self.iterations.set_loaded(message.iteration.ref, message.iteration.histogram)
        self._show_groups()
        if self.target is not None and same(self.target.ref, message.ref):
            self._show_hit(self.target)
        self.gantt.show_step(message.iteration.ref.step)

    # --- showing --------------------------------------------------------------
    def _title(self, error: str = "") -> None:
        refs = self.iterations.refs
        train = sum(1 for r in refs if r.split == "train")
        name = escape(Path(self.path).name)
        text = f"[b]{name}[/b] · rollouts · {len(refs)} iterations ({train} train, {len(refs) - train} other)"
        if not refs:
            text = f"[b]{name}[/b] · rollouts · no rollout files in this run (iteration folders or HTML logs)"
        self.query_one("#rollouts-title", Static).update(text + (f" · {escape(error)}" if error else ""))

    def _show_groups(self) -> None:
        it = self.iteration
        if it is None:
            return
        try:
            shown = apply_filter(it.trajectories, self.filter_text)
        except FilterError as exc:
            self.notify(str(exc), severity="error", markup=False)
            shown = list(it.trajectories)
        self.groups.show(group_trajectories(shown, it.trajectories, self.sort))
        self.query_one("#iteration-note", Static).update(self._note(it, len(shown)))
        self._show_trajectory()

    def _note(self, it: Iteration, shown: int) -> str:
        ref = it.ref
        parts = [
            f"{split_label(ref.split)} step {ref.step}",
            f"{len(it.trajectories)} trajectories in {len(it.groups)} groups",
            f"reward mean {number(it.reward_mean, short=True)}",
        ]
        if it.histogram and len(it.hist_edges) >= 2:
            parts.append(
                f"{bars(it.histogram)} [{number(it.hist_edges[0], short=True)}…"
                f"{number(it.hist_edges[-1], short=True)}]"
            )
        parts.append(f"sort {self.sort}")
        if self.filter_text:
            parts.append(f"filter {self.filter_text}: {shown} shown")
        lines = [" · ".join(parts)]
        lines += [it.note] if it.note else []
        lines += [f"⚠ {p}" for p in it.problems[:2]]
        return "\n".join(lines)

    def _show_trajectory(self, hit: Hit | None = None) -> None:
        t = self.groups.selected()
        detail = self.query_one("#trajectory-detail", Static)
        it = self.iteration
        if t is None or it is None:
            detail.update("no trajectory matches the filter" if self.filter_text else "")
            self.transcript.show(None, "")
            return
        detail.update(trajectory_summary(t))
        hit = hit or self._current_hit(it, t)
        heading = f"{split_label(it.ref.split)} step {it.ref.step} · group {t.group} · trajectory {t.index}"
        at = (hit.message, hit.start, hit.end) if hit is not None and hit.message >= 0 else None
        field = hit.field if hit is not None else "text"
        self.transcript.show(t, heading, note=it.note or "", hit=at, hit_field=field)

    @on(DataTable.RowHighlighted, "#iteration-list")
    def _iteration_highlighted(self, event: DataTable.RowHighlighted) -> None:
        ref = self.iterations.selected()
        if ref is not None:
            self._load(ref)

    @on(DataTable.RowSelected, "#iteration-list")
    def _iteration_chosen(self, event: DataTable.RowSelected) -> None:
        self.groups.focus()

    @on(DataTable.CellHighlighted, "#rollout-groups")
    def _trajectory_highlighted(self, event: DataTable.CellHighlighted) -> None:
        if self.target is None:
            self._show_trajectory()

    @on(DataTable.CellSelected, "#rollout-groups")
    def _trajectory_chosen(self, event: DataTable.CellSelected) -> None:
        self.transcript.focus()

    # --- other actions --------------------------------------------------------
    def action_cycle_sort(self) -> None:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        self._show_groups()

    def action_flip(self, what: str) -> None:
        for view in (self.transcript, self.pinned_view):
            view.toggle(what)

    def action_pin(self) -> None:
        """Pin the trajectory under the cursor beside the current one (again: unpin). The pin stays
        while the app runs: the rollouts of another run show it too (two runs side by side)."""
        t, it = self.groups.selected(), self.iteration
        if self.pinned is not None or t is None or it is None:
            self._pin(None)
            return
        self._pin((it.ref, t))
        self.notify(
            "pinned: pick another trajectory (any step or run) to compare; m finds the same prompt",
            markup=False,
        )

    def _pin(self, pin: tuple[IterationRef, Trajectory] | None) -> None:
        self.pinned = pin
        self.pinned_view.display = pin is not None
        if pin is None:
            PINS.pop(self.app, None)
            return
        PINS[self.app] = pin
        ref, t = pin
        where = f"{Path(ref.run).name} · " if ref.run and ref.run != self.path else ""
        heading = (
            f"PINNED {where}{split_label(ref.split)} step {ref.step} · group {t.group} · trajectory {t.index}"
        )
        self.pinned_view.show(t, heading)

    def action_match_pinned(self) -> None:
        """Select the trajectory of this iteration whose prompt is the pinned one's (eval sets repeat
        their prompts every eval: the same question before and after)."""
        from runner.rollouts import prompt_of, same_prompt

        prompt = prompt_of(self.pinned[1]) if self.pinned is not None else None
        if prompt is None or self.iteration is None:
            self.notify("pin a trajectory with text first (p)", markup=False)
            return
        matches = same_prompt(self.iteration.trajectories, prompt)
        if not matches or not self.groups.select(matches[0].group, matches[0].index):
            self.notify("no shown trajectory of this iteration has the pinned prompt", markup=False)

    def action_show_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        tabs.active = "rollouts-timing" if tabs.active == "rollouts-main" else "rollouts-main"

    def action_back(self) -> None:
        box = self.query_one("#rollouts-input", Input)
        if box.has_focus:
            box.display = False
            self.groups.focus()
            return
        self.app.pop_screen()
