"""The metric rules: each judges a metric's new points, vectorised, with robust statistics.

Every rule is one-sided (``direction``: +1 higher is worse, -1 lower is worse), waits for its warm-up,
and leaves hysteresis to :mod:`runner.alerts.episodes`. Thresholds come from the settings (the
tinker-cookbook profile, overridden by ``tinkertop.toml``).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from runner.alerts.episodes import Episode, Judgement
from runner.alerts.series import MAD_SCALE, Points, align, rolling_all, rolling_count, trailing_median_mad
from runner.alerts.settings import Settings
from runner.runs.kinds import headline_key

EVAL_PREFIXES = ("test/", "eval/")
REWARD_KEYS = ("env/all/reward/total", "reward/total", "mean_reward")
HELD_OUT = (*EVAL_PREFIXES, "val/", "validation/", "final/")  # never the train reward


def fmt(v: float | None) -> str:
    if v is None or v != v:
        return "NaN"
    return f"{v:.4g}"


def short(key: str) -> str:
    """A metric's last name part, for flags: ``train_mean_nll`` -> ``nll``, ``optim/entropy`` -> ``entropy``."""
    name = key.rsplit("/", 1)[-1].split(":")[0]
    if "grad" in name:
        return "grad"
    return {"train_mean_nll": "loss", "kl_sample_train_v1": "KL", "kl_sample_train_v2": "KL"}.get(name, name)[
        :12
    ]


def is_train(key: str) -> bool:
    return not key.startswith(EVAL_PREFIXES)


@dataclass
class Ctx:
    """What a rule may look at besides its own metric: other metrics, the settings, the run's config."""

    settings: Settings
    points: Any  # callable key -> Points
    keys: list[str]
    config: dict | None

    def reward_key(self) -> str | None:
        return self._reward_key

    @cached_property
    def _reward_key(self) -> str | None:
        """The train reward: one of REWARD_KEYS, else the RL headline the runs list shows (``reward/mean``,
        ``reward/pass@1``, ``train/reward``...) among the training keys, unless that is a loss."""
        fixed = next((k for k in REWARD_KEYS if k in self.keys), None)
        if fixed is not None:
            return fixed
        key = headline_key("rl", [k for k in self.keys if not k.startswith(HELD_OUT)])
        return None if key is None or key.rsplit("/", 1)[-1].endswith(("nll", "loss")) else key


class Rule:
    name: ClassVar[str]
    title: ClassVar[str]
    direction: ClassVar[int] = 1
    window: ClassVar[str] = ""

    def metrics(self, ctx: Ctx) -> list[str]:
        raise NotImplementedError

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        raise NotImplementedError

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        raise NotImplementedError

    def p(self, ctx: Ctx, name: str, key: str) -> float:
        return ctx.settings.num(self.name, name, key)


def _judgement(idx: np.ndarray, level: np.ndarray, value: np.ndarray, thr: Any) -> Judgement:
    keep = level > 0
    if not keep.any():  # the usual verdict: nothing bad (the same empty arrays, for less)
        return Judgement(idx[:0], level[:0].astype(np.int64), value[:0], np.zeros(0))
    thr_arr = np.broadcast_to(np.asarray(thr, dtype=float), level.shape)
    return Judgement(idx[keep], level[keep].astype(np.int64), value[keep], np.array(thr_arr[keep]))


class NonFinite(Rule):
    name, title, window = "non_finite", "a NaN or infinite value in any metric", "each value"

    def metrics(self, ctx: Ctx) -> list[str]:
        return ctx.keys

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        bad = np.flatnonzero(~np.isfinite(pts.values[lo:])) + lo
        return Judgement(bad, np.full(len(bad), 3), pts.values[bad], np.full(len(bad), np.nan))

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        what = "NaN" if ep.value != ep.value else ("+Inf" if ep.value > 0 else "-Inf")
        return f"{key} is {what} at step {ep.first_step}.", f"{what} {short(key)}"


