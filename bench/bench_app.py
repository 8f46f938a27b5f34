"""Benchmark of the app on 200 runs x 1,000 steps, against its budgets and W&B LEET's figures.

Run: ``.venv/bin/python -m bench.bench_app`` (needs tmux and ../shared/realdata).

Data: 200 run folders whose metrics.jsonl rows replicate the real RL rows of
``realdata/sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p7`` (step renumbered, reward varied per run).
Measured in this run:
(a) the floor: ``python -c "import textual.app"`` wall time;
(b) first paint (median of N_LAUNCHES launches): from launching ``tinkertop DIR`` in a detached tmux pane to (1) the app's hook line
    ``painted`` (written after the screen refresh that shows the list with data;
    ``TINKERTOP_HOOK_FILE``, off by default) and (2) ``capture-pane`` (polled every 20 ms) showing
    the last visible row's name and a sparkline;
(c) resident memory (VmRSS from /proc) after the first paint and after the full read;
(d) live latency: 40 lines appended to one run's metrics.jsonl; the hook records when the app's
    state first holds each new step (``seen``); p50/p95 of seen - appended.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.shared_data import SHARED

ROOT = Path(__file__).resolve().parents[1]

SOURCE = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR" / "logs_v2p7"
N_RUNS, N_STEPS, N_APPENDS = 200, 1000, 40
N_LAUNCHES = 5  # first-paint figures are medians over this many launches
TMUX_W, TMUX_H = 160, 48
BUDGET = {"paint": 1.0, "rss": 150.0, "p95": 0.250}
LEET = {"paint": 1.1, "rss": 120.0, "p95": 11.7}
SESSION = f"tt-bench-{os.getpid()}"


def make_runs(dest: Path) -> None:
    """Write N_RUNS run folders of N_STEPS real RL rows each."""
    rows = [json.loads(line) for line in (SOURCE / "metrics.jsonl").read_text().splitlines() if line.strip()]
    config = (SOURCE / "config.json").read_bytes()
    rng = random.Random(0)
    for r in range(N_RUNS):
        folder = dest / f"run_{r:03d}"
        folder.mkdir(parents=True)
        (folder / "config.json").write_bytes(config)
        shift = rng.uniform(-0.2, 0.2)
        lines = []
        for i in range(N_STEPS):
            row = dict(rows[i % len(rows)])
            row.update({"step": i, "progress/batch": i, "progress/done_frac": (i + 1) / N_STEPS})
            row["env/all/reward/total"] = row.get("env/all/reward/total", 0.5) + shift
            lines.append(json.dumps(row))
        (folder / "metrics.jsonl").write_text("\n".join(lines) + "\n")


def floor_import() -> float:
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import textual.app"], check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def hook_lines(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def wait_for(cond, timeout: float, every: float = 0.02):  # type: ignore[no-untyped-def]
    end = time.time() + timeout
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(every)
    return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def launch(runs: Path, hook: Path) -> tuple[float, int]:
    exe = Path(sys.executable).parent / "tinkertop"
    cmd = f"exec env -u COLUMNS -u LINES TINKERTOP_HOOK_FILE={hook} {exe} {runs}"
    t0 = time.time()
    tmux("new-session", "-d", "-s", SESSION, "-x", str(TMUX_W), "-y", str(TMUX_H), cmd)
    pid = int(tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())
    return t0, pid


def visible_rows_painted() -> bool:
    screen = tmux("capture-pane", "-p", "-t", SESSION)
    rows = [line for line in screen.splitlines() if "run_" in line]
    return len(rows) >= TMUX_H - 6 and any(ch in rows[-1] for ch in "▁▂▃▄▅▆▇█")


def paint_once(runs: Path, hook: Path) -> tuple[dict[str, float], int]:
    """Launch the app; time to the list painted with data; leaves the session running."""
    hook.unlink(missing_ok=True)
    t0, pid = launch(runs, hook)
    if not wait_for(visible_rows_painted, 30):
        raise SystemExit("the list never painted:\n" + tmux("capture-pane", "-p", "-t", SESSION))
    out = {"paint_capture": time.time() - t0}
    painted = wait_for(lambda: [x for x in hook_lines(hook) if x[0] == "painted"], 10)
    out["paint_hook"] = float(painted[0][1]) - t0 if painted else float("nan")
    out["rss_paint"] = rss_mb(pid)
    out["t0"] = t0
    return out, pid


def kill_session() -> None:
    subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


def measure(runs: Path, hook: Path) -> dict[str, float]:
    paints = []
    try:
        for _ in range(N_LAUNCHES - 1):
            paints.append(paint_once(runs, hook)[0])
            kill_session()
            time.sleep(0.5)
        last, pid = paint_once(runs, hook)
        paints.append(last)
        out = {
            k: statistics.median(p[k] for p in paints) for k in ("paint_capture", "paint_hook", "rss_paint")
        }
        out["paint_min"] = min(p["paint_hook"] for p in paints)
        out["paint_max"] = max(p["paint_hook"] for p in paints)
        loaded = wait_for(lambda: [x for x in hook_lines(hook) if x[0] == "loaded"], 120, 0.1)
        out["load"] = float(loaded[0][1]) - last["t0"] if loaded else float("nan")
        time.sleep(0.5)
        out["rss_loaded"] = rss_mb(pid)
        out.update(live_latency(runs / "run_007" / "metrics.jsonl", hook))
    finally:
        kill_session()
    return out


def live_latency(metrics: Path, hook: Path) -> dict[str, float]:
    row = json.loads(metrics.read_text().splitlines()[-1])
    appended: dict[int, float] = {}
    for i in range(N_APPENDS):
        step = N_STEPS + i
        row.update({"step": step, "progress/batch": step})
        with metrics.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        appended[step] = time.time()
        time.sleep(0.25)
    last = N_STEPS + N_APPENDS - 1
    wait_for(
        lambda: any(x[0] == "seen" and x[1] == "run_007" and int(x[2]) >= last for x in hook_lines(hook)), 30
    )
    seen = [(int(x[2]), float(x[3])) for x in hook_lines(hook) if x[0] == "seen" and x[1] == "run_007"]
    lat = []
    for step, t in appended.items():  # a step is in the app's state once any step >= it is
        times = [when for got, when in seen if got >= step]
        if times:
            lat.append(min(times) - t)
    lat.sort()
    if not lat:
        return {"p50": float("nan"), "p95": float("nan"), "n_seen": 0.0}
    return {
        "p50": statistics.median(lat),
        "p95": lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))],
        "n_seen": float(len(lat)),
    }


def report(floor: float, m: dict[str, float]) -> None:
    def line(label: str, value: float, unit: str, budget: float, leet: float) -> None:
        print(
            f"{label:<34} {value:8.3f} {unit:<3} budget {budget:g}{unit} ({value / budget:.2f}x)"
            f"  LEET {leet:g}{unit} (ours/LEET {value / leet:.2f})"
        )

    print(f"runs: {N_RUNS} x {N_STEPS} steps of real RL rows ({SOURCE.name}); tmux {TMUX_W}x{TMUX_H}")
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared)")
    print(f"{'(a) floor: import textual.app':<34} {floor:8.3f} s")
    print(
        f"(b) first paint over {N_LAUNCHES} launches (median; hook min {m['paint_min']:.3f} max {m['paint_max']:.3f} s)"
    )
    line("(b) first paint, hook", m["paint_hook"], "s", BUDGET["paint"], LEET["paint"])
    line("(b) first paint, capture-pane", m["paint_capture"], "s", BUDGET["paint"], LEET["paint"])
    print(f"{'    paint / floor':<34} {m['paint_hook'] / floor:8.2f} x")
    print(f"{'    full read done (hook)':<34} {m['load']:8.3f} s")
    line("(c) RSS after first paint", m["rss_paint"], "MB", BUDGET["rss"], LEET["rss"])
    line("(c) RSS after full read", m["rss_loaded"], "MB", BUDGET["rss"], LEET["rss"])
    print(f"(d) live latency over {int(m['n_seen'])}/{N_APPENDS} appends (LEET p95 {LEET['p95']} s):")
    line("    p50", m["p50"], "s", BUDGET["p95"], LEET["p95"])
    line("    p95", m["p95"], "s", BUDGET["p95"], LEET["p95"])


def main() -> int:
    if not (SOURCE / "metrics.jsonl").exists():
        print(f"bench_app: skipped, {SOURCE} is absent")
        return 0
    if shutil.which("tmux") is None:
        print("bench_app: skipped, tmux is not installed (apt-get install -y tmux)")
        return 0
    with tempfile.TemporaryDirectory(prefix="tt-bench-") as tmp:
        runs = Path(tmp) / "runs"
        t = time.time()
        make_runs(runs)
        print(f"generated {N_RUNS} runs in {time.time() - t:.1f} s")
        floor = floor_import()
        report(floor, measure(runs, Path(tmp) / "hook.txt"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
