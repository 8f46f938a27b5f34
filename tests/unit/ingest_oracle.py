"""The ingest path as it was before issue 12's speed-up, kept as the oracle of
``test_ingest_differential.py``: the per-line parse of ``JsonlTail._parse_into`` and the transposition and
routing of ``MetricTable`` (``columns_of``, ``_route``, ``_append_rows``, ``_append_key``), copied verbatim;
everything else is the current code (these subclasses override only those methods)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice, repeat
from operator import itemgetter, lt
from typing import Any

import orjson

from runner.runs.counters import step_of
from runner.runs.jsonl import MAX_DEPTH, STEP_LIMIT, JsonlTail, TailBatch
from runner.runs.series import MetricTable

NAN = math.nan


class OldTail(JsonlTail):
    """``JsonlTail`` parsing line by line, as before."""

    def _parse_into(self, lines: list[bytes], batch: TailBatch) -> None:
        """Parse complete lines (numbered from ``self.line_no + 1``) into the batch."""
        records = batch.records
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        lim, depth = STEP_LIMIT, MAX_DEPTH
        for line_no, raw in enumerate(lines, self.line_no + 1):
            if not raw:
                continue
            try:
                obj = loads(raw)
            except decode_error:
                obj = None
            if type(obj) is dict:  # the usual line: an in-range int step, shallow
                s = obj.get("step")
                if (s is None or (type(s) is int and -lim < s < lim)) and (
                    raw.count(b"[") + raw.count(b"{") <= depth
                ):
                    records.append((line_no, obj))
                    continue
            self._parse_checked(raw, line_no, batch)


class OldTable(MetricTable):
    """``MetricTable`` routing and appending as before."""

    def _route(
        self, recs: list[dict[str, Any]], lines: Sequence[int] | None = None
    ) -> tuple[list[dict[str, Any]], list[int], list[tuple[int, dict[str, Any]]]]:
        """Split records into those opening a new row (bulk-appended, in order) and those merging
        into a row that exists or is opened earlier in the batch (applied after, in file order)."""
        steps: list[Any] = [rec.get("step") for rec in recs]
        if (
            steps
            and all(type(s) is int for s in steps)
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

    def _append_rows(self, recs: list[dict[str, Any]], steps: list[int], seen_time: float) -> None:
        """Append one new row per record, column by column."""
        rows0, m = len(self._steps), len(recs)
        self._steps.extend(steps)
        self._times.extend(array("d", [seen_time]) * m)
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
            col.extend(array("d", vals))
            pres.extend(b"\x01" * len(vals) if flags is None else flags)
            return
        for i, v in enumerate(vals):
            if flags is None or flags[i]:
                self._set(key, rows0 + i, v)


def columns_of(
    recs: list[dict[str, Any]], order: dict[str, None] | None = None
) -> Iterator[tuple[str, Sequence[Any], bytearray | None, set[type]]]:
    """Transpose records into ``(key, values, presence, value_types)`` columns, with C-level passes.

    Keys in every record come out with ``presence=None``; the others NaN-filled where a record
    lacks the key, with a presence bytearray. ``step`` is left out. ``order`` (if given) gets every
    key in order of first appearance.
    """
    m = len(recs)
    layouts: dict[tuple[str, ...], list[int]] = {}
    for i, layout in enumerate(map(tuple, recs)):
        rows = layouts.get(layout)
        if rows is None:
            layouts[layout] = [i]
        else:
            rows.append(i)
    counts: dict[str, int] = {}
    for layout, rows in layouts.items():  # layouts in order of first appearance
        for key in layout:
            if order is not None and key != "step":
                order.setdefault(key, None)
            counts[key] = counts.get(key, 0) + len(rows)
    counts.pop("step", None)
    dense = [k for k, n in counts.items() if n == m]
    for key, vals in zip(dense, _transpose(recs, dense), strict=True):
        yield key, vals, None, set(map(type, vals))
    dense_set = set(dense)
    sparse: dict[str, tuple[list[Any], bytearray, set[type]]] = {}
    for layout, rows in layouts.items():
        keys = [k for k in layout if k not in dense_set and k != "step"]
        if not keys:
            continue
        for key, vals in zip(keys, _transpose([recs[i] for i in rows], keys), strict=True):
            entry = sparse.get(key)
            if entry is None:
                entry = sparse[key] = ([NAN] * m, bytearray(m), set())
            list(map(entry[0].__setitem__, rows, vals))
            list(map(entry[1].__setitem__, rows, repeat(1)))
            entry[2].update(map(type, vals))
    for key, (full, flags, types) in sparse.items():
        yield key, full, flags, types


def _transpose(recs: list[dict[str, Any]], keys: list[str]) -> Iterable[Sequence[Any]]:
    if not keys:
        return []
    if len(keys) == 1:
        return [list(map(itemgetter(keys[0]), recs))]
    return zip(*map(itemgetter(*keys), recs), strict=True)
