"""Rollouts: open the largest iteration file of the shared data, and search a 100-iteration run.

1. Open: every rollout file of ``shared/`` (logtree JSON, summaries, flat HTML) is sized; the largest
   iteration (by the bytes ``load_iteration`` reads) is loaded (budget 0.3 s), beside the baseline of
   a plain ``json.load`` / lxml parse of the same files (no transcripts built).
2. Search: a 100-iteration run made by copying a real iteration folder (``formats/rl_arith``, the
   layout the demo writes) 100 times; a plain-text search and a regex over all of it (budget 2 s),
   beside the baseline of ``json.load`` of every file; then the same for 100 copies of a real flat
   HTML iteration of the IF-RLVR run (290 KB each, 1,000 times the text of the demo's).
CPU and wall time, median of 3, cold (the loaded-iteration cache cleared) unless said.
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lxml.etree

from runner.rollouts import clear_cache, list_iterations, load_iteration, search
from tests.shared_data import SHARED

REPEATS = 3
N_ITER = 100
KINDS = ("*_logtree.json", "*_rollout_summaries.jsonl", "*_iteration_*.html", "trajectories.jsonl")


def timed(fn: Callable[[], Any], cold: bool = True) -> tuple[float, float, Any]:
    """Median CPU and wall seconds of REPEATS calls (``cold``: loaded-iteration cache cleared before
    each), and the last result."""
    cpu, wall, out = [], [], None
    for _ in range(REPEATS):
        if cold:
            clear_cache()
        c0, w0 = time.process_time(), time.perf_counter()
        out = fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return statistics.median(cpu), statistics.median(wall), out


def _files_of(ref: Any) -> list[Path]:
    src = Path(ref.source)
    if ref.layout != "current":
        return [src]
    return [p for p in src.parent.glob(f"{ref.base_name}_*") if p.suffix in (".json", ".jsonl")]


def _baseline(files: list[Path]) -> int:
    """Decode every file with no transcript building: json.load / one json per line / lxml's parse."""
    n = 0
    for f in files:
        text = f.read_text(errors="replace")
        if f.suffix == ".html":
            lxml.etree.fromstring(text.encode(), lxml.etree.HTMLParser(recover=True))
        elif f.suffix == ".jsonl":
            n += len([json.loads(line) for line in text.splitlines() if line.strip()])
        else:
            json.loads(text)
    return n


def bench_open() -> None:
    all_files = [p for kind in KINDS for p in SHARED.rglob(kind)]
    print(
        f"rollout files in shared/: {len(all_files)}, {sum(p.stat().st_size for p in all_files) / 1e6:.1f} MB"
    )
    runs = {p.parent.parent if p.parent.name.startswith("iteration_") else p.parent for p in all_files}
    refs = [r for run in sorted(runs) for r in list_iterations(run, stats=False)]
    biggest = max(refs, key=lambda r: sum(f.stat().st_size for f in _files_of(r)))
    files = _files_of(biggest)
    sizes = ", ".join(f"{f.name} {f.stat().st_size / 1e6:.2f} MB" for f in files)
    print(f"largest iteration: {biggest.run} step {biggest.step} {biggest.split}: {sizes}")
    c, w, it = timed(lambda: load_iteration(biggest))
    cb, wb, _ = timed(lambda: _baseline(files))
    print(f"load_iteration            : {c * 1e3:7.1f} ms CPU ({w * 1e3:7.1f} wall)  {len(it.trajectories)} "
          f"trajectories, {sum(t.has_text for t in it.trajectories)} with text  (budget 300 ms)")  # fmt: skip
    print(f"baseline json.load/parse : {cb * 1e3:7.1f} ms CPU ({wb * 1e3:7.1f} wall)")


def _replicate(src: Path, dest: Path, flat: bool) -> int:
    """N_ITER iterations copied from ``src`` (an iteration folder or a flat HTML file); total bytes."""
    for k in range(N_ITER):
        if flat:
            shutil.copy(src, dest / f"train_iteration_{k:06d}.html")
        else:
            shutil.copytree(src, dest / f"iteration_{k:06d}")
    return sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())


def _search_case(label: str, src: Path, flat: bool, query: str, regex: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        size = _replicate(src, run, flat)
        files = [p for p in run.rglob("*") if p.is_file() and p.suffix in (".json", ".jsonl", ".html")]
        files = [p for p in files if flat or p.suffix != ".html"]  # what the reader reads
        print(f"{label}: {N_ITER} iterations, {len(files)} files, {size / 1e6:.1f} MB")
        c, w, hits = timed(lambda: list(search(run, query)))
        print(f"  search {query!r:<22}: {c:6.2f} s CPU ({w:6.2f} wall)  {len(hits)} hits  (budget 2 s)")
        c, w, hits = timed(lambda: list(search(run, regex, regex=True)))
        print(f"  regex  {regex!r:<22}: {c:6.2f} s CPU ({w:6.2f} wall)  {len(hits)} hits")
        c, w, hits = timed(lambda: list(search(run, regex, regex=True)), cold=False)
        print(f"  regex again (cached)    : {c:6.2f} s CPU ({w:6.2f} wall)  {len(hits)} hits")
        c, w, hits = timed(lambda: list(search(run, "no such text anywhere")))
        print(
            f"  search, no hit          : {c:6.2f} s CPU ({w:6.2f} wall)  {len(hits)} hits (byte prefilter)"
        )
        cb, wb, _ = timed(lambda: _baseline(files))
        print(f"  baseline decode all     : {cb:6.2f} s CPU ({wb:6.2f} wall)")


def main() -> None:
    bench_open()
    demo_like = SHARED / "formats" / "rl_arith" / "iteration_000000"
    _search_case("demo-like run (rl_arith iteration_000000 x100)", demo_like, False, "44 + 47", r"\b9[0-9]\b")
    flat = (
        SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR" / "logs" / "train_iteration_000000.html"
    )
    _search_case(
        "IF-RLVR flat HTML (train_iteration_000000 x100)", flat, True, "executive summary", r"\b\d+%"
    )


if __name__ == "__main__":
    main()
