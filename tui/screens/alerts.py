"""Screen 5: every alert of every run, newest first, with the evidence and what to do about it.

``enter`` opens the run at the alert (the chart on its metric and step, threshold drawn), ``a``
acknowledges it (kept on disk until it fires again, worse), ``K`` stops the run, ``e`` clones it with
the learning rate halved already filled in. Acknowledged alerts are hidden until ``h`` shows them.
"""

from __future__ import annotations

from functools import partial

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from runner import api
from runner.alerts.alert import Alert
from tui.screens.run_actions import RunControlMixin, RunLookedUp
from tui.typed import tapp
from tui.widgets.alert_table import AlertTable
from tui.widgets.footer import SteadyFooter

LR_FACTOR = 0.5


class AlertsScreen(RunControlMixin, Screen[None]):
    """All runs' alerts; the app pushes new ones with ``show``."""

    BINDINGS = [
        Binding("enter", "open_alert", "Open at alert", id="alerts.open"),
        Binding("a", "acknowledge", "Acknowledge", id="alerts.ack"),
        Binding("h", "toggle_hidden", "Show/hide acked", id="alerts.toggle_acked"),
        Binding("K", "stop_run", "Stop run", id="alerts.stop_run"),
        Binding("e", "clone_half_lr", "Clone, lr x0.5", id="alerts.clone_half_lr"),
        Binding("r", "rollouts", "Rollouts at alert", show=False, id="alerts.rollouts"),
        Binding("escape", "back", "Back", id="alerts.back"),
    ]

    def __init__(self) -> None:
        super().__init__(id="alerts")
        self.show_acked = False

    def compose(self) -> ComposeResult:
        yield Static("", id="alerts-title", markup=False)
        yield AlertTable(with_run=True, id="alert-table")
        yield SteadyFooter()

    def on_mount(self) -> None:
        self._show()
        self.query_one(AlertTable).focus()

    def show(self) -> None:
        """Redraw from the app's alerts (newest first: first seen by the app, then severity)."""
        if self.is_mounted:
            self._show()

    def _show(self) -> None:
        app = tapp(self)
        every = app.all_alerts()
        shown = [a for a in every if self.show_acked or not a.acked]
        hidden = len(every) - len(shown)
        live = sum(1 for a in shown if a.active)
        title = f"Alerts: {len(shown)} ({live} ongoing) across {len({a.run_path for a in shown})} run(s)"
        title += f" · {hidden} acknowledged hidden (h shows)" if hidden else ""
        self.query_one("#alerts-title", Static).update(title if every else "Alerts: none so far")
        self.query_one(AlertTable).show(shown, app.runs_screen.labels)

    def control_path(self) -> str | None:
        alert = self.query_one(AlertTable).selected()
        return alert.run_path if alert else None

    def _selected(self) -> Alert | None:
        alert = self.query_one(AlertTable).selected()
        if alert is None:
            self.notify("no alert selected", severity="warning", markup=False)
        return alert

    def action_open_alert(self) -> None:
        alert = self._selected()
        if alert is not None:
            tapp(self).open_run(alert.run_path, alert)

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        """Enter on a row (the table handles the key itself)."""
        self.action_open_alert()

    def action_acknowledge(self) -> None:
        alert = self._selected()
        if alert is not None:
            tapp(self).acknowledge(alert)

    def action_toggle_hidden(self) -> None:
        self.show_acked = not self.show_acked
        self.show()

    def action_clone_half_lr(self) -> None:
        self._look_up("clone_half_lr")

    def on_run_looked_up(self, message: RunLookedUp) -> None:
        """Clone with the learning rate scaled; other verbs go on to the mixin's handler (next in the
        MRO: Textual calls each class's handler unless one prevents the default)."""
        if message.verb != "clone_half_lr":
            return
        message.prevent_default()
        ref = message.ref
        if ref.run_id is None:
            self.notify(f"{ref.name} was not launched by tinkertop: no launch spec to clone", markup=False)
            return
        self._act("clone", partial(api.clone_form, lr_factor=LR_FACTOR), ref)

    def action_rollouts(self) -> None:
        """The alert's run's rollouts at the alert's step, in its metric's split (an eval metric's
        alert opens that evaluator's rollouts)."""
        from tui.screens.rollouts import metric_split, open_rollouts

        alert = self._selected()
        if alert is not None:
            open_rollouts(self.app, alert.run_path, alert.first_step, metric_split(alert.metric))

    def action_back(self) -> None:
        self.app.pop_screen()
