"""Screen 4: the marked runs side by side: one metric overlaid (one colour per run, the same in every
chart, the legend and the table), small multiples of the headline metrics, groups by a config key,
the compare table (sort, filter, export) and the config diff with each run's commit and code diff.

Every read runs in a thread worker and posts one message per batch: the series come from the app's
live run store (only the runs whose table changed are read again, on a timer), the table and the
diff from ``runner.compare``.
"""

from __future__ import annotations

from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from textual import on, work
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Input, Static, TabbedContent, TabPane

from runner.runs.snapshot import Series
from tui.screens.compare_reads import DiffRead, SeriesRead, TableRead
from tui.screens.tabs import TabKeys, tab_bindings
from tui.typed import tapp
from tui.widgets.chart_keys import ChartKeys, chart_bindings
from tui.widgets.compare_chart import RGB, CompareChart, CompareLegend, GroupBands, SeriesReader, run_colours
from tui.widgets.compare_table import CompareTableView, export
from tui.widgets.config_diff import ConfigDiffPane, GroupPicker
from tui.widgets.footer import SteadyFooter
from tui.widgets.metric_chart import ChartView
from tui.widgets.metric_picker import MetricPicker

if TYPE_CHECKING:
    from runner.compare import CompareTable, ConfigDiff

TABS = ("overlay", "multiples", "table", "config")
POLL_S = 1.0  # live runs: the series of runs whose table changed are read again this often
TABLE_EVERY = 5  # ...and the table every this many polls that found a change
MAX_MULTIPLES = 6


