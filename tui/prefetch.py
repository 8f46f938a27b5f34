"""Start-up overlap: the runs list's quick scan in a forked child while the app imports Textual.

The first paint needs both the app's modules (Textual: the larger part) and a quick summary of every
run (the tail of each metrics file). On a multi-core machine these need not wait for each other: the
parent forks before importing Textual (no threads exist yet), the child scans and sends the summaries
back pickled through a pipe, the parent imports meanwhile. Any failure falls back to scanning in
the app's own process. No Textual here.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from pathlib import Path

from runner.runs.summary import RunSummary


def scan_payload(roots: Sequence[Path]) -> bytes:
    """The child's work: the quick summaries of ``roots``, pickled. It imports the status source
    (``runner.api.status_source()`` returns this function) but not ``runner.api`` itself, whose launch form
    and recipe catalogue (~40 ms) the first paint does not need: with many runs this child is its long pole."""
    from runner.control.records import status_for
    from runner.runs.quick import quick_scan

    return pickle.dumps(quick_scan(roots, status_for), protocol=pickle.HIGHEST_PROTOCOL)


class QuickScanChild:
    """A forked child running ``quick_scan(roots)``; ``result()`` collects its summaries."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = [Path(r) for r in roots]
        self.pid = -1
        self.fd = -1
        if not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
            return  # one core: nothing to overlap
        read_fd, write_fd = os.pipe()
        try:
            pid = os.fork()
        except OSError:
            os.close(read_fd)
            os.close(write_fd)
            return
        if pid == 0:  # the child: scan, send, leave without running any exit handler
            code = 1
            try:
                os.close(read_fd)
                data = scan_payload(self.roots)
                with os.fdopen(write_fd, "wb") as out:
                    out.write(data)
                code = 0
            except BaseException:  # noqa: BLE001 - the parent falls back; never print over the UI
                pass
            os._exit(code)
        os.close(write_fd)
        self.pid, self.fd = pid, read_fd

    def result(self) -> list[RunSummary] | None:
        """The child's summaries, or None when it failed (the caller scans itself)."""
        if self.pid < 0:
            return None
        try:
            with os.fdopen(self.fd, "rb") as src:
                data = src.read()
            _, status = os.waitpid(self.pid, 0)
        except OSError:
            return None
        finally:
            self.pid = -1
        if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        try:
            rows = pickle.loads(data)
        except Exception:  # noqa: BLE001
            return None
        if not isinstance(rows, list) or not all(isinstance(r, RunSummary) for r in rows):
            return None
        return rows
