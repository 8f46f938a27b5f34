"""More metric rules: entropy, response length, loss and grad-norm spikes, rollout errors, train vs eval,
step time. See :mod:`runner.alerts.rules` for the shape of a rule."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

import numpy as np

from runner.alerts.episodes import Episode, Judgement
from runner.alerts.rules import Ctx, Rule, _judgement, _log_z, fmt, is_train, short
from runner.alerts.series import (
    Points,
    align,
    finite_median,
    head_median,
    majority,
    median_may_exceed,
    rolling_count,
    rolling_max,
    rolling_median,
    trailing_median_mad,
)
from runner.alerts.settings import Settings

LENGTH_KEYS = ("env/all/ac_tokens_per_turn", "ac_tokens_per_turn")
CAP_GLOBS = ("*stop/max_tokens*", "*hit_length_limit*", "*clipped_ratio*", "*max_tokens_reached*")
SPIKE_GLOBS = ("train_mean_nll", "*loss*", "*grad_norm*", "*grad_l2*")
CAP_RE = re.compile("|".join(fnmatch.translate(g) for g in CAP_GLOBS))
SPIKE_RE = re.compile("|".join(fnmatch.translate(g) for g in SPIKE_GLOBS))


class _VsBaseline(Rule):
    """A rule comparing a metric's recent points with its median over the first ``baseline`` points."""

    def start(
        self, ctx: Ctx, key: str, pts: Points, lo: int, lag: int = 0
    ) -> tuple[np.ndarray, float] | None:
        """The indices to judge (from ``lo``, once the baseline and ``lag`` more points are in) and the
        baseline; None when there is nothing to judge or the baseline is not above 0."""
        n0 = int(self.p(ctx, "baseline", key))
        idx = np.arange(max(lo, n0 + lag), len(pts))
        base = head_median(pts, n0)
        return (idx, base) if len(idx) and base > 0 else None


class _Entropy(_VsBaseline):
    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ctx.keys if is_train(k) and k.endswith("optim/entropy")]


class EntropyCollapse(_Entropy):
    name, title = (
        "entropy_collapse",
        "entropy below 0.25x (warn) / 0.1x (crit) its median over the first 10 steps",
    )
    direction, window = -1, "median of the last 3 points vs the median of the first 10"

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        started = self.start(ctx, key, pts, lo)
        if started is None:
            return Judgement.none()
        (idx, base), x = started, pts.values
        recent = rolling_median(x, int(self.p(ctx, "recent", key)), idx)
        ratio = recent / base
        level = np.where(
            ratio < self.p(ctx, "crit", key), 3, np.where(ratio < self.p(ctx, "warn", key), 2, 0)
        )
        return _judgement(idx, level, recent, np.full(len(idx), base))

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        if not ep.value > 0:  # exactly 0 (logged as -0.0 too): every token sampled with certainty
            return (f"{key} collapsed to 0 (its first-steps median was {fmt(ep.threshold)}) from step "
                    f"{ep.first_step}: the policy stopped exploring.", "entropy 0")  # fmt: skip
        ratio = ep.threshold / ep.value
        return (f"{key} collapsed to {fmt(ep.value)}, {ratio:.0f}x below its first-steps median "
                f"{fmt(ep.threshold)}, from step {ep.first_step}: the policy stopped exploring.",
                f"entropy /{ratio:.0f}")  # fmt: skip


class EntropyBlowup(_Entropy):
    name, title = "entropy_blowup", "entropy above 2x its median over the first 10 steps and rising"
    window = "median of the last 3 points vs the first 10; rising over 10 steps"

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        started = self.start(ctx, key, pts, lo)
        if started is None:
            return Judgement.none()
        (idx, base), x = started, pts.values
        r, k, warn = (
            int(self.p(ctx, "recent", key)),
            int(self.p(ctx, "rising", key)),
            self.p(ctx, "warn", key),
        )
        cand = majority(x, r, idx, lambda v: v > warn * base)
        recent = rolling_median(x, r, idx, cand)
        rising = recent > rolling_median(x, r, np.maximum(idx - k, 0), cand)
        hit = (recent > warn * base) & rising
        return _judgement(idx, np.where(hit, 2, 0), recent, np.full(len(idx), base))

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        ratio = ep.value / ep.threshold
        return (f"{key} blew up to {fmt(ep.value)}, {ratio:.1f}x its first-steps median {fmt(ep.threshold)}, "
                f"from step {ep.first_step}: sampling is degenerating (learning rate too high?).",
                f"entropy x{ratio:.0f}")  # fmt: skip