class CompareScreen(ChartKeys, TabKeys, Screen[None]):
    """The runs at ``paths`` compared. Escape returns to the list."""

    TABS = TABS

    BINDINGS = [
        Binding("escape", "back", "Back", id="compare.back"),
        *tab_bindings("compare"),
        Binding("c", "show_tab('overlay')", "Overlay", show=False, id="compare.tab_overlay"),
        Binding("m", "show_tab('multiples')", "Small multiples", id="compare.tab_multiples"),
        Binding("t", "show_tab('table')", "Table", show=False, id="compare.tab_table"),
        Binding("d", "show_tab('config')", "Config diff", show=False, id="compare.tab_config"),
        Binding("slash", "search", "Search metrics", priority=True, id="compare.search"),
        Binding("g", "group", "Group by", id="compare.group"),
        Binding("o", "sort", "Sort table", show=False, id="compare.sort"),
        Binding("O", "reverse", "Reverse sort", show=False, id="compare.reverse"),
        Binding("f", "filter", "Filter table", show=False, id="compare.filter"),
        Binding("w", "export('csv')", "Export CSV", show=False, id="compare.export_csv"),
        Binding("J", "export('json')", "Export JSON", show=False, id="compare.export_json"),
        Binding("a", "all_keys", "All config keys", show=False, id="compare.all_keys"),
        *chart_bindings("compare"),
    ]

    def __init__(self, paths: list[str]) -> None:
        super().__init__(id="compare")
        self.paths = list(paths)
        self.chart_view = ChartView()
        self.metric = ""
        self.headline: list[str] = []
        self.group_key = ""
        self.groups: GroupBands | None = None
        self.data: dict[str, dict[str, Series]] = {}  # metric -> run path -> series
        self.colours: dict[str, RGB] = {}
        self.names: dict[str, str] = {}
        self.table: CompareTable | None = None
        self.diff: ConfigDiff | None = None
        self.reader: SeriesReader | None = None  # created by the first read (worker thread)
        self._kinds: dict[str, str] = {}  # run path -> kind, from the runs list
        self._polls = 0
        self._table_stamp: tuple[object, ...] | None = None  # what the last table read saw (see stamp())
        self._known: set[str] = set()  # compared runs the runs list held when the view opened
        self.gone: set[str] = set()  # ...and no longer holds: deleted; off the charts, marked in the legend
        self.picker = MetricPicker(id="compare-picker")
        self.chart = CompareChart(self.chart_view, id="compare-chart")
        self.legend = CompareLegend(id="compare-legend")
        self.status = Static("", id="compare-status", markup=False)
        self.title_bar = Static("", id="compare-title", markup=False)
        self.multiples = Grid(id="compare-multiples")
        self.table_view = CompareTableView(id="compare-table")
        self.table_status = Static("table: reading…", id="compare-table-status", markup=False)
        self.diff_pane = ConfigDiffPane(id="compare-diff")

    def compose(self) -> ComposeResult:
        yield self.title_bar
        with TabbedContent(initial="overlay", id="compare-tabs"):
            with TabPane("Overlay", id="overlay"), Horizontal():
                yield self.picker
                with Vertical(id="compare-chart-box"):
                    yield self.chart
                    yield self.status
                with VerticalScroll(id="compare-legend-box"):
                    yield self.legend
            with TabPane("Small multiples", id="multiples"):
                yield self.multiples
            with TabPane("Table", id="table"):
                yield Input(placeholder="filter runs: words in name, kind, status", id="compare-filter")
                yield self.table_view
                yield self.table_status
            with TabPane("Config diff", id="config"):
                yield self.diff_pane
        yield SteadyFooter()

    def on_mount(self) -> None:
        from runner.compare import display_names

        self.colours = run_colours(self.app, self.paths)
        self.names = dict(zip(self.paths, display_names(self.paths), strict=True))
        runs = tapp(self).summaries
        self._kinds = {p: runs[p].kind for p in self.paths if p in runs}
        self._known = {p for p in self.paths if p in runs}
        self.query_one("#compare-filter").display = False
        self.legend.show((self.names[p], self.colours[p]) for p in self.paths)
        self._title()
        self.picker.listing.focus()
        self.read_series(first=True)  # the table and the diff are read once the chart is shown
        self.set_interval(POLL_S, self._poll)

    # --- reading (thread workers, one message per batch) ------------------------------------------
    @work(thread=True, group="compare-series", exclusive=True, exit_on_error=False)
    def read_series(self, first: bool = False) -> None:
        """The series of the overlay metric (and the multiples' metrics when shown) that changed."""
        try:
            if self.reader is None:
                self.reader = SeriesReader(tapp(self).follower.store, self.paths, self._kinds)
            reader, metric, group_key = self.reader, self.metric, self.group_key
            keys = headline = None
            if first:
                keys, headline = reader.metric_keys()
                metric = metric or (headline[0] if headline else (keys[0] if keys else ""))
            wanted = [metric] if metric else []
            if self._multiples_shown():
                wanted += (headline or self.headline)[:MAX_MULTIPLES]
            series = reader.read(dict.fromkeys(wanted))
            groups = None
            if group_key and metric and (metric in series or reader.bands_stale(group_key, metric)):
                groups = reader.group_bands(group_key, metric)
            if series or keys is not None or groups is not None:
                self.post_message(SeriesRead(series, keys, headline, groups, metric))
        except Exception as exc:  # noqa: BLE001 - shown; the view stays up
            tapp(self)._report(f"reading the compared runs failed: {exc!r}")

    @work(thread=True, group="compare-table", exclusive=True, exit_on_error=False)
    def read_table(self) -> None:
        from runner.compare import compare_table

        follower = tapp(self).follower
        try:
            table = compare_table([Path(p) for p in self.paths], store=follower.store, board=follower.board)
            self.post_message(TableRead(table))
        except Exception as exc:  # noqa: BLE001
            tapp(self)._report(f"the compare table failed: {exc!r}")

    @work(thread=True, group="compare-diff", exclusive=True, exit_on_error=False)
    def read_diff(self, all_keys: bool) -> None:
        from runner.compare import config_diff

        try:
            self.post_message(DiffRead(config_diff([Path(p) for p in self.paths], all_keys=all_keys)))
        except Exception as exc:  # noqa: BLE001
            tapp(self)._report(f"the config diff failed: {exc!r}")

    def _poll(self) -> None:
        """Live runs: read what changed (the worker skips runs whose table did not); the table every
        ``TABLE_EVERY`` polls, only when a compared run's summary changed since it was last read."""
        self._drop_gone()
        if self.reader is not None:
            self.read_series()
        self._polls += 1
        if self._polls % TABLE_EVERY == 0 and self.table is not None and self.stamp() != self._table_stamp:
            self._refresh_table()

    def stamp(self) -> tuple[object, ...]:
        """What the table shows of each compared run, as the runs list has it (None: the run is gone)."""
        runs = tapp(self).summaries
        return tuple(
            None if (s := runs.get(p)) is None
            else (s.status, s.step, s.n_lines, s.bad_lines, s.last_change, s.note, s.exit_code,
                  s.alert_flag, s.alert_severity, s.removed)
            for p in self.paths
        )  # fmt: skip

    def _refresh_table(self) -> None:
        self._table_stamp = self.stamp()
        self.read_table()

    def _drop_gone(self) -> None:
        """Runs the runs list lost (deleted) leave every chart; the legend marks them."""
        runs = tapp(self).summaries
        gone = {p for p in self._known - self.gone if p not in runs or runs[p].removed}
        if not gone:
            return
        self.gone |= gone
        for series in self.data.values():
            for path in gone:
                series.pop(path, None)
        self._show_data()

    # --- showing ----------------------------------------------------------------------------
    def on_series_read(self, message: SeriesRead) -> None:
        for key, runs in message.series.items():
            self.data.setdefault(key, {}).update((p, s) for p, s in runs.items() if p not in self.gone)
        if message.groups is not None:
            self.groups = message.groups
        if message.keys is not None:  # the first read
            self.metric = self.metric or message.metric
            self.picker.set_keys(message.keys, [self.metric] if self.metric else [])
            self.headline = (message.headline or [])[:MAX_MULTIPLES]
            self._build_multiples()
            self.call_after_refresh(self._read_the_rest)
        self._show_data()

    def _read_the_rest(self) -> None:
        """The table and the config diff, after the chart's first paint (they compete for the GIL)."""
        self._refresh_table()
        self.read_diff(self.diff_pane.all_keys)

    def on_table_read(self, message: TableRead) -> None:
        self.table = message.table
        self.table_view.show(message.table, self.colours)
        self._table_status()

    def on_diff_read(self, message: DiffRead) -> None:
        self.diff = message.diff
        self.diff_pane.show(message.diff, self.colours)

    def redraw_charts(self) -> None:
        """Every chart drawn again (the shared ``ChartView`` changed: smoothing, axes, zoom)."""
        self._show_data()
        for chart in [self.chart, *self.query(".multiple").results(CompareChart)]:
            chart.replot()

    def _show_data(self) -> None:
        """The data held, in every chart (a chart whose data did not change is not drawn again)."""
        groups = self.groups if self.group_key else None
        if groups is not None and groups.metric == self.metric and groups.key == self.group_key:
            colours = run_colours(self.app, [g.label for g in groups.lines])
            self.chart.metric = self.metric
            self.chart.show_groups([g.as_series() for g in groups.lines], colours)
            self.legend.show(((g.legend(), colours[g.label]) for g in groups.lines), f"by {self.group_key}")
        else:
            self.chart.show_runs(self.data.get(self.metric, {}), self.colours, self.metric)
            self.legend.show((self._legend_name(p), self.colours[p]) for p in self.paths)
        if self._multiples_shown():  # hidden, they are drawn when their tab is shown
            for chart in self.query(".multiple").results(CompareChart):
                chart.show_runs(self.data.get(chart.metric, {}), self.colours, chart.metric)
        self._status()

    def _legend_name(self, path: str) -> str:
        return f"{self.names[path]} (deleted)" if path in self.gone else self.names[path]

    def _build_multiples(self) -> None:
        """One chart per headline metric (built once: they keep their view as data arrives)."""
        with suppress(NoMatches):
            self.multiples.remove_children()
            self.multiples.mount_all(
                CompareChart(self.chart_view, metric=m, classes="multiple") for m in self.headline
            )

    def _multiples_shown(self) -> bool:
        with suppress(NoMatches):
            return self.query_one(TabbedContent).active == "multiples"
        return False

    def _title(self) -> None:
        group = f" · grouped by {self.group_key}" if self.group_key else ""
        self.title_bar.update(f"compare {len(self.paths)} runs · {self.metric or 'no metric yet'}{group}")

    def _status(self) -> None:
        self._title()
        self.status.update(f"{self.metric or 'no metric'}\n{self.chart_view.describe()}")

    def _table_status(self) -> None:
        view = self.table_view
        shown, total = len(view.rows_shown), len(self.table.rows) if self.table else 0
        filt = f" · filter {view.filter_text!r}" if view.filter_text else ""
        keys = "o sort, O reverse, f filter, w CSV, J JSON"
        self.table_status.update(f"{shown} of {total} runs · sort: {view.sort_label()}{filt} · {keys}")

    # --- actions ------------------------------------------------------------------------------
    @on(MetricPicker.Changed)
    def _metric_picked(self, event: MetricPicker.Changed) -> None:
        """One metric at a time: the newest pick replaces the overlay's metric."""
        new = [k for k in event.keys if k != self.metric]
        if not new:
            self.picker.set_keys(self.picker.all_keys, [self.metric])
            return
        self.metric = new[-1]
        self.picker.set_keys(self.picker.all_keys, [self.metric])
        self.chart_view.zoom = 1.0
        self._show_data()
        self.read_series()

    def action_search(self) -> None:
        if isinstance(self.focused, Input):
            raise SkipAction()
        self.query_one(TabbedContent).active = "overlay"
        self.set_focus(self.picker.search)

    def action_group(self) -> None:
        """Pick a config key that differs across the runs; the overlay shows one line per group."""
        if self.diff is None:
            self.notify("the config diff is still being read", markup=False)
            return
        keys = [r.key for r in self.diff.rows if r.change != "same"]
        self.app.push_screen(GroupPicker(keys, self.group_key), self._grouped)

    def _grouped(self, key: str | None) -> None:
        if key is None or key == self.group_key:
            return
        self.group_key = key
        self.groups = None
        self.query_one(TabbedContent).active = "overlay"
        self._show_data()
        self.read_series()

    def action_sort(self) -> None:
        self.table_view.cycle_sort()
        self._table_status()

    def action_reverse(self) -> None:
        self.table_view.reverse()
        self._table_status()

    def action_filter(self) -> None:
        self.query_one(TabbedContent).active = "table"
        box = self.query_one("#compare-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Changed, "#compare-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table_view.set_filter(event.value)
        self._table_status()

    @on(Input.Submitted, "#compare-filter")
    def _filter_done(self) -> None:
        self.table_view.focus()

    def action_export(self, fmt: str) -> None:
        table = self.table_view.shown_table()
        if table is None:
            self.notify("the table is still being read", markup=False)
            return
        self._export(table, fmt)

    @work(thread=True, group="compare-export", exit_on_error=False)
    def _export(self, table: CompareTable, fmt: str) -> None:
        from runner.paths import workspace_for

        folder = workspace_for(tapp(self).roots) / "results" / "compare"
        try:
            path = export(table, folder, fmt)
        except OSError as exc:
            tapp(self)._report(f"export failed: {exc}")
            return
        self.app.call_from_thread(self.notify, f"exported {len(table.rows)} runs to {path}", markup=False)

    def action_all_keys(self) -> None:
        self.diff_pane.all_keys = not self.diff_pane.all_keys
        self.query_one(TabbedContent).active = "config"
        self.read_diff(self.diff_pane.all_keys)

    def action_back(self) -> None:
        if isinstance(self.focused, Input):
            if self.focused.id == "compare-filter" and not self.focused.value:
                self.focused.display = False
            self.table_view.focus() if self.focused.id == "compare-filter" else self.picker.listing.focus()
            return
        tapp(self).close_run()

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        focus = {"overlay": self.picker.listing, "table": self.table_view, "config": self.diff_pane.keys}
        widget = focus.get(tab)
        if widget is not None:
            widget.focus()
        else:
            self.set_focus(None)

    @on(TabbedContent.TabActivated)
    def _tab_shown(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "multiples":
            self._show_data()
            self.read_series()  # the multiples' metrics (only those not read yet)
