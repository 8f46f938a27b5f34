"""Column building blocks of :mod:`runner.runs.series`: records transposed into columns
(:func:`columns_of`), and the copies and summaries a table hands out (:class:`Columns`, :class:`KeyStats`)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter
from typing import Any

NAN = math.nan


@dataclass
class KeyStats:
    """Summary of one numeric key (``tinkertop show``)."""

    count: int
    first: float | None
    last: float | None
    min: float | None
    max: float | None
    non_finite: int


@dataclass(frozen=True)
class Columns:
    """Copies of numeric columns for rows ``start...`` taken under one lock hold (``columns_since``).

    Rows are aligned: ``steps[i]``, ``values[key][i]`` and ``present[key][i]`` are one row. A value is
    NaN where the key is absent, so only ``present`` (1: the key holds a number there) tells a logged
    NaN apart. Rows are in order of first appearance, which is step order when ``in_step_order``.
    """

    start: int
    steps: array  # 'q'
    values: dict[str, array]  # 'd', per key
    present: dict[str, bytes]
    in_step_order: bool


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
