"""The run view's data panes; each updates in place and keeps its cursor and scroll."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from runner.runs.summary import BadLine
from tui.format import number


class LatestTable(DataTable[str]):
    """The latest value of every metric, with its step when that is not the run's last step (an eval
    logged every few steps, a key no longer logged)."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_column("Metric", key="key", width=52)
        self.add_column("Latest", key="value", width=44)
        self.add_column("From step", key="step", width=14)

    def show(
        self, latest: Mapping[str, object], steps: Mapping[str, int] | None = None, last: int | None = None
    ) -> None:
        """Update values in place; new keys are added (sorted on the first fill). ``steps``: the step of
        each value; ``last``: the run's last step (a value from it shows no step)."""
        steps = steps or {}
        keys = sorted(latest) if not self.row_count else list(latest)
        for key in keys:
            text = number(latest[key])
            step = steps.get(key)
            at = "" if step is None or step == last else f"{step} (last {last})"
            if key in self.rows:
                if self.get_cell(key, "value") != text:
                    self.update_cell(key, "value", text)
                if self.get_cell(key, "step") != at:
                    self.update_cell(key, "step", at)
            else:
                self.add_row(key, text, at, key=key)


class CheckpointTable(DataTable[str]):
    """checkpoints.jsonl, one row per record."""

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self._cols: list[str] = []
        self._seen = 0

    def show(self, records: list[dict]) -> None:
        if not self._cols and records:
            self._cols = list(dict.fromkeys(k for r in records for k in r))
            for col in self._cols:
                self.add_column(col, key=col)
        for record in records[self._seen :]:
            self.add_row(*[number(record.get(c, "")) for c in self._cols])
        self._seen = max(self._seen, len(records))


class TextPane(VerticalScroll):
    """Scrollable text. With class ``follow`` it sticks to the end unless the user scrolled up."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._text: str | None = None
        self._at_end = True

    def compose(self) -> ComposeResult:
        yield Static("", markup=False)

    def show(self, text: str) -> None:
        if self._text == text:
            return
        if self.size.height:  # visible: remember whether the user is at the end
            self._at_end = self.scroll_y >= self.max_scroll_y - 1
        self._text = text
        self.query_one(Static).update(Text(text))
        self._follow()

    def on_show(self) -> None:
        self._follow()

    def _follow(self) -> None:
        if self._at_end and self.has_class("follow"):
            self.call_after_refresh(self.scroll_end, animate=False, immediate=True)


def config_text(config: dict | None, error: str | None) -> str:
    if error:
        return f"config.json could not be read: {error}"
    if config is None:
        return "no config.json in this run folder"
    return json.dumps(config, indent=2, sort_keys=False, default=str)


def problems_text(bad: list[BadLine], total: int) -> str:
    if not total:
        return "No bad lines: every metrics line parsed."
    lines = [f"{total} bad line(s); they are skipped, the rest of the run is shown."]
    lines += [f"{b.file}:{b.line}: {b.message}" for b in bad]
    return "\n".join(lines)
