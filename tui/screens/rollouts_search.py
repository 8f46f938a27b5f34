"""Search in the rollouts view: ``/`` across every iteration (plain text, or a regex with ``ctrl+r``),
``n``/``N`` through the hits, each jump loading the hit's iteration and showing its group, trajectory
and message. The search runs in a thread worker and posts its hits in batches. The input box below
the view asks for a search (``/``) or the filter (``f``)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.actions import SkipAction
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from tui.widgets.iteration_list import ref_key

if TYPE_CHECKING:
    from runner.rollouts import Hit, Iteration, IterationRef, Trajectory
    from tui.widgets.iteration_list import IterationList
    from tui.widgets.rollout_groups import RolloutGroups

HIT_BATCH_S = 0.25  # a search posts its hits at most this often (and at its first hit, and at the end)


class HitsFound(Message):
    """A batch of a search's hits; ``search``: which search (a newer one makes older batches stale)."""

    def __init__(self, search: int, hits: list[Hit], done: bool, error: str = "") -> None:
        super().__init__()
        self.search, self.hits, self.done, self.error = search, hits, done, error


def same(a: IterationRef | None, b: IterationRef | None) -> bool:
    """The same iteration (split and step; a benchmark's file): a loaded ref carries counts the listed
    one may not."""
    return a is not None and b is not None and ref_key(a) == ref_key(b)


class SearchingScreen(Screen[None]):
    """The search half of ``RolloutsScreen`` (its base class; the screen shows what this finds) and the
    input box that asks for a search or the filter."""

    path: str
    iteration: Iteration | None
    iterations: IterationList
    groups: RolloutGroups
    target: Hit | None
    query_text = ""
    regex = False
    hits: list[Hit]
    hit_at = -1
    search_id = 0
    searching = False
    filter_text = ""
    mode = "search"  # what the input box is for: a search or the filter

    def _load(self, ref: IterationRef) -> None:
        raise NotImplementedError

    def _show_trajectory(self, hit: Hit | None = None) -> None:
        raise NotImplementedError

    def _show_groups(self) -> None:
        raise NotImplementedError

    @work(thread=True, group="search-rollouts", exclusive=True, exit_on_error=False)
    def search(self, search_id: int, query: str, regex: bool, refs: list[IterationRef]) -> None:
        """Every hit of ``query`` across ``refs``: the first at once, then batches, then the end."""
        from runner.rollouts import search

        worker = get_current_worker()
        batch: list[Hit] = []
        sent = time.monotonic()
        first = True

        def stale() -> bool:  # the view closed (its workers cancelled), or a newer search took over
            return worker.is_cancelled or search_id != self.search_id

        try:
            for hit in search(Path(self.path), query, regex=regex, refs=refs, cancelled=stale):
                if search_id != self.search_id:
                    return  # a newer search took over
                batch.append(hit)
                if first or time.monotonic() - sent >= HIT_BATCH_S:
                    self.post_message(HitsFound(search_id, batch, done=False))
                    batch, sent, first = [], time.monotonic(), False
            self.post_message(HitsFound(search_id, batch, done=True))
        except Exception as exc:  # noqa: BLE001 - a bad regex, an unreadable file: said, not fatal
            self.post_message(HitsFound(search_id, batch, done=True, error=str(exc) or repr(exc)))

    def on_hits_found(self, message: HitsFound) -> None:
        if message.search != self.search_id:
            return
        self.hits.extend(message.hits)
        self.searching = not message.done
        if message.error:
            self.notify(f"search: {message.error}", severity="error", markup=False)
        if self.hit_at < 0 and self.hits:
            self.hit_at = 0
            self._jump(self.hits[0])
        self._status()

    def _current_hit(self, it: Iteration, t: Trajectory) -> Hit | None:
        """The search hit shown last, when it is in ``t`` (kept marked while the cursor stays)."""
        if not 0 <= self.hit_at < len(self.hits):
            return None
        hit = self.hits[self.hit_at]
        return hit if same(hit.ref, it.ref) and (hit.group, hit.index) == (t.group, t.index) else None

    def _status(self) -> None:
        status = self.query_one("#rollouts-status", Static)
        if not self.hits and not self.searching and not self.search_id:
            status.update("")
            return
        mode = "regex" if self.regex else "text"
        where = f"hit {self.hit_at + 1} of {len(self.hits)}" if self.hits else "no hits"
        more = " (searching…)" if self.searching else ""
        if 0 <= self.hit_at < len(self.hits):
            hit = self.hits[self.hit_at]
            at = "its env logs" if hit.message < 0 else f"message {hit.message + 1}"
            more += f" · step {hit.ref.step} group {hit.group} trajectory {hit.index}, {at}: {hit.snippet}"
        status.update(f"{where} for {mode} {self.query_text!r}{more} · n/N next/prev")

    query_text = ""

    def _jump(self, hit: Hit) -> None:
        """Show ``hit``: its iteration (loaded first if need be), group, trajectory, message."""
        self.target = hit
        if self.iteration is not None and same(self.iteration.ref, hit.ref):
            self._show_hit(hit)
            return
        self.iterations.select_ref(hit.ref)
        self._load(hit.ref)

    def _show_hit(self, hit: Hit) -> None:
        self.target = None
        if not self.groups.select(hit.group, hit.index):
            self.notify(
                "that hit is hidden by the filter (f, then enter on an empty box clears it)", markup=False
            )
            return
        self._show_trajectory(hit)

    def action_next_hit(self, delta: int) -> None:
        if not self.hits:
            self.notify("no search hits (/ searches)", markup=False)
            return
        self.hit_at = (self.hit_at + delta) % len(self.hits)
        self._jump(self.hits[self.hit_at])
        self._status()

    def _start_search(self, query: str) -> None:
        self.query_text = query
        self.search_id += 1
        self.hits, self.hit_at, self.searching = [], -1, True
        self.search(self.search_id, query, self.regex, list(self.iterations.refs))
        self._status()

    def action_toggle_regex(self) -> None:
        self.regex = not self.regex
        self.notify(f"search: {'regex' if self.regex else 'plain text'}", markup=False)
        if self.query_text and not self.query_one("#rollouts-input", Input).has_focus:
            self._start_search(self.query_text)

    # --- the input box: a search, or the filter ---------------------------------
    def action_search(self) -> None:
        self._ask("search", self.query_text, "search all iterations (ctrl+r: regex), enter searches")

    def action_filter(self) -> None:
        self._ask(
            "filter",
            self.filter_text,
            "filter: reward>=0.5 correct=1 format=0 tokens<500 stop=length (empty: none)",
        )

    def _ask(self, mode: str, value: str, placeholder: str) -> None:
        box = self.query_one("#rollouts-input", Input)
        if box.has_focus:
            raise SkipAction()  # a "/" typed in the box
        self.mode = mode
        box.placeholder, box.value, box.display = placeholder, value, True
        box.focus()

    @on(Input.Submitted, "#rollouts-input")
    def _submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        value = event.value.strip()
        if self.mode == "filter":
            self.filter_text = value
            self._show_groups()
        elif value:
            self._start_search(value)
        self.groups.focus()
