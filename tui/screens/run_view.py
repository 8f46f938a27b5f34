"""Screen 2: one run in detail: charts, latest values, config, checkpoints, console, bad lines.

Only the Charts tab is built when the view opens; every other tab's content is mounted, then filled from
the latest snapshot, the first time that tab is shown (opening a run costs one chart, not nine panes).
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape
from textual import on
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from runner.runs.snapshot import RunSnapshot
from runner.runs.summary import RunDetail
from tui.format import number, progress, status_text
from tui.screens.run_actions import RunControlMixin, control_bindings
from tui.screens.tabs import TabKeys, tab_bindings
from tui.typed import tapp
from tui.widgets.alert_table import AlertTable, steps_text
from tui.widgets.chart_keys import ChartKeys, chart_bindings
from tui.widgets.footer import SteadyFooter
from tui.widgets.metric_chart import ChartMarker, MetricChart
from tui.widgets.metric_picker import MetricPicker
from tui.widgets.run_info import RunInfoBar
from tui.widgets.run_panes import CheckpointTable, LatestTable, TextPane, config_text, problems_text

if TYPE_CHECKING:
    from runner.alerts.alert import Alert
    from tui.widgets.chat_pane import ChatPane
    from tui.widgets.result_view import ResultView

TABS = ("charts", "alerts", "latest", "config", "checkpoints", "console", "problems", "chat", "results")
TAB_LABELS = (
    "Charts",
    "Alerts",
    "Latest",
    "Config",
    "Checkpoints",
    "Console",
    "Bad lines",
    "Chat",
    "Results",
)
REVEAL_AFTER_S = 1.0  # the tabs show when the first snapshot comes, or after this long without one
# the widget that takes focus when a tab is shown (a hidden focused widget would pull the tab back)
TAB_FOCUS = {
    "charts": "#metric-list",
    "alerts": "#run-alert-table",
    "latest": "#latest-table",
    "config": "#config-text",
    "checkpoints": "#checkpoint-table",
    "console": "#console-text",
    "problems": "#problems-text",
    "chat": "#chat-prompt",
    "results": "#flip-table",
}


class RunViewScreen(RunControlMixin, ChartKeys, TabKeys, Screen[None]):
    """A run's live charts and files. Escape returns to the list."""

    TABS = TABS

    BINDINGS = [
        Binding("escape", "back", "Back", id="run.back"),
        Binding("backspace", "back", "Back", show=False, id="run.back_bs"),
        *tab_bindings("run"),
        Binding("c", "show_tab('charts')", "Charts", show=False, id="run.tab_charts"),
        Binding("exclamation_mark", "show_tab('alerts')", "Alerts", show=False, id="run.tab_alerts"),
        Binding("a", "acknowledge", "Acknowledge alert", show=False, id="run.ack_alert"),
        Binding("m", "show_tab('latest')", "Latest", show=False, id="run.tab_latest"),
        Binding("o", "show_tab('config')", "Config", show=False, id="run.tab_config"),
        Binding("p", "show_tab('checkpoints')", "Checkpoints", show=False, id="run.tab_checkpoints"),
        Binding("l", "show_tab('console')", "Console", show=False, id="run.tab_console"),
        Binding("b", "show_tab('problems')", "Bad lines", show=False, id="run.tab_problems"),
        Binding("t", "show_tab('chat')", "Chat (sample checkpoints)", show=False, id="run.tab_chat"),
        Binding("v", "show_tab('results')", "Results (base vs trained)", show=False, id="run.tab_results"),
        Binding("r", "rollouts", "Rollouts at step", show=False, id="run.rollouts"),
        # priority: handled as the key arrives, so the keys typed right after it go to the search box
        Binding("slash", "search", "Search metrics", priority=True, id="run.search"),
        *chart_bindings("chart", footer=True),
        *control_bindings("run"),
    ]

    def __init__(self, path: str, alert: Alert | None = None) -> None:
        """``alert``: opened from an alert: its metric is charted first, its step and threshold drawn."""
        super().__init__(id="run-view")
        self.path = path
        self.alert = alert
        self.detail: RunDetail | None = None
        self.keys: list[str] = []
        self._pending: RunSnapshot | None = None  # arrived before the widgets were mounted
        self._snap: RunSnapshot | None = None  # the latest applied: fills a tab built later
        self._ready = {"charts"}  # tabs whose content is mounted (the others are built when first shown)
        self._built = {"charts"}  # ... or being mounted
        # held by reference: a live refresh never queries the tree (it may be mounting or going away)
        self.picker = MetricPicker(id="picker")
        self.chart = MetricChart(id="chart")
        self.chart.coarse_first()  # opening a run waits for its chart's first frame
        self.chart_view = self.chart.view  # the chart keys' (ChartKeys)
        self.latest = LatestTable(id="latest-table")
        self.config_pane = TextPane(id="config-text")
        self.checkpoints = CheckpointTable(id="checkpoint-table")
        self.console = TextPane(id="console-text", classes="follow")
        self.problems = TextPane(id="problems-text")
        self.chat_pane: ChatPane | None = None  # imported and built when the Chat tab is first shown
        self.result_view: ResultView | None = None
        self.alert_table = AlertTable(with_run=False, id="run-alert-table")
        self.title_bar = Static("", id="run-title")
        self.chart_status = Static("", id="chart-status")
        self.footer = SteadyFooter()

    def compose(self) -> ComposeResult:
        # until the first read arrives (a queued or starting run may have no files yet)
        name = escape(Path(self.path).name)
        self.title_bar.update(f"[b]{name}[/b] · waiting for its files in {escape(self.path)}…")
        yield self.title_bar
        yield RunInfoBar(self.path, id="run-info")
        with TabbedContent(initial="charts", id="run-tabs") as tabs:
            # hidden until the first snapshot: the view's first full frame is the one with the chart (each
            # empty frame drawn before it cost the opening as much as the chart's own)
            tabs.display = False
            with TabPane("Charts", id="charts"):
                with Horizontal():
                    yield self.picker
                    with Vertical(id="chart-box"):
                        yield self.chart
                        yield self.chart_status
            for tab, label in zip(TABS[1:], TAB_LABELS[1:], strict=True):
                yield TabPane(label, id=tab)  # empty until first shown
        yield self.footer

    def on_mount(self) -> None:
        self._status()
        self.picker.listing.focus()
        self.set_timer(REVEAL_AFTER_S, self.reveal)  # no snapshot soon (no files yet): the empty tabs
        if self._pending is not None:
            self.apply(self._pending)

    def reveal(self) -> None:
        """Show the tabs (with the first snapshot, or when none is coming soon)."""
        with suppress(NoMatches):  # the view is being torn down
            tabs = self.query_one(TabbedContent)
            if not tabs.display:
                tabs.display = True

    # --- data -----------------------------------------------------------------
    def apply(self, snap: RunSnapshot) -> None:
        """New data for this run; view state (keys, zoom, scroll, cursor) is kept."""
        if snap.path != self.path:
            return
        if not self.is_mounted:  # pushed, not mounted yet: shown by on_mount
            self._pending = snap
            return
        self._pending = None
        self._snap = snap
        detail = snap.detail
        first = self.detail is None
        self.detail = detail
        if first:
            self.reveal()
            alerted = self.alert.metric if self.alert is not None else None
            self.keys = [alerted] if alerted in detail.metric_keys else self._default_keys(detail)
            self.picker.set_keys(detail.metric_keys, self.keys)
            if self.alert is not None:
                self.chart.marker = marker_for(self.alert)
            if self.keys and any(k not in snap.series for k in self.keys):
                tapp(self).focus_run(self.path, self.keys)
        else:
            self.picker.set_keys(detail.metric_keys)
        self._title(detail)
        chart = self.chart
        if chart.has_keys != bool(detail.metric_keys):
            chart.has_keys = bool(detail.metric_keys)
            chart.replot()
        if all(k in snap.series for k in self.keys):
            chart.set_data(snap.series, self.keys)
            if first:
                self.call_after_refresh(tapp(self).run_shown)  # once the frame with the chart is out
        for tab in self._ready - {"charts"}:
            self._fill(tab, snap)
        self._problems_label(detail.summary.bad_lines)
        self._alerts_label(snap.alerts)
        self._status()

    def _fill(self, tab: str, snap: RunSnapshot) -> None:
        """Show ``snap`` in the (mounted) content of ``tab``."""
        detail = snap.detail
        if tab == "latest":
            self.latest.show(detail.summary.latest, snap.last_steps, detail.summary.step)
        elif tab == "config":
            self.config_pane.show(config_text(detail.config, detail.config_error))
        elif tab == "checkpoints":
            self.checkpoints.show(detail.checkpoints)
        elif tab == "chat" and self.chat_pane is not None:
            self.chat_pane.set_checkpoints(detail.checkpoints)
        elif tab == "console":
            self.console.show("\n".join(detail.console_tail) or "no logs.log")
        elif tab == "problems":
            self.problems.show(problems_text(detail.bad, detail.summary.bad_lines))
        elif tab == "alerts":
            self.alert_table.show(snap.alerts)

    def _content(self, tab: str) -> Widget:
        """The widget a tab holds (the chat and results widgets are imported only now)."""
        if tab == "chat":
            from tui.widgets.chat_pane import ChatPane

            self.chat_pane = ChatPane(self.path, id="chat-pane")
            return self.chat_pane
        if tab == "results":
            from tui.widgets.result_view import ResultView

            self.result_view = ResultView(self.path, id="result-view")
            return self.result_view
        panes: dict[str, Widget] = {
            "alerts": self.alert_table,
            "latest": self.latest,
            "config": self.config_pane,
            "checkpoints": self.checkpoints,
            "console": self.console,
            "problems": self.problems,
        }
        return panes[tab]

    async def _build(self, tab: str) -> None:
        """Mount ``tab``'s content, then fill it from the latest snapshot."""
        self._built.add(tab)
        await self.query_one(f"#{tab}", TabPane).mount(self._content(tab))
        self._ready.add(tab)  # from now on each snapshot fills it
        if self._snap is not None:
            self._fill(tab, self._snap)

    def _problems_label(self, n_bad: int) -> None:
        label = f"Bad lines ({n_bad})" if n_bad else "Bad lines"
        with suppress(NoMatches):  # the tabs are being torn down
            tab = self.query_one(TabbedContent).get_tab("problems")
            if str(tab.label) != label:
                tab.label = label

    def _alerts_label(self, alerts: list[Alert]) -> None:
        live = [a for a in alerts if not a.acked]
        label = f"Alerts ({len(live)})" if live else "Alerts"
        with suppress(NoMatches):
            tab = self.query_one(TabbedContent).get_tab("alerts")
            if str(tab.label) != label:
                tab.label = label

    @on(DataTable.RowSelected, "#run-alert-table")
    def _alert_chosen(self, event: DataTable.RowSelected) -> None:
        alert = self.alert_table.selected()
        if alert is not None:
            self.show_alert(alert)

    def show_alert(self, alert: Alert) -> None:
        """The chart on the alert's metric, whole x-range, its step and threshold drawn."""
        detail = self.detail
        if detail is None or alert.metric not in detail.metric_keys:
            self.notify(f"{alert.metric} is not a metric of this run ({alert.rule})", markup=False)
            return
        self.keys = [alert.metric]
        self.picker.set_keys(detail.metric_keys, self.keys)
        self.chart.view.zoom = 1.0
        self.chart.mark(marker_for(alert))
        self.action_show_tab("charts")
        self._status()
        tapp(self).focus_run(self.path, self.keys)

    def action_acknowledge(self) -> None:
        """Acknowledge the alert under the cursor in the Alerts tab."""
        if self.query_one(TabbedContent).active != "alerts":
            self.notify("pick the alert in the Alerts tab (!) first", markup=False)
            return
        alert = self.alert_table.selected()
        if alert is not None:
            tapp(self).acknowledge(alert)

    def action_rollouts(self) -> None:
        """The rollouts of the chart's step and split (in the Alerts tab: the alert's step and metric).
        The step: the alert marker's, else the centre of a zoomed view, else the last step charted (the
        chart has no cursor). The split: an eval metric (``test/...``) opens that evaluator's rollouts."""
        from tui.screens.rollouts import chart_split, chart_step, metric_split, open_rollouts

        alert = self.alert_table.selected() if self.query_one(TabbedContent).active == "alerts" else None
        if alert is not None:
            open_rollouts(self.app, self.path, alert.first_step, metric_split(alert.metric))
        else:
            open_rollouts(self.app, self.path, chart_step(self.chart), chart_split(self.chart))

    @staticmethod
    def _default_keys(detail: RunDetail) -> list[str]:
        head = detail.summary.headline_key
        if head and head in detail.metric_keys:
            return [head]
        numeric = [k for k, v in detail.summary.latest.items() if isinstance(v, int | float) and k != "step"]
        return numeric[:1]

    def _title(self, detail: RunDetail) -> None:
        s = detail.summary
        parts = [f"[b]{escape(s.name)}[/b]", s.kind, status_text(s)]
        parts.append(f"step {'-' if s.step is None else s.step} ({progress(s.progress)})")
        if s.headline_key:
            parts.append(f"{s.headline_key} {number(s.headline_value)}")
        if s.bad_lines:
            parts.append(f"[$warning]⚠ {s.bad_lines} bad lines[/]")
        if s.note:
            parts.append(escape(s.note))
        self.title_bar.update(" · ".join(parts))

    def _status(self) -> None:
        keys = ", ".join(self.keys) or "none"
        self.chart_status.update(f"{keys}\n{self.chart.view.describe()}")

    @on(MetricPicker.Changed)
    def _keys_changed(self, event: MetricPicker.Changed) -> None:
        self.keys = event.keys
        self._status()
        chart = self.chart
        if all(k in chart.series for k in self.keys):
            chart.set_data(chart.series, self.keys)
        tapp(self).focus_run(self.path, self.keys)

    # --- actions --------------------------------------------------------------
    def action_back(self) -> None:
        if isinstance(self.focused, Input) and self.query_one(TabbedContent).active == "charts":
            self.picker.listing.focus()
            return
        tapp(self).close_run()

    def control_path(self) -> str | None:
        return self.path

    def action_show_tab(self, tab: str) -> Awaitable[None] | None:
        """Show ``tab``; one not built yet is built and filled first (no empty frame), then shown."""
        if tab not in self._built:
            return self._build_and_show(tab)
        self.query_one(TabbedContent).active = tab
        self.query_one(TAB_FOCUS[tab]).focus()
        return None

    async def _build_and_show(self, tab: str) -> None:
        await self._build(tab)
        self.action_show_tab(tab)

    @on(TabbedContent.TabActivated)
    async def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        pane = event.pane.id or ""
        if pane in TAB_FOCUS and pane not in self._built:
            await self._build(pane)  # a results view reads its folder as it mounts
        elif pane == "results" and self.result_view is not None:
            self.result_view.reload()  # the experiment may have written its folder since
        if pane not in TAB_FOCUS or self.query_one(TabbedContent).active != pane:
            return  # another tab was shown while this one was being built: focus would pull it back
        if not self.query_one(TAB_FOCUS[pane]).has_focus_within:
            if not isinstance(self.focused, Input) or pane != "charts":
                self.query_one(TAB_FOCUS[pane]).focus()

    def action_search(self) -> None:
        """Focus the search box at once: keys typed right after "/" (a fast typist) land in it instead
        of running the screen's one-letter bindings (``e`` clone, ``n`` new run...)."""
        if isinstance(self.focused, Input):
            raise SkipAction()  # a "/" typed in the box (metric keys have them)
        self.query_one(TabbedContent).active = "charts"
        self.set_focus(self.picker.search)

    def redraw_charts(self) -> None:
        self.chart.replot()
        self._status()


def marker_for(alert: Alert) -> ChartMarker:
    """The chart marks of an alert: where it began, what it was judged against."""
    threshold = "" if alert.threshold is None else f", threshold {number(alert.threshold)}"
    label = f"{alert.flag}: {alert.rule} at step {steps_text(alert)}{threshold}"
    return ChartMarker(alert.metric, alert.first_step, alert.threshold, label)