def _max_tokens(config: dict | None) -> float | None:
    """The first ``max_tokens`` in the run's config (searched depth-first)."""
    stack: list[Any] = [config] if isinstance(config, dict) else []
    while stack:
        node = stack.pop(0)
        if isinstance(node, dict):
            v = node.get("max_tokens")
            if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
                return float(v)
            stack.extend(node.values())
    return None


class LengthCap(Rule):
    """Responses cut off at the length cap. Being at the cap from the very first step is still a warning,
    not "the configured regime": the reward is then judged on cut-off answers (the budget is too small
    for the task, or the model never stops), whatever max_tokens says. The demo's budget of 8 tokens is
    not such a case: its steady runs answer in 2-5 tokens; only the unstable run fills all 8, after
    answering in 4.7 at step 0."""

    name, title = (
        "length_cap",
        "responses at the length cap (truncated fraction > 0.2, or tokens at max_tokens)",
    )
    window = "last 2 steps"

    def metrics(self, ctx: Ctx) -> list[str]:
        caps = [k for k in ctx.keys if is_train(k) and CAP_RE.match(k)]
        return caps + [k for k in LENGTH_KEYS if k in ctx.keys]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, idx = pts.values, np.arange(lo, len(pts))
        k = int(self.p(ctx, "steps", key))
        if key not in LENGTH_KEYS:
            thr = self.p(ctx, "warn", key)
            hit = rolling_count(x, k, idx, lambda v: v > thr) >= k
            j = _judgement(idx, np.where(hit, 2, 0), x[idx], thr)
            j.onset = j.idx - k + 1
            return j
        cap = _max_tokens(ctx.config)
        if (
            cap is None
        ):  # no config: a mean length exactly at a round power of two is a cap every response hit
            cap_arr = np.where((x >= 512) & (np.log2(np.where(x > 0, x, 1)) % 1 == 0), x, np.inf)
        else:
            cap_arr = np.full(len(x), cap)
        at_cap = x >= self.p(ctx, "cap_frac", key) * cap_arr
        hit = rolling_count(at_cap.astype(float), k, idx, lambda v: v > 0) >= k
        j = _judgement(idx, np.where(hit, 2, 0), x[idx], cap_arr[idx])
        j.onset = j.idx - k + 1
        return j

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        if key in LENGTH_KEYS:
            return (f"{key} is {fmt(ep.value)}, at the {fmt(ep.threshold)}-token cap, from step {ep.first_step}: "
                    "responses are cut off before they end.", f"cap {fmt(ep.threshold)}")  # fmt: skip
        return (f"{key} is {fmt(ep.value)} (above {fmt(ep.threshold)}) from step {ep.first_step}: "
                "many responses hit the length limit.", f"trunc {ep.value:.0%}")  # fmt: skip


class LengthShift(_VsBaseline):
    name, title = "length_shift", "response length above 2x or below 0.25x its first steps while reward rises"
    window = "median of the last 5 points vs the median of the first 10"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in LENGTH_KEYS if k in ctx.keys][:1] if ctx.reward_key() else []

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        r = int(self.p(ctx, "recent", key))
        started = self.start(ctx, key, pts, lo, lag=r - 1)
        if started is None:
            return Judgement.none()
        (idx, base), x = started, pts.values
        up, down = self.p(ctx, "up", key), self.p(ctx, "down", key)
        cand = majority(x, r, idx, lambda v: (v > up * base) | (v < down * base))
        ratio = rolling_median(x, r, idx, cand) / base
        cand &= (ratio > up) | (ratio < down)
        reward = align(ctx.points(ctx.reward_key()), pts.steps)
        r_base = finite_median(reward[:3])  # the reward at the very start: rising means above it
        rising = rolling_median(reward, r, idx, cand) > r_base + 0.05 * max(abs(r_base), 0.1)
        bad = rising & ((ratio > up) | (ratio < down))
        return _judgement(idx, np.where(bad, 2, 0), ratio * base, np.full(len(idx), base))

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        ratio = ep.value / ep.threshold  # the baseline (threshold) is above 0, or the rule does not judge
        was = f"from {fmt(ep.threshold)}"
        if ratio > 1:
            how, flag = f"exploded {ratio:.1f}x (to {fmt(ep.value)} {was})", f"len x{ratio:.1f}"
        elif ratio > 0:
            how, flag = f"collapsed {1 / ratio:.1f}x (to {fmt(ep.value)} {was})", f"len /{1 / ratio:.0f}"
        else:  # responses of 0 tokens (or a nonsense negative count): no ratio to speak of
            how, flag = f"collapsed to {fmt(ep.value)} ({was})", "len 0"
        return (
            f"{key} {how} from step {ep.first_step} while reward rises: a likely reward shortcut.",
            flag,
        )


