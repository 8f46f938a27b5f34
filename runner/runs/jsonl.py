"""Tolerant JSON-lines reading, and a follower that reads only the bytes added since last time.

Rules (the cookbook's ``metrics.jsonl`` contract):
- bare ``NaN`` / ``Infinity`` / ``-Infinity`` are accepted (orjson first; the stdlib parser, which
  accepts them, only for the lines orjson refuses);
- a last line without its newline is held back until it completes, unless it already is a whole
  JSON object (a file whose writer never adds the final newline is still read in full);
- a corrupt line is recorded as :class:`BadLine` (file, 1-based line, message) and reading goes on;
- values keep their JSON types: strings, booleans and null are never turned into floats.

Hostile input is a bad line, never an exception: nesting deeper than ``MAX_DEPTH``, a ``step``
outside +-2**53, a line longer than ``MAX_LINE``; an integer too large for a float is dropped from its
record, with a bad line saying so. Only regular files are opened (non-blocking, so a FIFO never
hangs a reader) and every read is bounded: :func:`read_capped` (whole small files such as
``config.json``) and :func:`read_tail` (the end of a log).
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from runner.runs.lineparse import BULK_MIN, is_plain, loads_each, suspect_lines
from runner.runs.summary import BadLine

MAX_READ = 64 * 1024 * 1024  # bytes per read_new() call; the rest comes on the next call
MAX_LINE = 16 * 1024 * 1024  # a longer line is a bad line, skipped without being held in memory
MAX_BAD_KEPT = 200  # bad lines kept per follower (all are counted)
MAX_DEPTH = 100  # deeper JSON is refused (the stdlib parser, repr and json.dumps recurse)
CONFIG_MAX_BYTES = 16 * 1024 * 1024
STEP_LIMIT = 2**53  # steps are exact in a float chart axis and far from the int64 column's edge
FLOAT_LIMIT = 2**1024  # an int this large cannot become a float
FINGERPRINT = 256  # bytes compared before the offset and at the start to notice a rewrite in place
_FILE_TYPES = {stat.S_IFDIR: "directory", stat.S_IFIFO: "FIFO", stat.S_IFCHR: "character device",
               stat.S_IFBLK: "block device", stat.S_IFSOCK: "socket"}  # fmt: skip


class NotReadable(OSError):
    """A path that is not read: not a regular file, or over its size cap. ``str()`` says why."""

    def __str__(self) -> str:
        return str(self.args[0])


def open_regular(path: str | Path) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading without ever blocking; raise :class:`NotReadable` unless it is a
    regular file (a FIFO, a device such as ``/dev/zero`` or a directory is never read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        what = _FILE_TYPES.get(stat.S_IFMT(st.st_mode), "special file")
        raise NotReadable(f"not a regular file ({what}), skipped")
    return fd, st


def describe_error(exc: OSError) -> str:
    """A short reason for a failed read (``not a regular file (FIFO), skipped``, ``Too many ...``)."""
    if isinstance(exc, NotReadable):
        return str(exc)
    return exc.strerror or type(exc).__name__


def read_capped(path: str | Path, cap: int = CONFIG_MAX_BYTES) -> bytes:
    """The whole of a regular file of at most ``cap`` bytes; :class:`NotReadable` when larger."""
    fd, st = open_regular(path)
    try:
        if st.st_size > cap:
            raise NotReadable(f"larger than {cap >> 20} MiB ({st.st_size} bytes), not read")
        chunks, total = [], 0
        while total <= cap:
            chunk = os.read(fd, cap + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > cap:
        raise NotReadable(f"larger than {cap >> 20} MiB (grew while read), not read")
    return b"".join(chunks)


def read_head(path: str | Path, max_bytes: int) -> bytes:
    """At most the first ``max_bytes`` of a regular file."""
    fd, _ = open_regular(path)
    try:
        return os.read(fd, max_bytes)
    finally:
        os.close(fd)


def read_tail(path: str | Path, n_lines: int, max_bytes: int, block: int = 64 * 1024) -> tuple[bytes, bool]:
    """The end of a regular file holding at least ``n_lines`` newlines (or ``max_bytes``, or all of
    it), read backwards in blocks (linear); and whether the start of the file was reached."""
    fd, st = open_regular(path)
    try:
        pos, chunks, newlines = st.st_size, [], 0
        while pos > 0 and newlines <= n_lines and st.st_size - pos < max_bytes:
            step = min(block, pos, max_bytes - (st.st_size - pos))
            pos -= step
            chunk = os.pread(fd, step, pos)
            chunks.append(chunk)
            newlines += chunk.count(b"\n")
    finally:
        os.close(fd)
    return b"".join(reversed(chunks)), pos == 0


class LineError(ValueError):
    """A line that is not a JSON object."""


def parse_line(raw: bytes) -> Any:
    """Parse one line; orjson fast path, stdlib fallback for bare NaN/Infinity. Nesting deeper than
    ``MAX_DEPTH`` is a :class:`LineError` (the stdlib parser would raise ``RecursionError``)."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as fast_exc:
        try:
            obj = json.loads(raw)
        except RecursionError:
            raise LineError(f"nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise LineError(str(exc) or str(fast_exc)) from None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and too_deep(obj):
        raise LineError(f"nested deeper than {MAX_DEPTH} levels")
    return obj


def too_deep(obj: Any, limit: int = MAX_DEPTH) -> bool:
    """Does ``obj`` nest lists/objects more than ``limit`` levels (checked without recursion)?"""
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            item = list(item.values())
        elif type(item) is not list:
            continue
        if depth > limit:
            return True
        stack.extend((v, depth + 1) for v in item if type(v) is dict or type(v) is list)
    return False


def parse_object(raw: bytes) -> dict[str, Any]:
    """Parse one line that must hold a JSON object."""
    obj = parse_line(raw)
    if not isinstance(obj, dict):
        raise LineError(f"not a JSON object ({type(obj).__name__})")
    return obj


def check_step(record: dict[str, Any]) -> None:
    """A whole-number ``step`` beyond +-2**53 makes the line bad (it would overflow the step column)."""
    s = record.get("step")
    if (type(s) is int or (type(s) is float and s.is_integer())) and not -STEP_LIMIT < s < STEP_LIMIT:
        shown = f"a {len(str(abs(s)))}-digit integer" if type(s) is int and abs(s) > 10**20 else repr(s)
        raise LineError(f"step out of range: {shown} (limit +-2**53)")


def drop_huge(record: dict[str, Any]) -> str | None:
    """Remove integers too large for a float (only the stdlib parser makes them); say which."""
    huge = [k for k, v in record.items() if type(v) is int and not -FLOAT_LIMIT < v < FLOAT_LIMIT]
    for key in huge:
        del record[key]
    return f"integer too large for a float, value dropped: {', '.join(huge)}" if huge else None


def parse_record(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """A metrics/checkpoints line: ``(record, note on dropped values or None)``; LineError if bad."""
    try:
        fast = orjson.loads(raw)
    except orjson.JSONDecodeError:
        fast = None
    if type(fast) is dict and raw.count(b"[") + raw.count(b"{") <= MAX_DEPTH:
        check_step(fast)
        return fast, None  # orjson makes no integer too large for a float (past 64 bits: a float)
    record = parse_object(raw)  # the careful path: stdlib fallback, depth
    check_step(record)
    return record, drop_huge(record)


@dataclass
class TailBatch:
    """What one :meth:`JsonlTail.read_new` call found."""

    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    reset: str | None = None  # "truncated" / "replaced" / "rewritten": earlier records no longer apply
    more: bool = False  # stopped at MAX_READ; call again for the rest
    exists: bool = True
    error: str | None = None  # "<file>: <reason>" when the file could not be read (nothing else changed)


class JsonlTail:
    """Follow one JSON-lines file by byte offset.

    ``read_new()`` returns the complete records added since the previous call. When the file
    shrinks below the offset (truncation), is a different file (inode change, e.g. ``os.replace``
    or delete + recreate: ``replaced``) or was rewritten in place (its first bytes or the bytes just
    before the offset changed: ``rewritten``), it starts over from byte 0 and says so in
    ``TailBatch.reset``. A path that is not a regular file is never opened for a blocking read.
    """

    def __init__(self, path: str | Path, max_read: int = MAX_READ, max_line: int = MAX_LINE) -> None:
        self.path = Path(path)
        self.max_read = max_read
        self.max_line = max_line
        self.offset = 0  # bytes consumed (always just after a newline or a whole object)
        self.line_no = 0  # complete lines consumed
        self.n_bad = 0
        self._ident: tuple[int, int] | None = None  # (st_dev, st_ino)
        self._restart()

    def _restart(self) -> None:
        self.offset = 0
        self.line_no = 0
        self._open_object = False  # consumed a last object whose newline has not come yet
        self._skipping = False  # inside an overlong line (already counted bad) until its newline
        self._head = b""  # the file's first bytes, as read
        self._tail = b""  # the bytes just before the offset, as read

    def _check_identity(self, fd: int, st: os.stat_result) -> str | None:
        ident = (st.st_dev, st.st_ino)
        reset = None
        if self._ident is not None and ident != self._ident:
            reset = "replaced"
        elif st.st_size < self.offset:
            reset = "truncated"
        elif self.offset > 0 and not self._same_bytes(fd):
            reset = "rewritten"
        self._ident = ident
        if reset:
            self._restart()
        return reset

    def _same_bytes(self, fd: int) -> bool:
        """Are the bytes read before (the start, and the end before the offset) still there?"""
        tail_at = self.offset - len(self._tail)
        return os.pread(fd, len(self._head), 0) == self._head and (
            os.pread(fd, len(self._tail), tail_at) == self._tail
        )

    def read_new(self) -> TailBatch:
        """Read and parse what was appended since the last call."""
        try:
            fd, st = open_regular(self.path)
        except FileNotFoundError:
            return TailBatch(exists=False)
        except OSError as exc:
            return TailBatch(error=f"{self.path.name}: {describe_error(exc)}")
        try:
            batch = TailBatch(reset=self._check_identity(fd, st))
            data = self._read_from(fd, st.st_size)
            batch.more = self.offset + len(data) < st.st_size
        except OSError as exc:
            return TailBatch(error=f"{self.path.name}: {describe_error(exc)}")
        finally:
            os.close(fd)
        start = self.offset
        self._consume(data, batch)
        self._remember(data, self.offset - start)
        return batch

    def _read_from(self, fd: int, size: int) -> bytes:
        """The bytes from the offset: up to ``max_read``, more only to finish a line (up to ``max_line``)."""
        want = min(size - self.offset, self.max_read)
        data = os.pread(fd, want, self.offset) if want > 0 else b""
        if b"\n" in data or self._skipping:
            return data
        chunks, total = [data], len(data)
        while total < self.max_line and self.offset + total < size:  # one long line
            chunk = os.pread(fd, min(self.max_read, self.max_line - total), self.offset + total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if b"\n" in chunk:
                break
        return b"".join(chunks)

    def _remember(self, data: bytes, consumed: int) -> None:
        """Keep the first bytes and the bytes before the offset, given ``data[:consumed]`` was used."""
        if len(self._head) < FINGERPRINT:
            self._head = (self._head + data[: min(consumed, FINGERPRINT)])[:FINGERPRINT]
        self._tail = (self._tail + data[max(0, consumed - FINGERPRINT) : consumed])[-FINGERPRINT:]

    def _consume(self, data: bytes, batch: TailBatch) -> None:
        if self._skipping and data:
            data = self._skip_overlong(data)
        if self._open_object and data:
            data = self._close_open_object(data, batch)
        lines = data.split(b"\n")
        rest = lines.pop()  # after the last newline: b"" or a line still being written
        if lines:
            self._parse_into(lines, batch)
            self.offset += len(data) - len(rest)
            self.line_no += len(lines)
        if len(rest) >= self.max_line:
            self._add_bad(batch, self.line_no + 1, f"line longer than {self.max_line} bytes, skipped")
            self._skipping = True
            self.offset += len(rest)
        elif rest.strip() and not batch.more:
            self._try_unterminated(rest, batch)

    def _skip_overlong(self, data: bytes) -> bytes:
        """Drop the rest of an overlong line, up to and including its newline."""
        nl = data.find(b"\n")
        if nl < 0:
            self.offset += len(data)
            return b""
        self._skipping = False
        self.offset += nl + 1
        self.line_no += 1
        return data[nl + 1 :]

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
            obj, note = parse_record(rest)
        except LineError:
            return  # half written: wait for the rest
        self.line_no += 1
        batch.records.append((self.line_no, obj))
        if note:
            self._add_bad(batch, self.line_no, note)
        self.offset += len(rest)
        self._open_object = True

    def _parse_into(self, lines: list[bytes], batch: TailBatch) -> None:
        """Parse complete lines (numbered from ``self.line_no + 1``) into the batch: plain lines in bulk
        (:mod:`runner.runs.lineparse`), the others one by one; a few lines all one by one."""
        objs = loads_each(lines)
        records, first, done = batch.records, self.line_no + 1, 0
        if len(lines) < BULK_MIN:
            for i, raw in enumerate(lines):
                self._parse_one(raw, objs[i], first + i, batch)
            return
        for i in suspect_lines(lines, objs, STEP_LIMIT):
            records.extend(zip(range(first + done, first + i), objs[done:i], strict=True))
            self._parse_one(lines[i], objs[i], first + i, batch)
            done = i + 1
        records.extend(zip(range(first + done, first + len(lines)), objs[done:], strict=True))

    def _parse_one(self, raw: bytes, obj: Any, line_no: int, batch: TailBatch) -> None:
        """One line; ``obj``: orjson's value of it (None if refused)."""
        if is_plain(raw, obj, STEP_LIMIT, MAX_DEPTH):
            batch.records.append((line_no, obj))
        else:
            self._parse_checked(raw, line_no, batch)

    def _parse_checked(self, raw: bytes, line_no: int, batch: TailBatch) -> None:
        """The careful path: stdlib fallback, depth, step range, huge integers."""
        if not raw.strip():
            return
        try:
            obj, note = parse_record(raw)
        except LineError as exc:
            self._add_bad(batch, line_no, str(exc))
            return
        batch.records.append((line_no, obj))
        if note:
            self._add_bad(batch, line_no, note)

    def _add_bad(self, batch: TailBatch, line_no: int, message: str) -> None:
        self.n_bad += 1
        if self.n_bad <= MAX_BAD_KEPT:
            batch.bad.append(BadLine(file=self.path.name, line=line_no, message=message))
