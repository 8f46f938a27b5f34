"""Run status from the files alone, or from the supervisor's record when there is one.

New files prove nothing (a finished run copied or synced from elsewhere has fresh mtimes), so from the
files, in this order:

- ``finished``: the last checkpoint record is ``name == "final"``, or the console tail has
  ``Training completed successfully`` / ``DPO training completed successfully`` after the last
  ``Command line invocation`` (a resumed run starts over);
- ``failed``: a traceback or an error line at the end of the console log, and no final;
- ``running``: the files grew while we watched (:class:`GrowthWatch`: sizes up between two reads of
  the run, the first read being a baseline) within the stale window, or a local process holds them
  (:func:`held_by_process`: a file open for writing, or the run's path in its command line);
- ``finished`` again: progress reached 100% (``progress/done_frac`` >= 1, or the step reached the
  configured total) and nothing is writing;
- ``stale``: seen growing, then nothing for longer than ``max(5 min, K x median step time)``;
- ``unknown``: never seen growing, no process, not done (a copied folder, a run elsewhere).

The process check runs only when the cheaper rules have not decided; one scan of ``/proc`` serves
every run for ``HOLDERS_TTL_S`` seconds.

The supervisor's record, when the caller gives a :data:`StatusSource` (``runner.api.status_source``
asks ``runner.control``), wins over the files: ``{"status": ..., "exit_code": ..., "error": ...}``. A
source that fails is a note on that run's row (and counted), never the end of the read.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.status import Status

STALE_MIN_S = 300.0
STALE_STEP_FACTOR = 5.0
ERROR_WINDOW = 15  # last non-blank console lines inspected for an error
RECENT_STEPS = 100  # the step time is the median over this many last steps

_DONE = ("Training completed successfully", "DPO training completed successfully")
_START = "Command line invocation"
_ERROR_RE = re.compile(
    r"Traceback \(most recent call last\)|^[\w.]*(Error|Exception|Interrupt)\b(:|$)|^Killed\b"
)

# asked for a run folder's supervisor record: a dict with a "status", or None (tinkertop did not launch it)
StatusSource = Callable[[str], dict[str, Any] | None]
SOURCE_FAILURES: Counter[str] = Counter()  # exception name -> how many times a source raised


def stale_after(step_seconds: float | None) -> float:
    """Seconds without any file change after which a run counts as stale."""
    return max(STALE_MIN_S, STALE_STEP_FACTOR * step_seconds) if step_seconds else STALE_MIN_S


def median_step_seconds(time_totals: Sequence[float], seen_times: Sequence[float]) -> float | None:
    """Median step time over the last ``RECENT_STEPS`` steps: from ``time/total`` when logged, else from
    when steps were first seen. Recent steps only: a run's pace now (and a cost that does not grow with the
    run: every summary of a changed run asks)."""
    vals = [v for v in time_totals[-RECENT_STEPS:] if v == v and v > 0]
    if vals:
        return float(statistics.median(vals))
    recent = seen_times[-RECENT_STEPS - 1 :]
    gaps = [b - a for a, b in zip(recent, recent[1:], strict=False) if b > a]
    return float(statistics.median(gaps)) if gaps else None


def console_verdict(tail: Sequence[str]) -> Status | None:
    """``finished`` / ``failed`` / None from the last lines of a console log."""
    start = max((i for i, line in enumerate(tail) if _START in line), default=-1)
    lines = list(tail[start + 1 :])
    if any(marker in line for line in lines for marker in _DONE):
        return Status.FINISHED
    recent = [line for line in lines if line.strip()][-ERROR_WINDOW:]
    if any(_ERROR_RE.search(line) for line in recent):
        return Status.FAILED
    return None


def infer_status(
    checkpoints: Sequence[dict[str, Any]],
    console_tail: Sequence[str],
    last_growth: float | None,
    step_seconds: float | None = None,
    now: float | None = None,
    *,
    held: Callable[[], bool] | None = None,
    progress: float | None = None,
) -> Status:
    """Status from the files (see the module docstring). ``last_growth``: when the files were last
    seen growing (None: never); ``held``: asked only when needed, whether a local process holds the
    run; ``progress``: the fraction done, if known."""
    if checkpoints and checkpoints[-1].get("name") == "final":
        return Status.FINISHED
    verdict = console_verdict(console_tail)
    if verdict:
        return verdict
    now = time.time() if now is None else now
    if last_growth is not None and now - last_growth <= stale_after(step_seconds):
        return Status.RUNNING
    if held is not None and held():
        return Status.RUNNING
    if progress is not None and progress >= 1.0:
        return Status.FINISHED
    return Status.UNKNOWN if last_growth is None else Status.STALE


class GrowthWatch:
    """When a run's files were last seen growing. The first look is a baseline (files that were
    already there, however new, are not growth); a file that shrank (truncated, replaced) gives a new
    baseline; a file that appears counts."""

    def __init__(self) -> None:
        self._sizes: tuple[int, ...] | None = None
        self.last_growth: float | None = None

    def observe(self, sizes: Sequence[int], now: float | None = None) -> bool:
        """Note the files' sizes now; True when one of them grew since the previous look."""
        before, self._sizes = self._sizes, tuple(sizes)
        grew = before is not None and any(b > a for a, b in zip(before, self._sizes, strict=False))
        if grew:
            self.last_growth = time.time() if now is None else now
        return grew


