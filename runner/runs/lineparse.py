"""The bulk path of :meth:`runner.runs.jsonl.JsonlTail._parse_into`: every line through orjson, then
C-level passes over the whole batch find the few lines that need a closer look.

A line is *plain* when orjson made a dict of it, its ``step`` is absent or an int inside +-``limit``,
and it holds no ``[`` and no ``{`` after its first byte (so it nests one level, far from the depth
limit). Plain lines go straight into the batch; the others (bare NaN, nesting, an odd step, blank
lines...) are handed back by index, for the per-line rules of :mod:`runner.runs.jsonl`.
"""

from __future__ import annotations

from itertools import compress, repeat
from operator import is_not, itemgetter, ne
from types import NoneType
from typing import Any

import orjson

BULK_MIN = 16  # fewer lines (a live run's usual read) are checked one by one: less overhead
_STAND_IN = {"step": 0}  # in place of a line that is no dict (already odd) while steps are checked


def loads_each(lines: list[bytes]) -> list[Any]:
    """orjson's value of each line; None where orjson refuses it."""
    out: list[Any] = []
    append, loads, refused = out.append, orjson.loads, orjson.JSONDecodeError
    for raw in lines:
        try:
            append(loads(raw))
        except refused:
            append(None)
    return out


def is_plain(raw: bytes, obj: Any, limit: int, depth: int) -> bool:
    """The rule for one line: orjson made a dict of it, its ``step`` is absent or an int inside +-``limit``
    and it holds at most ``depth`` brackets and braces."""
    if type(obj) is not dict:
        return False
    s = obj.get("step")
    in_range = s is None or (type(s) is int and -limit < s < limit)
    return in_range and raw.count(b"[") + raw.count(b"{") <= depth


def suspect_lines(lines: list[bytes], objs: list[Any], limit: int) -> list[int]:
    """Indexes (ascending) of the lines that are not plain (see the module docstring)."""
    types = list(map(type, objs))
    dicts, odd = objs, set()
    if types.count(dict) < len(objs):
        dicts, odd = list(objs), set(compress(range(len(objs)), map(is_not, types, repeat(dict))))
        for i in odd:
            dicts[i] = _STAND_IN
    odd.update(_odd_steps(steps_of(dicts), limit))
    odd.update(_found(list(map(bytes.find, lines, repeat(b"[")))))
    odd.update(_found(list(map(bytes.find, lines, repeat(b"{"), repeat(1)))))
    return sorted(odd)


def steps_of(recs: list[dict[str, Any]]) -> list[Any]:
    """Each record's ``step`` (None where it has none)."""
    try:
        return list(map(itemgetter("step"), recs))
    except KeyError:
        return list(map(dict.get, recs, repeat("step")))


def _found(positions: list[int]) -> list[int]:
    """Indexes where a ``find`` found something."""
    if positions.count(-1) == len(positions):
        return []
    return list(compress(range(len(positions)), map(ne, positions, repeat(-1))))


def _odd_steps(steps: list[Any], limit: int) -> list[int]:
    """Indexes of the steps that are neither None nor an int inside +-``limit``."""
    types = list(map(type, steps))
    n_int = types.count(int)
    if n_int + types.count(NoneType) == len(steps):
        ints = steps if n_int == len(steps) else list(compress(steps, map(is_not, steps, repeat(None))))
        if not ints or (-limit < min(ints) and max(ints) < limit):
            return []
    return [i for i, s in enumerate(steps) if not (s is None or (type(s) is int and -limit < s < limit))]
