"""The app's start-up path stays light: no torch/tinker/cookbook/pandas, no plotext until a run view."""

from __future__ import annotations

from tests.probes import modules_after

HEAVY = ("torch", "tinker", "tinker_cookbook", "pandas", "transformers", "wandb")


def test_app_start_imports_nothing_heavy() -> None:
    mods = modules_after("import tui.main, tui.app\nfrom runner.runs.quick import quick_scan")
    assert "textual" in mods  # the probe works
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert "plotext" not in mods and "textual_plotext" not in mods


def test_run_view_imports_nothing_heavy() -> None:
    mods = modules_after("import tui.app, tui.screens.run_view")
    assert "textual_plotext" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)
