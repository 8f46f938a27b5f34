"""One run: its files, followed by offset, summarised on demand.

A run is a folder (the cookbook ``log_path``: metrics.jsonl, checkpoints.jsonl, config.json,
logs.log), a loose ``<name>metrics.jsonl`` file (several runs in one folder, as in some shared
results), or a foreign console log (another framework; kind ``foreign``).

``refresh()`` reads only what changed (new metric and checkpoint lines by offset, config.json again
when its mtime moves, the console tail again when logs.log moves) and says whether anything did.
Chart data: ``folder.table.column(key)`` / ``folder.table.column_times(key)``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.runs import kinds, status
from runner.runs.foreign import FOREIGN_TAILS
from runner.runs.jsonl import JsonlTail, LineError, parse_line, parse_object
from runner.runs.model import BadLine, RunDetail, RunSummary, Scalar
from runner.runs.series import MetricTable

CONSOLE_LINES = 200
SPARK_LEN = 64
PEEK_BYTES = 256 * 1024
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
ACTIVITY_FILES = ("timing_spans.jsonl", "trace_events.jsonl", "code.diff")


@dataclass
class RunFiles:
    """Where one run's files are (a file that does not exist yet is still listed)."""

    root: Path  # the run's identity: a folder, or the loose metrics/log file
    metrics: Path | None = None
    checkpoints: Path | None = None
    config: Path | None = None
    console: Path | None = None
    activity: list[Path] = field(default_factory=list)
    foreign: str = ""  # framework name for a foreign run


def files_for(path: Path, foreign: str = "") -> RunFiles:
    """The file layout of a run given its path (folder, loose metrics file or foreign log)."""
    if path.is_dir():
        return RunFiles(
            root=path,
            metrics=path / "metrics.jsonl",
            checkpoints=path / "checkpoints.jsonl",
            config=path / "config.json",
            console=path / "logs.log",
            activity=[path] + [path / n for n in ACTIVITY_FILES],
        )
    if path.name.endswith(".log"):
        return RunFiles(root=path, console=path, foreign=foreign or "console log")
    ckpt = path.with_name(path.name.replace("metrics", "checkpoints"))
    return RunFiles(root=path, metrics=path, checkpoints=ckpt if ckpt != path else None)


def run_name(path: Path) -> str:
    """Display name: the folder name, or a loose file's stem without ``metrics``."""
    if path.is_dir() or not path.suffix:
        return path.name
    stem = path.name.removesuffix(".jsonl").removesuffix(".log")
    return stem.removesuffix("metrics").rstrip("_-.") or stem


def read_console_tail(path: Path, n: int = CONSOLE_LINES, block: int = 64 * 1024) -> list[str]:
    """The last ``n`` lines of a text file, read from the end, ANSI codes removed."""
    try:
        with path.open("rb") as fh:
            end = fh.seek(0, os.SEEK_END)
            pos, data = end, b""
            while pos > 0 and data.count(b"\n") <= n:
                step = min(block, pos)
                pos -= step
                fh.seek(pos)
                data = fh.read(step) + data
    except OSError:
        return []
    text = ANSI_RE.sub("", data.decode("utf-8", errors="replace"))
    lines = text.splitlines()
    if pos > 0 and lines:
        lines = lines[1:]  # first one is cut
    return [line.rstrip("\r") for line in lines[-n:]]


def parse_object_or_none(raw: bytes) -> dict[str, Any] | None:
    if not raw.strip():
        return None
    try:
        return parse_object(raw)
    except LineError:
        return None


