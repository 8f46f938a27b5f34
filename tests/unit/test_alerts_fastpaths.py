"""Differential tests of the alert helpers' fast paths: the new code against the code it replaced (kept
here verbatim as the reference), on every numeric series of the real runs and on series with NaN, Inf,
-0.0, steps and gaps. Same numbers bit for bit (NaN where NaN), same alerts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from runner.alerts import series as S
from runner.alerts.episodes import Judgement
from runner.alerts.rules import Ctx, _judgement
from runner.alerts.rules_more import Slow
from runner.alerts.settings import Settings, parse_settings
from runner.runs.discover import discover
from runner.runs.folder import RunFolder
from tests.unit.test_alerts_helpers import REALDATA


# ---- the replaced code, verbatim ----------------------------------------------------------------
def old_nan_median_rows(rows: np.ndarray) -> np.ndarray:
    if not rows.size:
        return np.full(len(rows), np.nan)
    finite = np.isfinite(rows)
    if finite.all():
        srt = np.sort(rows, axis=1)
        k = srt.shape[1]
        return (srt[:, (k - 1) // 2] + srt[:, k // 2]) / 2
    rows = np.where(finite, rows, np.nan)
    srt = np.sort(rows, axis=1)  # NaN sort last
    cnt = np.sum(~np.isnan(srt), axis=1)
    r = np.arange(len(srt))
    lo, hi = np.maximum((cnt - 1) // 2, 0), np.maximum(cnt // 2, 0)
    hi = np.minimum(hi, srt.shape[1] - 1) if srt.shape[1] else hi
    if not srt.shape[1]:
        return np.full(len(srt), np.nan)
    out = (srt[r, lo] + srt[r, hi]) / 2
    out[cnt == 0] = np.nan
    return out


def old_rolling_max(x: np.ndarray, k: int, idx: np.ndarray) -> np.ndarray:
    clean = np.where(np.isnan(x), -np.inf, x)
    out = np.full(len(idx), -np.inf)
    for back in range(k):
        at = idx - back
        ok = at >= 0
        out[ok] = np.maximum(out[ok], clean[at[ok]])
    return out


def old_head_median(x: np.ndarray, n: int) -> float:
    head = x[:n]
    head = head[np.isfinite(head)]
    return float(np.median(head)) if len(head) else float("nan")


def old_slow_judge(rule: Slow, ctx: Ctx, key: str, pts: S.Points, lo: int) -> Judgement:
    x, warm, r = pts.values, int(rule.p(ctx, "warmup", key)), int(rule.p(ctx, "recent", key))
    idx = np.arange(max(lo, warm), len(pts))
    if not len(idx):
        return Judgement.none()
    info = rule.p(ctx, "info", key)
    window = int(rule.p(ctx, "window", key))
    med = S.trailing_median_mad(x, np.maximum(idx - r + 1, 0), window, block=20, with_mad=False)[0]
    recent = S.rolling_median(x, r, idx, old_rolling_max(x, r, idx) > info * med)
    ratio = recent / med
    level = np.where(ratio > rule.p(ctx, "warn", key), 2, np.where(ratio > rule.p(ctx, "info", key), 1, 0))
    return _judgement(idx, level, recent, med)


def old_nonfinite_keys(cols: Any, start: int) -> list[str]:
    skip, n = max(start - cols.start, 0), len(cols.steps)
    keys = list(cols.values)
    if n <= skip or not keys:
        return []
    if any(len(cols.values[k]) != n or len(cols.present[k]) != n for k in keys):
        return [k for k in keys if S._nonfinite_one(cols, k, skip)]
    values = np.frombuffer(b"".join(memoryview(cols.values[k])[skip:] for k in keys), dtype=np.float64)
    present = np.frombuffer(b"".join(memoryview(cols.present[k])[skip:] for k in keys), dtype=np.bool_)
    bad = (~np.isfinite(values) & present).reshape(len(keys), n - skip).any(axis=1)
    return [keys[i] for i in np.flatnonzero(bad).tolist()]


# ---- the series -----------------------------------------------------------------------------------
def real_tables() -> list[Any]:
    tables = []
    for found in discover([REALDATA]):
        if found.foreign:
            continue
        run = RunFolder(found.path)
        run.refresh()
        if len(run.table):
            tables.append(run.table)
    return tables


def synthetic() -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    base = rng.lognormal(0, 0.5, 400)
    out = [base, np.zeros(0), np.array([1.0]), np.full(30, np.nan), np.full(40, -0.0)]
    holes = base.copy()
    holes[rng.choice(400, 60, replace=False)] = np.nan
    holes[[5, 77]] = np.inf
    holes[[9, 300]] = -np.inf
    out.append(holes)
    signed = np.concatenate([np.zeros(20), -np.zeros(20), rng.normal(0, 1, 100), np.full(10, 7.0)])
    out.append(signed)
    slow = base.copy()
    slow[250:] *= 6  # steps got slower: the slow rule fires
    slow[300:310] = np.nan
    out.append(slow)
    return out


def series_under_test() -> list[np.ndarray]:
    reals = [
        S.read_column(t, k).values for t in real_tables() for k in t.numeric_keys() if len(t.numbers(k)) > 1
    ]
    assert len(reals) > 100  # the real runs are there and read
    return reals + synthetic()


@pytest.fixture(scope="module")
def all_series() -> list[np.ndarray]:
    return series_under_test()


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit (so -0.0 is not 0.0, and NaN equals NaN)."""
    return a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10, 100])
