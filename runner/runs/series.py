"""Compact, step-merged storage of one run's metrics.

:class:`MetricTable` holds one row per distinct ``step``: a ``steps`` column (``array('q')``), the
time each step was first seen (``array('d')``, epoch seconds), and per numeric key an
``array('d')`` column plus a presence ``bytearray`` (so a real NaN stays apart from "not logged").
Strings, booleans, null and nested values live in a sparse ``{row: value}`` map per key. No dict per
line is kept. Lines are merged by ``step``, later lines winning (async eval rows share a step; a
resume re-logs steps, even back to 0). A line without ``step`` takes another trainer's counter, offset
past its restarts (:mod:`runner.runs.counters`; ``notes`` then says "<counter> counter restarted at
line N"), else the next free step (the row index in a file that has no steps at all).

Chart data: ``column(key) -> (steps, values)`` and ``column_times(key) -> (seen_times, values)``,
only rows where ``key`` holds a number; ordered by step. Bulk reads (the alert rules):
``columns_since(keys, start) -> Columns``, raw column copies of many keys under one lock hold. Readers
that follow the table by ``len`` and ``version`` learn what changed under them from ``resets`` (it was
emptied) and ``merged_since(version)`` (lines merged into rows that were already there).
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterable, Sequence
from itertools import compress, islice
from operator import lt
from typing import Any

from runner.runs.columns import BULK_MIN, Columns, KeyStats, columns_of
from runner.runs.counters import COUNTERS, FallbackCounter, step_of
from runner.runs.fewrows import FewRows
from runner.runs.lineparse import steps_of
from runner.runs.summary import BadLine, Scalar

NAN = math.nan
MAX_BAD_KEPT = 200
MAX_MERGES_KEPT = 32  # batches that merged into older rows, remembered apart (then coalesced)
__all__ = ["COUNTERS", "Columns", "KeyStats", "MetricTable", "columns_of", "step_of"]


class MetricTable(FewRows):
    """Step-merged metrics of one run. See the module docstring."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # ingest (a worker thread) vs reads (the UI)
        self.reset()

    def reset(self) -> None:
        """Forget everything (the file was truncated or replaced)."""
        self._steps = array("q")
        self._times = array("d")
        # step -> row; None while the rows hold consecutive steps (row r = step _base + r), the
        # usual case, which then costs no dict (about 90 KB per 1,000-step run)
        self._row_of: dict[int, int] | None = None
        self._base = 0
        self._cols: dict[str, array] = {}
        self._present: dict[str, bytearray] = {}
        self._other: dict[str, dict[int, Any]] = {}
        self._order: dict[str, None] = {}
        self._int_keys: set[str] = set()
        self._float_keys: set[str] = set()
        self._max_step = -1
        self._sorted = True
        self._counter = FallbackCounter()
        self.notes: list[str] = []  # "global_step counter restarted at line 9"
        self.n_lines = 0
        self.bad_lines = 0
        self.bad: list[BadLine] = []
        self.version = getattr(self, "version", -1) + 1  # never repeats, across resets too
        self.resets = getattr(self, "resets", -1) + 1  # times emptied (0: never)
        self._merges: list[tuple[int, int, int]] = []  # (version, lowest row, lowest step) per merging batch
        self._layout = None  # see FewRows._append_known

    # ---- reading side -------------------------------------------------------------------
    @property
    def steps(self) -> array:
        """Distinct steps, one per row, in order of first appearance."""
        return self._steps

    @property
    def seen_times(self) -> array:
        """Epoch seconds at which each row's first line was read (aligned with ``steps``)."""
        return self._times

    def __len__(self) -> int:
        return len(self._steps)

    @property
    def last_step(self) -> int | None:
        return self._max_step if self._steps else None

    def keys(self) -> list[str]:
        """Every metric key (numeric or not) in order of first appearance; ``step`` excluded."""
        return list(self._order)

    def numeric_keys(self) -> list[str]:
        return [k for k in self._order if k in self._cols]

    def column(self, key: str) -> tuple[list[int], list[float]]:
        """``(steps, values)`` for the rows where ``key`` holds a number, by step."""
        with self._lock:
            rows = self._rows(key)
            if not rows:
                return [], []
            col, steps = self._cols[key], self._steps
            return [steps[r] for r in rows], [col[r] for r in rows]

    def last_values(self, key: str, n: int) -> list[float]:
        """``column(key)[1][-n:]``, found from the last row back (C-level searches; no full column)."""
        with self._lock:
            pres, col = self._present.get(key), self._cols.get(key)
            if pres is None or col is None or not self._sorted:
                return self.column(key)[1][-n:]
            end = len(pres)
            if n > 0 and pres.find(0, max(end - n, 0)) < 0:  # present in each of the last n rows: a slice
                return col[max(end - n, 0) :].tolist()
            out: list[float] = []
            while len(out) < n and (end := pres.rfind(1, 0, end)) >= 0:
                out.append(col[end])
            return out[::-1]

    def numbers(self, key: str) -> list[float]:
        """``key``'s numbers in row order (not step order: for statistics that ignore order)."""
        with self._lock:
            pres, col = self._present.get(key), self._cols.get(key)
            return list(compress(col, pres)) if pres is not None and col is not None else []

    def column_times(self, key: str) -> tuple[list[float], list[float]]:
        """``(first_seen_times, values)`` for the rows where ``key`` holds a number, by step."""
        with self._lock:
            rows = self._rows(key)
            if not rows:
                return [], []
            col, times = self._cols[key], self._times
            return [times[r] for r in rows], [col[r] for r in rows]

    def columns_since(self, keys: Iterable[str] | None = None, start: int = 0) -> Columns:
        """One consistent bulk copy of the numeric columns ``keys`` (default: all, in ``numeric_keys()``
        order; keys that are not numeric are left out) for rows ``start...``: C-level slice copies, no
        Python object per value."""
        with self._lock:
            n = len(self._steps)
            start = min(max(start, 0), n)
            wanted = [k for k in (self._order if keys is None else keys) if k in self._cols]
            values = {k: self._cols[k][start:n] for k in wanted}
            present = {k: bytes(self._present[k][start:n]) for k in wanted}
            return Columns(start, self._steps[start:n], values, present, self._sorted)

    def merged_since(self, version: int) -> tuple[int, int] | None:
        """``(lowest row, lowest step)`` that lines merged into, in rows already there before their batch,
        after ``version`` (an earlier value of :attr:`version`, same :attr:`resets`); None when none did.
        A point there may have been added, changed or removed. Coarser (lower) when many batches did."""
        with self._lock:
            hits = [(row, step) for v, row, step in self._merges if v > version]
            return (min(r for r, _ in hits), min(s for _, s in hits)) if hits else None

    def values(self, key: str) -> list[Scalar]:
        """Every value of ``key`` (numbers and others), by step, rows where it is absent skipped."""
        out: list[tuple[int, Scalar]] = []
        pres, col, other = self._present.get(key), self._cols.get(key), self._other.get(key, {})
        for r in range(len(self._steps)):
            if pres is not None and col is not None and pres[r]:
                out.append((self._steps[r], self._typed(key, col[r])))
            elif r in other:
                out.append((self._steps[r], other[r]))
        out.sort(key=lambda sv: sv[0])
        return [v for _, v in out]

    def non_numeric(self, key: str) -> dict[int, Any]:
        """``{step: value}`` of the non-numeric values of ``key`` (strings, booleans, null...)."""
        return {self._steps[r]: v for r, v in self._other.get(key, {}).items()}

    def latest(self) -> dict[str, Scalar]:
        """The latest value (highest step where present) of every key."""
        with self._lock:
            return self._latest()

    def _latest(self) -> dict[str, Scalar]:
        if self._sorted:
            return self._latest_sorted()
        out: dict[str, Scalar] = {}
        for key in self._order:
            row = self._latest_row(key)
            if row is None:
                continue
            other = self._other.get(key)
            if other is not None and row in other:
                out[key] = other[row]
            else:
                out[key] = self._typed(key, self._cols[key][row])
        return out

    def _latest_sorted(self) -> dict[str, Scalar]:
        """:meth:`_latest` when rows are in step order: each key's last row holding it (summaries ask for
        this on every change of a run, over some 40 keys: one C-level search per key, nothing more)."""
        out: dict[str, Scalar] = {}
        present, cols, others = self._present, self._cols, self._other
        ints, floats, isfinite = self._int_keys, self._float_keys, math.isfinite
        for key in self._order:
            pres = present.get(key)
            row = pres.rfind(1) if pres is not None else -1
            other = others.get(key)
            if other:
                last = max(other)  # rows in step order: the highest row is the highest step
                if last > row:
                    out[key] = other[last]
                    continue
            if row >= 0:
                v = cols[key][row]
                out[key] = int(v) if key in ints and key not in floats and isfinite(v) else v
        return out

    def stats(self, key: str) -> KeyStats:
        """Count, first, last, min, max and non-finite count of a numeric key."""
        _, vals = self.column(key)
        finite = [v for v in vals if math.isfinite(v)]
        return KeyStats(
            count=len(vals),
            first=vals[0] if vals else None,
            last=vals[-1] if vals else None,
            min=min(finite) if finite else None,
            max=max(finite) if finite else None,
            non_finite=len(vals) - len(finite),
        )

    def _rows(self, key: str) -> list[int]:
        pres = self._present.get(key)
        if pres is None:
            return []
        rows = list(compress(range(len(pres)), pres))
        if not self._sorted:
            rows.sort(key=self._steps.__getitem__)
        return rows

    def _latest_row(self, key: str) -> int | None:
        cands = []
        pres = self._present.get(key)
        if pres is not None:
            r = (
                pres.rfind(1)
                if self._sorted
                else max(self._rows(key), key=self._steps.__getitem__, default=-1)
            )
            if r >= 0:
                cands.append(r)
        other = self._other.get(key)
        if other:
            cands.append(max(other, key=self._steps.__getitem__))
        return max(cands, key=self._steps.__getitem__) if cands else None

    def _typed(self, key: str, v: float) -> float | int:
        if key in self._int_keys and key not in self._float_keys and math.isfinite(v):
            return int(v)
        return v

    # ---- writing side -------------------------------------------------------------------
    def add_bad(self, bad: Iterable[BadLine], count: int | None = None) -> None:
        """Record unreadable lines (all are counted, the first MAX_BAD_KEPT are kept)."""
        bad = list(bad)
        self.bad_lines += len(bad) if count is None else count
        room = MAX_BAD_KEPT - len(self.bad)
        if room > 0:
            self.bad.extend(bad[:room])
        self.version += 1

    def ingest(
        self, records: Iterable[dict[str, Any]], seen_time: float, lines: Sequence[int] | None = None
    ) -> int:
        """Merge records (parsed lines, in file order; ``lines``: their line numbers in the file, for
        notes, else counted from the records); returns the number of rows added."""
        recs = records if isinstance(records, list) else list(records)
        with self._lock:
            before = len(self._steps)
            fresh, fresh_steps, later = self._route(recs, lines)
            if fresh:
                self._append_rows(fresh, fresh_steps, seen_time)
            for row, rec in later:
                self._merge_into(row, rec)
            self.n_lines += len(recs)
            if recs:
                self.version += 1
            older = [row for row, _ in later if row < before]
            if older:
                self._note_merge(min(older), min(self._steps[r] for r in older))
            return len(self._steps) - before

    def _note_merge(self, row: int, step: int) -> None:
        """Remember a batch that merged into older rows (see :meth:`merged_since`); the oldest two
        entries become one (the later version, the lower row and step) past MAX_MERGES_KEPT."""
        self._merges.append((self.version, row, step))
        if len(self._merges) > MAX_MERGES_KEPT:
            (_, r0, s0), (v1, r1, s1) = self._merges[:2]
            self._merges[:2] = [(v1, min(r0, r1), min(s0, s1))]

    def _route(
        self, recs: list[dict[str, Any]], lines: Sequence[int] | None = None
    ) -> tuple[list[dict[str, Any]], list[int], list[tuple[int, dict[str, Any]]]]:
        """Split records into those opening a new row (bulk-appended, in order) and those merging
        into a row that exists or is opened earlier in the batch (applied after, in file order)."""
        steps = steps_of(recs)
        if (
            steps
            and list(map(type, steps)).count(int) == len(steps)
            and steps[0] > self._max_step
            and all(map(lt, steps, islice(steps, 1, None)))
        ):  # the usual case: every line opens the next step
            n0 = len(self._steps)
            contiguous = steps[-1] - steps[0] == len(steps) - 1
            if self._row_of is None and contiguous and (n0 == 0 or steps[0] == self._base + n0):
                if n0 == 0:
                    self._base = steps[0]
            else:
                self._rows_by_step().update(zip(steps, range(n0, n0 + len(steps)), strict=True))
            self._max_step = steps[-1]
            return recs, steps, []
        fresh: list[dict[str, Any]] = []
        fresh_steps: list[int] = []
        later: list[tuple[int, dict[str, Any]]] = []
        row_of, top, n0 = self._row_of, self._max_step, len(self._steps)
        base = self._base
        for i, rec in enumerate(recs):
            s = rec.get("step")
            if type(s) is not int:
                s = step_of(rec)
                if s is None:
                    line = lines[i] if lines is not None else self.n_lines + i + 1
                    s = self._counter.step(rec, top, line, self.notes)
            n_now = n0 + len(fresh)
            if row_of is None:  # dense: row r holds step base + r
                if n_now == 0:
                    base = self._base = s
                r = s - base
                if 0 <= r < n_now:
                    row: int | None = r
                elif r == n_now:
                    row = None  # the next step: still dense
                else:
                    row_of = self._rows_by_step(n_now)
                    row = None
            else:
                row = row_of.get(s)
            if row is None:
                if row_of is not None:
                    row_of[s] = n_now
                if s < top:
                    self._sorted = False
                else:
                    top = s
                fresh.append(rec)
                fresh_steps.append(s)
            else:
                later.append((row, rec))
        self._max_step = top
        return fresh, fresh_steps, later

    def _rows_by_step(self, n_rows: int | None = None) -> dict[int, int]:
        """The step -> row dict, built from the dense layout the first time it is needed."""
        if self._row_of is None:
            n = len(self._steps) if n_rows is None else n_rows
            self._row_of = {self._base + r: r for r in range(n)}
        return self._row_of

    def _append_rows(self, recs: list[dict[str, Any]], steps: list[int], seen_time: float) -> None:
        """Append one new row per record, column by column."""
        rows0, m = len(self._steps), len(recs)
        self._steps.extend(steps)
        self._times.extend(array("d", [seen_time]) * m)
        if m >= BULK_MIN or not self._append_few(recs, rows0):
            for key, vals, flags, types in columns_of(recs, self._order):
                self._append_key(key, vals, flags, types, rows0)
        self._pad_columns()

    def _append_key(
        self, key: str, vals: Sequence[Any], flags: bytearray | None, types: set[type], rows0: int
    ) -> None:
        """Append ``vals`` as rows ``rows0...`` of ``key`` (only where ``flags`` is set, if given)."""
        if types <= {float, int}:
            self._note_types(key, types)
            col, pres = self._column(key, rows0)
            col.extend(vals if type(vals) is array else array("d", vals))
            pres.extend(b"\x01" * len(vals) if flags is None else flags)
            return
        for i, v in enumerate(vals):
            if flags is None or flags[i]:
                self._set(key, rows0 + i, v)

    def _pad_columns(self) -> None:
        n = len(self._steps)
        for key, col in self._cols.items():
            short = n - len(col)
            if short:
                col.extend(array("d", [NAN]) * short)
                self._present[key].extend(bytes(short))

    def _column(self, key: str, length: int) -> tuple[array, bytearray]:
        col = self._cols.get(key)
        if col is None:
            col = self._cols[key] = array("d", [NAN]) * length
            self._present[key] = bytearray(length)
        return col, self._present[key]

    def _note_types(self, key: str, types: set[type]) -> None:
        if int in types:
            self._int_keys.add(key)
        if float in types:
            self._float_keys.add(key)

    def _set(self, key: str, row: int, v: Any) -> None:
        """Store one value at ``row`` (later wins); the row exists in ``steps``."""
        if type(v) is float or type(v) is int:
            col, pres = self._column(key, len(self._steps))
            if len(col) <= row:
                short = row + 1 - len(col)
                col.extend(array("d", [NAN]) * short)
                pres.extend(bytes(short))
            col[row] = v
            pres[row] = 1
            self._note_types(key, {type(v)})
            other = self._other.get(key)
            if other:
                other.pop(row, None)
        else:
            self._other.setdefault(key, {})[row] = v
            if key in self._cols and row < len(self._cols[key]):
                self._present[key][row] = 0
                self._cols[key][row] = NAN

    def _merge_into(self, row: int, rec: dict[str, Any]) -> None:
        """Merge a line into an existing row (same step logged again: later values win)."""
        keep_step = step_of(rec) is None
        for key, v in rec.items():
            if key == "step" and not keep_step:
                continue
            self._order.setdefault(key, None)
            self._set(key, row, v)
