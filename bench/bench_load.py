"""Load a 20,000-line metrics.jsonl: tinkertop's reader vs pandas vs a plain orjson loop.

The file is built by replicating real RL rows from ``shared/realdata`` (steps renumbered), with a
few rows carrying bare ``NaN`` / ``Infinity`` as the cookbook writes them. Prints the median of
several repeats, the ratios, and the memory a MetricTable holds vs a list of dicts.
"""

from __future__ import annotations

import gc
import json
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from bench import results
from runner.runs.cache import CachedReader
from runner.runs.jsonl import JsonlTail
from runner.runs.series import MetricTable
from tests.shared_data import SHARED

SOURCES = (
    "realdata/sushantmehta_tinker-cookbook_IF_RLVR/logs_v2p7/metrics.jsonl",
    "realdata/arvindcr4_tinker-rl-lab/experiments/results/arithmetic_metrics.jsonl",
    "formats/rl_arith/metrics.jsonl",
)
N_LINES = 20_000
NAN_EVERY = 997  # a NaN row every ~1000 lines (about 20 rows)
REPEATS = 5


def source_rows() -> tuple[str, list[dict[str, Any]]]:
    for rel in SOURCES:
        path = SHARED / rel
        if path.exists():
            return rel, [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    raise SystemExit(f"no source metrics found under {SHARED}")


def build_file(path: Path, rows: list[dict[str, Any]], n: int = N_LINES) -> int:
    """Write ``n`` lines replicating ``rows``; returns how many carry non-finite values."""
    n_nonfinite = 0
    with path.open("w") as fh:
        for i in range(n):
            row = dict(rows[i % len(rows)])
            row["step"] = i
            if "progress/batch" in row:
                row["progress/batch"] = i
            if i % NAN_EVERY == 5:
                row["optim/kl_sample_train_v1"] = float("nan")
                row["optim/entropy"] = float("inf")
                n_nonfinite += 1
            fh.write(json.dumps(row) + "\n")
    return n_nonfinite


def load_tinkertop(path: Path) -> MetricTable:
    tail, table = JsonlTail(path), MetricTable()
    batch = tail.read_new()
    table.ingest([r for _, r in batch.records], time.time())
    table.add_bad(batch.bad)
    return table


def load_cached(path: Path) -> tuple[MetricTable, str]:
    """Open as the app does: the cache entry when it still applies, then the lines after it."""
    tail, table = JsonlTail(path), MetricTable()
    reader = CachedReader(tail)
    outcome = reader.load_if_fresh(table)
    batch = tail.read_new()
    table.ingest([r for _, r in batch.records], time.time())
    table.add_bad(batch.bad)
    reader.maybe_save(table)
    return table, outcome


def reopen(path: Path, c_pd: float) -> None:
    """Reopen the file with the cache: unchanged, then with 100 lines appended; vs pandas' full read."""
    import os

    with tempfile.TemporaryDirectory() as cache_home:
        old = os.environ.get("TINKERTOP_CACHE")
        os.environ["TINKERTOP_CACHE"] = cache_home
        try:
            load_cached(path)  # the first open writes the entry
            hit = timed_all({"unchanged": load_cached}, path)["unchanged"]
            append_lines(path, 100)
            grown = timed_all({"appended": load_cached}, path)["appended"]
        finally:
            os.environ.pop("TINKERTOP_CACHE") if old is None else os.environ.update(TINKERTOP_CACHE=old)
    for label, (c, w, (table, outcome)) in (("unchanged", hit), ("100 lines appended", grown)):
        print(f"reopen with cache, {label:<18}: {c * 1e3:7.1f} ({w * 1e3:7.1f})  {outcome}, {len(table)} steps; "
              f"pandas / reopen {c_pd / c:.0f}x CPU")  # fmt: skip
    worst = max(hit[0], grown[0])
    results.record(
        "reopen", "reopen the same 20,000-line file (unchanged or appended)", f"{worst * 1e3:.1f} ms CPU",
        f"pandas {c_pd * 1e3:.0f} ms ({c_pd / worst:.0f}x)", "at least 20x faster than pandas",
        c_pd / worst >= 20, reopen_ms=worst * 1e3, pandas_ms=c_pd * 1e3,
    )  # fmt: skip


def append_lines(path: Path, n: int) -> None:
    last = json.loads(path.read_text().splitlines()[-1])
    with path.open("a") as fh:
        for _ in range(n):
            last["step"] += 1
            fh.write(json.dumps(last) + "\n")


def load_pandas(path: Path) -> Any:
    import pandas as pd

    return pd.read_json(path, lines=True)


def load_orjson(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The plain loop: orjson per line; lines it rejects (bare NaN) are dropped and counted."""
    out, rejected = [], 0
    with path.open("rb") as fh:
        for line in fh:
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                rejected += 1
    return out, rejected


def timed_all(fns: dict[str, Callable[[Path], Any]], path: Path) -> dict[str, tuple[float, float, Any]]:
    """Run the loaders interleaved, REPEATS times; per loader the median CPU seconds of this
    process (steadier than wall time on a shared machine), the median wall seconds, and a result."""
    cpu: dict[str, list[float]] = {name: [] for name in fns}
    wall: dict[str, list[float]] = {name: [] for name in fns}
    results: dict[str, Any] = {}
    for _ in range(REPEATS):
        for name, fn in fns.items():
            gc.collect()
            c0, w0 = time.process_time(), time.perf_counter()
            results[name] = fn(path)
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    return {n: (statistics.median(cpu[n]), statistics.median(wall[n]), results[n]) for n in fns}


def held_bytes(build: Callable[[], Any]) -> int:
    """Bytes still allocated by what ``build`` returns (tracemalloc, after it is built)."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    obj = build()
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del obj
    return held


def follow_appends(path: Path, table: MetricTable, n: int = 50) -> None:
    """A live run: one line appended at a time. The follower reads only the new bytes; a reader
    without offsets (pandas here) has to parse the whole file again for each new line."""
    import pandas as pd

    tail = JsonlTail(path)
    tail.read_new()  # caught up with the existing 20,000 lines
    last = path.read_text().splitlines()[-1]
    ours, theirs = [], []
    for i in range(n):
        rec = json.loads(last)
        rec["step"] = N_LINES + i
        with path.open("a") as fh:
            fh.write(json.dumps(rec) + "\n")
        c0 = time.process_time()
        batch = tail.read_new()
        table.ingest([r for _, r in batch.records], time.time())
        ours.append(time.process_time() - c0)
        if i % 10 == 0:  # pandas is slow: sample it
            c0 = time.process_time()
            pd.read_json(path, lines=True)
            theirs.append(time.process_time() - c0)
    o, t = statistics.median(ours), statistics.median(theirs)
    print(f"live follow, 1 line appended    : tinkertop {o * 1e6:7.0f} us per line (new bytes only) vs "
          f"pandas re-read {t * 1e3:.0f} ms ({t / max(o, 1e-9):.0f}x)")  # fmt: skip


def main() -> None:
    rel, rows = source_rows()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics.jsonl"
        n_nonfinite = build_file(path, rows)
        size = path.stat().st_size
        print(
            f"file: {N_LINES} lines, {size / 1e6:.1f} MB, rows from {rel}, {n_nonfinite} rows with NaN/Infinity"
        )
        runs = timed_all({"ours": load_tinkertop, "orjson": load_orjson, "pandas": load_pandas}, path)
        (c_ours, w_ours, table), (c_orj, w_orj, (recs, rejected)) = runs["ours"], runs["orjson"]
        c_pd, w_pd, df = runs["pandas"]
        print(f"median of {REPEATS}, interleaved; CPU ms (wall ms)")
        print(f"tinkertop JsonlTail+MetricTable : {c_ours * 1e3:7.1f} ({w_ours * 1e3:7.1f})  {len(table)} steps, "
              f"{len(table.numeric_keys())} numeric keys, {table.bad_lines} bad lines, "
              f"{table.stats('optim/kl_sample_train_v1').non_finite} NaN kl values kept")  # fmt: skip
        print(f"plain orjson loop               : {c_orj * 1e3:7.1f} ({w_orj * 1e3:7.1f})  {len(recs)} records; "
              f"{rejected} lines rejected by orjson (bare NaN/Infinity) and dropped")  # fmt: skip
        print(
            f"pandas.read_json(lines=True)    : {c_pd * 1e3:7.1f} ({w_pd * 1e3:7.1f})  {df.shape[0]} rows x {df.shape[1]} cols"
        )
        print(f"ratio pandas / tinkertop        : {c_pd / c_ours:7.1f}x CPU ({w_pd / w_ours:.1f}x wall)")
        print(f"ratio orjson-loop / tinkertop   : {c_orj / c_ours:7.2f}x CPU (the loop builds no columns)")
        results.record(
            "ingest", "ingest a 20,000-line RL metrics file into series", f"{c_ours * 1e3:.0f} ms CPU",
            f"orjson loop {c_orj * 1e3:.0f} ms ({c_ours / c_orj:.2f}x); pandas {c_pd * 1e3:.0f} ms",
            "within 1.5x of the orjson loop", c_ours <= 1.5 * c_orj, ours_ms=c_ours * 1e3,
            orjson_ms=c_orj * 1e3, pandas_ms=c_pd * 1e3,
        )  # fmt: skip
        follow_appends(path, table)
        reopen(path, c_pd)
        mem_table = held_bytes(lambda: load_tinkertop(path))
        mem_dicts = held_bytes(lambda: [json.loads(line) for line in path.read_text().splitlines()])
        print(f"memory held: MetricTable {mem_table / 1e6:.1f} MB vs list of dicts {mem_dicts / 1e6:.1f} MB "
              f"({mem_dicts / max(mem_table, 1):.1f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
