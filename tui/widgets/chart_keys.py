"""The chart keys of the run view and the compare view: EMA presets and weight, rolling window,
x-axis, log-y, zoom, acting on the screen's ``ChartView`` (shared by every chart it draws)."""

from __future__ import annotations

from textual.binding import Binding

from tui.widgets.metric_chart import EMA_WEIGHTS, WINDOWS, ChartView


class ChartKeys:
    """Actions behind ``chart_bindings``; the screen holds ``chart_view`` and redraws its charts in
    ``redraw_charts``."""

    chart_view: ChartView

    def redraw_charts(self) -> None:
        raise NotImplementedError

    def action_cycle_ema(self) -> None:
        """Next preset weight above the current one, after the last: off."""
        view = self.chart_view
        view.ema = next((w for w in EMA_WEIGHTS if w > view.ema), 0.0)
        self.redraw_charts()

    def action_ema(self, delta: float) -> None:
        view = self.chart_view
        view.ema = round(min(0.99, max(0.0, view.ema + delta)), 2)
        self.redraw_charts()

    def action_cycle_window(self) -> None:
        view = self.chart_view
        view.window = (
            WINDOWS[(WINDOWS.index(view.window) + 1) % len(WINDOWS)] if view.window in WINDOWS else 0
        )
        self.redraw_charts()

    def action_toggle_x(self) -> None:
        self.chart_view.x_time = not self.chart_view.x_time
        self.redraw_charts()

    def action_toggle_log(self) -> None:
        self.chart_view.log_y = not self.chart_view.log_y
        self.redraw_charts()

    def action_zoom(self, factor: float) -> None:
        view = self.chart_view
        view.zoom = 1.0 if factor == 0 else min(1.0, max(1 / 256, view.zoom * factor))
        self.redraw_charts()


def chart_bindings(prefix: str, footer: bool = False) -> list[Binding]:
    """The keys of ``ChartKeys`` with binding ids ``<prefix>.ema``...; the footer shows EMA, and with
    ``footer`` the window, x-axis, log-y and zoom-in keys too."""
    return [
        Binding("S", "cycle_ema", "EMA", id=f"{prefix}.ema"),
        Binding("greater_than_sign", "ema(0.01)", "EMA weight +0.01", show=False, id=f"{prefix}.ema_up"),
        Binding("less_than_sign", "ema(-0.01)", "EMA weight -0.01", show=False, id=f"{prefix}.ema_down"),
        Binding("W", "cycle_window", "Window", show=footer, id=f"{prefix}.window"),
        Binding("X", "toggle_x", "X-axis", show=footer, id=f"{prefix}.x"),
        Binding("Y", "toggle_log", "Log-y", show=footer, id=f"{prefix}.log"),
        Binding("plus,equals_sign", "zoom(0.5)", "Zoom in", show=footer, id=f"{prefix}.zoom_in"),
        Binding("minus", "zoom(2)", "Zoom out", show=False, id=f"{prefix}.zoom_out"),
        Binding("0", "zoom(0)", "Reset zoom", show=False, id=f"{prefix}.zoom_reset"),
    ]