class Spike(Rule):
    """A grad-norm spike is judged with the loss beside it: with a loss spike at the same step it is a
    co-spike (critical); when a logged loss did not move it is a note (info: the optimiser absorbed it);
    with no loss logged at that step it stays a warning."""

    name = "spike"
    title = (
        "loss / grad-norm spike: robust MAD z on log values (z > 6 warn, z > 8 twice crit; grad: see loss)"
    )
    window = "trailing 100 points, log values"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ctx.keys if is_train(k) and SPIKE_RE.match(k)]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, idx = pts.values, np.arange(lo, len(pts))
        finite = x[np.isfinite(x)]
        if len(finite) and finite.min() <= 0:
            return Judgement.none()  # a signed loss (policy gradient): no log scale, no spike rule
        w, warm = int(self.p(ctx, "window", key)), int(self.p(ctx, "warmup", key))
        z = _log_z(x, idx, w, warm, self.p(ctx, "mad_floor", key))
        crit, prev = (
            self.p(ctx, "crit", key),
            _log_z(x, np.maximum(idx - 1, 0), w, warm, self.p(ctx, "mad_floor", key)),
        )
        level = np.where((z > crit) & (prev > crit), 3, np.where(z > self.p(ctx, "warn", key), 2, 0))
        running_max = np.concatenate([[np.inf], np.fmax.accumulate(x)[:-1]])[idx]
        level = np.where((idx >= warm) & (x[idx] > self.p(ctx, "factor", key) * running_max), 3, level)
        med, _ = trailing_median_mad(x, idx, w)
        j = _judgement(idx, level, x[idx], med)
        if "grad" in key and len(j.idx):
            loss_z, warn = self._loss_z(ctx, pts.steps[j.idx]), self.p(ctx, "warn", key)
            co, calm = loss_z > warn, loss_z <= warn  # both False where no loss is logged
            j.level = np.where(co, 3, np.where(calm & (j.level == 2), 1, j.level))
            notes = np.where(co, "co-spike", np.where(calm & (j.level == 1), "calm loss", ""))
            j.note = lambda w: str(notes[w])
        return j

    def _loss_z(self, ctx: Ctx, steps: np.ndarray) -> np.ndarray:
        """The highest robust z of the run's losses at ``steps`` (NaN where none is logged; +inf for a
        NaN/Inf loss)."""
        out = np.full(len(steps), np.nan)
        for k in ctx.keys:
            if "grad" in k or not (is_train(k) and SPIKE_RE.match(k)):
                continue
            lp = ctx.points(k)
            finite = lp.values[np.isfinite(lp.values)]
            if not len(lp) or (len(finite) and finite.min() <= 0):
                continue  # a signed loss has no log scale
            at = np.minimum(np.searchsorted(lp.steps, steps), len(lp) - 1)
            hit = lp.steps[at] == steps
            w, warm = int(self.p(ctx, "window", k)), int(self.p(ctx, "warmup", k))
            z = _log_z(lp.values, at[hit], w, warm, self.p(ctx, "mad_floor", k))
            z[~np.isfinite(lp.values[at[hit]])] = np.inf
            out[hit] = np.fmax(out[hit], z)
        return out

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        ratio = ep.value / ep.threshold if ep.threshold else float("inf")
        why = {
            "co-spike": " together with the loss (a co-spike: that update went wrong)",
            "calm loss": "; the loss did not move (the optimiser absorbed it): a note, not a warning",
        }.get(ep.note, "")
        return (f"{key} spiked to {fmt(ep.value)} at step {ep.first_step}, {ratio:.1f}x its trailing median "
                f"{fmt(ep.threshold)} (robust z on log values){why}.", f"{short(key)} x{ratio:.2g}")  # fmt: skip


class RolloutErrors(Rule):
    name, title = "rollout_errors", "rollout errors (rollout_errors/*) above 0 in 2 of the last 3 steps"
    window = "last 3 steps"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ctx.keys if k.startswith("rollout_errors/")]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, idx = pts.values, np.arange(lo, len(pts))
        n = rolling_count(x, int(self.p(ctx, "steps", key)), idx, lambda v: v > 0)
        return _judgement(idx, np.where((n >= self.p(ctx, "min_bad", key)) & (x[idx] > 0), 2, 0), x[idx], 0.0)

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        return (f"{key} is {fmt(ep.value)} (above {fmt(ep.threshold)}) from step {ep.first_step}: rollouts are "
                "failing.", f"errors {fmt(ep.value)}")  # fmt: skip


