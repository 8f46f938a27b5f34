"""A live run's new rows (a line or two a batch) appended to a :class:`runner.runs.series.MetricTable`
without transposing them (``columns_of``): the table left exactly as the general path leaves it, dict orders
included (``tests/unit/test_ingest_small.py`` compares it with the old line-by-line code).

Row by row when that makes the columns in the order key by key would (the records share one layout and only
the last may hold a value that is not a number, or every value is a number in a column already there); key
by key for one layout otherwise; else the general path. A record laid out and typed like the last one
appended row by row goes to the same columns in C-level passes (``_append_known``).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from itertools import chain, islice, repeat
from typing import TYPE_CHECKING, Any

from runner.runs.columns import NAN, NUMBERS

_STEP = {"step"}
# the last record appended row by row: (the columns dict, its keys, their value types, their columns and
# presences, where its step is)
Layout = tuple[dict, tuple[str, ...], tuple[type, ...], list[array], list[bytearray], int]


class FewRows:
    """The small-batch side of ``MetricTable`` (its state is the table's)."""

    _cols: dict[str, array]
    _present: dict[str, bytearray]
    _order: dict[str, None]
    _int_keys: set[str]
    _float_keys: set[str]
    _layout: Layout | None

    if TYPE_CHECKING:  # the table's own

        def _set(self, key: str, row: int, v: Any) -> None: ...

        def _column(self, key: str, length: int) -> tuple[array, bytearray]: ...

        def _append_key(
            self, key: str, vals: Sequence[Any], flags: bytearray | None, types: set[type], rows0: int
        ) -> None: ...

    def _append_few(self, recs: list[dict[str, Any]], rows0: int) -> bool:
        """:meth:`_append_rows` for a live run's batch of a line or two, without transposing: the table
        ``columns_of`` and ``_append_key`` would leave, dict orders included. False (nothing done) for
        records of several layouts unless all are numbers in known columns: the general path then."""
        one_layout = _one_layout(recs)
        if one_layout:  # row by row makes the columns in the order key by key does, unless one is made late
            by_row = _numbers_only(recs[:-1])
        else:  # key by key makes the columns every record holds first: none may be made
            known = self._cols.keys()
            by_row = _numbers_only(recs) and all(rec.keys() - known <= _STEP for rec in recs)
            if not by_row:
                return False
        order = self._order
        for rec in recs:
            for key in rec:
                if key not in order and key != "step":
                    order[key] = None
        if by_row:
            for i, rec in enumerate(recs):
                self._append_one(rec, rows0 + i)
        else:
            for key, vals in zip(recs[0], zip(*map(dict.values, recs), strict=True), strict=True):
                if key != "step":
                    self._append_key(key, vals, None, set(map(type, vals)), rows0)
        return True

    def _append_one(self, rec: dict[str, Any], row: int) -> None:
        """One record as row ``row`` (the columns end before it): a number appended to its column (padded
        up to it), anything else set (``_set``)."""
        if self._append_known(rec, row):
            return
        cols, present, ints, floats = self._cols, self._present, self._int_keys, self._float_keys
        for key, v in rec.items():
            kind = type(v)
            if kind is not float and kind is not int:
                if key != "step":
                    self._set(key, row, v)
                continue
            if key == "step":
                continue
            (floats if kind is float else ints).add(key)
            col = cols.get(key)
            if col is None:
                col, pres = self._column(key, row)
            else:
                pres = present[key]
                short = row - len(col)
                if short:  # not in the batch's rows before this one
                    col.extend(array("d", [NAN]) * short)
                    pres.extend(bytes(short))
            col.append(v)
            pres.append(1)
        self._note_layout(rec)

    def _append_known(self, rec: dict[str, Any], row: int) -> bool:
        """A record with the keys, key order and value types of the last one appended row by row, all
        numbers: appended to the same columns in C-level passes (False, nothing done, otherwise)."""
        known = self._layout
        if known is None or known[0] is not self._cols or known[1] != tuple(rec):
            return False
        vals = list(rec.values())
        if tuple(map(type, vals)) != known[2] or set(map(len, known[3])) != {row}:
            return False
        if known[5] >= 0:
            del vals[known[5]]  # the step
        list(map(array.append, known[3], vals))
        list(map(bytearray.append, known[4], repeat(1, len(vals))))
        return True

    def _note_layout(self, rec: dict[str, Any]) -> None:
        """Keep ``rec``'s layout for :meth:`_append_known` when all its values are numbers."""
        types = tuple(map(type, rec.values()))
        if not set(types) <= NUMBERS or len(rec) < 2:
            self._layout = None
            return
        keys = tuple(rec)
        cols = [self._cols[k] for k in keys if k != "step"]
        pres = [self._present[k] for k in keys if k != "step"]
        self._layout = (self._cols, keys, types, cols, pres, keys.index("step") if "step" in rec else -1)


def _one_layout(recs: list[dict[str, Any]]) -> bool:
    """Whether every record holds the same keys in the same order (always, for one record)."""
    if len(recs) == 1:
        return True
    first = list(recs[0])
    return all(list(rec) == first for rec in islice(recs, 1, None))


def _numbers_only(recs: list[dict[str, Any]]) -> bool:
    """Whether every value of ``recs`` is an int or a float (none left a column to make later)."""
    return set(map(type, chain.from_iterable(map(dict.values, recs)))) <= NUMBERS