class RunFolder:
    """One run, followed incrementally. Thread-safe: ``refresh`` and the readers take ``lock``."""

    def __init__(self, path: str | Path, foreign: str = "") -> None:
        self.path = Path(path)
        self.files = files_for(self.path, foreign)
        self.name = run_name(self.path)
        self.lock = threading.RLock()
        self.table = MetricTable()
        self._metrics = JsonlTail(self.files.metrics) if self.files.metrics else None
        if self.files.foreign in FOREIGN_TAILS and self.files.console:
            self._metrics = FOREIGN_TAILS[self.files.foreign](self.files.console)
        self._ckpt_tail = JsonlTail(self.files.checkpoints) if self.files.checkpoints else None
        self.checkpoints: list[dict[str, Any]] = []
        self.checkpoint_bad: list[BadLine] = []
        self._data_cache: tuple[tuple[int, int], dict | None, _SummaryData] | None = None
        self._ckpt_version = 0
        self.resets: list[str] = []
        self.partial = False  # only the end of metrics.jsonl was read (peek)
        self._peeked = False  # the table holds what peek() read, not what the follower did
        self._supervisor: dict | None = None  # last record from runner.control.records
        self._mtimes: dict[Path, float] = {}
        self._config_cache: tuple[float, dict | None, str | None] | None = None
        self._console_cache: tuple[tuple[int, float], list[str]] | None = None

    # ---- reading files ----------------------------------------------------------------------
    def peek(self, max_bytes: int = PEEK_BYTES) -> RunFolder:
        """Read only the last ``max_bytes`` of metrics.jsonl (a quick first look; a later
        ``refresh()`` starts over and reads the file in full)."""
        with self.lock:
            self._refresh_mtimes()
            self._read_checkpoints()
            path = self.files.metrics
            if path is None or self.table.n_lines:
                return self
            try:
                with path.open("rb") as fh:
                    size = fh.seek(0, os.SEEK_END)
                    fh.seek(max(0, size - max_bytes))
                    data = fh.read(max_bytes)
            except OSError:
                return self
            if size > max_bytes:
                data = data[data.find(b"\n") + 1 :]
            records = [parse_object_or_none(raw) for raw in data.split(b"\n")]
            self.table.ingest([r for r in records if r is not None], time.time())
            self.partial = size > max_bytes
            self._peeked = True
            return self

    def refresh(self) -> bool:
        """Read what changed since the last call. True when anything did."""
        with self.lock:
            changed = self._refresh_mtimes()
            changed |= self._read_metrics()
            changed |= self._read_checkpoints()
            return changed

    def _refresh_mtimes(self) -> bool:
        paths = [self.files.metrics, self.files.checkpoints, self.files.config, self.files.console]
        mtimes: dict[Path, float] = {}
        for p in [p for p in paths if p] + self.files.activity:
            try:
                mtimes[p] = p.stat().st_mtime
            except OSError:
                continue
        changed = mtimes != self._mtimes
        self._mtimes = mtimes
        return changed

    def _read_metrics(self) -> bool:
        if self._metrics is None:
            return False
        if self._peeked:  # peek() filled the table from the end: read the whole file now
            self._peeked = self.partial = False
            self.table.reset()
        batch = self._metrics.read_new()
        if batch.reset:
            self.resets = self.resets[-4:] + [
                f"{self._metrics.path.name} {batch.reset}: read again from the start"
            ]
            self.table.reset()
        changed = bool(batch.records or batch.bad or batch.reset)
        while True:
            if batch.records:
                self.table.ingest([r for _, r in batch.records], time.time())
            if batch.bad:
                self.table.add_bad(batch.bad)
            if not batch.more:
                return changed
            batch = self._metrics.read_new()

    def _read_checkpoints(self) -> bool:
        if self._ckpt_tail is None:
            return False
        batch = self._ckpt_tail.read_new()
        if batch.reset:
            self.checkpoints, self.checkpoint_bad = [], []
        self.checkpoints.extend(r for _, r in batch.records)
        self.checkpoint_bad.extend(batch.bad)
        changed = bool(batch.records or batch.bad or batch.reset)
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
        except OSError:
            return None, None
        if self._config_cache is None or self._config_cache[0] != mtime:
            self._config_cache = (mtime, *self._parse_config(path))
        return self._config_cache[1], self._config_cache[2]

    @staticmethod
    def _parse_config(path: Path) -> tuple[dict | None, str | None]:
        try:
            obj = parse_line(path.read_bytes())
        except OSError as exc:
            return None, f"{path.name}: {exc.strerror or exc}"
        except ValueError as exc:
            return None, f"{path.name}: not valid JSON ({exc})"
        if not isinstance(obj, dict):
            return None, f"{path.name}: not a JSON object"
        return obj, None

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
            self._console_cache = (key, read_console_tail(path, CONSOLE_LINES))
        return self._console_cache[1][-n:]

    # ---- summaries --------------------------------------------------------------------------
    @property
    def last_change(self) -> float | None:
        return max(self._mtimes.values()) if self._mtimes else None

    def kind_info(self) -> kinds.KindInfo:
        if self.files.foreign:
            return kinds.KindInfo("foreign")
        return kinds.infer_kind(self.table.keys(), self.config)

    def _data(self) -> _SummaryData:
        """What the summary takes from the metrics, checkpoints and config: recomputed only when one
        of them changed (the timer re-summarises every run often, for statuses and ages)."""
        versions, config = (self.table.version, self._ckpt_version), self.config
        cached = self._data_cache
        if cached is not None and cached[0] == versions and cached[1] is config:  # a re-read: a new dict
            return cached[2]
        info = self.kind_info()
        latest = self.table.latest()
        head = kinds.headline_key(info.kind, self.table.numeric_keys())
        _, spark = self.table.column(head) if head else ([], [])
        step_s = status.median_step_seconds(self.table.column("time/total")[1], self.table.seen_times)
        data = _SummaryData(info, latest, head, spark[-SPARK_LEN:], self.table.last_step, step_s)
        self._data_cache = (versions, config, data)
        return data

    def summary(self) -> RunSummary:
        """The run-list row for this run (no file reads beyond config.json and the console tail)."""
        with self.lock:
            data = self._data()
            info, latest, step = data.info, data.latest, data.step
            st, source, extra = self._status(data.step_seconds)
            progress = kinds.progress_of(latest, step, self.config)
            if st == "finished" and progress is not None:
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
                n_lines=self.table.n_lines,
                bad_lines=self.table.bad_lines + len(self.checkpoint_bad),
                latest=dict(latest),
                note=self._note(extra),
                mode=info.mode,
                status_source=source,
                exit_code=status.exit_code_of(self._supervisor),
            )

    def _status(self, step_seconds: float | None) -> tuple[str, str, str]:
        record = status.supervisor_status(self.path)
        if record:
            self._supervisor = record
            code, error = record.get("exit_code"), record.get("error")
            extra = "; ".join(x for x in (None if code is None else f"exit {code}", error) if x)
            return str(record["status"]), "supervisor", extra
        self._supervisor = None
        st = status.infer_status(self.checkpoints, self.console_tail(), self.last_change, step_seconds)
        return st, "files", ""

    def _note(self, extra: str) -> str:
        parts = []
        if self.partial:
            parts.append("quick look: last lines only")
        if self.files.foreign:
            parts.append(f"foreign: {self.files.foreign}")
        elif self.files.metrics and not self.files.metrics.exists():
            parts.append(f"no {self.files.metrics.name}")
        bad = self.table.bad_lines + len(self.checkpoint_bad)
        if bad:
            parts.append(f"{bad} bad line{'s' if bad != 1 else ''}")
        if self.config_error:
            parts.append(self.config_error)
        parts.extend(self.resets[-1:])
        if extra:
            parts.append(extra)
        return "; ".join(parts)

    def _supervisor_console(self) -> list[str]:
        """The supervisor's console capture, for a run that died before writing logs.log."""
        record = self._supervisor or {}
        console = record.get("console_log")
        return read_console_tail(Path(console)) if isinstance(console, str) and console else []

    def detail(self) -> RunDetail:
        """Everything about this run for the detail view and ``tinkertop show``."""
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
