"""A live run's batch of a line or two takes ``MetricTable._append_few`` (no transposition), and leaves the
table exactly as the old line-by-line code (``ingest_oracle``) does: dict orders, NaN bits, kinds."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from runner.runs import series
from runner.runs.columns import BULK_MIN
from tests.unit.test_ingest_differential import assert_same_ingest, nasty_record, nasty_steps


def small_batches(rng: random.Random, recs: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    out, i = [], 0
    while i < len(recs):
        n = rng.choice([1, 1, 2, 2, 3, BULK_MIN - 1])
        out.append(recs[i : i + n])
        i += n
    return out


@pytest.mark.parametrize("seed", range(12))
def test_small_nasty_batches_ingest_as_before(seed: int) -> None:
    rng = random.Random(2000 + seed)
    recs = [nasty_record(rng, i, s) for i, s in enumerate(nasty_steps(rng, 300))]
    assert_same_ingest([recs[:20], *small_batches(rng, recs[20:])])


def test_each_small_case_ingests_as_before() -> None:
    """Row by row and key by key: numbers only; a new key in the second record (several layouts, in
    known columns or not); a text, a bool, a NaN, a key that turns from text to a number; an empty record;
    a step that is no int; the same step twice (a merge)."""
    base = [{"step": i, "a": float(i), "n": i} for i in range(3)]
    batches = [
        base[:1],
        [{"step": 3, "a": 1.0, "n": 2}, {"step": 4, "a": 2.5, "n": 7}],
        [{"step": 5, "a": 1.0}, {"step": 6, "a": 2.0, "n": 1}],  # layouts differ, columns known
        [{"step": 7, "z": 1.0}, {"step": 8, "a": 2.0, "y": 3}],  # layouts differ, new columns
        [{"step": 9, "t": "x", "a": 1.0}, {"step": 10, "t": 2.0, "a": math.nan}],  # text, then a number
        [{"step": 11, "b": 1.0, "t": True}, {"step": 12, "b": "late", "t": None}],  # the last row not numeric
        [{"step": 13, "u": [1, 2], "v": {"k": 1}}],
        [{}],
        [{"step": 15.0, "a": 3.0}, {"step": "x", "a": 4.0}],
        [{"step": 16, "a": 1.0}, {"step": 16, "a": 2.0}],
        [{"step": 17, "a": 10**30, "n": -(2**70)}],
    ]
    table = assert_same_ingest(batches)
    assert table.values("t")[:2] == ["x", 2.0] and table.latest()["a"] == 10.0**30


def test_small_batches_are_not_transposed(monkeypatch: pytest.MonkeyPatch) -> None:
    transposed: list[int] = []
    real = series.columns_of
    monkeypatch.setattr(
        series, "columns_of", lambda recs, order=None: transposed.append(len(recs)) or real(recs, order)
    )  # a spy
    table = series.MetricTable()
    table.ingest(
        [{"step": i, "a": 1.0, "n": i, **({"e": 0.1} if i == 0 else {})} for i in range(BULK_MIN)], 1.0
    )
    for step in range(BULK_MIN, BULK_MIN + 6, 2):
        table.ingest(
            [{"step": step, "a": 2.0, "n": step}, {"step": step + 1, "a": 3.0, "e": 0.5, "n": 1}], 2.0
        )
    assert transposed == [BULK_MIN] and len(table) == BULK_MIN + 6
    assert table.column("e")[0] == [0, BULK_MIN + 1, BULK_MIN + 3, BULK_MIN + 5]
