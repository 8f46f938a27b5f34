"""What one evaluation of a run's rules reads from its table: the new rows, and the keys the rules ask for.

A :class:`Feed` follows a run's :class:`MetricTable` by row count. :meth:`Feed.advance` copies only the
rows added since the last evaluation (every numeric key: the non-finite scan looks at nothing else);
:meth:`Feed.points` then copies the columns the rules read, once per evaluation, so the ~40 columns a run
logs are never all copied again (the rules read about ten): the keys the engine announced with
:meth:`Feed.want` in one bulk copy (one lock hold) on the first read, any other key on its own. The
points stay those of the rows taken in by the last :meth:`Feed.advance`, so rows added meanwhile wait
for the next evaluation.

No column history is kept here: a copy of the keys the rules read would add ~160 KB per run of 1,000
steps (measured: 129 -> 162 MB for 200 runs) and saved no measurable CPU (the cost of an evaluation is
the rules' numpy calls, not the copy). What is kept is what a new line cannot change: each key's median
of its first points (the baselines of the entropy and length rules), until the table resets, lines merge
into rows already taken in, or its rows leave step order (:meth:`Feed.clear`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runner.alerts.series import EMPTY, Points, points_of

if TYPE_CHECKING:
    from runner.runs.columns import Columns
    from runner.runs.series import MetricTable


class Feed:
    """One run's rule inputs for one evaluation at a time (see the module docstring)."""

    def __init__(self) -> None:
        self.rows = 0  # table rows taken in
        self._table: MetricTable | None = None
        self._in_order = True
        self._points: dict[str, Points] = {}  # this evaluation's reads
        self._wanted: frozenset[str] = frozenset()  # the keys the rules will read (copied together)
        self._bulk: Columns | None = None  # this evaluation's copy of the wanted keys (all rows)
        self._memo: dict[str, dict[Any, Any]] = {}  # key -> facts of its first points (see head_median)

    def clear(self) -> None:
        """Start over from the first row (the table was reset, or lines merged into rows taken in)."""
        self.rows, self._in_order, self._points, self._memo = 0, True, {}, {}

    def advance(self, table: MetricTable) -> Columns:
        """Take in the rows added since the last call; returns their copy (every numeric key)."""
        self._table, self._points, self._bulk = table, {}, None
        cols = table.columns_since(None, self.rows)
        if not cols.in_step_order:  # an earlier step arrived late: first points are no longer fixed
            self._in_order, self._memo = False, {}
        self.rows = cols.start + len(cols.steps)
        return cols

    def attach(self, table: MetricTable) -> None:
        """Read ``table`` again (the rows taken in stay the same) after :meth:`release`."""
        if self._table is not table:
            self._table, self._points, self._bulk = table, {}, None

    def want(self, keys: frozenset[str]) -> None:
        """The keys this evaluation's rules will read: copied together on the first :meth:`points`
        (until :meth:`release`)."""
        self._wanted = keys

    def points(self, key: str) -> Points:
        """``key``'s present points in the rows taken in, in step order (one copy per evaluation)."""
        pts = self._points.get(key)
        if pts is None:
            pts = self._points[key] = self._read(key)
        return pts

    def _read(self, key: str) -> Points:
        if self._table is None:
            return EMPTY
        if key in self._wanted:
            if self._bulk is None:
                self._bulk = self._table.columns_since(self._wanted, 0)
            cols = self._bulk
        else:
            cols = self._table.columns_since([key], 0)
        pts = points_of(cols, key, end=self.rows)
        if self._in_order and len(pts):
            pts = Points(pts.steps, pts.values, self._memo.setdefault(key, {}))
        return pts

    def release(self) -> None:
        """Drop this evaluation's copies and the table (called once the rules are done): an evicted table
        leaves memory."""
        self._table, self._points, self._bulk, self._wanted = None, {}, None, frozenset()