class TrainEval(Rule):
    name, title = "train_eval", "train reward rising while the eval score falls over the last 3 evals"
    window = "last 3 evals"

    def metrics(self, ctx: Ctx) -> list[str]:
        if not ctx.reward_key():
            return []
        evals = [
            k for k in ctx.keys if not is_train(k) and (k.endswith("reward/total") or k.endswith("pass_at_1"))
        ]
        return evals[:1]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, n = pts.values, int(self.p(ctx, "evals", key))
        idx = np.arange(max(lo, n - 1), len(pts))
        if not len(idx):
            return Judgement.none()
        train = ctx.points(ctx.reward_key())
        falling = np.ones(len(idx), dtype=bool)
        for back in range(1, n):
            falling &= x[idx - back + 1] < x[idx - back]
        now = _mean_before(train, pts.steps[idx])
        then = _mean_before(train, pts.steps[idx - n + 1])
        drop = (x[idx - n + 1] - x[idx]) / np.maximum(np.abs(x[idx - n + 1]), 1e-9)
        bad = (
            falling
            & (drop >= self.p(ctx, "min_drop", key))
            & (now > then + 0.01 * np.maximum(np.abs(then), 0.1))
        )
        return _judgement(idx, np.where(bad, 2, 0), x[idx], x[idx - n + 1])

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        return (
            f"{key} fell to {fmt(ep.value)} (from {fmt(ep.threshold)}) by step {ep.first_step} while the "
            "train reward rose: the policy may be exploiting the reward.",
            "eval falls",
        )


def _mean_before(train: Points, steps: np.ndarray, k: int = 5) -> np.ndarray:
    """Mean of the finite values among the ``k`` train points at or before each step."""
    end = np.searchsorted(train.steps, steps, side="right")
    ok = np.isfinite(train.values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(ok, train.values, 0.0))])
    counts = np.concatenate([[0], np.cumsum(ok)])
    start = np.maximum(end - k, 0)
    n = counts[end] - counts[start]
    with np.errstate(all="ignore"):
        return np.where(n > 0, (sums[end] - sums[start]) / np.maximum(n, 1), np.nan)


class Slow(Rule):
    name, title = "slow", "step time (time/total) above its running median (a note, a warning from 4x)"
    window = "median of the last 10 steps vs the trailing 100"

    def metrics(self, ctx: Ctx) -> list[str]:
        return [k for k in ("time/total",) if k in ctx.keys]

    def judge(self, ctx: Ctx, key: str, pts: Points, lo: int) -> Judgement:
        x, warm, r = pts.values, int(self.p(ctx, "warmup", key)), int(self.p(ctx, "recent", key))
        idx = np.arange(max(lo, warm), len(pts))
        if not len(idx):
            return Judgement.none()
        info, warn = self.p(ctx, "info", key), self.p(ctx, "warn", key)
        window = int(self.p(ctx, "window", key))
        med = trailing_median_mad(x, np.maximum(idx - r + 1, 0), window, block=20, with_mad=False)[0]
        # the lower of the two thresholds: settings may put warn below info (a warning from 2x, no note)
        lowest = min(info, warn)
        recent = rolling_median(x, r, idx, _may_pass(x, r, idx, lowest, med))  # the others stay NaN
        ratio = recent / med
        level = np.where(ratio > warn, 2, np.where(ratio > info, 1, 0))
        return _judgement(idx, level, recent, med)

    def describe(self, key: str, ep: Episode, s: Settings) -> tuple[str, str]:
        ratio = ep.value / ep.threshold if ep.threshold else float("inf")
        return (f"steps got slower: {key} median {fmt(ep.value)} s, {ratio:.1f}x the earlier {fmt(ep.threshold)} s, "
                f"from step {ep.first_step}.", f"slow x{ratio:.1f}")  # fmt: skip


def _may_pass(x: np.ndarray, r: int, idx: np.ndarray, info: float, med: np.ndarray) -> np.ndarray:
    """Where the median of the last ``r`` points over ``med`` can be above ``info``: with ``med`` above 0,
    only where that median can be above ``info * med``; elsewhere (a step time at or below 0, a nonsense
    but possible value) where the largest of those points is, as before."""
    with np.errstate(invalid="ignore"):
        positive = med > 0
        may = median_may_exceed(x, r, idx, info * med) & positive
        if not positive.all():
            may |= ~positive & (rolling_max(x, r, idx) > info * med)
    return may
