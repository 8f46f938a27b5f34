"""Column building blocks of :mod:`runner.runs.series`: records transposed into columns
(:func:`columns_of`), and the copies and summaries a table hands out (:class:`Columns`, :class:`KeyStats`).

Transposing is the cost of ingest (a 20,000-line RL file holds over half a million values), so the usual
batch takes a path of C-level passes only: records grouped by key count (a group whose records do not all
hold the same keys sends the batch down the general path), the keys common to every record read with one
``itemgetter`` per record into one flat row-major list, value types counted on strided slices, and numeric
columns cut from one ``array('d')`` by strided slicing. A key only some records hold is read per group and
put in place by an extended-slice assignment when its rows are evenly spaced (eval every N steps)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, compress, repeat
from operator import eq, itemgetter
from struct import Struct
from struct import error as StructError
from typing import Any

NAN = math.nan
NUMBERS = {float, int}
BULK_MIN = 16  # fewer records (a live run's usual batch) take the general path: less overhead
MAX_GROUPS = 16  # distinct key counts in one batch beyond which the general path is taken
Column = tuple[str, Sequence[Any], "bytearray | None", set[type]]
Runs = list[tuple[slice, slice]]  # evenly spaced runs of rows: (slice of the column, slice of the values)
Piece = tuple[tuple[Sequence[int], "Runs | None"], Sequence[Any], set[type], list[Any]]  # rows, values...


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


def columns_of(recs: list[dict[str, Any]], order: dict[str, None] | None = None) -> Iterator[Column]:
    """Transpose records into ``(key, values, presence, value_types)`` columns, with C-level passes.

    Keys in every record come out with ``presence=None``; the others NaN-filled where a record
    lacks the key, with a presence bytearray. ``values`` is an ``array('d')`` when every value is an
    int or a float (``value_types`` says which), else the values themselves. ``step`` is left out.
    ``order`` (if given) gets every key in order of first appearance.
    """
    fast = _fast_columns(recs, order) if len(recs) >= BULK_MIN else None
    return iter(fast) if fast is not None else _general_columns(recs, order)


def _fast_columns(recs: list[dict[str, Any]], order: dict[str, None] | None) -> list[Column] | None:
    """The columns, or None when a group of records of one key count holds different keys."""
    groups = _groups_by_size(recs)
    if groups is None:
        return None
    firsts = [list(recs[rows[0]]) for rows in groups]  # a group's keys, in its first record's order
    seen = dict.fromkeys(chain.from_iterable(firsts))  # keys in order of first appearance
    sets = [set(keys) for keys in firsts]
    dense = [k for k in seen if all(k in s for s in sets)]
    dense_set = set(dense)
    try:
        flat = _flat(recs, dense)
        parts = _sparse_parts(recs, groups, firsts, dense_set)
    except KeyError:
        return None  # same key count, other keys: the general path
    if order is not None:
        order.update((k, None) for k in seen if k != "step" and k not in order)
    m = len(recs)
    out: list[Column] = [(k, vals, None, kinds) for k, vals, kinds in _typed(flat, dense) if k != "step"]
    sparse: dict[str, list[Piece]] = {}
    for rows, extra, values in parts:
        spots = (rows, _runs(rows))
        for (key, vals, kinds), raw in zip(_typed(values, extra), _strided(values, len(extra)), strict=True):
            sparse.setdefault(key, []).append((spots, vals, kinds, raw))
    sparse.pop("step", None)
    out.extend((key, *_scatter(m, pieces)) for key, pieces in sparse.items())
    return out


def _groups_by_size(recs: list[dict[str, Any]]) -> list[Sequence[int]] | None:
    """Row indexes grouped by key count, groups in order of first row; None past MAX_GROUPS."""
    sizes = list(map(len, recs))
    distinct = dict.fromkeys(sizes)
    if len(distinct) == 1:
        return [range(len(recs))]
    if len(distinct) > MAX_GROUPS:
        return None
    every = range(len(recs))
    return [list(compress(every, map(eq, sizes, repeat(n)))) for n in distinct]


def _sparse_parts(
    recs: list[dict[str, Any]], groups: list[Sequence[int]], firsts: list[list[str]], dense: set[str]
) -> list[tuple[Sequence[int], list[str], list[Any]]]:
    """Per group holding keys beyond ``dense``: ``(rows, those keys, their values row after row)``."""
    parts = []
    for rows, keys in zip(groups, firsts, strict=True):
        extra = [k for k in keys if k not in dense]
        if extra:
            parts.append((rows, extra, _flat(_pick(recs, rows), extra)))
    return parts


def _pick(recs: list[dict[str, Any]], rows: Sequence[int]) -> list[dict[str, Any]]:
    return recs if isinstance(rows, range) else list(map(recs.__getitem__, rows))


def _flat(recs: list[dict[str, Any]], keys: list[str]) -> list[Any]:
    """Every record's values of ``keys``, row after row (KeyError when a record lacks one)."""
    if not keys:
        return []
    if len(keys) == 1:
        return list(map(itemgetter(keys[0]), recs))
    return list(chain.from_iterable(map(itemgetter(*keys), recs)))


