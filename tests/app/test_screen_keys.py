"""The run view and the compare view share one implementation of their chart keys (``ChartKeys``) and
of their tab keys (``TabKeys``); the keys, ids and footer entries stay what they were."""

from __future__ import annotations

from textual.binding import Binding

from tui.screens.compare import CompareScreen
from tui.screens.run_view import RunViewScreen
from tui.screens.tabs import TabKeys
from tui.widgets.chart_keys import ChartKeys

CHART_ACTIONS = ("cycle_ema", "ema", "cycle_window", "toggle_x", "toggle_log", "zoom")


def _bindings(screen: type) -> dict[str, Binding]:
    return {b.id: b for b in screen.BINDINGS if isinstance(b, Binding) and b.id}


def test_both_views_use_the_one_mixin_for_chart_and_tab_keys() -> None:
    for screen in (RunViewScreen, CompareScreen):
        assert issubclass(screen, ChartKeys) and issubclass(screen, TabKeys)
        for action in (*CHART_ACTIONS, "tab"):
            owner = next(c for c in screen.__mro__ if f"action_{action}" in c.__dict__)
            assert owner in (ChartKeys, TabKeys), f"{screen.__name__}.action_{action} is its own copy"


def test_run_view_chart_keys_keep_their_ids_keys_and_footer() -> None:
    got = {
        i: (b.key, b.action, b.show) for i, b in _bindings(RunViewScreen).items() if i.startswith("chart.")
    }
    assert got == {
        "chart.ema": ("S", "cycle_ema", True),
        "chart.ema_up": ("greater_than_sign", "ema(0.01)", False),
        "chart.ema_down": ("less_than_sign", "ema(-0.01)", False),
        "chart.window": ("W", "cycle_window", True),
        "chart.x": ("X", "toggle_x", True),
        "chart.log": ("Y", "toggle_log", True),
        "chart.zoom_in": ("plus,equals_sign", "zoom(0.5)", True),
        "chart.zoom_out": ("minus", "zoom(2)", False),
        "chart.zoom_reset": ("0", "zoom(0)", False),
    }
    compare = _bindings(CompareScreen)
    assert compare["compare.ema"].show and not compare["compare.window"].show
    for prefix, screen in (("run", RunViewScreen), ("compare", CompareScreen)):
        tabs = _bindings(screen)
        assert tabs[f"{prefix}.next_tab"].key == "right_square_bracket" and tabs[f"{prefix}.next_tab"].show
        assert tabs[f"{prefix}.prev_tab"].key == "left_square_bracket" and not tabs[f"{prefix}.prev_tab"].show
