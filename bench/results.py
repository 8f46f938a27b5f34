"""The performance budget table (issue 12): figures the benches measured, saved and rendered.

Each bench calls :func:`record` with one row per budget it measures; the row is merged into
``bench/results.json`` (figure, baseline measured in the same run, budget, pass/miss, when, run count).
``python -m bench.results --readme`` rewrites the README's Performance table from that file (between
the ``perf-table`` markers), so no number there is typed by hand. ``N_RUNS`` in the environment sets
the run count of the app benches (``make bench N_RUNS=1000``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("results.json")
README = ROOT / "README.md"
BEGIN, END = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"


def n_runs(default: int = 200) -> int:
    """The run count of the app benches: ``$N_RUNS`` or ``default``."""
    try:
        return max(1, int(os.environ.get("N_RUNS", default)))
    except ValueError:
        return default


def load() -> dict[str, Any]:
    try:
        data = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {"rows": {}}
    return data if isinstance(data.get("rows"), dict) else {"rows": {}}


def record(
    row_id: str, workload: str, figure: str, baseline: str, budget: str, passed: bool | None, **raw: float
) -> None:
    """Save one budget row (replacing the previous figure of the same ``row_id``) and print it."""
    data = load()
    data["rows"][row_id] = {
        "workload": workload, "figure": figure, "baseline": baseline, "budget": budget,
        "result": "n/a" if passed is None else ("pass" if passed else "MISS"),
        "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "raw": raw,
        "machine": f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}",
    }  # fmt: skip
    RESULTS.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(f"  [{data['rows'][row_id]['result']}] {workload}: {figure} (baseline {baseline}; budget {budget})")


ORDER = ["ingest", "reopen", "paint", "enter", "full_read", "rss", "idle_cpu", "live_p95"]


def table(data: dict[str, Any] | None = None) -> str:
    """The Markdown table of the recorded rows, in budget order."""
    rows = (data or load())["rows"]
    ids = [i for i in ORDER if i in rows] + sorted(i for i in rows if i not in ORDER)
    out = [
        "| workload | figure | baseline in the same run | budget | result | measured on |",
        "|---|---|---|---|---|---|",
    ]
    for i in ids:
        r = rows[i]
        out.append(
            f"| {r['workload']} | {r['figure']} | {r['baseline']} | {r['budget']} | {r['result']} "
            f"| {r['measured']}, {r['machine']} |"
        )
    return "\n".join(out)


def update_readme(path: Path = README) -> bool:
    """Replace the table between the markers in the README; False when the markers are absent."""
    text = path.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{table()}\n{END}{tail}")
    return True


def main(argv: list[str]) -> int:
    if "--readme" in argv:
        if not update_readme():
            print(f"no {BEGIN} ... {END} markers in {README.name}", file=sys.stderr)
            return 1
        print(f"{README.name}: Performance table updated from {RESULTS.name}")
        return 0
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