def file_sizes(paths: Iterable[Path | None]) -> tuple[int, ...]:
    """Sizes of ``paths`` in bytes, -1 for a file that is absent (so its creation counts as growth)."""
    out = []
    for path in paths:
        try:
            out.append(path.stat().st_size if path is not None else -1)
        except OSError:
            out.append(-1)
    return tuple(out)


def supervisor_status(source: StatusSource | None, run_path: str | Path) -> tuple[dict | None, str]:
    """What ``source`` says of the run at ``run_path``: its record (None: the files decide) and, when
    asking failed, why (``""`` otherwise): the reader puts that on the run's row, and it is counted in
    ``SOURCE_FAILURES``. No source: the files alone decide."""
    if source is None:
        return None, ""
    try:
        record = source(str(run_path))
    except Exception as exc:  # noqa: BLE001 - one run's record never ends the read: said on its row
        SOURCE_FAILURES[type(exc).__name__] += 1
        return None, f"supervisor record: {type(exc).__name__}: {exc}"
    return (record if isinstance(record, dict) and record.get("status") else None), ""


def one_pass(source: StatusSource | None) -> AbstractContextManager[object]:
    """For a pass over many runs: the source's own ``one_pass`` when it has one (the records folder looked
    at once for the pass, see :class:`runner.control.records.RecordBook`), else nothing."""
    enter = getattr(source, "one_pass", None)
    return enter() if callable(enter) else nullcontext()


def exit_code_of(record: dict | None) -> int | None:
    """The job's exit code in a supervisor record, if it has ended."""
    code = record.get("exit_code") if record else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


# ---- local processes holding a run ---------------------------------------------------------------

HOLDERS_TTL_S = 5.0  # a look at every process costs ~5 ms (80 processes): the timer asks every 2 s
MAX_FDS = 4096  # per process, lowest first (a log handler opens early): bounds a scan of fd-heavy servers
PROC = Path("/proc")


@dataclass(frozen=True)
class _Holders:
    """One look at every readable process: its open files and the paths its command line names."""

    taken: float  # time.monotonic()
    open_files: dict[str, list[tuple[int, str]]]  # real path -> [(pid, fd)]
    named: frozenset[str]  # normalised absolute paths in command lines (``key=PATH`` too)
    # paths as asked -> (absolute, real) for runs, the real path for files: resolved once per look (the
    # timer asks of every quiet run every few seconds, and a realpath is an lstat per path component)
    runs: dict[str | Path, tuple[str, str]] = field(default_factory=dict)
    files: dict[str | Path, str] = field(default_factory=dict)


_holders: _Holders | None = None
_holders_lock = threading.Lock()