def _typed(flat: list[Any], keys: list[str]) -> list[tuple[str, Sequence[Any], set[type]]]:
    """Cut a row-major list into ``(key, values, value_types)``: an ``array('d')`` for a column of
    ints and floats (bool is no number), else the values."""
    n = len(keys)
    if not n:
        return []
    kinds = _column_kinds(list(map(type, flat)), n)
    numeric = [k <= NUMBERS for k in kinds]
    whole = _doubles(flat) if all(numeric) else None
    out: list[tuple[str, Sequence[Any], set[type]]] = []
    for j, key in enumerate(keys):
        if not numeric[j]:
            out.append((key, flat[j::n], kinds[j]))
        else:
            out.append((key, whole[j::n] if whole is not None else _doubles(flat[j::n]), kinds[j]))
    return out


def _column_kinds(types: list[type], n: int) -> list[set[type]]:
    """The value types of each of the ``n`` columns of a row-major list of value types."""
    first = types[:n]
    if types == first * (len(types) // n):  # every row typed like the first: the usual batch
        return [{t} for t in first]
    out = []
    for kinds in _strided(types, n):
        n_float, n_int = kinds.count(float), kinds.count(int)
        if n_float + n_int < len(kinds):
            out.append(set(kinds))
        else:
            out.append({float} if not n_int else {int} if not n_float else {float, int})
    return out


def _doubles(vals: list[Any]) -> array:
    """``array('d', vals)`` for ints and floats, packed in one C call."""
    try:
        return array("d", Struct(f"{len(vals)}d").pack(*vals))
    except StructError:
        return array("d", vals)  # raises as array does (an int too large for a float)


def _strided(flat: list[Any], n: int) -> list[list[Any]]:
    """The ``n`` columns of a row-major list."""
    return [flat[j::n] for j in range(n)]


def _scatter(m: int, pieces: list[Piece]) -> tuple[Sequence[Any], bytearray, set[type]]:
    """One column of ``m`` rows from ``((rows, runs), values, value_types, raw values)`` pieces, NaN where absent
    (an ``array('d')`` when every value is a number, else a list of the raw values)."""
    kinds = set().union(*(k for _, _, k, _ in pieces))
    numeric = kinds <= NUMBERS
    full: Any = array("d", [NAN]) * m if numeric else [NAN] * m
    flags = bytearray(m)
    for (rows, runs), vals, _, raw in pieces:
        vals = vals if numeric else raw
        if runs is None:
            list(map(full.__setitem__, rows, vals))
            list(map(flags.__setitem__, rows, repeat(1)))
            continue
        for dest, src in runs:
            full[dest] = vals[src]
            flags[dest] = b"\x01" * (src.stop - src.start)
    return full, flags, kinds


def _runs(rows: Sequence[int]) -> Runs | None:
    """Ascending ``rows`` as evenly spaced runs, ``(slice of the column, slice of the values)`` each
    (an eval every N steps is one run); None past one run per 8 rows (then rows are set one by one)."""
    if isinstance(rows, range):
        return [(slice(rows.start, rows.stop, rows.step), slice(0, len(rows)))]
    out: Runs = []
    start, n = 0, len(rows)
    while start < n:
        end, stride = start + 1, (rows[start + 1] - rows[start] if start + 1 < n else 1)
        while end < n and rows[end] - rows[end - 1] == stride:
            end += 1
        out.append((slice(rows[start], rows[end - 1] + 1, stride), slice(start, end)))
        if len(out) * 8 > n:
            return None
        start = end
    return out


def _general_columns(recs: list[dict[str, Any]], order: dict[str, None] | None = None) -> Iterator[Column]:
    """Any batch: records grouped by layout (key tuple), then transposed per layout."""
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
