"""One run: its files, followed by offset, summarised on demand.

A run is a folder (the cookbook ``log_path``: metrics.jsonl, checkpoints.jsonl, config.json,
logs.log), a loose ``<name>metrics.jsonl`` file (several runs in one folder, as in some shared
results), or a foreign console log (another framework; kind ``foreign``).

``refresh()`` reads only what changed (new metric and checkpoint lines by offset, config.json again
when its mtime moves, the console tail again when logs.log moves) and says whether anything did.
Chart data: ``folder.table.column(key)`` / ``folder.table.column_times(key)``.

A run is read in isolation: a file that cannot be read (not a regular file, over its cap, an
unexpected error while reading it) becomes a note on this run's row naming the file and the reason
(``RunSummary.note``), never an exception out of ``refresh``, ``summary`` or ``detail``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.runs import kinds, residency, status
from runner.runs.cache import CachedReader
from runner.runs.console import CONSOLE_LINES, console_tail_or_error, read_console_tail
from runner.runs.console import CONSOLE_MAX_BYTES as CONSOLE_MAX_BYTES  # re-exported
from runner.runs.discover import files_for, run_name
from runner.runs.foreign import FOREIGN_TAILS
from runner.runs.jsonl import JsonlTail, describe_error
from runner.runs.reading import failure as failure  # re-exported
from runner.runs.reading import read_config
from runner.runs.resident import ResidentTable
from runner.runs.series import MetricTable
from runner.runs.summary import BadLine, RunDetail, RunSummary, Scalar
from runner.status import Status

SPARK_LEN = 64


class RunFolder(ResidentTable):
    """One run, followed incrementally. Thread-safe: ``refresh`` and the readers take ``lock``."""

    def __init__(
        self, path: str | Path, foreign: str = "", status_source: status.StatusSource | None = None,
        tables: residency.Residency | None = None,
    ) -> None:  # fmt: skip
        self.path = Path(path)
        self.status_source = status_source  # the supervisor's records (None: the files alone decide)
        self.files = files_for(self.path, foreign)
        self.name = run_name(self.path)
        self.lock = threading.RLock()
        self._table: MetricTable | None = MetricTable()  # None while evicted (see runner.runs.residency)
        self._cold: residency.ColdTable | None = None  # what an evicted table leaves behind
        self._tables = tables or residency.default()
        self._keep_resident = False  # its cache entry could not be written
        self._metrics = JsonlTail(self.files.metrics) if self.files.metrics else None
        if self.files.foreign in FOREIGN_TAILS and self.files.console:
            self._metrics = FOREIGN_TAILS[self.files.foreign](self.files.console)
        self._cache = CachedReader(self._metrics) if type(self._metrics) is JsonlTail else None
        self._ckpt_tail = JsonlTail(self.files.checkpoints) if self.files.checkpoints else None
        self.checkpoints: list[dict[str, Any]] = []
        self.checkpoint_bad: list[BadLine] = []
        self._data_cache: tuple[tuple[int, int], dict | None, _SummaryData] | None = None
        self._kind_cache: tuple[tuple[int, int, int], dict | None, kinds.KindInfo, str | None] | None = None
        self._ckpt_version = 0
        self.resets: list[str] = []
        self._supervisor: dict | None = None  # last record from the status source
        self._mtimes: dict[Path, float] = {}
        self._growth = status.GrowthWatch()  # running only when seen growing (or held by a process)
        self._config_cache: tuple[float, dict | None, str | None] | None = None
        self._console_cache: tuple[tuple[int, float], list[str], str | None] | None = None
        self.errors: dict[str, str] = {}  # reader -> "<file>: <reason>", while that file cannot be read

    # ---- reading files ----------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read what changed since the last call. True when anything did."""
        with self.lock:
            changed, sizes = self._refresh_mtimes()
            changed |= self._guarded("metrics", self._read_metrics)
            changed |= self._guarded("checkpoints", self._read_checkpoints)
            self._growth.observe(sizes)
            return changed

    def _guarded(self, reader: str, read: Callable[[], bool]) -> bool:
        """Run one file's reader; an unexpected error becomes this run's note, never an exception."""
        path = {"metrics": self.files.metrics, "checkpoints": self.files.checkpoints}.get(reader)
        try:
            return read()
        except Exception as exc:  # isolation: one bad file never takes down the other runs
            return self._file_error(reader, failure(path.name if path else reader, exc))

    def _file_error(self, reader: str, error: str | None) -> bool:
        """Record (or clear) a reader's error; True when that changed."""
        if error is None:
            return self.errors.pop(reader, None) is not None
        changed = self.errors.get(reader) != error
        self.errors[reader] = error
        return changed

    def _refresh_mtimes(self) -> tuple[bool, tuple[int, ...]]:
        """The files' mtimes (True when one moved) and the sizes of those the run writes (-1: absent, see
        :func:`status.file_sizes`), one stat per file."""
        paths = [self.files.metrics, self.files.checkpoints, self.files.config, self.files.console]
        mtimes: dict[Path, float] = {}
        sizes: dict[Path, int] = {}
        for p in [p for p in paths if p] + self.files.activity:
            try:
                st = p.stat()
            except OSError:
                continue
            mtimes[p], sizes[p] = st.st_mtime, st.st_size
        changed = mtimes != self._mtimes
        self._mtimes = mtimes
        return changed, tuple(sizes.get(p, -1) if p is not None else -1 for p in self._written_files())

    def _read_metrics(self) -> bool:
        if self._metrics is None:
            return False
        hit = self._cache is not None and self._table is not None and self._cache.load_if_fresh(self._table)
        batch = self._metrics.read_new()
        error_changed = self._file_error("metrics", batch.error)
        if batch.reset:
            self.resets = self.resets[-4:] + [
                f"{self._metrics.path.name} {batch.reset}: read again from the start"
            ]
            self._emptied()  # an evicted table is not read back to be emptied
        read = bool(hit == "hit" or batch.records or batch.bad or batch.reset or batch.more)
        if not read:
            return error_changed  # nothing new: an evicted table stays out
        if self._table is None and not self._reload_from_cache():
            return self._read_again()  # its entry is gone: this batch is read again with the rest
        table = self._table
        assert table is not None
        while True:
            if batch.records:
                table.ingest([r for _, r in batch.records], time.time(), [n for n, _ in batch.records])
            if batch.bad:
                table.add_bad(batch.bad)
            if not batch.more:
                break
            batch = self._metrics.read_new()
        if self._cache is not None:
            self._cache.maybe_save(table)
        self._resident(table)
        return True

    def _read_checkpoints(self) -> bool:
        if self._ckpt_tail is None:
            return False
        batch = self._ckpt_tail.read_new()
        error_changed = self._file_error("checkpoints", batch.error)
        if batch.reset:
            self.checkpoints, self.checkpoint_bad = [], []
        self.checkpoints.extend(r for _, r in batch.records)
        self.checkpoint_bad.extend(batch.bad)
        changed = bool(batch.records or batch.bad or batch.reset or error_changed)
        self._ckpt_version += changed
        return changed

    @property
    def config(self) -> dict | None:
        return self._load_config()[0]

    @property
    def config_error(self) -> str | None:
        return self._load_config()[1]

    def _load_config(self) -> tuple[dict | None, str | None]:
        path = self.files.config
        if path is None:
            return None, None
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            return None, f"{path.name}: {describe_error(exc)}"
        if self._config_cache is None or self._config_cache[0] != mtime:
            self._config_cache = (mtime, *read_config(path))
        return self._config_cache[1], self._config_cache[2]

    def console_tail(self, n: int = CONSOLE_LINES) -> list[str]:
        """Last ``n`` lines of logs.log (or the foreign log), without ANSI codes; cached by size."""
        path = self.files.console
        if path is None:
            return []
        try:
            st = path.stat()
        except OSError:
            return []
        key = (st.st_size, st.st_mtime)
        if self._console_cache is None or self._console_cache[0] != key:
            self._console_cache = (key, *console_tail_or_error(path, CONSOLE_LINES))
        return self._console_cache[1][-n:]

    # ---- summaries --------------------------------------------------------------------------
    def versions(self) -> tuple[int, int, dict[Path, float]]:
        """What moves when this run's files change: metric table and checkpoint versions, file mtimes."""
        with self.lock:
            return self.metrics_version, self._ckpt_version, self._mtimes

    @property
    def last_change(self) -> float | None:
        return max(self._mtimes.values()) if self._mtimes else None

    def kind_info(self, config: dict | None = None) -> kinds.KindInfo:
        if self.files.foreign:
            return kinds.KindInfo("foreign")
        return kinds.infer_kind(self.table.keys(), self.config if config is None else config)

    def _data(self, config: dict | None) -> _SummaryData:
        """What the summary takes from the metrics, checkpoints and ``config`` (the run's, read by the
        caller): recomputed only when one of them changed (the timer re-summarises every run often, for
        statuses and ages)."""
        versions = (self.metrics_version, self._ckpt_version)
        cached = self._data_cache
        if cached is not None and cached[0] == versions and cached[1] is config:  # a re-read: a new dict
            return cached[2]
        table = self.table
        info, head = self._kind_of(table, config)
        latest = table.latest()
        spark = table.last_values(head, SPARK_LEN) if head else []
        recent = table.last_values("time/total", status.RECENT_STEPS)  # the tail only, not the whole column
        step_s = status.median_step_seconds(recent, table.seen_times)
        lines = (table.n_lines, table.bad_lines, tuple(table.notes[-2:]))
        data = _SummaryData(info, latest, head, spark, table.last_step, step_s, *lines)
        self._data_cache = (versions, config, data)
        return data

    def _kind_of(self, table: MetricTable, config: dict | None) -> tuple[kinds.KindInfo, str | None]:
        """The run's kind and headline key, again only when its keys or config changed (keys are only
        ever added, until the table resets)."""
        numeric = table.numeric_keys()
        key = (table.resets, len(table.keys()), len(numeric))
        cached = self._kind_cache
        if cached is not None and cached[0] == key and cached[1] is config:
            return cached[2], cached[3]
        info = self.kind_info(config)
        head = kinds.headline_key(info.kind, numeric)
        self._kind_cache = (key, config, info, head)
        return info, head

    def summary(self) -> RunSummary:
        """The run-list row for this run (no file reads beyond config.json and the console tail)."""
        with self.lock:
            try:
                return self._summary()
            except Exception as exc:  # isolation: a flagged row instead of an exception
                return self.failed_summary(exc)

    def failed_summary(self, exc: Exception) -> RunSummary:
        """A flagged row for a run whose summary could not be built (the reason in its note)."""
        notes = [failure("summary", exc), *self.errors.values()]
        n_lines, bad_lines = self._line_counts()
        return RunSummary(
            path=str(self.path), name=self.name, kind="unknown", status=Status.UNKNOWN, step=None,
            progress=None, headline_key=None, headline_value=None, spark=[], last_change=self.last_change,
            n_lines=n_lines, bad_lines=bad_lines + len(self.checkpoint_bad), latest={}, note="; ".join(notes),
        )  # fmt: skip

    def _line_counts(self) -> tuple[int, int]:
        """Lines read and bad lines, without reading an evicted table back: the resident table's, else the
        last summary's (a table of bad lines only has no rows, yet counts them)."""
        table = self._table
        if table is not None:
            return table.n_lines, table.bad_lines
        cached = self._data_cache
        return (cached[2].n_lines, cached[2].bad_lines) if cached is not None else (0, 0)

    def _summary(self) -> RunSummary:
        with self.lock:
            config, config_error = self._load_config()  # one look at config.json for the whole row
            data = self._data(config)
            info, latest, step = data.info, data.latest, data.step
            progress = kinds.progress_of(latest, step, config)
            st, source, extra = self._status(data.step_seconds, progress)
            if st == Status.FINISHED and progress is not None:
                progress = 1.0
            return RunSummary(
                path=str(self.path),
                name=self.name,
                kind=info.kind,
                status=st,
                step=step,
                progress=progress,
                headline_key=data.headline_key,
                headline_value=data.spark[-1] if data.spark else None,
                spark=list(data.spark),
                last_change=self.last_change,
                n_lines=data.n_lines,
                bad_lines=data.bad_lines + len(self.checkpoint_bad),
                latest=dict(latest),
                note=self._note(extra, data, config_error),
                unreadable=self._unreadable(config_error),
                mode=info.mode,
                status_source=source,
                exit_code=status.exit_code_of(self._supervisor),
            )

    def _written_files(self) -> list[Path | None]:
        return [self.files.metrics, self.files.checkpoints, self.files.console]

    def _status(self, step_seconds: float | None, progress: float | None = None) -> tuple[Status, str, str]:
        record, problem = status.supervisor_status(self.status_source, self.path)
        self._file_error("supervisor", problem or None)
        if record:
            self._supervisor = record
            code, error = record.get("exit_code"), record.get("error")
            extra = "; ".join(x for x in (None if code is None else f"exit {code}", error) if x)
            return Status.parse(record["status"], Status.UNKNOWN), "supervisor", extra
        self._supervisor = None
        st = status.infer_status(
            self.checkpoints,
            self.console_tail(),
            self._growth.last_growth,
            step_seconds,
            held=lambda: status.held_by_process(self.path, self._written_files()),
            progress=progress,
        )
        return st, "files", ""

    def _unreadable(self, config_error: str | None) -> str:
        """The name of the first of this run's files that could not be read ("" when all could)."""
        console_error = self._console_cache[2] if self._console_cache else None
        errors = [*self.errors.values(), console_error, config_error]
        first = next((e for e in errors if e), "")
        return first.split(":", 1)[0] if first else ""

    def _note(self, extra: str, data: _SummaryData, config_error: str | None) -> str:
        parts = []
        if self.files.foreign:
            parts.append(f"foreign: {self.files.foreign}")
        elif missing := self._metrics_missing():
            parts.append(f"no {missing}")
        parts.extend(self.errors.values())
        console_error = self._console_cache[2] if self._console_cache else None
        if console_error:
            parts.append(console_error)
        bad = data.bad_lines + len(self.checkpoint_bad)
        if bad:
            parts.append(f"{bad} bad line{'s' if bad != 1 else ''}")
        if config_error:
            parts.append(config_error)
        parts.extend(self.resets[-1:])
        parts.extend(data.notes)
        if extra:
            parts.append(extra)
        return "; ".join(parts)

    def _metrics_missing(self) -> str:
        """The name of this run's metrics file when it is missing (and did not fail to read), else "": a
        file the last refresh saw is taken as there without a look (every run is summarised again and again)."""
        path = self.files.metrics
        if path is None or "metrics" in self.errors or path in self._mtimes or path.exists():
            return ""
        return path.name

    def _supervisor_console(self) -> list[str]:
        """The supervisor's console capture, for a run that died before writing logs.log."""
        record = self._supervisor or {}
        console = record.get("console_log")
        return read_console_tail(Path(console)) if isinstance(console, str) and console else []

    def detail(self) -> RunDetail:
        """Everything about this run for the detail view and ``tinkertop show``."""
        with self.lock:
            self.pin()
            try:
                return self._detail()
            except Exception as exc:  # isolation: the summary says what failed
                summary = self.summary()
                summary.note = "; ".join(x for x in (summary.note, failure("detail", exc)) if x)
                return RunDetail(summary, None, None, [], [], [], [])

    def _detail(self) -> RunDetail:
        with self.lock:
            return RunDetail(
                summary=self.summary(),
                config=self.config,
                config_error=self.config_error,
                checkpoints=list(self.checkpoints),
                console_tail=self.console_tail() or self._supervisor_console(),
                bad=list(self.table.bad) + list(self.checkpoint_bad),
                metric_keys=self.table.keys(),
                files={p.name: m for p, m in self._mtimes.items() if p != self.path},
            )


@dataclass(frozen=True)
class _SummaryData:
    """The part of a run's summary that only changes with its files (see ``RunFolder._data``)."""

    info: kinds.KindInfo
    latest: dict[str, Scalar]
    headline_key: str | None
    spark: list[float]
    step: int | None
    step_seconds: float | None
    n_lines: int
    bad_lines: int
    notes: tuple[str, ...]  # the table's last two
