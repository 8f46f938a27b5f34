"""Find runs below some roots.

- A **run folder** holds ``metrics.jsonl``, ``checkpoints.jsonl`` or ``logs.log``, or a
  ``config.json`` that looks like a cookbook config (current and older layouts, half-written, or
  crashed before any metric). Its ``iteration_*`` and ``wandb`` subfolders are never entered.
- A **loose metrics file** ``<name>metrics.jsonl`` (not plain ``metrics.jsonl``) in a folder that is
  not a run is a run of its own (shared results often keep several runs side by side).
- A **foreign run** is a loose ``*.log`` console log recognised by its content (verl, a tinker
  console log); listed with kind ``foreign``.

Unreadable folders and files are skipped, never fatal. Only regular files are opened (non-blocking,
at most ``SNIFF_BYTES`` / ``CONFIG_SNIFF_BYTES`` read): a FIFO or a device never hangs a scan. A run
file name that is not a regular file (a FIFO ``metrics.jsonl``, a directory named so) still marks a
run folder, so the reader can report it on that run's row.

``files_for(path)`` says where a found run's files are; ``run_name(path)`` its display name.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from runner.runs.jsonl import parse_line, read_head

RUN_FILES = frozenset({"metrics.jsonl", "checkpoints.jsonl", "logs.log"})
COOKBOOK_CONFIG_KEYS = frozenset({"log_path", "model_name", "learning_rate", "dataset_builder"})
SKIP_DIRS = frozenset({"wandb", "__pycache__", "node_modules", "site-packages", ".git", ".venv"})
MAX_DEPTH = 8
SNIFF_BYTES = 64 * 1024
CONFIG_SNIFF_BYTES = 4 * 1024 * 1024
_VERL_RE = re.compile(r"\bverl\b|step:\d+ - [\w/]+:")
_TINKER_RE = re.compile(r"tinker_cookbook|tinker\.lib|\btinker\b|\bTinker\b")


@dataclass(frozen=True)
class Found:
    """A run found on disk: its path (folder or file) and, for a foreign log, the framework."""

    path: Path
    foreign: str = ""


def discover(roots: Iterable[str | Path], max_depth: int = MAX_DEPTH) -> list[Found]:
    """All runs below ``roots`` (missing roots are skipped), sorted by path."""
    found: dict[Path, Found] = {}
    for root in roots:
        root = Path(os.path.abspath(root))
        if root.is_file():
            item = _loose_file(root)
            if item:
                found[item.path] = item
        elif root.is_dir():
            for item in _walk(root, max_depth):
                found[item.path] = item
    return [found[p] for p in sorted(found)]


def is_run_dir(names: set[str], folder: Path) -> bool:
    """Does a folder with these entry names hold a cookbook run?"""
    if names & RUN_FILES:
        return True
    return "config.json" in names and _cookbook_config(folder / "config.json")


def _cookbook_config(path: Path) -> bool:
    try:
        obj = parse_line(read_head(path, CONFIG_SNIFF_BYTES))
    except ValueError:
        return True  # a broken config.json is still a run to report
    except OSError:
        return False
    return isinstance(obj, dict) and bool(COOKBOOK_CONFIG_KEYS & obj.keys())


def _walk(folder: Path, depth: int) -> Iterable[Found]:
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return
    files = {e.name for e in entries if _is_file(e)}
    dirs = sorted(e.name for e in entries if _is_dir(e))
    run = bool({e.name for e in entries} & RUN_FILES) or is_run_dir(files, folder)
    if run:
        yield Found(folder)
    else:
        for name in sorted(files):
            item = _loose_file(folder / name)
            if item:
                yield item
    if depth <= 0:
        return
    for name in dirs:
        if name in SKIP_DIRS or name.startswith(".") or name.startswith("iteration_"):
            continue
        yield from _walk(folder / name, depth - 1)


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _loose_file(path: Path) -> Found | None:
    name = path.name
    if name.endswith("metrics.jsonl") and name != "metrics.jsonl":
        return Found(path)
    if name.endswith(".log") and name != "logs.log":
        framework = sniff_framework(path)
        return Found(path, foreign=framework) if framework else None
    return None


def sniff_framework(path: Path) -> str | None:
    """Which framework wrote this console log (``verl``, ``tinker console``), or None."""
    try:
        text = read_head(path, SNIFF_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    if _VERL_RE.search(text):
        return "verl"
    if _TINKER_RE.search(text):
        return "tinker console log"
    return None


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
