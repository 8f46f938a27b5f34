"""The bulk ingest path (issue 12) changes nothing: lines read and records ingested by ``JsonlTail`` and
``MetricTable`` leave exactly the state the old line-by-line code (``ingest_oracle``) leaves, byte for
byte, over every JSON-lines file of ``../shared`` and over generated nasty files and batches (mixed types
in one key, keys first seen late, bool/int mixes, NaN, merges, lines without step, hostile lines)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from runner.runs.columns import BULK_MIN
from runner.runs.jsonl import JsonlTail
from runner.runs.series import MetricTable
from tests.shared_data import SHARED
from tests.unit.ingest_oracle import OldTable, OldTail

READS = (64 * 1024 * 1024, 4096, 777)  # one batch per file, and batches cut mid-line


def shared_files() -> list[Path]:
    roots = [SHARED / "realdata", SHARED / "formats"]
    return sorted(p for r in roots if r.is_dir() for p in r.rglob("*.jsonl"))


def table_state(t: MetricTable) -> dict[str, Any]:
    """Everything a table holds, NaN bits and dict orders included (``repr`` tells 1, 1.0 and True apart)."""
    return {
        "steps": t._steps.tobytes(),
        "times": t._times.tobytes(),
        "cols": [(k, c.tobytes()) for k, c in t._cols.items()],
        "present": [(k, bytes(p)) for k, p in t._present.items()],
        "other": [(k, [(r, repr(v)) for r, v in rows.items()]) for k, rows in t._other.items()],
        "order": list(t._order),
        "kinds": (sorted(t._int_keys), sorted(t._float_keys)),
        "layout": (t._row_of, t._base, t._max_step, t._sorted, vars(t._counter)),
        "counts": (t.notes, t.n_lines, t.bad_lines, t.bad, t.version, t._merges),
    }


def batch_state(batch: Any) -> tuple[Any, ...]:
    return ([(n, repr(r)) for n, r in batch.records], batch.bad, batch.reset, batch.more, batch.error)


def assert_same_reading(path: Path, max_read: int) -> int:
    """Follow ``path`` with the old and the new code side by side; compare after every batch."""
    old_tail, new_tail = OldTail(path, max_read=max_read), JsonlTail(path, max_read=max_read)
    old, new = OldTable(), MetricTable()
    n_batches = 0
    while True:
        a, b = old_tail.read_new(), new_tail.read_new()
        assert batch_state(a) == batch_state(b), f"{path} batch {n_batches}"
        for table, batch in ((old, a), (new, b)):
            table.ingest([r for _, r in batch.records], 1.0 + n_batches, [n for n, _ in batch.records])
            table.add_bad(batch.bad)
        assert table_state(old) == table_state(new), f"{path} after batch {n_batches}"
        n_batches += 1
        if not a.more:
            return n_batches


def assert_same_ingest(batches: list[list[dict[str, Any]]]) -> MetricTable:
    old, new = OldTable(), MetricTable()
    for i, recs in enumerate(batches):
        copies = json.loads(json.dumps(recs))  # each table gets its own dicts (a merge may not alter them)
        assert old.ingest(copies, float(i)) == new.ingest(recs, float(i))
        assert table_state(old) == table_state(new), f"after batch {i}"
    return new


@pytest.mark.skipif(not shared_files(), reason="../shared absent")
@pytest.mark.parametrize("max_read", READS[:2])
def test_every_shared_jsonl_file_reads_as_before(max_read):
    files = shared_files()
    assert any(p.name == "metrics.jsonl" for p in files)
    for path in files:
        assert_same_reading(path, max_read)


# ---- generated nasty input ---------------------------------------------------------------------
ODD_VALUES = ["x", True, False, None, [1, 2], {"a": {"b": 1}}, 7, 2.5, math.nan, math.inf, -math.inf, 0, 1]


def nasty_record(rng: random.Random, i: int, step: int) -> dict[str, Any]:
    rec: dict[str, Any] = {"step": step, "loss": rng.random(), "reward": rng.choice([0.5, 1.0, 0, 1])}
    rec["count"] = rng.choice([i, i, i, True, float(i)])  # int, sometimes a bool or a float
    if i % 5 == 0 or rng.random() < 0.05:
        rec["eval/acc"] = rng.random()  # every 5 lines, and scattered
    if i > 60:
        rec["late/key"] = rng.choice([1.5, 2, "n/a"])  # first seen late, mixed types
    if rng.random() < 0.3:
        rec["mix"] = rng.choice(ODD_VALUES)
    if rng.random() < 0.1:
        rec[f"rare/{rng.randrange(40)}"] = rng.choice(ODD_VALUES)  # many key counts in one batch
    roll = rng.random()
    if roll < 0.04:
        del rec["step"]  # no step: the fallback counter, or the next free step
        if rng.random() < 0.5:
            rec["progress/batch"] = rng.choice([i, 0, 1])
    elif roll < 0.06:
        rec["step"] = rng.choice([float(step), "seven", None, True, 2.5])
    if rng.random() < 0.1:
        items = list(rec.items())
        rng.shuffle(items)  # same keys, another order
        rec = dict(items)
    return rec


def nasty_steps(rng: random.Random, n: int) -> list[int]:
    steps, s = [], 0
    for _ in range(n):
        roll = rng.random()
        if roll < 0.08:
            s = max(0, s - rng.randrange(1, 6))  # a resume re-logs earlier steps
        elif roll < 0.15:
            pass  # the same step again: merged, later values win
        elif roll < 0.18:
            s += rng.randrange(2, 9)  # a gap
        else:
            s += 1
        steps.append(s)
    return steps


HOSTILE_LINES = [
    "",
    "   ",
    "{not json",
    "[1, 2, 3]",
    "42",
    '{"step": 3, "deep": ' + "[" * 150 + "]" * 150 + "}",
    '{"step": 4, "nest": ' + '{"a": ' * 60 + "1" + "}" * 60 + "}",
    '{"step": 5, "text": "braces { and [ inside", "loss": 0.5}',
    '{"step": 123456789012345678901234567890, "loss": 1.0}',
    '{"step": 9007199254740993, "loss": 1.0}',
    '{"step": 6, "huge": 1' + "0" * 400 + ', "loss": NaN}',
    '{"step": 7, "loss": NaN, "reward": Infinity, "kl": -Infinity}',
    '{"step": 8, "loss": 1.0, "loss": 2.0}',
    '  {"step": 9, "loss": 0.25}  ',
    '{"step": 10, "loss": 0.5}\r',
]


def nasty_lines(seed: int, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    lines = [json.dumps(nasty_record(rng, i, s)) for i, s in enumerate(nasty_steps(rng, n))]
    for line in rng.sample(HOSTILE_LINES, k=len(HOSTILE_LINES)):
        lines.insert(rng.randrange(len(lines) + 1), line)
    return lines


@pytest.mark.parametrize("seed", range(12))
def test_nasty_files_read_as_before(tmp_path, seed):
    path = tmp_path / "metrics.jsonl"
    path.write_text("\n".join(nasty_lines(seed)) + "\n")
    for max_read in READS:
        assert_same_reading(path, max_read)


@pytest.mark.parametrize("seed", range(12))
def test_nasty_batches_ingest_as_before(seed):
    rng = random.Random(1000 + seed)
    recs = [nasty_record(rng, i, s) for i, s in enumerate(nasty_steps(rng, 400))]
    cuts = sorted(rng.sample(range(1, len(recs)), k=6))
    batches = [recs[a:b] for a, b in zip([0, *cuts], [*cuts, len(recs)], strict=True)]
    assert_same_ingest(batches)


def test_the_bulk_path_cases_ingest_as_before():
    """Each branch of the bulk transposition: one layout; an eval key every 4th row (evenly spaced);
    the same key count with other keys (the general path); more key counts than MAX_GROUPS; a sparse key
    on scattered rows; numbers and non-numbers in one sparse key; records without step; empty records;
    then small batches (under BULK_MIN, the general path) after big ones."""
    rows = [{"step": i, "a": i * 0.5, "n": i} for i in range(40)]
    spaced = [{**r, "eval": 1.0} if i % 4 == 1 else r for i, r in enumerate(rows)]
    same_size = [{"step": i, ("a" if i % 3 else "b"): 1.0} for i in range(30)]
    many_sizes = [{"step": i, **{f"k{j}": float(j) for j in range(i % 20)}} for i in range(60)]
    scattered = [{**r, "s": 2.0} if i in (1, 2, 3, 7, 20, 21, 33) else r for i, r in enumerate(rows)]
    mixed = [{**r, "m": ("x" if i % 6 == 0 else i)} if i % 3 == 0 else r for i, r in enumerate(rows)]
    no_step = [{"loss": float(i)} for i in range(20)] + [{}, {}, {"step": 3}]
    bools = [{"step": i, "flag": i % 2 == 0, "n": [1, True, 1.0][i % 3]} for i in range(24)]
    batches = (rows, spaced, same_size, many_sizes, scattered, mixed, no_step, bools)
    assert min(map(len, batches)) >= BULK_MIN  # the bulk path, not the one for small batches
    for batch in batches:
        table = assert_same_ingest([batch])
        assert len(table) > 0
    table = assert_same_ingest([rows[:10], spaced[5:30], mixed, scattered[30:], no_step])
    assert table.values("a")[:3] == [0.0, 0.5, 1.0]