def held_by_process(run_path: Path, files: Iterable[str | Path | None]) -> bool:
    """True when a local process other than this one has one of ``files`` open for writing, or names
    ``run_path`` in its command line (``log_path=...``). Readers (``tail -f``, an editor) do not count."""
    holders = _current_holders()
    run = holders.runs.get(run_path)
    if run is None:
        run_abs = os.path.abspath(run_path)
        run = holders.runs[run_path] = (run_abs, os.path.realpath(run_abs))
    if run[0] in holders.named or run[1] in holders.named:
        return True
    if not holders.open_files:
        return False
    real_dirs = {run[0]: run[1]}
    for path in files:
        if path is None:
            continue
        real = holders.files.get(path)
        if real is None:
            real = holders.files[path] = _real_file(path, real_dirs)
        for pid, fd in holders.open_files.get(real, ()):
            if _open_for_writing(pid, fd):
                return True
    return False


def _real_file(path: str | Path, real_dirs: dict[str, str]) -> str:
    """``os.path.realpath(path)`` with the folders' real paths resolved once (``real_dirs``): a run's files
    share its folder, so one ``realpath`` of the folder serves them all, then an ``lstat`` each."""
    folder, name = os.path.split(os.path.abspath(path))
    if name in ("", ".", ".."):
        return os.path.realpath(path)
    real_dir = real_dirs.get(folder)
    if real_dir is None:
        real_dir = real_dirs[folder] = os.path.realpath(folder)
    candidate = os.path.join(real_dir, name)
    return os.path.realpath(candidate) if os.path.islink(candidate) else candidate


def forget_holders() -> None:
    """Drop the cached look at the processes (the next check scans ``/proc`` again)."""
    global _holders
    with _holders_lock:
        _holders = None


def _current_holders() -> _Holders:
    global _holders
    with _holders_lock:
        if _holders is None or time.monotonic() - _holders.taken > HOLDERS_TTL_S:
            _holders = _scan_processes()
        return _holders


def _scan_processes() -> _Holders:
    """Every process's open regular files and named paths (the unreadable ones are skipped)."""
    taken, me = time.monotonic(), str(os.getpid())
    open_files: dict[str, list[tuple[int, str]]] = {}
    named: set[str] = set()
    try:
        pids = [p for p in os.listdir(PROC) if p.isdigit() and p != me]
    except OSError:  # no /proc (not Linux): no process is ever seen holding a run
        return _Holders(taken, open_files, frozenset())
    for pid in pids:
        base = PROC / pid
        named.update(_named_paths(base))
        try:
            fds = os.listdir(base / "fd")
        except OSError:
            continue
        if len(fds) > MAX_FDS:
            fds = sorted(fds, key=int)[:MAX_FDS]
        for fd in fds:
            try:
                target = os.readlink(base / "fd" / fd)
            except OSError:
                continue
            if target.startswith("/") and not target.startswith(("/dev/", "/proc/")):
                open_files.setdefault(target, []).append((int(pid), fd))
    return _Holders(taken, open_files, frozenset(named))


def _named_paths(base: Path) -> list[str]:
    """The path-like arguments of one process, absolute and normalised; none for tinkertop itself
    (``tinkertop show RUN`` reads a run, it does not run it)."""
    try:
        argv = (base / "cmdline").read_bytes().decode("utf-8", "replace").split("\0")
    except OSError:
        return []
    if any(os.path.basename(a).startswith("tinkertop") for a in argv[:2]):
        return []
    values = [a.split("=", 1)[1] if "=" in a else a for a in argv[1:]]
    values = [v for v in values if v and not v.startswith("-")]
    cwd = ""
    if any(not os.path.isabs(v) for v in values):
        try:
            cwd = os.readlink(base / "cwd")
        except OSError:
            values = [v for v in values if os.path.isabs(v)]
    return [os.path.normpath(os.path.join(cwd, v)) for v in values]


def _open_for_writing(pid: int, fd: str) -> bool:
    try:
        info = (PROC / str(pid) / "fdinfo" / fd).read_text()
    except OSError:
        return False
    for line in info.splitlines():
        if line.startswith("flags:"):
            return bool(int(line.split()[1], 8) & (os.O_WRONLY | os.O_RDWR))
    return False
