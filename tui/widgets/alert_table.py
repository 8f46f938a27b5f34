"""A table of alerts with their evidence: severity, run, rule, metric, steps, value, threshold, message.

Used by the alerts view (every run, newest first) and the run view's Alerts tab (one run). Rows are
keyed by the alert's identity, so the cursor stays on its alert while alerts arrive and end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from runner.alerts.alert import Alert
from tui.format import middle_cut, number

# severity -> theme variable (the runs list colours its rows the same way)
SEVERITY_VARS = {"critical": "error", "warning": "warning", "info": "secondary"}
COLUMNS = (
    ("sev", "Sev", 5),
    ("run", "Run", 18),
    ("rule", "Rule", 16),
    ("metric", "Metric", 22),
    ("steps", "Steps", 9),
    ("value", "Value", 9),
    ("threshold", "Thr/base", 9),
    ("flag", "Flag", 12),
    ("message", "Evidence", 80),
)
SEV_TEXT = {"critical": "CRIT", "warning": "WARN", "info": "info"}


def steps_text(alert: Alert) -> str:
    """``12``, ``12-30`` or ``-``."""
    if alert.first_step is None:
        return "-"
    if alert.last_step is None or alert.last_step == alert.first_step:
        return str(alert.first_step)
    return f"{alert.first_step}-{alert.last_step}"


class AlertTable(DataTable[Text | str]):
    """Alerts, one per row; ``with_run`` adds the run's name (the alerts view)."""

    def __init__(self, with_run: bool = True, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.with_run = with_run
        self.alerts: list[Alert] = []
        self.labels: dict[str, str] = {}  # run path -> name shown

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            if key == "run" and not self.with_run:
                continue
            self.add_column(label, width=width, key=key)

    def selected(self) -> Alert | None:
        """The alert under the cursor."""
        if not self.alerts or self.cursor_row < 0 or self.cursor_row >= len(self.alerts):
            return None
        return self.alerts[self.cursor_row]

    def show(self, alerts: list[Alert], labels: dict[str, str] | None = None) -> None:
        """Show ``alerts`` in this order; the cursor stays on the alert it was on."""
        if labels is not None:
            self.labels = labels
        if alerts == self.alerts:
            return
        keep = self.selected()
        self.alerts = list(alerts)
        self.clear()
        for alert in self.alerts:
            self.add_row(*self._cells(alert), key=alert.key)
        if keep is not None:
            for i, alert in enumerate(self.alerts):
                if alert.key == keep.key:
                    self.move_cursor(row=i)
                    break

    def _cells(self, a: Alert) -> list[Text | str]:
        style = self._style(a)
        sev = Text(SEV_TEXT.get(a.severity, a.severity), style=style)
        state = [] if a.active else ["ended"]
        state += ["acked"] if a.acked else []
        message = a.message + (f" [{', '.join(state)}]" if state else "")
        cells: list[Text | str] = [sev]
        if self.with_run:
            name = self.labels.get(a.run_path) or Path(a.run_path).name
            cells.append(Text(middle_cut(name, COLUMNS[1][2])))
        cells += [
            Text(a.rule),
            Text(middle_cut(a.metric, COLUMNS[3][2])),
            steps_text(a),
            number(a.value, short=True) if a.value is not None else "-",
            number(a.threshold, short=True) if a.threshold is not None else "-",
            Text(a.flag, style=style),
            Text(message, style="dim" if a.acked or not a.active else ""),
        ]
        return cells

    def _style(self, a: Alert) -> str:
        if a.acked:
            return "dim"
        var = SEVERITY_VARS.get(a.severity, "secondary")
        color = self.app.theme_variables.get(var) if self.is_attached else None
        return f"bold {color}" if color else "bold"
