"""The app's start-up staging: what comes after the runs list's first paint, in the order Enter needs it.

Once the list has painted: the run on its first row is read and snapshotted and the run view's modules
imported (opening a run needs both), then the quick-scan child's other runs are added and the full read
starts. A run opened meanwhile comes before both: the others are neither unpickled nor added (~0.05 s and
~0.1 s of the interpreter per 1,000 runs) and the full read does not start or go on until its chart is out
(or ``OPENING_MAX_S`` passed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.app import App

from runner.runs.summary import RunSummary

if TYPE_CHECKING:
    from tui.follow import Follower
    from tui.screens.runs import RunsScreen

FIRST_PAINT_WAIT = 2.0  # seconds the start-up's later steps wait for the first paint of the list
# a run being opened holds the start-up's other steps (and the cyclic GC, see TinkertopApp.open_run) until its
# chart is out, at most this long
OPENING_MAX_S = 2.0


class StartupStaging(App[int]):
    """The start-up steps of :class:`tui.app.TinkertopApp` (its runs, summaries and merge are the app's)."""

    found: int | None  # runs known to exist while the list holds fewer (the title says so)
    loaded: bool  # the full read has been shown
    summaries: dict[str, RunSummary]
    _stop: threading.Event
    follower: Follower
    runs_screen: RunsScreen

    def _init_startup(self) -> None:
        self.first_paint = threading.Event()  # set once the list has painted the quick summaries
        self.view_ready = threading.Event()  # set once the run view's modules are imported
        self._open_done = threading.Event()  # clear while a run opens (until its chart is out)
        self._open_done.set()
        self._held_rest: list[RunSummary] | None = (
            None  # the start-up's other summaries, held while a run opens
        )
        self.first_row: str | None = None  # the list's row under the cursor, set by the loop as it paints

    def _merge(self, summaries: list[RunSummary], phase: str) -> None:
        raise NotImplementedError

    def read_ahead(self) -> None:
        """In the follow worker, once the list has painted: the run under the cursor (the one Enter opens) read
        and snapshotted before the full read (its snapshot built, ~20 ms for 1,000 steps)."""
        path = self.first_row  # written by the loop before it set first_paint
        if path is not None:
            self.follower.read_ahead(path)

    def import_view(self) -> None:
        """In a worker, once the list has painted: the run view's modules, off the loop (Enter opens it
        at once); the start-up's other steps wait for them."""
        try:
            import tui.screens.run_view  # noqa: F401
        finally:
            self.view_ready.set()

    def wait_open(self) -> None:
        """Return once no run is opening (its chart is out), at most ``OPENING_MAX_S`` later (a worker)."""
        self._open_done.wait(OPENING_MAX_S)

    def opening_run(self) -> None:
        """A run is being opened (the loop, at the key): the start-up's other steps wait for its chart."""
        self._open_done.clear()

    def run_opened(self) -> None:
        """The run opened shows its chart (or the hold is over, or the app ends): the steps held go on."""
        self._open_done.set()
        rows, self._held_rest = self._held_rest, None
        if rows is not None:
            self._rest_read(rows)

    @work(thread=True, group="take-rest", exit_on_error=False)
    def take_rest(self, rest: Callable[[], list[RunSummary] | None]) -> None:
        """The quick summaries the first paint went without, shown together once the list has painted and
        the run view's modules are in, never while a run opens."""
        self.first_paint.wait(FIRST_PAINT_WAIT)
        self.view_ready.wait(FIRST_PAINT_WAIT)
        self.wait_open()
        rows = rest() if not self._stop.is_set() else None
        if rows is not None and not self._stop.is_set():
            self.call_from_thread(self._rest_read, rows)

    def _rest_read(self, rows: list[RunSummary]) -> None:
        """Add ``rows`` to the quick summaries shown (not once the full read is in: it has them all); while a
        run opens, once its chart is out (adding 1,000 rows to the list takes ~0.1 s)."""
        if not self._open_done.is_set():
            self._held_rest = rows
        elif not self.loaded and self.is_running and not self._stop.is_set():
            self.found = None
            self._merge([*self.summaries.values(), *rows], "quick")

    @property
    def unread(self) -> int:
        """Runs found at start-up whose summaries are still to come (0 once the full read is in)."""
        if self.found is None or self.loaded:
            return 0
        return max(0, self.found - len(self.summaries))
