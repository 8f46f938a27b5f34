"""A fast first look at every run: discovery plus only the end of each metrics file.

``quick_scan(roots)`` is for the app's first paint; the full read (``RunStore.scan``) follows.
Summaries carry the note "quick look: last lines only" when the file was longer than the peek, and
their ``n_lines`` then counts only the lines read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from runner.runs.discover import discover
from runner.runs.folder import PEEK_BYTES, RunFolder
from runner.runs.model import RunSummary


def quick_scan(roots: Iterable[str | Path], max_bytes: int = PEEK_BYTES) -> list[RunSummary]:
    """Summaries of every run under ``roots`` from the last ``max_bytes`` of each metrics file."""
    return [RunFolder(f.path, foreign=f.foreign).peek(max_bytes).summary() for f in discover(roots)]
