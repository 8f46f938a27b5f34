"""Fuzz: seeded byte-level mutations of real metrics files never make the reader raise.

Each mutant (flips, deletions, insertions of ``{``, ``[``, ``"``, digits, NaN, huge numbers, invalid
UTF-8) of a real ``metrics.jsonl`` from the shared realdata is read through ``RunFolder(...).refresh()``,
``.summary()`` and ``.detail()``, judged by the alert engine, followed (appended in pieces, judged
incrementally after each) and read by the quick scan.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from runner.alerts import AlertEngine
from runner.runs.cli import jsonable
from runner.runs.folder import RunFolder
from runner.runs.quick import quick_summary
from tests.shared_data import SHARED

SEED = 20261130
MUTANTS = 300
KEEP_BYTES = 12 * 1024  # a slice of each real file: many mutants per second
INSERTS = [
    b"{", b"[", b'"', b"}", b"]", b",", b":", b"\n", b"0", b"7", b"-", b"e", b".", b"NaN", b"Infinity",
    b"-Infinity", b"1e400", b"18446744073709551616", b"9" * 400, b"1e300", b"\xff", b"\xc3", b"\xed\xa0\x80",
    b"\x00", b"\\u", b'"step": 1e300', b"[" * 3000, b'{"step": -9223372036854775809}', b"null", b"true",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def real_metrics() -> list[bytes]:
    files = sorted((SHARED / "realdata").rglob("*metrics.jsonl"))
    if not files:
        pytest.skip("../shared/realdata absent")
    picked = files[:: max(1, len(files) // 6)][:6]
    return [p.read_bytes()[:KEEP_BYTES] for p in picked]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(len(buf) + 1)
        op = rng.random()
        if op < 0.3 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op < 0.5:
            del buf[pos : pos + rng.randint(1, 40)]
        else:
            buf[pos:pos] = rng.choice(INSERTS)
    return bytes(buf)


def check_run(run_dir: Path) -> None:
    run = RunFolder(run_dir)
    run.refresh()
    summary = run.summary()
    detail = run.detail()
    assert detail.summary.bad_lines == summary.bad_lines
    json.dumps(jsonable(summary.latest), allow_nan=False)
    AlertEngine().evaluate(run, summary=summary)
    quick_summary(run_dir)


def test_mutated_real_metrics_never_raise(tmp_path):
    rng = random.Random(SEED)
    sources = real_metrics()
    for i in range(MUTANTS):
        data = mutate(rng.choice(sources), rng)
        run_dir = tmp_path / f"m{i}"
        run_dir.mkdir()
        (run_dir / "metrics.jsonl").write_bytes(data)
        if i % 5 == 0:
            (run_dir / "checkpoints.jsonl").write_bytes(mutate(b'{"name": "final", "batch": 3}\n', rng))
            (run_dir / "config.json").write_bytes(mutate(b'{"log_path": "x", "lr": 1e-4}', rng))
        try:
            check_run(run_dir)
        except Exception as exc:
            raise AssertionError(f"mutant {i} (seed {SEED}) raised {exc!r}") from exc


def test_mutants_followed_in_pieces_never_raise(tmp_path):
    """The same mutants appended in random pieces, read after each, as a live follower sees them."""
    rng = random.Random(SEED + 1)
    sources = real_metrics()
    for i in range(MUTANTS // 6):
        data = mutate(rng.choice(sources), rng)
        run_dir = tmp_path / f"f{i}"
        run_dir.mkdir()
        run = RunFolder(run_dir)
        engine = AlertEngine()
        pos = 0
        with (run_dir / "metrics.jsonl").open("wb") as fh:
            while pos < len(data):
                cut = min(len(data), pos + rng.randint(1, 4096))
                fh.write(data[pos:cut])
                fh.flush()
                pos = cut
                run.refresh()
                engine.evaluate(run, summary=run.summary())
        once = RunFolder(run_dir)  # the same bytes read in one go
        once.refresh()
        followed, whole = run.detail().summary, once.detail().summary
        assert (followed.n_lines, followed.bad_lines, followed.step, jsonable(followed.latest)) == (
            whole.n_lines,
            whole.bad_lines,
            whole.step,
            jsonable(whole.latest),
        ), f"mutant {i} (seed {SEED + 1}) read in pieces differs from one read"
