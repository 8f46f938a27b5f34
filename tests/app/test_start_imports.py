"""The app's start-up path leaves out the launch side (issue 12: first paint of 1,000 runs): the launch form,
recipe catalogue and experiments load when a form or an action needs them, not with the runs list."""

from __future__ import annotations

import subprocess
import sys

from tests.probes import REPO

LAUNCH_SIDE = {"runner.control.launch", "runner.control.launch_form", "runner.experiment.start"}


def _runner_modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in sys.modules if m.startswith('runner')))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_the_app_starts_without_the_launch_side() -> None:
    mods = _runner_modules_after("import tui.main, tui.app")
    assert "runner.api" in mods  # the probe works: the runs list uses it
    assert not mods & LAUNCH_SIDE, mods & LAUNCH_SIDE


def test_the_launch_side_comes_on_first_use() -> None:
    code = "from runner import api\nassert api.LaunchForm('math_rl').recipe == 'math_rl'\napi.PlannedRun, api.start_experiment"
    assert LAUNCH_SIDE <= _runner_modules_after(code)
