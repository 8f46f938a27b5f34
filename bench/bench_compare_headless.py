"""Compare 200 runs x 1,000 steps: ``runner.compare`` vs pandas' ``read_json(lines=True)`` in the same run.

Run: ``.venv/bin/python -m bench compare_headless`` (needs ../shared/realdata; ``make bench`` runs it too).

Data: the runs of :func:`bench.bench_app.make_runs` (real RL rows of IF-RLVR ``logs_v2p7`` replicated,
steps renumbered, reward shifted per run), each run's config given one of four learning rates.
Each side runs in its own fresh interpreter, so its import cost and peak memory (``ru_maxrss``) are its own:

- tinkertop: (1) the overlay data: every run read in full (``RunStore.scan``) and one metric's series
  taken from each (what the app's compare view draws first); (2) ``compare_table`` over the 200 runs on
  that store with the app's alert board (summaries, the headline metrics' last/min/max/best/smoothed),
  then judging the alerts itself; (3) ``compare_table``
  cold (reading the files itself, judging alerts itself); (4) ``group_key_values`` + ``group_series``
  for one metric; (5) ``config_diff`` of the 200 runs.
- pandas: ``read_json(lines=True)`` of the 200 files, then the same last/min/max/best step of the
  same metrics per run, and the mean/min/max band per learning rate.

Wall and CPU seconds are printed for each, with the ratios pandas / tinkertop. Medians of REPEATS.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LRS = (1e-5, 4e-5, 1e-4, 4e-4)
METRIC = "env/all/reward/total"
REPEATS = 3


def build(dest: Path) -> list[Path]:
    """The runs of bench_app.make_runs, with four learning rates spread over them."""
    from bench.bench_app import make_runs

    make_runs(dest)
    runs = sorted(p for p in dest.iterdir() if p.is_dir())
    for i, run in enumerate(runs):
        config = json.loads((run / "config.json").read_text())
        config["learning_rate"] = LRS[i % len(LRS)]
        (run / "config.json").write_text(json.dumps(config))
    return runs


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall s, cpu s, result) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def _median(fn: Callable[[], Any]) -> dict[str, float]:
    runs = [timed(fn)[:2] for _ in range(REPEATS)]
    return {"wall": statistics.median(r[0] for r in runs), "cpu": statistics.median(r[1] for r in runs)}


def part_tinkertop(runs: list[Path]) -> dict[str, Any]:
    from runner.alerts.board import AlertBoard
    from runner.compare import compare_table, config_diff, group_key_values, group_series
    from runner.runs.store import RunStore

    def overlay() -> tuple[Any, dict[str, Any]]:
        store = RunStore(runs)
        store.scan()
        folders = [store.get(p) for p in runs]
        return store, {str(p): f.table.column(METRIC) for p, f in zip(runs, folders, strict=True) if f}

    wall, cpu, (store, series) = timed(overlay)  # first: a cold read, as the app's first chart
    out: dict[str, Any] = {"overlay (read 200 runs + 1 metric)": {"wall": wall, "cpu": cpu}}
    rss_overlay = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    board = AlertBoard(ROOT)
    board.judge(store, store.summaries())
    out["compare_table (app store + board)"] = _median(lambda: compare_table(runs, store=store, board=board))
    out["compare_table (app store)"] = _median(lambda: compare_table(runs, store=store))
    out["compare_table (cold)"] = _median(lambda: compare_table(runs))
    groups = group_key_values(runs, "learning_rate")
    out["group_key_values"] = _median(lambda: group_key_values(runs, "learning_rate"))
    out["group_series (1 metric)"] = _median(lambda: group_series(series, groups))
    out["config_diff"] = _median(lambda: config_diff(runs))
    lines = group_series(series, groups)
    out["check"] = {line.label: round(float(line.mean[-1]), 6) for line in lines}
    out["rss_mb_after_overlay"] = rss_overlay
    out["rss_mb_peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def part_pandas(runs: list[Path]) -> dict[str, Any]:
    import pandas as pd

    metrics = [METRIC, "optim/kl_sample_train_v1", "optim/entropy", "env/all/ac_tokens_per_turn"]

    def read() -> list[Any]:
        return [pd.read_json(p / "metrics.jsonl", lines=True) for p in runs]

    def table(frames: list[Any]) -> list[dict[str, Any]]:
        rows = []
        for df in frames:
            row: dict[str, Any] = {}
            for m in metrics:
                col = df[m]
                row[m] = (col.iloc[-1], col.min(), col.max(), int(df["step"][col.idxmax()]))
            rows.append(row)
        return rows

    def bands(frames: list[Any]) -> dict[float, Any]:
        lr_of = [json.loads((p / "config.json").read_text())["learning_rate"] for p in runs]
        out = {}
        for lr in LRS:
            wide = pd.concat(
                [f.set_index("step")[METRIC] for f, x in zip(frames, lr_of, strict=True) if x == lr], axis=1
            )
            out[lr] = (wide.mean(axis=1), wide.min(axis=1), wide.max(axis=1))
        return out

    wall, cpu, frames = timed(read)
    out: dict[str, Any] = {"read_json (200 files)": {"wall": wall, "cpu": cpu}}
    out["rss_mb_after_read"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["table from frames"] = _median(lambda: table(frames))
    out["bands from frames"] = _median(lambda: bands(frames))
    out["read_json + table"] = _median(lambda: table(read()))
    band = bands(frames)
    out["check"] = {f"learning_rate={lr!r}": round(float(band[lr][0].iloc[-1]), 6) for lr in LRS}
    out["rss_mb_peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_part(name: str, folder: Path) -> dict[str, Any]:
    """One side in a fresh interpreter (its own imports and peak memory)."""
    code = [sys.executable, "-m", "bench.bench_compare_headless", "--part", name, str(folder / "runs")]
    env = {**os.environ, "TINKERTOP_HOME": str(folder / "home")}  # no record of the user's is read
    done = subprocess.run(code, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench compare {name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(tt: dict[str, Any], pd_: dict[str, Any]) -> None:
    def show(timings: dict[str, Any]) -> None:
        for label, m in timings.items():
            if isinstance(m, dict) and "wall" in m:
                print(f"  {label:40} wall {m['wall']:7.3f} s   cpu {m['cpu']:7.3f} s")

    print("tinkertop (runner.compare):")
    show(tt)
    rss, peak = tt["rss_mb_after_overlay"], tt["rss_mb_peak"]
    print(f"  resident memory: {rss:.0f} MB after the overlay read, {peak:.0f} MB peak")
    print("pandas baseline (the same files, its own fresh interpreter):")
    show(pd_)
    rss, peak = pd_["rss_mb_after_read"], pd_["rss_mb_peak"]
    print(f"  resident memory: {rss:.0f} MB after read_json, {peak:.0f} MB peak")
    overlay, cold = tt["overlay (read 200 runs + 1 metric)"], tt["compare_table (cold)"]
    read, read_table = pd_["read_json (200 files)"], pd_["read_json + table"]
    print("ratios (pandas / tinkertop, wall):")
    print(f"  read 200 runs (read_json vs overlay read)        x{read['wall'] / overlay['wall']:.1f}")
    print(f"  table from the files (read_json+stats vs cold)   x{read_table['wall'] / cold['wall']:.1f}")
    bands, grouped = pd_["bands from frames"], tt["group_series (1 metric)"]
    print(f"  bands from loaded data (pandas vs group_series)  x{bands['wall'] / grouped['wall']:.1f}")
    same = all(abs(tt["check"][k] - pd_["check"][k]) < 1e-9 for k in pd_["check"])
    print(f"  group means at the last step agree with pandas: {same}")
    print(
        "budget (issue 14): overlay of one metric of 200 runs x 1,000 steps, first chart < 3 s, RSS < 300 MB"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--part"]:
        folder = Path(args[2])
        runs = sorted(p for p in folder.iterdir() if p.is_dir())
        part = part_tinkertop if args[1] == "tinkertop" else part_pandas
        print(json.dumps(part(runs)))
        return 0
    with tempfile.TemporaryDirectory(prefix="tt-bench-compare-") as tmp:
        t0 = time.perf_counter()
        runs = build(Path(tmp) / "runs")
        print(f"built {len(runs)} runs x 1,000 steps in {time.perf_counter() - t0:.1f} s")
        report(run_part("tinkertop", Path(tmp)), run_part("pandas", Path(tmp)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
