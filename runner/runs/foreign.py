"""Metrics out of other frameworks' console logs, so foreign runs can be charted too.

verl prints one line per step: ``step:101 - actor/pg_loss:0.123 - critic/score/mean:0.94 - ...``
(possibly after a Ray prefix and ANSI colours). :class:`VerlTail` follows such a log by offset like
:class:`runner.runs.jsonl.JsonlTail` (truncation and replacement included) and yields one record per
step line; other lines are skipped, not counted as bad. A step beyond +-2**53 makes its line bad; a
value too large for a float is dropped, with a bad line saying so.
"""

from __future__ import annotations

import re
from typing import Any

from runner.runs.console import ANSI_RE
from runner.runs.jsonl import JsonlTail, LineError, TailBatch, check_step, drop_huge

VERL_STEP_RE = re.compile(r"\bstep:(\d{1,18}) - (.*)$")  # a longer number is no step line


def _value(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_verl_line(line: str) -> dict[str, Any] | None:
    """``{"step": N, key: value, ...}`` from a verl step line, or None for any other line."""
    m = VERL_STEP_RE.search(ANSI_RE.sub("", line))
    if not m:
        return None
    record: dict[str, Any] = {"step": int(m.group(1))}
    for part in m.group(2).split(" - "):
        key, sep, val = part.rpartition(":")
        if sep and key.strip():
            record[key.strip()] = _value(val.strip())
    return record


class VerlTail(JsonlTail):
    """Follow a verl console log; records are its step lines."""

    def _parse_into(self, lines: list[bytes], batch: TailBatch) -> None:
        for line_no, raw in enumerate(lines, self.line_no + 1):
            if b"step:" not in raw:
                continue
            record = parse_verl_line(raw.decode("utf-8", errors="replace"))
            if record is not None:
                self._add_checked(batch, line_no, record)

    def _add_checked(self, batch: TailBatch, line_no: int, record: dict[str, Any]) -> None:
        try:
            check_step(record)
        except LineError as exc:
            self._add_bad(batch, line_no, str(exc))
            return
        batch.records.append((line_no, record))
        note = drop_huge(record)
        if note:
            self._add_bad(batch, line_no, note)

    def _try_unterminated(self, rest: bytes, batch: TailBatch) -> None:
        return  # a console line counts once its newline is there


FOREIGN_TAILS = {"verl": VerlTail}
