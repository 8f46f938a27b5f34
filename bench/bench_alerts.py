"""Alert rules: detection delay per injected failure, and the cost of the rules next to the full read.

1. Detection delay: each failure is injected into a copy of a real run (``shared/realdata``) at a known
   step; the copy is then followed line by line (append, refresh, evaluate: the live path) and the
   bench reports how many steps after the injection the rule first fires.
2. Cost: 200 runs x 1,000 steps (each one real RL run replicated, steps renumbered) are read in full by a
   ``RunStore`` and then judged by a fresh ``AlertEngine``; both times are printed side by side, plus
   one appended line per run (the incremental path). CPU time, median of 3.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from runner.alerts import AlertEngine
from runner.runs.folder import RunFolder
from runner.runs.store import RunStore
from tests.shared_data import SHARED

REAL = SHARED / "realdata"
ARITH = REAL / "arvindcr4_tinker-rl-lab/experiments/results/arithmetic_metrics.jsonl"
SFT = REAL / "arvindcr4_tinker-rl-lab/experiments/results/distillation_off_metrics.jsonl"
RLVR = REAL / "sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p7/metrics.jsonl"
KLREF = REAL / "joanvelja_tinker-cookbook/reports/data/gptoss-20b-v2-metrics.jsonl"
N_RUNS, N_STEPS, REPEATS = 200, 1000, 3
Rows = list[dict[str, Any]]


def rows_of(path: Path) -> Rows:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _from(at: int, fn: Callable[[dict[str, Any], int], None]) -> Callable[[Rows], None]:
    def edit(rows: Rows) -> None:
        for i, r in enumerate(rows):
            if i >= at:
                fn(r, i - at)

    return edit


def _negate(row: dict[str, Any], key: str) -> None:
    if key in row:
        row[key] = -row[key]


# (name, source, step, rule, edit)
CASES: list[tuple[str, Path, int, str, Callable[[Rows], None]]] = [
    ("NaN in entropy", ARITH, 40, "non_finite", lambda rows: rows[40].update({"optim/entropy": math.nan})),
    ("sampler KL 0.03", ARITH, 40, "kl_sample_train", _from(40, lambda r, k: r.update({"optim/kl_sample_train_v2": 0.03}))),
    ("sampler KL 0.3", ARITH, 40, "kl_sample_train", _from(40, lambda r, k: r.update({"optim/kl_sample_train_v2": 0.3}))),
    ("KL-to-base x20", KLREF, 30, "kl_base", lambda rows: rows[30].update({"kl_policy_base": rows[30]["kl_policy_base"] * 20})),
    ("KL-to-base below 0", KLREF, 30, "kl_base", _from(30, lambda r, k: _negate(r, "kl_policy_base"))),
    ("frac_mixed 0", RLVR, 40, "no_signal", _from(40, lambda r, k: r.update({"env/all/by_group/frac_mixed": 0.0, "env/all/by_group/frac_all_bad": 1.0}))),
    ("reward pinned -0.1", RLVR, 40, "reward_pinned", _from(40, lambda r, k: r.update({"env/all/reward/total": -0.1}))),
    ("entropy x0.05", RLVR, 40, "entropy_collapse", _from(40, lambda r, k: r.update({"optim/entropy": r["optim/entropy"] * 0.05}))),
    ("entropy ramps to x4", RLVR, 40, "entropy_blowup", _from(40, lambda r, k: r.update({"optim/entropy": r["optim/entropy"] * (1 + min(k, 10) * 0.3)}))),
    ("length at max_tokens", RLVR, 40, "length_cap", _from(40, lambda r, k: r.update({"env/all/ac_tokens_per_turn": 8192.0}))),
    ("loss spike x30", SFT, 400, "spike", lambda rows: rows[400].update({"train_mean_nll": rows[400]["train_mean_nll"] * 30})),
    ("step time x5", SFT, 400, "slow", _from(400, lambda r, k: r.update({"time/total": r["time/total"] * 5}))),
    ("rollout errors", ARITH, 40, "rollout_errors", _from(0, lambda r, k: r.update({"rollout_errors/total": 2 if k >= 40 else 0}))),
]  # fmt: skip


def write(path: Path, rows: Rows, mode: str = "w") -> None:
    with path.open(mode) as fh:
        fh.writelines(json.dumps(r) + "\n" for r in rows)


def delay(src: Path, at: int, rule: str, edit: Callable[[Rows], None], folder: Path) -> int | None:
    """Steps between the injection and the first evaluation that shows ``rule`` (line by line)."""
    rows = rows_of(src)
    edit(rows)
    folder.mkdir()
    config = src.parent / "config.json"
    if src.name == "metrics.jsonl" and config.exists():
        (folder / "config.json").write_bytes(config.read_bytes())
    run, engine = RunFolder(folder), AlertEngine()
    for i, row in enumerate(rows):
        write(folder / "metrics.jsonl", [row], "a")
        run.refresh()
        if any(
            a.rule == rule and a.level >= 2 and (a.first_step or 0) >= at - 10 for a in engine.evaluate(run)
        ):
            return i - at
    return None


def cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.process_time()
    out = fn()
    return time.process_time() - t0, out


def judge(store: RunStore, engine: AlertEngine, by_path: dict[str, Any] | None) -> list[Any]:
    """Every run's alerts: with ``by_path`` from its summary, else after reading what was appended."""
    if by_path is not None:
        return [a for r in store.runs() for a in engine.evaluate(r, summary=by_path[str(r.path)])]
    return [engine.evaluate(r) for r in store.runs() if r.refresh() or True]


