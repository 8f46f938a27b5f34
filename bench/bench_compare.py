"""Benchmark of the compare view (issue 14): overlay one metric of all 200 runs x 1,000 steps.

Run: ``.venv/bin/python -m bench compare`` (needs ../shared/realdata).

Data: the 200 run folders of ``bench_app`` (real RL rows of IF-RLVR ``logs_v2p7``, reward shifted per run).
The app runs headless in this process (Textual's ``run_test``, 160x48). Measured in this run:
(a) the floor: the app's full read of the 200 runs (start to the list showing them read);
(b) first chart: from ``c`` (compare; all marked with ``A`` before) to the end of the overlay's first render with
    all 200 runs drawn (the chart's ``render`` wrapped here: a benchmark-only seam);
(c) resident memory (VmRSS) after the first chart and its peak (VmHWM) over the whole run.
Budget (issue 14): first chart under 3 s, RSS under 300 MB. W&B's terminal UI with all 200 runs
selected: busy 51 s at 1.8 GB (../shared/docs/leet-measured.md).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.bench_app import N_RUNS, N_STEPS, SOURCE, make_runs

BUDGET = {"chart": 3.0, "rss": 300.0}
LEET = {"chart": 51.0, "rss": 1800.0}
SIZE = (160, 48)


def vm(field: str) -> float:
    """``VmRSS`` / ``VmHWM`` of this process in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _until(pilot: Any, cond: Any, timeout: float = 300.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("benchmark condition not reached")
        await pilot.pause(0.01)


async def measure(root: Path) -> dict[str, float]:
    from tui.app import TinkertopApp
    from tui.widgets.compare_chart import CompareChart

    drawn: dict[str, float] = {}
    render = CompareChart.render

    def timed_render(self: CompareChart) -> Any:  # the seam: when a render with all runs ends
        out = render(self)
        if self.id == "compare-chart" and len(self.keys) == N_RUNS and "chart" not in drawn:
            drawn["chart"] = time.monotonic()
        return out

    CompareChart.render = timed_render  # type: ignore[method-assign,assignment]  # the timing seam
    start = time.monotonic()
    app = TinkertopApp([root])
    try:
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.loaded and len(app.summaries) == N_RUNS)
            loaded = time.monotonic() - start
            await pilot.press("A")  # mark all, then (timed) compare them
            await _until(pilot, lambda: len(app.runs_screen.marked) == N_RUNS)
            await pilot.pause()
            pressed = time.monotonic()
            await pilot.press("c")
            await _until(pilot, lambda: "chart" in drawn)
            chart = drawn["chart"] - pressed
            rss = vm("VmRSS")
            await pilot.press("escape")
    finally:
        CompareChart.render = render  # type: ignore[method-assign]
    return {"loaded": loaded, "chart": chart, "rss": rss, "peak": vm("VmHWM")}


def main() -> None:
    if not SOURCE.is_dir():
        print(f"skipped: {SOURCE} is absent")
        return
    tmp = Path(tempfile.mkdtemp(prefix="tt-bench-compare-"))
    try:
        root = tmp / "results" / "logs"
        root.mkdir(parents=True)
        make_runs(root)
        m = asyncio.run(measure(root))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load = os.getloadavg()
    print(f"runs: {N_RUNS} x {N_STEPS} steps of real RL rows ({SOURCE.name}); headless {SIZE[0]}x{SIZE[1]}")
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared)")
    print(f"{'(a) floor: full read of the runs':<40} {m['loaded']:8.3f} s")
    for label, key, unit in (
        ("(b) first overlay chart, 200 runs", "chart", "s"),
        ("(c) RSS after it", "rss", "MB"),
    ):
        value, budget, leet = m[key], BUDGET[key], LEET[key]
        verdict = "ok" if value < budget else "OVER"
        print(f"{label:<40} {value:8.3f} {unit}  budget {budget:g}{unit} {verdict}  LEET {leet:g}{unit}")
    print(f"{'    peak RSS (VmHWM) over the run':<40} {m['peak']:8.1f} MB")


if __name__ == "__main__":
    main()
