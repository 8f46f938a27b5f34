"""A live chart of one or more metrics of one run (plotext via textual-plotext).

The view state (keys, smoothing, x-axis, log-y, zoom) lives here and survives data updates.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from rich.ansi import AnsiDecoder
from rich.style import Style
from rich.text import Text
from textual.color import Color
from textual_plotext import PlotextPlot

from runner.runs.snapshot import Series
from tui.format import is_flat, number

EMA_WEIGHTS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)
WINDOWS = (0, 5, 10, 25, 50, 100)
RAW_LINE_MAX = 100  # raw series longer than this are drawn as dots, not lines
MIN_POINTS = 200  # points drawn per series at most: max(MIN_POINTS, chart width)
# a chart asked to (the run view's) draws its first data with this many points per series at most, then in
# full detail right after that frame is out: plotext's cost grows with the points of a line, and the first
# frame is what the user waits for when opening a run
COARSE_POINTS = 60


@dataclass
class ChartView:
    """How to draw: smoothing, axes and zoom (a fraction of the x-range, latest part)."""

    ema: float = 0.6
    window: int = 0
    log_y: bool = False
    x_time: bool = False
    zoom: float = 1.0

    def describe(self) -> str:
        ema = f"EMA {self.ema:.2f}" if self.ema else "EMA off"
        window = f"window {self.window}" if self.window else "window off"
        zoom = "all" if self.zoom >= 1.0 else f"last {self.zoom * 100:.0f}%"
        x = "time first seen" if self.x_time else "step"
        return f"{ema} · {window} · x: {x} · log-y {'on' if self.log_y else 'off'} · zoom {zoom}"


@dataclass(frozen=True)
class ChartMarker:
    """Where an alert began (a vertical rule at ``step``) and what it was judged against (a
    horizontal rule at ``threshold``), drawn on the chart of ``key``."""

    key: str
    step: float | None
    threshold: float | None
    label: str


def smooth(values: list[float], view: ChartView) -> list[float]:
    """Apply the rolling window, then the debiased EMA (both skip non-finite values)."""
    from runner.runs.smoothing import ema, rolling_mean

    out = values
    if view.window > 1:
        out = rolling_mean(out, view.window)
    if view.ema > 0:
        out = ema(out, view.ema)
    return out


SGR = re.compile(r"\x1b\[([0-9;]*)m")


class AnsiText:
    """``Text.from_ansi`` for plotext's output, the same Text at about half the cost: plotext writes a
    few thousand colour codes from a handful of distinct ones, so each (style, code) step is decoded once
    by rich's own decoder and remembered."""

    def __init__(self) -> None:
        self._steps: dict[tuple[Style, str], Style] = {}
        self._style = Style.null()

    def __call__(self, ansi: str) -> Text:
        self._style = Style.null()  # carried from line to line, as rich's decoder does
        return Text("\n").join(self._line(line) for line in ansi.split("\n"))

    def _line(self, line: str) -> Text:
        text = Text()
        style = self._style
        pos = 0
        for match in SGR.finditer(line):
            if match.start() > pos:
                text.append(line[pos : match.start()], style or None)
            style = self._step(style, match.group(1))
            pos = match.end()
        if pos < len(line):
            text.append(line[pos:], style or None)
        self._style = style
        return text

    def _step(self, style: Style, codes: str) -> Style:
        key = (style, codes)
        found = self._steps.get(key)
        if found is None:
            decoder = AnsiDecoder()
            decoder.style = style
            decoder.decode_line(f"\x1b[{codes}m")
            found = self._steps[key] = decoder.style
        return found


