"""The app's start-up path stays light: no torch/tinker/cookbook/pandas, no plotext until a run view."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "tinker", "tinker_cookbook", "pandas", "transformers", "wandb")


def _loaded(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(m for m in sys.modules if '.' not in m)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_app_start_imports_nothing_heavy() -> None:
    mods = _loaded("import tui.main, tui.app\nfrom runner.runs.quick import quick_scan")
    assert "textual" in mods  # the probe works
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert "plotext" not in mods and "textual_plotext" not in mods


def test_run_view_imports_nothing_heavy() -> None:
    mods = _loaded("import tui.app, tui.screens.run_view")
    assert "textual_plotext" in mods
    assert not mods & set(HEAVY), mods & set(HEAVY)
