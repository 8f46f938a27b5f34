"""The verdict of an experiment for the app: base vs trained, with a paired 95% confidence interval.

RL (accuracy): the same rows scored twice are paired, so the interval is for the paired difference of
proportions by Newcombe's hybrid score method (1998, method 10: Wilson intervals of both accuracies
combined with the phi correlation of the 2x2 table), with McNemar's exact test on the discordant rows.
SFT (NLL): the per-row NLL change, mean and a paired t interval. Also where a run's results folder is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.experiment.results import SUMMARY_FILE, Results

Z95 = 1.959963984540054
RL_METHOD = "paired: Newcombe hybrid score CI, McNemar exact test"
SFT_METHOD = "paired t interval of the per-row change"


@dataclass(frozen=True)
class Verdict:
    """What the result view says in its first lines."""

    headline: str  # Base 42% -> Trained 67% (+25 pts, n=200)
    interval: str  # 95% CI ... (method)
    method: str
    n: int
    improved: int
    regressed: int


def find_results(run: str | Path) -> Path | None:
    """The results folder of a run: ``<results>/logs/<run_name>`` is the layout; else a ``summary.json``
    (in an ancestor, or its ``results/``) whose ``log_path`` is the run."""
    run = Path(run)
    if run.parent.name == "logs" and (run.parent.parent / SUMMARY_FILE).is_file():
        return run.parent.parent
    for ancestor in list(run.parents)[:3]:
        for folder in (ancestor, ancestor / "results"):
            if _names_run(folder / SUMMARY_FILE, run):
                return folder
    return None


def _names_run(summary: Path, run: Path) -> bool:
    try:
        data = json.loads(summary.read_text())
    except (OSError, ValueError):
        return False
    log_path = data.get("log_path") if isinstance(data, dict) else None
    if not isinstance(log_path, str) or not log_path:
        return False
    target = Path(log_path) if Path(log_path).is_absolute() else summary.parent / log_path
    try:
        return target.resolve() == run.resolve()
    except OSError:
        return False


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_paired(both: int, gained: int, lost: int, neither: int) -> tuple[float, float]:
    """95% interval of trained minus base accuracy for paired rows (Newcombe 1998, method 10)."""
    n = both + gained + lost + neither
    if n == 0:
        return -1.0, 1.0
    p1, p2 = (both + gained) / n, (both + lost) / n
    l1, u1 = wilson(both + gained, n)
    l2, u2 = wilson(both + lost, n)
    denom = (both + gained) * (lost + neither) * (both + lost) * (gained + neither)
    phi = (both * neither - gained * lost) / math.sqrt(denom) if denom else 0.0
    d = p1 - p2
    low = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return max(-1.0, d - low), min(1.0, d + high)


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value: the discordant rows as a fair binomial."""
    m = gained + lost
    if m == 0:
        return 1.0
    tail = sum(math.comb(m, i) for i in range(min(gained, lost) + 1)) / 2**m
    return min(1.0, 2 * tail)


def t_quantile(df: int, z: float = Z95) -> float:
    """Student t 97.5% quantile (Cornish-Fisher expansion; within 0.5% for df >= 3)."""
    if df <= 0:
        return math.inf
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    return z + g1 / df + g2 / df**2 + g3 / df**3


def _paired(results: Results) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    base = {r["index"]: r for r in results.base_rows}
    return [(base[r["index"]], r) for r in results.trained_rows if r["index"] in base]


def _score(value: float | None, rows: list[dict[str, Any]], key: str) -> float:
    if value is not None:
        return value
    if key == "correct":
        return sum(1 for r in rows if r.get("correct") is True) / len(rows) if rows else math.nan
    values = [float(r[key]) for r in rows if isinstance(r.get(key), int | float)]
    return sum(values) / len(values) if values else math.nan


def rl_verdict(results: Results) -> Verdict:
    pairs = _paired(results)
    cells = {(True, True): 0, (False, True): 0, (True, False): 0, (False, False): 0}
    for base, trained in pairs:
        cells[(base.get("correct") is True, trained.get("correct") is True)] += 1
    both, gained, lost, neither = (
        cells[k] for k in ((True, True), (False, True), (True, False), (False, False))
    )
    b = _score(results.baseline, results.base_rows, "correct")
    t = _score(results.trained, results.trained_rows, "correct")
    n = len(pairs)
    headline = f"Base {b:.0%} -> Trained {t:.0%} ({(t - b) * 100:+.0f} pts, n={n})"
    low, high = newcombe_paired(both, gained, lost, neither)
    p = mcnemar_exact(gained, lost)
    interval = (
        f"95% CI of the gain {low * 100:+.0f} to {high * 100:+.0f} pts; McNemar exact p={p:.3g} "
        f"({gained} improved, {lost} regressed of {n}) [{RL_METHOD}]"
    )
    return Verdict(headline, interval, RL_METHOD, n, gained, lost)


def sft_verdict(results: Results) -> Verdict:
    pairs = [(float(a["nll"]), float(b["nll"])) for a, b in _paired(results) if _finite(a, b)]
    b = _score(results.baseline, results.base_rows, "nll")
    t = _score(results.trained, results.trained_rows, "nll")
    n = len(pairs)
    relative = (t - b) / b * 100 if b else math.nan
    headline = f"NLL base {b:.3f} -> trained {t:.3f} ({relative:+.1f}%, n={n})"
    diffs = [after - before for before, after in pairs]
    mean = sum(diffs) / n if n else math.nan
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else math.nan
    half = t_quantile(n - 1) * sd / math.sqrt(n) if n > 1 else math.nan
    interval = f"mean change {mean:+.3f} nats per row, 95% CI {mean - half:+.3f} to {mean + half:+.3f} [{SFT_METHOD}]"
    improved = sum(1 for d in diffs if d < 0)
    return Verdict(headline, interval, SFT_METHOD, n, improved, sum(1 for d in diffs if d > 0))


def _finite(a: dict[str, Any], b: dict[str, Any]) -> bool:
    values = (a.get("nll"), b.get("nll"))
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def verdict(results: Results) -> Verdict:
    """The headline and interval of a results folder (by its ``task_type``)."""
    return sft_verdict(results) if results.task_type == "sft" else rl_verdict(results)
