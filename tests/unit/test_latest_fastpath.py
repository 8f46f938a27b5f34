"""``MetricTable.latest()`` on a table in step order takes a fast path (issue 12: every summary of a changed
run asks for it): it must equal a plain model -- each key's value at its highest step, later lines win,
ints stay ints until the key holds a float, strings/booleans/nulls as logged."""

from __future__ import annotations

import math
import random

import pytest

from runner.runs.series import MetricTable

KEYS = ["loss", "reward", "count", "tag", "flag", "lr"]


def _value(rng: random.Random, key: str) -> object:
    if key == "tag":
        return rng.choice(["a", "b", None])
    if key == "flag":
        return rng.choice([True, False, 1, 2.5])
    if key == "count":
        return rng.randrange(100) if rng.random() < 0.9 else rng.choice([math.nan, 3.0])
    return rng.choice([rng.random(), rng.randrange(5), math.inf])


def _model(records: list[dict]) -> dict:
    """Each key's last value at its highest step; a key that ever held a float gives floats."""
    at: dict[str, tuple[int, object]] = {}
    floats: set[str] = set()
    for rec in records:
        for key, v in rec.items():
            if key == "step":
                continue
            if type(v) is float:
                floats.add(key)
            if key not in at or rec["step"] >= at[key][0]:
                at[key] = (rec["step"], v)
    out = {}
    for key, (_, v) in at.items():
        if type(v) is int and key in floats:
            v = float(v)
        out[key] = v
    return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


@pytest.mark.parametrize("seed", range(30))
def test_latest_in_step_order_matches_the_plain_model(seed: int) -> None:
    rng = random.Random(seed)
    table, records, step = MetricTable(), [], 0
    for _ in range(rng.randrange(1, 12)):  # batches, as a follower reads them
        batch = []
        for _ in range(rng.randrange(1, 6)):
            step += rng.choice([1, 1, 1, 2])
            rec = {"step": step} | {k: _value(rng, k) for k in KEYS if rng.random() < 0.6}
            batch.append(rec)
        table.ingest(batch, seen_time=float(step))
        records += batch
        latest, want = table.latest(), _model(records)
        assert table._sorted  # the fast path was taken (private: the test's own check of which path)
        assert latest.keys() == want.keys()
        assert all(_same(latest[k], want[k]) for k in want), (latest, want)