def test_rolling_median_and_max_as_before(all_series: list[np.ndarray], k: int) -> None:
    for x in [x for x in all_series if len(x)]:
        for idx in (np.arange(len(x)), np.arange(min(len(x), 12), len(x)), np.arange(0, len(x), 3)):
            padded = np.concatenate([np.full(k - 1, np.nan), x])
            rows = np.lib.stride_tricks.sliding_window_view(padded, k)[idx]
            assert same(S._nan_median_rows(rows), old_nan_median_rows(rows))
            assert same(S.rolling_max(x, k, idx), old_rolling_max(x, k, idx))


def test_median_filter_never_drops_a_median_above_the_threshold(all_series: list[np.ndarray]) -> None:
    rng = np.random.default_rng(3)
    for x in all_series:
        idx = np.arange(len(x))
        for k in (1, 2, 3, 10):
            finite = x[np.isfinite(x)]
            for thr in (
                [np.full(len(idx), q) for q in np.quantile(finite, [0.1, 0.5, 0.9])] if len(finite) else []
            ):
                thr = thr * rng.uniform(0.9, 1.1, len(idx))
                may = S.median_may_exceed(x, k, idx, thr)
                with np.errstate(invalid="ignore"):
                    above = S.rolling_median(x, k, idx) > thr
                assert not (above & ~may).any()  # a filter: every median above its threshold passes


def test_head_median_as_before(all_series: list[np.ndarray]) -> None:
    for x in all_series:
        for n in (1, 2, 3, 10, 11):
            got, want = S.head_median(S.Points(np.arange(len(x)), x), n), old_head_median(x, n)
            assert (got == want or (got != got and want != want)) and np.signbit(got) == np.signbit(want)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_slow_rule_as_before(all_series: list[np.ndarray]) -> None:  # step times of 0: x / 0, as ever
    rule, ctx = Slow(), Ctx(Settings(), lambda key: S.EMPTY, ["time/total"], None)
    fired = 0
    for x in all_series:
        pts = S.Points(np.arange(len(x), dtype=np.int64), x)
        for lo in (0, len(x) // 2):
            new, old = (
                rule.judge(ctx, "time/total", pts, lo),
                old_slow_judge(rule, ctx, "time/total", pts, lo),
            )
            assert same(new.idx, old.idx) and same(new.level, old.level)
            assert same(new.value, old.value) and same(new.threshold, old.threshold)
            fired += len(new.idx)
    assert fired  # the synthetic slow-down fires, so the comparison covers alerts, not only silence


def test_nonfinite_keys_as_before() -> None:
    for table in real_tables():
        n = len(table)
        for start in (0, n // 2, n - 1, n):
            cols = table.columns_since(None, 0)
            assert S.nonfinite_keys(cols, start) == old_nonfinite_keys(cols, start)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_slow_rule_with_warn_below_info_matches_unfiltered_medians(all_series: list[np.ndarray]) -> None:
    """Settings may put the warning below the note (``[alerts.slow] info = 4, warn = 2``): the median filter
    must let every median above the lower of the two through (it filtered on ``info`` only, so a recent
    median of 2.5x under a window max of 2.5x never warned). Reference: every median computed."""
    settings = parse_settings({"alerts": {"slow": {"info": 4.0, "warn": 2.0}}}, "tinkertop.toml")
    rule, ctx = Slow(), Ctx(settings, lambda key: S.EMPTY, ["time/total"], None)
    r, window, warm = (int(rule.p(ctx, name, "time/total")) for name in ("recent", "window", "warmup"))
    x = np.concatenate([np.ones(150), np.full(40, 2.5)])  # the recent median goes to 2.5x: warnings only
    warned = 0
    for series in [*all_series, x]:
        pts = S.Points(np.arange(len(series), dtype=np.int64), series)
        idx = np.arange(warm, len(series))
        med = S.trailing_median_mad(series, np.maximum(idx - r + 1, 0), window, block=20, with_mad=False)[0]
        ratio = S.rolling_median(series, r, idx) / med
        want = idx[ratio > 2.0]
        got = rule.judge(ctx, "time/total", pts, 0)
        assert same(got.idx[got.level == 2], want)
        warned += len(want)
    assert warned