def build_runs(root: Path) -> None:
    """Each run replicates one real RL run (IF_RLVR v2p7 or arithmetic, alternately) to N_STEPS steps."""
    sources = [rows_of(RLVR), rows_of(ARITH)]
    for n in range(N_RUNS):
        rows = sources[n % 2]
        folder = root / f"run{n:03d}"
        folder.mkdir(parents=True)
        with (folder / "metrics.jsonl").open("w") as fh:
            for i in range(N_STEPS):
                row = dict(rows[(i + n) % len(rows)], step=i)
                if "progress/batch" in row:
                    row["progress/batch"] = i
                fh.write(json.dumps(row) + "\n")


def timing() -> None:
    os.environ["TINKERTOP_METRICS_CACHE"] = "0"  # every repeat parses the files (the read is the yardstick)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_runs(root)
        reads, judges, appends = [], [], []
        for _ in range(REPEATS):
            store = RunStore([root])
            t_read, summaries = cpu(store.scan)
            by_path = {s.path: s for s in summaries}
            engine = AlertEngine()
            t_judge, alerts = cpu(partial(judge, store, engine, by_path))
            for r in store.runs():
                write(r.path / "metrics.jsonl", [dict(rows_of(ARITH)[5], step=N_STEPS)], "a")
            t_append, _ = cpu(partial(judge, store, engine, None))
            for r in store.runs():  # undo the appended line for the next repeat
                lines = (r.path / "metrics.jsonl").read_text().splitlines(keepends=True)[:-1]
                (r.path / "metrics.jsonl").write_text("".join(lines))
            reads.append(t_read)
            judges.append(t_judge)
            appends.append(t_append)
        n_keys = len(store.runs()[0].table.numeric_keys())
        print(f"{N_RUNS} runs x {N_STEPS} steps ({n_keys} numeric keys each), CPU s, median of {REPEATS}:")
        print(f"  full read (RunStore.scan)          : {statistics.median(reads):6.3f} s")
        print(
            f"  rules, first evaluation (all runs)  : {statistics.median(judges):6.3f} s  "
            f"({100 * statistics.median(judges) / statistics.median(reads):.0f}% of the read; budget 0.5 s)"
        )
        print(f"  one new line per run: refresh+rules : {statistics.median(appends):6.3f} s")
        print(f"  alerts on the replicated runs       : {len(alerts)}")  # fmt: skip


def main() -> None:
    if not REAL.is_dir():
        raise SystemExit(f"no realdata under {SHARED}")
    print("detection delay (steps after the injected step; fed line by line):")
    with tempfile.TemporaryDirectory() as tmp:
        for n, (name, src, at, rule, edit) in enumerate(CASES):
            d = delay(src, at, rule, edit, Path(tmp) / f"case{n}")
            print(f"  {name:22} {src.parent.name[:28]:28} step {at:4}  {rule:17} "
                  f"{'not fired' if d is None else f'+{d}'}")  # fmt: skip
    timing()


if __name__ == "__main__":
    main()
