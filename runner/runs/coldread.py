"""The second core for a cold full read: a forked reader that parses runs into the metrics cache.

On a cold start the app's full read parses every ``metrics.jsonl`` (about 11 ms per 1,000 steps) one run
after another in its own process: one core, whatever the machine has. :func:`start` forks a reader
that takes the runs from the other end of the list (the full read parses in path order, the reader
backwards) and writes each one's cache entry (:mod:`runner.runs.cache`). Between two runs the full read
takes the runs the reader has done from the end (:func:`left_to_reader`): it loads their entries (about
1 ms) and judges them while the reader goes on parsing, so the two end together (taken in path order, the
runs the reader did were all loaded and judged after it had stopped, on one core). Where the two meet
one run may be parsed by both: the same entry is then written twice, each write atomic.

The reader only writes cache entries (never a run folder), skips what the cache would not hold (the cache
off, foreign runs, files under ``SAVE_MIN_BYTES``) and runs that have an entry already (a warm start, or
the full read got there first). It runs niced and starts once the first paint's quick scan child is
done, so the first paint and the app's threads keep the CPU, and it stops between two runs once the app
is gone (the pipe the app holds open reads as closed). It is forked before the app starts any thread
(its imports happen in the child) and double-forked, so the app never has to reap it. One core, no ``fork``, or ``TINKERTOP_COLD_READER=0``: no reader, the full
read does it all.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.runs.folder import RunFolder

NICE = 5  # the reader yields to the app (its first paint above all) when the cores are busy
AFTER_WAIT_S = 2.0  # the longest the reader waits for the quick scan child
OFF_SWITCH = "TINKERTOP_COLD_READER"  # "0": no reader (benchmarks compare with and without it)


def start(roots: Sequence[str | Path], after: int = -1) -> int:
    """Fork the reader for the runs below ``roots``; its pid, or -1 when none was started. With ``after``
    (the pid of the first paint's quick scan child) it starts reading once that process has exited."""
    if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2 or os.environ.get(OFF_SWITCH) == "0":
        return -1
    alive_r, alive_w = os.pipe()  # the app keeps alive_w open as long as it lives
    pid_r, pid_w = os.pipe()
    try:
        child = os.fork()
    except OSError:
        for fd in (alive_r, alive_w, pid_r, pid_w):
            os.close(fd)
        return -1
    if child == 0:  # the first child: fork the reader, say its pid, leave
        _first_child([Path(r) for r in roots], after, alive_r, alive_w, pid_r, pid_w)
    os.close(alive_r)
    os.close(pid_w)
    try:
        with os.fdopen(pid_r, "rb") as src:
            data = src.read()
        os.waitpid(child, 0)
    except OSError:
        return -1
    _keep_open.append(alive_w)
    return int(data) if data.strip().isdigit() else -1


_keep_open: list[int] = []  # the write ends of the readers' "app alive" pipes (closed when the app exits)


def _first_child(roots: list[Path], after: int, alive_r: int, alive_w: int, pid_r: int, pid_w: int) -> None:
    code = 1
    try:
        os.close(alive_w)
        os.close(pid_r)
        reader = os.fork()
        if reader == 0:
            os.close(pid_w)
            _reader(roots, after, alive_r)
        os.write(pid_w, str(reader).encode())
        code = 0
    except BaseException:  # noqa: BLE001 - the app reads without help; never print over its screen
        pass
    os._exit(code)


def _reader(roots: list[Path], after: int, alive_r: int) -> None:
    code = 1
    try:
        quiet = os.open(os.devnull, os.O_WRONLY)  # nothing it says may land on the app's screen
        os.dup2(quiet, 1)
        os.dup2(quiet, 2)
        os.nice(NICE)
        wait_exit(after, AFTER_WAIT_S)
        read_backwards(roots, lambda: not _closed(alive_r))
        code = 0
    except BaseException:  # noqa: BLE001 - as above: the full read reads what is left
        pass
    os._exit(code)


def wait_exit(pid: int, timeout: float) -> None:
    """Block until process ``pid`` (not a child: the app's) has exited, at most ``timeout`` seconds; no
    wait where a pidfd cannot be had (no such process, an old kernel)."""
    if pid <= 0 or not hasattr(os, "pidfd_open"):
        return
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        select.select([fd], [], [], timeout)  # readable once the process has exited
    finally:
        os.close(fd)


def _closed(fd: int) -> bool:
    """True once the app's end of the pipe is closed (it exited): the read end reads as ready, at EOF."""
    ready, _, _ = select.select([fd], [], [], 0)
    return bool(ready)


def read_backwards(roots: Sequence[Path], go_on: Callable[[], bool] | None = None) -> int:
    """Write the cache entry of every run below ``roots`` that needs one, in reverse path order, while
    ``go_on()`` (a callable, if given) says so; returns how many runs were read."""
    from runner.runs import cache
    from runner.runs.discover import discover
    from runner.runs.folder import RunFolder

    if not cache.enabled():
        return 0
    done = 0
    for item in reversed(discover(roots)):
        if go_on is not None and not go_on():
            break
        if item.foreign:
            continue
        run = RunFolder(item.path)
        if left_to_reader(run.files.metrics):
            try:
                run.refresh()  # reads the file and saves its entry (RunFolder's own cached reader)
            except Exception:  # noqa: BLE001 - the full read reads this run itself and reports what fails
                continue
            done += 1
    return done


def started() -> bool:
    """Whether this process started a reader (it may have finished since)."""
    return bool(_keep_open)


def done_by_reader(run: RunFolder) -> bool:
    """A run the full read may take out of order now (``RunStore.scan``'s ``ready``): the reader has read
    it into the cache, or never will."""
    return not left_to_reader(run.files.metrics)


def left_to_reader(metrics: Path | None) -> bool:
    """Whether a reader would still parse ``metrics``: a file the cache would hold and holds no entry of
    yet. The full read takes the runs a reader has done (or never will) from the end of the list: they cost
    it a cache load or nothing, and it parses the others from the front (see ``RunStore.scan``)."""
    from runner.runs.cache import SAVE_MIN_BYTES, entry_path

    if metrics is None:
        return False
    try:
        size = metrics.stat().st_size
    except OSError:
        return False
    return size >= SAVE_MIN_BYTES and not entry_path(metrics).exists()
