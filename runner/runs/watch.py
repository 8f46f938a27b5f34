"""One file watcher for all roots, yielding batches of changed run paths.

Built on ``watchfiles.watch`` (inotify where available, polling otherwise or when asked). A root that
does not exist yet is polled for (never a recursive watch on its parent, which could be ``/``); once
it appears it is reported and watched. A changed file maps to its run: ``<run>/metrics.jsonl`` (or anything
under ``<run>/iteration_*`` / ``<run>/wandb``) to ``<run>``; a loose ``*metrics.jsonl`` or ``*.log``
to itself; a new folder to itself (the store then looks for runs in it).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from runner.runs.discover import RUN_FILES

RUN_SIDE_FILES = RUN_FILES | {"config.json", "timing_spans.jsonl", "trace_events.jsonl", "code.diff"}
RUST_TIMEOUT_MS = 500
# how often the notifier wakes to look for events (and, once it has some, how long a quiet spell ends a
# batch): each wake takes the GIL, ~0.6% of a core at 20 ms. A caller whose changes wait anyway (the runs
# list batches them) asks for a longer step while it can (see ``step_ms``).
WATCH_STEP_MS = 20
MISSING_CHECK_S = 0.5
RUNS_CACHE_MAX = 50_000  # changed file -> run entries kept before starting over


def run_path_for(changed: Path, roots: Iterable[Path]) -> Path | None:
    """The run a changed path belongs to, or None when it lies outside every root."""
    roots = list(roots)
    if not any(changed == r or r in changed.parents for r in roots):
        return None
    parts = changed.parts
    for i, part in enumerate(parts):
        if part.startswith("iteration_") or part == "wandb":
            return Path(*parts[:i])
    if changed.name in RUN_SIDE_FILES:
        return changed.parent
    return changed


def watch_changes(
    roots: Iterable[str | Path],
    stop_event: threading.Event,
    debounce_ms: int = 50,
    force_polling: bool | None = None,
    poll_delay_ms: int = 300,
    idle: bool = False,
    step_ms: Callable[[], int] | None = None,
) -> Iterator[set[Path]]:
    """Yield sets of changed run paths under ``roots`` until ``stop_event`` is set.

    ``step_ms`` (asked before each wait) is the notifier's step, ``WATCH_STEP_MS`` by default.

    ``idle=True`` also yields an empty set when nothing changed for ``RUST_TIMEOUT_MS`` (a caller
    holding changes back gets the chance to hand them on).

    Roots that do not exist yet are checked every ``MISSING_CHECK_S``; when one appears it is
    yielded (so the store searches it) and the watcher restarts to include it. A root that is
    deleted is yielded too, and polled for until it comes back.
    ``force_polling=None`` lets watchfiles decide (it honours ``WATCHFILES_FORCE_POLLING``); if
    inotify cannot be set up the watcher falls back to polling.
    """
    wanted = [Path(os.path.abspath(r)) for r in roots]
    polling = force_polling
    while not stop_event.is_set():
        present = [r for r in wanted if r.exists()]
        missing = [r for r in wanted if r not in present]
        if not present:
            if stop_event.wait(MISSING_CHECK_S):
                return
            appeared = {r for r in missing if r.exists()}
            if appeared:
                yield appeared
            continue
        try:
            yield from _watch(
                present, missing, stop_event, debounce_ms, polling, poll_delay_ms, idle, step_ms
            )
        except OSError:
            if polling:
                raise
            polling = True  # inotify unavailable (limits, odd filesystems): poll instead


def _watch(
    present: list[Path],
    missing: list[Path],
    stop_event: threading.Event,
    debounce_ms: int,
    polling: bool | None,
    poll_delay_ms: int,
    idle: bool = False,
    step_ms: Callable[[], int] | None = None,
) -> Iterator[set[Path]]:
    """Watch the existing roots until stopped or until a missing root appears.

    The first batch (at the latest ``RUST_TIMEOUT_MS`` after the start) also names every watched root:
    the watcher is set up only then, so whatever was written between the caller's last read and that
    moment would otherwise go unreported until the file changes again. Refreshing a root re-reads
    only new bytes of its runs."""
    catch_up = set(present)
    runs: dict[str, Path | None] = {}  # changed file -> its run: the same few files change again and again
    with _notifier(present, polling, poll_delay_ms) as notifier:
        while True:
            step = step_ms() if step_ms is not None else WATCH_STEP_MS
            raw = notifier.watch(debounce_ms, step, RUST_TIMEOUT_MS, stop_event)
            if raw == "stop":
                return
            if raw == "signal":  # only the main thread sees signals (as watchfiles.watch does)
                raise KeyboardInterrupt
            batch = (_batch(raw, present, runs) if raw != "timeout" else set()) | catch_up
            catch_up = set()
            appeared = {r for r in missing if r.exists()}
            vanished = {r for r in present if not r.exists()}
            if batch or appeared or vanished:
                yield batch | appeared | vanished
            elif idle:
                yield set()
            if appeared or vanished:
                return  # restart: watch the roots that exist now, poll for the others


def _notifier(present: list[Path], polling: bool | None, poll_delay_ms: int) -> Any:
    """watchfiles' notifier on ``present``, set up as ``watchfiles.watch`` sets it up (its environment
    variables honoured), driven here so that each wait can take its own step; OSError when it cannot watch."""
    from watchfiles import main as wf  # lazily: the CLI does not need it

    return wf.RustNotify(
        [str(p) for p in present],
        wf._default_debug(None),
        wf._default_force_polling(polling),
        wf._default_poll_delay_ms(poll_delay_ms),
        True,  # recursive
        wf._default_ignore_permission_denied(True),
    )


@functools.cache
def _default_filter() -> Callable[[Any, str], bool]:
    from watchfiles import DefaultFilter

    return DefaultFilter()


def _ignored(raw: str) -> bool:
    """Would ``watchfiles.watch`` have dropped this change (editor swap files, .git, __pycache__, ...)?"""
    from watchfiles import Change

    return not _default_filter()(Change.modified, raw)


def _batch(
    changes: Iterable[tuple[object, str]], roots: list[Path], runs: dict[str, Path | None] | None = None
) -> set[Path]:
    """The runs of the changed files; ``runs`` remembers each file's run (kept to a bounded size)."""
    runs = {} if runs is None else runs
    if len(runs) > RUNS_CACHE_MAX:
        runs.clear()
    out: set[Path] = set()
    for _change, raw in changes:
        if raw in runs:
            run = runs[raw]
        else:  # what watchfiles.watch would have filtered out maps to no run
            run = runs[raw] = None if _ignored(raw) else run_path_for(Path(raw), roots)
        if run is not None:
            out.add(run)
    return out
