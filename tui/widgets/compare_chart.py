"""Charts of several runs at once for the compare view: one metric overlaid (one colour per run), the
same as small multiples (one chart per headline metric), or grouped by a config key (one line per
group: its mean, with its min and its max as two thin lines in the group's colour faded: the band).

They are the run view's ``MetricChart`` (smoothing, log-y, x by step or time, zoom, the flat-series
rule) with runs, or groups, in place of metric keys; every chart of the view shares one ``ChartView``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import App
from textual.color import Color
from textual.widgets import Static

from runner.runs.snapshot import Series
from tui.widgets.metric_chart import ChartView, MetricChart

if TYPE_CHECKING:
    from runner.compare import GroupLine
    from runner.runs.store import RunStore

RGB = tuple[int, int, int]
THEME_COLOURS = ("primary", "accent", "success", "warning", "secondary", "error")
BAND = "\x00band"  # key suffix of a group's min and max lines (never in the legend)
SWATCH = "━━"
MIN_CONTRAST = 0.2  # brightness apart from the background, at least
TOTAL_POINTS = 6000  # points drawn across all lines of a chart (many runs: fewer each)
MIN_RUN_POINTS = 24


def run_colours(app: App[object], paths: Sequence[str]) -> dict[str, RGB]:
    """One colour per run, in order: the theme's six colours, then their lighter and darker variants
    (18 in all; beyond that they repeat and the legend tells runs apart by name)."""
    variables = app.theme_variables
    base = [Color.parse(variables[n]) for n in THEME_COLOURS if variables.get(n)] or [Color(128, 128, 128)]
    background = Color.parse(variables.get("background", "black"))
    shades = base + [c.lighten(0.2) for c in base] + [c.darken(0.2) for c in base]
    # themes repeat colours (accent == warning): each once; none too close to the background to see
    seen = [c for c in shades if abs(c.brightness - background.brightness) >= MIN_CONTRAST] or shades
    palette = list(dict.fromkeys(c.rgb for c in seen))
    return {path: palette[i % len(palette)] for i, path in enumerate(paths)}


def swatch(colour: RGB, text: str = SWATCH) -> Text:
    """``text`` in ``colour`` (the legend's and the table's mark of a run)."""
    return Text(text, style=f"bold rgb({colour[0]},{colour[1]},{colour[2]})", no_wrap=True, end="")


class CompareChart(MetricChart):
    """Overlay of one metric of several runs (``keys`` are run paths or group labels)."""

    def __init__(self, view: ChartView | None = None, metric: str = "", **kwargs: object) -> None:
        super().__init__(**kwargs)
        if view is not None:
            self.view = view  # shared by every chart of the compare view
        self.metric = metric
        self.colours: dict[str, RGB] = {}
        self.has_keys = True

    def show_runs(self, series: Mapping[str, Series], colours: Mapping[str, RGB], metric: str) -> None:
        """Each run's series of ``metric`` (keyed by run path), drawn in its colour; the view state kept."""
        self.colours = dict(colours)
        if metric != self.metric:
            self.metric = metric
            self._drawn = False  # a new metric: draw even when no series changed
        self.set_data(dict(series), [p for p in colours if p in series])

    def show_groups(
        self, groups: Sequence[tuple[str, Series, Series, Series]], colours: Mapping[str, RGB]
    ) -> None:
        """One line per group (``label, mean, lo, hi``): the mean in the group's colour, its min and max
        as thin lines in that colour faded."""
        bands: dict[str, Series] = {}
        means: dict[str, Series] = {}
        self.colours = {}
        for label, mean, lo, hi in groups:
            colour = colours[label]
            means[label] = mean
            bands[label + BAND + "lo"] = lo
            bands[label + BAND + "hi"] = hi
            self.colours[label] = colour
            self.colours[label + BAND + "lo"] = self.colours[label + BAND + "hi"] = self._faded(colour)
        self._drawn = False
        self.set_data(bands | means, list(bands) + list(means))  # the means drawn over the bands

    def point_limit(self) -> int:
        """Many runs share a budget of points (plotext's cost grows with every line drawn: 200 noisy
        runs of 200 points took ~6 s); a few runs get the run view's resolution."""
        return min(super().point_limit(), max(MIN_RUN_POINTS, TOTAL_POINTS // max(1, len(self.keys))))

    def colour_of(self, index: int, key: str, colours: list[RGB]) -> RGB:
        return self.colours.get(key) or colours[index % len(colours)]

    def label_of(self, key: str) -> str | None:
        return None  # the legend is the compare view's own (one entry per run, also for 200 runs)

    def _draw_marker(self) -> None:
        """No alert marks here: the title names the metric (unless the flat rule said something)."""
        if not self.flat_note and self.metric:
            self.plt.title(self.metric)

    def _faded(self, colour: RGB) -> RGB:
        surface = Color.parse(self.app.theme_variables.get("surface", "black"))
        return surface.blend(Color(*colour), 0.55).rgb


class CompareLegend(Static):
    """One line per run (or group): its colour, then its name."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.entries: list[tuple[str, RGB]] = []

    def show(self, entries: Iterable[tuple[str, RGB]], title: str = "") -> None:
        entries = list(entries)
        if entries == self.entries and not title:
            return
        self.entries = entries
        text = Text(no_wrap=True, end="")
        if title:
            text.append(title + "\n", style="bold")
        for i, (name, colour) in enumerate(entries):
            text.append_text(swatch(colour))
            text.append(" " + name + ("\n" if i < len(entries) - 1 else ""))
        self.update(text)


# --- reading (worker threads only) -------------------------------------------------------------
@dataclass(frozen=True)
class GroupBand:
    """One group's line as series: the mean, and the min and max across its runs."""

    label: str
    runs: int
    mean: Series
    lo: Series
    hi: Series

    def as_series(self) -> tuple[str, Series, Series, Series]:
        return self.label, self.mean, self.lo, self.hi

    def legend(self) -> str:
        """The group's value (the legend's title names the key) and its number of runs."""
        value = self.label.split("=", 1)[-1]
        return f"{value} ({self.runs} run{'s' if self.runs != 1 else ''})"


@dataclass(frozen=True)
class GroupBands:
    """The group lines of ``metric`` grouped by config ``key``."""

    key: str
    metric: str
    lines: list[GroupBand]


class SeriesReader:
    """The compared runs' series from the app's live run store (thread-safe; ``None``: a store of its
    own): a run's series is read again only when its metric table changed."""

    def __init__(self, store: RunStore | None, paths: Sequence[str], kinds: Mapping[str, str]) -> None:
        """``kinds``: each run's kind as the runs list knows it (else it is inferred here)."""
        from runner.runs.store import RunStore

        self.store = store if store is not None else RunStore([])
        self.paths = list(paths)
        self.kinds = dict(kinds)
        self.series: dict[tuple[str, str], tuple[tuple[int, int], Series]] = {}
        self._groups: tuple[str, dict[str, list[Path]]] | None = None  # (key, label -> runs)
        self._bands: tuple[str, str] | None = None  # (key, metric) of the last bands made

    def metric_keys(self) -> tuple[list[str], list[str]]:
        """Every numeric metric key of the runs (sorted), and the headline metrics of their kinds."""
        from runner.compare import headline_metrics

        keys: dict[str, None] = {}
        headline: dict[str, None] = {}
        for path in self.paths:
            folder = self.store.get(path)
            if folder is not None:
                numeric = folder.table.numeric_keys()
                keys.update(dict.fromkeys(numeric))
                kind = self.kinds.get(path) or folder.kind_info().kind
                headline.update(dict.fromkeys(headline_metrics(kind, numeric)))
        return sorted(keys), list(headline)

    def read(self, keys: Iterable[str]) -> dict[str, dict[str, Series]]:
        """The series of ``keys`` that changed since the last read (all, the first time):
        metric -> run path -> series."""
        out: dict[str, dict[str, Series]] = {}
        keys = list(keys)
        for path in self.paths:
            folder = self.store.get(path)
            if folder is None:
                continue
            table = folder.table
            version = (id(table), table.version)
            for key in keys:
                seen = self.series.get((path, key))
                if seen is not None and seen[0] == version:
                    continue
                steps, values = table.column(key)
                times, _ = table.column_times(key)
                series = Series(key, list(steps), [float(v) for v in values], list(times))
                self.series[(path, key)] = (version, series)
                out.setdefault(key, {})[path] = series
        return out

    def bands_stale(self, key: str, metric: str) -> bool:
        """No bands were made for this key and metric yet."""
        return self._bands != (key, metric)

    def group_bands(self, key: str, metric: str) -> GroupBands:
        """One line per value of config ``key``: the mean of ``metric`` with its min and max."""
        from runner.compare import group_key_values, group_series

        if self._groups is None or self._groups[0] != key:
            self._groups = (key, group_key_values([Path(p) for p in self.paths], key))
        groups = self._groups[1]
        data = {p: (s.steps, s.values) for (p, k), (_, s) in self.series.items() if k == metric}
        lines = group_series(data, groups)
        self._bands = (key, metric)
        return GroupBands(key, metric, [_band(line, metric) for line in lines])


def _band(line: GroupLine, metric: str) -> GroupBand:
    steps = [int(s) for s in line.steps]

    def series(values: Iterable[float]) -> Series:
        return Series(metric, steps, [float(v) for v in values])

    return GroupBand(line.label, len(line.runs), series(line.mean), series(line.lo), series(line.hi))
