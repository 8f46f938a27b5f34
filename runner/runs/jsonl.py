"""Tolerant JSON-lines reading, and a follower that reads only the bytes added since last time.

Rules (the cookbook's ``metrics.jsonl`` contract):
- bare ``NaN`` / ``Infinity`` / ``-Infinity`` are accepted (orjson first; the stdlib parser, which
  accepts them, only for the lines orjson refuses);
- a last line without its newline is held back until it completes, unless it already is a whole
  JSON object (a file whose writer never adds the final newline is still read in full);
- a corrupt line is recorded as :class:`BadLine` (file, 1-based line, message) and reading goes on;
- values keep their JSON types: strings, booleans and null are never turned into floats.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from runner.runs.model import BadLine

MAX_READ = 64 * 1024 * 1024  # bytes per read_new() call; the rest comes on the next call
MAX_BAD_KEPT = 200  # bad lines kept per follower (all are counted)


class LineError(ValueError):
    """A line that is not a JSON object."""


def parse_line(raw: bytes) -> Any:
    """Parse one line; orjson fast path, stdlib fallback for bare NaN/Infinity."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as fast_exc:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise LineError(str(exc) or str(fast_exc)) from None


def parse_object(raw: bytes) -> dict[str, Any]:
    """Parse one line that must hold a JSON object."""
    obj = parse_line(raw)
    if not isinstance(obj, dict):
        raise LineError(f"not a JSON object ({type(obj).__name__})")
    return obj


def read_jsonl(path: str | Path) -> tuple[list[tuple[int, dict[str, Any]]], list[BadLine]]:
    """Read a whole JSON-lines file once: ``([(line_no, record)], bad_lines)``."""
    tail = JsonlTail(path)
    batch = tail.read_new()
    records, bad = batch.records, batch.bad
    while batch.more:
        batch = tail.read_new()
        records.extend(batch.records)
        bad.extend(batch.bad)
    return records, bad


@dataclass
class TailBatch:
    """What one :meth:`JsonlTail.read_new` call found."""

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    reset: str | None = None  # "truncated" / "replaced": earlier records no longer apply
    more: bool = False  # stopped at MAX_READ; call again for the rest
    exists: bool = True


class JsonlTail:
    """Follow one JSON-lines file by byte offset.

    ``read_new()`` returns the complete records added since the previous call. When the file
    shrinks below the offset (truncation) or is a different file (inode change, e.g. ``os.replace``
    or delete + recreate), it starts over from byte 0 and says so in ``TailBatch.reset``.
    """

    def __init__(self, path: str | Path, max_read: int = MAX_READ) -> None:
        self.path = Path(path)
        self.max_read = max_read
        self.offset = 0  # bytes consumed (always just after a newline or a whole object)
        self.line_no = 0  # complete lines consumed
        self.n_bad = 0
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino)
        self._open_object = False  # consumed a last object whose newline has not come yet

    def _restart(self) -> None:
        self.offset = 0
        self.line_no = 0
        self._open_object = False

    def _check_identity(self, fd: int, st: os.stat_result) -> str | None:
        ident = (st.st_dev, st.st_ino)
        reset = None
        if self._ident is not None and ident != self._ident:
            reset = "replaced"
        elif st.st_size < self.offset:
            reset = "truncated"
        elif self.offset > 0 and not self._open_object:
            if os.pread(fd, 1, self.offset - 1) != b"\n":  # rewritten in place, as long or longer
                reset = "replaced"
        self._ident = ident
        if reset:
            self._restart()
        return reset

    def read_new(self) -> TailBatch:
        """Read and parse what was appended since the last call."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return TailBatch(exists=False)
        try:
            st = os.fstat(fd)
            batch = TailBatch(reset=self._check_identity(fd, st))
            want = min(st.st_size - self.offset, self.max_read)
            data = os.pread(fd, want, self.offset) if want > 0 else b""
            while b"\n" not in data and self.offset + len(data) < st.st_size:  # one huge line
                data += os.pread(fd, self.max_read, self.offset + len(data))
            batch.more = self.offset + len(data) < st.st_size
        finally:
            os.close(fd)
        self._consume(data, batch)
        return batch

    def _consume(self, data: bytes, batch: TailBatch) -> None:
        if self._open_object and data:
            data = self._close_open_object(data, batch)
        lines = data.split(b"\n")
        rest = lines.pop()  # after the last newline: b"" or a line still being written
        if lines:
            self._parse_into(lines, batch)
            self.offset += len(data) - len(rest)
            self.line_no += len(lines)
        if rest.strip() and not batch.more:
            self._try_unterminated(rest, batch)

    def _close_open_object(self, data: bytes, batch: TailBatch) -> bytes:
        """The previous call took an object with no newline after it: its newline is due now."""
        nl = data.find(b"\n")
        head = data if nl < 0 else data[:nl]
        if head.strip():  # the 'whole' object went on: the line is corrupt after all
            self._add_bad(batch, self.line_no, "line continued after a complete JSON object")
        if nl < 0:
            self.offset += len(data)
            return b""
        self._open_object = False
        self.offset += nl + 1
        return data[nl + 1 :]

    def _try_unterminated(self, rest: bytes, batch: TailBatch) -> None:
        """Accept a last line without newline only if it already is a whole JSON object."""
        if not rest.rstrip().endswith(b"}"):
            return
        try:
            obj = parse_object(rest)
        except LineError:
            return  # half written: wait for the rest
        self.line_no += 1
        batch.records.append((self.line_no, obj))
        self.offset += len(rest)
        self._open_object = True

    def _parse_into(self, lines: list[bytes], batch: TailBatch) -> None:
        """Parse complete lines (numbered from ``self.line_no + 1``) into the batch."""
        records = batch.records
        loads, decode_error = orjson.loads, orjson.JSONDecodeError
        for line_no, raw in enumerate(lines, self.line_no + 1):
            if not raw:
                continue
            try:
                obj = loads(raw)
            except decode_error:
                if not raw.strip():
                    continue
                try:
                    obj = parse_line(raw)
                except LineError as exc:
                    self._add_bad(batch, line_no, str(exc))
                    continue
            if type(obj) is dict:
                records.append((line_no, obj))
            else:
                self._add_bad(batch, line_no, f"not a JSON object ({type(obj).__name__})")

    def _add_bad(self, batch: TailBatch, line_no: int, message: str) -> None:
        self.n_bad += 1
        if self.n_bad <= MAX_BAD_KEPT:
            batch.bad.append(BadLine(file=self.path.name, line=line_no, message=message))
