"""Start-up overlap: the runs list's quick scan in a forked child while the app imports Textual.

The first paint needs both the app's modules (Textual: the larger part) and a quick summary of the runs
on screen (the tail of each metrics file). On a multi-core machine these need not wait for each other:
the parent forks before importing Textual (no threads exist yet), the child scans and sends the summaries
back pickled through a pipe, the parent imports meanwhile. With many runs the scan is the long pole, so
the child sends two frames: first the runs at the top of the list (those that changed last, two screens
of them), on which the app starts; then the others, which the app adds once the list has painted. Any
failure falls back: no first frame, the app scans in its own process; no second, the full read brings
them. No Textual here.
"""

from __future__ import annotations

import io
import os
import pickle
import signal
import struct
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from runner.runs.coldread import NICE
from runner.runs.summary import RunSummary

FIRST_FILL = 100  # at least this many runs in the first frame, and in the runs table before it paints
HEADER = struct.Struct(">Q")  # each frame: its length, then a pickle


def first_part(rows: int | None = None) -> int:
    """How many runs the first frame holds: what the runs table fills first, two screens of rows
    (``rows``: the terminal's height, read from it when not given)."""
    if rows is None:
        try:
            rows = os.get_terminal_size(1).lines
        except OSError:  # not a terminal
            rows = 0
    return max(FIRST_FILL, 2 * rows)


def scan_frames(roots: Sequence[Path], first: int = FIRST_FILL) -> Iterator[bytes]:
    """The child's work: its two frames, each a pickled ``(summaries, runs found)``. It imports the status
    source (``runner.api.status_source()`` returns this function) but not ``runner.api`` itself, whose
    launch form and recipe catalogue (~40 ms) the first paint does not need."""
    from runner.control.records import status_for
    from runner.runs.quick import quick_scan_parts

    for part in quick_scan_parts(roots, status_for, first):
        data = pickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
        yield HEADER.pack(len(data)) + data


class QuickScanChild:
    """A forked child running ``quick_scan_parts(roots)``: ``first()`` then ``rest()`` collect its two
    frames (``result()``: both)."""

    def __init__(self, roots: Sequence[Path], first: int | None = None) -> None:
        self.roots = [Path(r) for r in roots]
        self.pid = -1
        self.fd = -1
        self.found = 0  # runs found (from the first frame)
        self._drained: threading.Thread | None = None  # reads the second frame's bytes as soon as they come
        self._spill = b""  # those bytes
        if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
            return  # one core: nothing to overlap
        count = first_part() if first is None else first
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # the child: scan, send, leave without running any exit handler
            os.close(read_fd)
            os._exit(_send(self.roots, count, write_fd))
        os.close(write_fd)
        self.pid, self.fd = pid, read_fd

    def first(self) -> list[RunSummary] | None:
        """The runs that changed last (``found``: how many runs there are), or None when the child failed
        (it is stopped; the caller scans itself)."""
        if self.pid < 0:
            return None
        part = self._frame()
        if part is None:
            self.close()
            return None
        rows, self.found = part
        if self.found > len(rows):  # the child's others: taken in as it sends them, so that it ends then
            self._drained = threading.Thread(target=self._drain, name="quick-scan-rest", daemon=True)
            self._drained.start()
        return rows

    def _drain(self) -> None:
        """The rest of the pipe, read as it comes (a second frame larger than the pipe's buffer would keep the
        child, and the cold reader that waits for its end, waiting until the app asks for the frame)."""
        parts: list[bytes] = []
        try:
            while chunk := os.read(self.fd, 1 << 20):
                parts.append(chunk)
        except OSError:  # closed meanwhile (the app ended): nothing to read
            pass
        self._spill = b"".join(parts)

    def rest(self, pause: Callable[[], None] | None = None) -> list[RunSummary] | None:
        """The other runs (after ``first``), or None when the child failed; the child is reaped. ``pause``:
        called once their frame is in, before it is unpickled (~50 ms of the interpreter per 1,000 runs):
        the app holds it there while a run opens."""
        if self.pid < 0:
            return None
        part = self._frame(pause)
        if part is not None and not self._reap():
            part = None
        self.close()
        return None if part is None else part[0]

    def result(self) -> list[RunSummary] | None:
        """Every run's summary (the first frame's, then the others), or None when the child failed."""
        head = self.first()
        tail = self.rest() if head is not None else None
        return None if head is None or tail is None else head + tail

    def close(self) -> None:
        """Stop the child if it still runs, reap it, close the pipe (done after ``rest``, safe twice)."""
        if self.pid > 0:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self._reap()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _reap(self) -> bool:
        """Wait for the child; whether it exited well."""
        pid, self.pid = self.pid, -1
        try:
            _, status = os.waitpid(pid, 0)
        except OSError:
            return False
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

    def _frame(self, pause: Callable[[], None] | None = None) -> tuple[list[RunSummary], int] | None:
        """The next frame (``pause()`` once it is read, before it is unpickled), or None (the child died, or
        sent something that is not one)."""
        if self._drained is not None:
            self._drained.join()
        read = _reader(io.BytesIO(self._spill)) if self._drained is not None else _reader(self.fd)
        try:
            head = read(HEADER.size)
            data = read(HEADER.unpack(head)[0]) if head is not None else None
            if data is not None and pause is not None:
                pause()
            part = pickle.loads(data) if data is not None else None
        except Exception:  # noqa: BLE001 - an unreadable frame: the caller falls back
            return None
        if not isinstance(part, tuple) or len(part) != 2:
            return None
        rows, found = part
        if not isinstance(found, int) or not isinstance(rows, list):
            return None
        return (rows, found) if all(isinstance(r, RunSummary) for r in rows) else None


def first_summaries(
    prefetch: QuickScanChild | None, roots: Sequence[Path]
) -> tuple[list[RunSummary] | None, QuickScanChild | None]:
    """The runs list's first summaries from ``prefetch`` (None: none, or it failed: the caller scans itself)
    and the child still holding the others (None: there are none; it is reaped). A child scanning other
    folders than ``roots`` is stopped."""
    if prefetch is None or prefetch.roots != list(roots):
        if prefetch is not None:
            prefetch.close()
        return None, None
    head = prefetch.first()
    if head is not None and len(head) == prefetch.found:  # every run in the first part
        prefetch.close()
        return head, None
    return head, prefetch if head is not None else None


def _send(roots: list[Path], first: int, fd: int) -> int:
    """In the child: scan and write the frames to ``fd``; the exit code (0: all sent)."""
    try:
        with os.fdopen(fd, "wb") as out:
            for frame in scan_frames(roots, first):
                out.write(frame)
                out.flush()  # the first frame goes at once
                os.nice(NICE)  # the others are background work: the app (a run opened at once) comes first
        return 0
    except BaseException:  # noqa: BLE001 - the parent falls back; never print over the UI
        return 1


def _reader(src: int | io.BytesIO) -> Callable[[int], bytes | None]:
    """Reads of exactly ``size`` bytes (None at an early end) from a pipe or from the bytes drained from it."""
    if isinstance(src, int):
        return lambda size: _read_exactly(src, size)
    return lambda size: chunk if len(chunk := src.read(size)) == size else None


def _read_exactly(fd: int, size: int) -> bytes | None:
    """``size`` bytes from ``fd``, or None at an early end of the pipe."""
    parts: list[bytes] = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        parts.append(chunk)
        size -= len(chunk)
    return b"".join(parts)
