"""Steps for metric lines that have no ``step``: another trainer's counter, offset past its restarts.

A line without ``step`` takes another trainer's counter (:data:`COUNTERS`: ``global_step``,
``progress/batch``, ``_step``...) when it has one, else the next free step. A fallback counter is not
trusted like ``step``: when it drops back to its first value or to 0/1, the trainer restarted it (a new
process logging into the same file), and the new segment is offset to continue after the highest step
so far (x keeps increasing, nothing is merged into the first segment); a note then says "<counter>
counter restarted at line N". A smaller drop is a resume from a checkpoint and merges like ``step``
(later lines win).
"""

from __future__ import annotations

from typing import Any

COUNTER_LIMIT = 2**53  # a counter beyond this is not a step (the int64 step column, a float chart axis)
COUNTERS = ("global_step", "train/global_step", "trainer/global_step", "progress/batch", "_step", "iteration")


def step_of(record: dict[str, Any], key: str = "step") -> int | None:
    """The record's integer ``step`` (or ``key``), or None when absent or not an integer."""
    s = record.get(key)
    if type(s) is int:
        return s
    if type(s) is float and s.is_integer():
        return int(s)
    return None


class FallbackCounter:
    """The fallback counter of one table: which key, its first and last values, the restart offset."""

    def __init__(self) -> None:
        self.key: str | None = None
        self.first: int | None = None
        self.last: int | None = None
        self.offset = 0  # added to the counter: its restarts continue after the highest step

    def step(self, rec: dict[str, Any], top: int, line: int, notes: list[str]) -> int:
        """The step of ``rec`` (a line without ``step``); ``top``: the highest step so far; a restart
        is noted in ``notes`` with ``line``."""
        key = self.key or next((k for k in COUNTERS if step_of(rec, k) is not None), None)
        value = step_of(rec, key) if key else None
        if key is None or value is None or not -COUNTER_LIMIT < value + self.offset < COUNTER_LIMIT:
            return top + 1
        self.key, first, last = key, self.first, self.last
        if first is None:
            self.first = value
        elif last is not None and value < last and (value <= 1 or value == first):
            self.offset = top + 1 - value
            notes.append(f"{key} counter restarted at line {line}")
        self.last = value
        return value + self.offset