class KlSampleTrain(Rule):
    name, title = "kl_sample_train", "sampler/learner KL above 0.01 (2 of 3 steps), or above 0.05, or a spike"
    window = "last 3 steps; spike: trailing 50 points, log values"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ctx.keys if is_train(k) and fnmatch.fnmatchcase(k, "*kl_sample_train_v[12]")]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, idx = pts.values, np.arange(lo, len(pts))
        warn, crit = self.p(ctx, "warn", key), self.p(ctx, "crit", key)
        sustained = rolling_count(x, 3, idx, lambda v: v > warn) >= 2
        z = _log_z(
            x, idx, int(self.p(ctx, "window", key)), int(self.p(ctx, "warmup", key)), 0.1, x[idx] > warn
        )
        level = np.where(sustained & (x[idx] > warn), 2, 0)
        level = np.where((x[idx] > crit) | ((z > self.p(ctx, "z", key)) & (x[idx] > warn)), 3, level)
        return _judgement(idx, level, x[idx], np.where(level == 3, crit, warn))

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        msg = (f"{key} reached {fmt(ep.value)} (above {fmt(ep.threshold)}) from step {ep.first_step}; "
               "the cookbook keeps it below 0.01: lower the learning rate.")  # fmt: skip
        return msg, f"KL {ep.value:.2g}"


class KlBase(Rule):
    """A spike of the KL to the base/reference policy, or that KL below 0: the cookbook's
    ``kl_policy_base`` (and TRL's ``objective/kl``) is a k1 estimate, the mean of log p_policy -
    log p_base over sampled tokens, which scatters around 0 while the policy is the base but cannot stay
    below 0 (``neg_steps`` in a row under ``-neg_tol``): the two logprobs then disagree."""

    name = "kl_base"
    title = "KL to the base/reference policy spikes (robust z and above 2x its median), or stays below 0"
    window = "trailing 50 points, log values; below 0: consecutive steps"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ctx.keys if is_train(k) and (k.endswith("kl_policy_base") or k == "objective/kl")]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, idx = pts.values, np.arange(lo, len(pts))
        w, warm = int(self.p(ctx, "window", key)), int(self.p(ctx, "warmup", key))
        ratio = self.p(ctx, "ratio", key)
        floor = np.concatenate([[np.inf], np.fmin.accumulate(np.where(x > 0, x, np.inf))[:-1]])[idx]
        z = _log_z(x, idx, w, warm, 0.1, x[idx] > ratio * floor)  # the median is at least the minimum so far
        hit = z > self.p(ctx, "z", key)
        med = np.full(len(idx), np.nan)
        if hit.any():
            med[hit] = trailing_median_mad(x, idx[hit], w)[0]
        hit &= x[idx] > ratio * np.abs(med)
        tol, k = self.p(ctx, "neg_tol", key), int(self.p(ctx, "neg_steps", key))
        neg = rolling_all(x, k, idx, lambda v: v < -tol)
        j = _judgement(idx, np.where(hit | neg, 2, 0), x[idx], np.where(neg, -tol, med))
        negative = neg[hit | neg]
        j.rank = np.where(negative, -j.value, j.value)  # the lowest below 0, else the highest
        j.onset = np.where(negative, j.idx - k + 1, j.idx)
        j.note = lambda w: "negative" if negative[w] else ""
        return j

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        if ep.note == "negative":
            k = int(s.num(self.name, "neg_steps", key))
            return (f"{key} is below 0 ({fmt(ep.value)}, under {fmt(ep.threshold)} for {k}+ steps) from step "
                    f"{ep.first_step}: a KL cannot stay negative, so the sampled logprobs and the base logprobs "
                    "disagree (sampling temperature or top-p, another base model or renderer).",
                    "KLref <0")  # fmt: skip
        ratio = ep.value / ep.threshold if ep.threshold else math.inf
        return (f"{key} spiked to {fmt(ep.value)} at step {ep.first_step}, {ratio:.1f}x its trailing median "
                f"{fmt(ep.threshold)}.", f"KLref x{ratio:.2g}")  # fmt: skip


