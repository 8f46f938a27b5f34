"""The app's timing hook for ``python -m bench app`` (bench/bench_app.py): off unless
``TINKERTOP_HOOK_FILE`` names a file to append to. No Textual here."""

from __future__ import annotations

import os
import time

from runner.runs.summary import RunSummary


class Hook:
    """Optional timing hook for the benchmark: ``TINKERTOP_HOOK_FILE`` names a file to append to.

    Off by default. Lines: ``painted <epoch> <rows>`` (the list's rows are on the terminal: the frame
    holding them was written; ``rows``: the runs the list held then, the first part of them at start-up),
    ``loaded <epoch>`` (full read shown) and ``seen <run> <step> <epoch>``.
    """

    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else os.environ.get("TINKERTOP_HOOK_FILE")
        self._steps: dict[str, int] = {}
        self._painted = False
        self._loaded = False

    def painted(self, rows: int) -> None:
        if self.path and not self._painted and rows:
            self._painted = True
            self._write(f"painted {time.time():.6f} {rows}")

    def loaded(self) -> None:
        if self.path and not self._loaded:
            self._loaded = True
            self._write(f"loaded {time.time():.6f}")

    def mark(self, event: str) -> None:
        """``<event> <epoch>``: a moment worth timing (``charted``: a run just opened shows its chart)."""
        if self.path:
            self._write(f"{event} {time.time():.6f}")

    def seen(self, summaries: list[RunSummary]) -> None:
        if not self.path:
            return
        now = time.time()
        lines = []
        for summary in summaries:
            step = summary.step
            if step is not None and step > self._steps.get(summary.path, -1):
                self._steps[summary.path] = step
                lines.append(f"seen {summary.name} {step} {now:.6f}")
        if lines:
            self._write("\n".join(lines))

    def _write(self, text: str) -> None:
        assert self.path
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