class MetricChart(PlotextPlot):
    """Overlay of the selected series with the current ``ChartView``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._coarse = False  # the next draw of data is coarse (see coarse_first)
        self.view = ChartView()
        self.series: dict[str, Series] = {}
        self.keys: list[str] = []
        self.has_keys = False  # the run has metric keys to pick from
        self.marker: ChartMarker | None = None
        self.flat_note = ""  # what the last draw said about a flat series ("" when not flat)
        self._drawn = False
        self._ansi = AnsiText()

    def coarse_first(self) -> None:
        """Draw the first data coarse (``COARSE_POINTS`` per series), then in full detail right after."""
        self._coarse = True

    def mark(self, marker: ChartMarker | None) -> None:
        """Draw (or, with None, stop drawing) an alert's step and threshold."""
        self.marker = marker
        self.replot()

    def set_data(self, series: dict[str, Series], keys: list[str]) -> None:
        """New data or a new key selection; the view state is kept. Same data: no redraw."""
        if self._drawn and keys == self.keys and all(series.get(k) == self.series.get(k) for k in keys):
            return
        self.series = series
        self.keys = keys
        self.replot()
        if self._coarse and any(len(s.steps) > COARSE_POINTS for s in series.values()):
            self.call_after_refresh(self._full_detail)
        else:
            self._coarse = False

    def _full_detail(self) -> None:
        """The first data drawn coarse is out: draw it in full detail."""
        if self._coarse:
            self._coarse = False
            self.replot()

    def render(self) -> Text:
        """PlotextPlot's render with a faster decode of plotext's colour codes; blank until the first
        ``replot`` (no empty frame built while the run's data is on its way)."""
        if not self._drawn:
            return Text()
        plot = self.plt
        plot.plotsize(self.size.width, self.size.height)
        plot._set_size(self.size.width, self.size.height)  # as PlotextPlot.render does (its issue #5)
        plot.theme(self._get_plotext_theme_name(self.app.theme))
        return self._ansi(plot.build())

    def points(self, key: str) -> tuple[list[float], list[float], list[float]]:
        """(x, raw y, smoothed y) of one key, finite points only, after zoom."""
        s = self.series.get(key)
        if s is None:
            return [], [], []
        if self.view.x_time and len(s.times) == len(s.steps) and s.times:
            t0 = min(s.times)
            xs = [t - t0 for t in s.times]
        else:
            xs = [float(x) for x in s.steps]
        ys = smooth(s.values, self.view)
        pts = [
            (x, raw, y)
            for x, raw, y in zip(xs, s.values, ys, strict=False)
            if math.isfinite(y) and math.isfinite(raw) and (not self.view.log_y or (y > 0 and raw > 0))
        ]
        if pts and self.view.zoom < 1.0:
            lo, hi = pts[0][0], pts[-1][0]
            cut = hi - (hi - lo) * self.view.zoom
            pts = [p for p in pts if p[0] >= cut]
        limit = self.point_limit()
        if len(pts) > limit:  # thin evenly, always keeping the newest point
            stride = math.ceil(len(pts) / limit)
            pts = pts[::-1][::stride][::-1]
        return [p[0] for p in pts], [p[1] for p in pts], [p[2] for p in pts]

    def replot(self) -> None:
        self._drawn = True
        plt = self.plt
        plt.clear_figure()
        plt.xlabel("seconds since first seen" if self.view.x_time else "step")
        plt.yscale("log" if self.view.log_y else "linear")
        drawn = 0
        colours = self._colours()
        shown: list[float] = []
        for i, key in enumerate(self.keys):
            xs, raw, ys = self.points(key)
            if not xs:
                continue
            drawn += 1
            shown += raw + ys
            smoothed = self.view.ema > 0 or self.view.window > 1
            if smoothed and len(self.keys) == 1:
                # raw as a faint line; as dots when long (noisy lines cost plotext ~0.1 s)
                draw = plt.plot if len(xs) <= RAW_LINE_MAX else plt.scatter
                draw(xs, raw, marker="braille", color=self._muted(), label=f"{key} (raw)")
            plt.plot(
                xs, ys, marker="braille", color=self.colour_of(i, key, colours), label=self.label_of(key)
            )
        self.flat_note = self._flat(shown) if drawn else ""
        if drawn:
            self._draw_marker()
        if not drawn:
            if self.keys:
                plt.title("no finite points for the selected metrics")
            else:
                plt.title(
                    "pick a metric (space)" if self.series or self.has_keys else "no metrics in this run yet"
                )
        self.refresh()

    def point_limit(self) -> int:
        """Points drawn per series at most (thinned evenly beyond)."""
        return COARSE_POINTS if self._coarse else max(MIN_POINTS, self.size.width)

    def colour_of(self, index: int, key: str, colours: list[tuple[int, int, int]]) -> tuple[int, int, int]:
        """The colour of the ``index``-th series, ``key`` (the compare chart colours by run instead)."""
        return colours[index % len(colours)]

    def label_of(self, key: str) -> str | None:
        """The legend label of ``key`` (None: left out of the legend)."""
        return key

    def _flat(self, ys: list[float]) -> str:
        """A flat series is drawn as a level line mid-chart with its value said in the title, never
        scaled to its own tiny range (where noise, or a run pinned at 0, looks dramatic)."""
        low, high = min(ys), max(ys)
        if not is_flat(low, high) or self.view.log_y:
            return ""
        mid = (low + high) / 2
        pad = max(abs(mid), 1.0) * 0.5
        self.plt.ylim(mid - pad, mid + pad)
        note = f"flat at {number(mid)}" + (f" (range {number(high - low)})" if high > low else "")
        self.plt.title(note)
        return note

    def _draw_marker(self) -> None:
        marker = self.marker
        if marker is None or marker.key not in self.keys:
            return
        variables = self.app.theme_variables
        if marker.step is not None and not self.view.x_time:
            self.plt.vline(marker.step, Color.parse(variables.get("error", "red")).rgb)
        if marker.threshold is not None and math.isfinite(marker.threshold):
            if not self.view.log_y or marker.threshold > 0:
                self.plt.hline(marker.threshold, Color.parse(variables.get("warning", "yellow")).rgb)
        if not self.flat_note:
            self.plt.title(marker.label)

    def _colours(self) -> list[tuple[int, int, int]]:
        """Series colours from the app theme (primary, accent, success, ...)."""
        names = ("primary", "accent", "success", "warning", "secondary", "error")
        variables = self.app.theme_variables
        return [Color.parse(variables[n]).rgb for n in names if variables.get(n)] or [(128, 128, 128)]

    def _muted(self) -> tuple[int, int, int]:
        """The raw series: the theme's foreground faded into its surface."""
        variables = self.app.theme_variables
        surface = Color.parse(variables.get("surface", "black"))
        return surface.blend(Color.parse(variables.get("foreground", "white")), 0.45).rgb
