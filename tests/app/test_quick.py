"""runner.runs.quick (the first-paint summaries) agrees with the full read on real run folders."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from runner.runs.quick import TAIL_LINES, quick_scan, tail_lines
from runner.runs.store import RunStore
from tests.app.conftest import FORMATS


def test_quick_matches_full_read_on_formats() -> None:
    if not FORMATS.is_dir():
        pytest.skip(f"{FORMATS} is absent")
    quick = {s.path: s for s in quick_scan([FORMATS])}
    full = {s.path: s for s in RunStore([FORMATS]).scan()}
    assert quick.keys() == full.keys() and len(quick) >= 10
    for path, q in quick.items():
        f = full[path]
        assert (q.name, q.kind, q.step, q.headline_key) == (f.name, f.kind, f.step, f.headline_key), path
        assert q.headline_value == pytest.approx(f.headline_value, nan_ok=True), path
        assert q.spark == pytest.approx(f.spark[-len(q.spark) :], nan_ok=True), path


def test_quick_reads_only_the_tail(tmp_path: Path) -> None:
    src = FORMATS / "rl_arith"
    if not src.is_dir():
        pytest.skip(f"{src} is absent")
    run = tmp_path / "big"
    shutil.copytree(src, run)
    row = json.loads((src / "metrics.jsonl").read_text().splitlines()[-1])
    with (run / "metrics.jsonl").open("w") as fh:
        for step in range(500):
            fh.write(json.dumps(dict(row, step=step, **{"env/all/reward/total": step / 1000})) + "\n")
        fh.write('{"step": 500, "env/all/rew')  # half-written last line: not (yet) bad
    (run / "checkpoints.jsonl").unlink()
    lines, whole = tail_lines(run / "metrics.jsonl")
    assert len(lines) == TAIL_LINES and not whole
    (summary,) = quick_scan([tmp_path])
    assert summary.step == 499 and summary.bad_lines == 0
    assert summary.n_lines == TAIL_LINES - 1  # the tail only, without the partial line
    assert summary.spark[-1] == pytest.approx(0.499) and len(summary.spark) == TAIL_LINES - 1
    assert TAIL_LINES - 1 >= 12  # the list's sparkline is 12 steps wide
    assert summary.note == "quick look: last lines only"


def test_forked_quick_scan_returns_what_the_app_would_read_itself(tmp_path: Path) -> None:
    """The start-up overlap: a real forked child scans; its summaries equal an in-process scan."""
    import os

    from tui.prefetch import QuickScanChild

    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": i, "env/all/reward/total": i / 10}) + "\n" for i in range(30))
        + "{not json}\n"
        + '{"step": 30, "env/all/reward/total": NaN}\n'
    )
    child = QuickScanChild([tmp_path / "runs"])
    if (os.cpu_count() or 1) < 2:
        assert child.result() is None  # nothing to overlap on one core: the app scans itself
        return
    pid = child.pid
    assert pid > 0 and pid != os.getpid()
    got = child.result()
    want = quick_scan([tmp_path / "runs"])
    assert got is not None and [repr(s) for s in got] == [repr(s) for s in want]
    assert got[0].bad_lines == 1 and got[0].step == 30
    assert child.result() is None  # collected once
    with pytest.raises(ChildProcessError):  # and the child was reaped
        os.waitpid(pid, os.WNOHANG)