class NoSignal(Rule):
    name, title = "no_signal", "no learning signal: frac_mixed near 0 (every group all right or all wrong)"
    direction, window = -1, "consecutive steps"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ctx.keys if is_train(k) and k.endswith("by_group/frac_mixed")]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, idx = pts.values, np.arange(lo, len(pts))
        warn, crit = self.p(ctx, "warn", key), self.p(ctx, "crit", key)
        w = rolling_all(x, int(self.p(ctx, "warn_steps", key)), idx, lambda v: v < warn)
        c = rolling_all(x, int(self.p(ctx, "crit_steps", key)), idx, lambda v: v <= crit)
        level = np.where(c, 3, np.where(w, 2, 0))
        j = _judgement(idx, level, x[idx], np.where(level == 3, crit, warn))
        bad = align(ctx.points(key.replace("frac_mixed", "frac_all_bad")), pts.steps[j.idx])
        good = align(ctx.points(key.replace("frac_mixed", "frac_all_good")), pts.steps[j.idx])
        j.note = lambda w: _side(float(bad[w]), float(good[w]))
        j.onset = (
            j.idx - np.where(j.level == 3, self.p(ctx, "crit_steps", key), self.p(ctx, "warn_steps", key)) + 1
        )
        return j

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        return (f"{key} is {fmt(ep.value)} (at most {fmt(ep.threshold)}) from step {ep.first_step}: "
                f"{ep.note or 'groups have no reward spread'}, so advantages are zero and nothing is learnt.",
                "no signal" + (" (easy)" if "easy" in ep.note else " (hard)" if "hard" in ep.note else ""))  # fmt: skip


def _side(bad: float, good: float) -> str:
    if bad == bad and bad >= 0.5 and not good > bad:
        return f"{bad:.0%} of groups all wrong (too hard)"
    if good == good and good >= 0.5:
        return f"{good:.0%} of groups all right (too easy)"
    return "groups all right or all wrong"


class RewardPinned(Rule):
    name, title = "reward_pinned", "reward pinned at one value (a floor or a ceiling) for k steps"
    window = "last 10 steps"

    def metrics(self, ctx: Ctx) -> list[str]:
        key = ctx.reward_key()
        return [key] if key else []

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x = pts.values
        k, warm = int(self.p(ctx, "steps", key)), int(self.p(ctx, "warmup", key))
        idx = np.arange(max(lo, warm + k - 1), len(pts))
        if not len(idx):
            return Judgement.none()
        j = _judgement(idx, np.where(_flat_vec(x, k, idx), 2, 0), x[idx], np.nan)
        j.onset = j.idx - k + 1
        seen_min = np.fmin.accumulate(x)[j.idx]
        seen_max = np.fmax.accumulate(x)[j.idx]
        j.note = lambda w: (
            "floor" if j.value[w] <= seen_min[w] else "ceiling" if j.value[w] >= seen_max[w] else "level"
        )
        return j

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        k = int(s.num(self.name, "steps", key))
        where = {
            "floor": "at its lowest (a floor, e.g. the format penalty)",
            "ceiling": "at its highest (a ceiling)",
        }
        return (f"{key} has been exactly {fmt(ep.value)} for {k}+ steps since step {ep.first_step}, "
                f"{where.get(ep.note, 'at one value')}: no reward spread to learn from.",
                f"flat {fmt(ep.value)}")  # fmt: skip


def _flat_vec(x: np.ndarray, k: int, idx: np.ndarray) -> np.ndarray:
    """True where the last ``k`` points are all finite and exactly equal."""
    same = np.concatenate([[False], (x[1:] == x[:-1]) & np.isfinite(x[1:])])
    return rolling_all(same.astype(float), k - 1, idx, lambda v: v > 0)


def _log_z(
    x: np.ndarray, idx: np.ndarray, window: int, warmup: int, mad_floor: float, cand: np.ndarray | None = None
) -> np.ndarray:
    """Robust z of log(x) against the trailing window (0 during warm-up, for non-positive values, and
    where ``cand`` (a mask over ``idx``: points that could matter) is False)."""
    z = np.zeros(len(idx))
    keep = (idx >= warmup) & (x[idx] > 0) & (True if cand is None else cand)
    at = idx[keep]
    if not len(at):
        return z
    with np.errstate(all="ignore"):
        lx = np.log(np.where(x > 0, x, np.nan))
        med, mad = trailing_median_mad(lx, at, window)
        z[keep] = MAD_SCALE * (lx[at] - med) / np.maximum(mad, mad_floor)
    return np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0)
