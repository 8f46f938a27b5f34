"""Assemble trajectories from the parts the files hold: summaries (all trajectories, no text), a
logtree (text for the first few groups) and each group's episode details; then group them, derive
advantages and the reward histogram.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runner.rollouts.logtree import Episode, GroupLog, Transcript, TreeLog
from runner.rollouts.trajectory import HIST_BINS, Iteration, IterationRef, Message, Trajectory


@dataclass
class Draft:
    """A trajectory being assembled (mutable until ``freeze``)."""

    group: int
    index: int
    reward: float | None = None
    step_rewards: list[float] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    tokens: int | None = None
    stop_reason: str | None = None


def _float(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return None


def from_summary(record: dict[str, Any]) -> Draft:
    """A draft from one ``*_rollout_summaries.jsonl`` record (schema 1)."""
    draft = Draft(int(record.get("group_idx", 0)), int(record.get("traj_idx", 0)))
    draft.reward = _float(record.get("total_reward"))
    steps = [s for s in record.get("steps") or [] if isinstance(s, dict)]
    draft.step_rewards = [r for s in steps if (r := _float(s.get("reward"))) is not None]
    tokens = [int(s["ac_len"]) for s in steps if isinstance(s.get("ac_len"), int)]
    draft.tokens = sum(tokens) if tokens else None
    for k, step in enumerate(steps):
        for key, value in (step.get("metrics") or {}).items():
            if (num := _float(value)) is not None:
                draft.metrics[str(key)] = num
        for key, value in (step.get("logs") or {}).items():
            draft.logs[str(key) if len(steps) == 1 else f"turn {k + 1} {key}"] = str(value)
    for key, value in (record.get("trajectory_metrics") or {}).items():
        if (num := _float(value)) is not None:
            draft.metrics[str(key)] = num
    final = _float(record.get("final_reward"))
    if final:
        draft.metrics.setdefault("final_reward", final)
    draft.stop_reason = stop_reason(draft.metrics)
    return draft


def stop_reason(metrics: dict[str, float]) -> str | None:
    """``max_tokens`` and the like, from the env metrics (``stop/<reason>``, ``max_tokens_reached``)."""
    for key, value in metrics.items():
        if key.startswith("stop/") and value > 0:
            return key[len("stop/") :]
    if metrics.get("max_tokens_reached", 0) > 0 or metrics.get("num_truncations_max_turn_tokens", 0) > 0:
        return "max_tokens"
    return None


def from_episode(group: int, ep: Episode) -> Draft:
    """A draft from a logtree episode (when there are no summaries)."""
    draft = Draft(group, ep.index, step_rewards=list(ep.step_rewards), tokens=ep.tokens)
    draft.reward = ep.total if ep.total is not None else (sum(ep.step_rewards) if ep.step_rewards else None)
    draft.metrics = dict(ep.metrics)
    draft.logs = dict(ep.logs)
    draft.stop_reason = stop_reason(draft.metrics)
    return draft


def drafts_from_tree(tree: TreeLog) -> list[Draft]:
    """Drafts for every trajectory the tree knows (episodes, else one per transcript)."""
    out: list[Draft] = []
    for g, group in enumerate(tree.groups):
        if group.episodes:
            out.extend(from_episode(g, group.episodes[i]) for i in sorted(group.episodes))
        else:
            out.extend(Draft(g, i) for i in range(len(group.transcripts)))
    return out


def _reward_key(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def _agreement(tr: Transcript, draft: Draft) -> int:
    agree = 0
    for key, text in tr.table.items():
        alias = {"format_valid": "format"}.get(key, key)
        if alias in draft.metrics:
            value = {"true": 1.0, "false": 0.0}.get(text.strip().lower())
            agree += value is not None and value == draft.metrics[alias]
    return agree


def _match(tr: Transcript, free: list[Draft]) -> Draft:
    """The draft a transcript (logged in completion order) belongs to: same step reward (3 decimals),
    then the most reward components agreeing with its metrics, then the lowest index."""
    want = tr.table.get("reward", "")
    same = [d for d in free if want and _reward_key(sum(d.step_rewards) if d.step_rewards else None) == want]
    pool = same or free
    return max(pool, key=lambda d: (_agreement(tr, d), -d.index))


def attach_text(drafts: list[Draft], tree: TreeLog, ordered: bool, skip_failed: bool = False) -> int:
    """Give each draft its transcript; ``ordered``: the file lists transcripts in trajectory order
    (older layout) rather than completion order. ``skip_failed``: the drafts come from summaries, which
    number only the groups that succeeded, so a logged group without episode details (its rollout
    raised) is passed over. Returns how many groups had text."""
    by_group: dict[int, list[Draft]] = {}
    for d in drafts:
        by_group.setdefault(d.group, []).append(d)
    logged = tree.groups
    if skip_failed and any(g.episodes for g in logged):
        logged = [g for g in logged if g.episodes]
    for g, group in enumerate(logged):
        free = sorted(by_group.get(g, []), key=lambda d: d.index)
        for tr in group.transcripts:
            if not free:
                break
            target = free[0] if ordered else _match(tr, free)
            free.remove(target)
            _fill(target, tr, group.episodes.get(target.index))
        for d in free:  # no transcript: the env's per-turn diagnostics are still readable text
            ep = group.episodes.get(d.index)
            if ep is not None and not d.messages:
                d.messages = list(ep.env_text)
    return len({d.group for d in drafts if d.messages})


def _fill(draft: Draft, tr: Transcript, ep: Episode | None) -> None:
    draft.messages = list(tr.messages)
    if tr.table:
        draft.messages.append(Message("env", "\n".join(f"{k}: {v}" for k, v in tr.table.items())))
    if ep is not None:
        draft.messages.extend(ep.env_text)
    for key, value in {**tr.table, **tr.labels}.items():
        draft.logs.setdefault(key, value)
    if draft.reward is None:
        draft.reward = _label_reward(tr)


def _label_reward(tr: Transcript) -> float | None:
    for key, value in {**tr.labels, **tr.table}.items():
        if key.lower().startswith("reward"):
            try:
                return float(value)
            except ValueError:
                continue
    return None


def histogram(values: Sequence[float], bins: int = HIST_BINS) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """Counts and edges (bins+1) over the finite values; both empty without any."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return (), ()
    lo, hi = min(finite), max(finite)
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    half = hi / 2 - lo / 2  # halves: hi - lo overflows to inf for the widest floats
    counts = [0] * bins
    for v in finite:
        counts[min(bins - 1, int((v / 2 - lo / 2) / half * bins))] += 1
    return tuple(counts), tuple(lo * (1 - k / bins) + hi * (k / bins) for k in range(bins + 1))


def freeze(
    ref: IterationRef, drafts: Iterable[Draft], note: str | None, problems: Sequence[str]
) -> Iteration:
    """The iteration: trajectories by (group, index), advantages, groups, histogram."""
    ordered = sorted(drafts, key=lambda d: (d.group, d.index))
    groups: dict[int, list[Trajectory]] = {}
    for d in ordered:
        traj = Trajectory(
            group=d.group,
            index=d.index,
            reward=d.reward,
            step_rewards=tuple(d.step_rewards),
            metrics=dict(d.metrics),
            logs=dict(d.logs),
            messages=tuple(d.messages),
            tokens=d.tokens,
            stop_reason=d.stop_reason,
            has_text=bool(d.messages),
        )
        groups.setdefault(d.group, []).append(traj)
    grouped = tuple(tuple(_with_advantage(trajs)) for _, trajs in sorted(groups.items()))
    flat = tuple(t for g in grouped for t in g)
    counts, edges = histogram([t.reward for t in flat if t.reward is not None])
    ref = replace(ref, n_trajectories=len(flat), reward_mean=_mean([t.reward for t in flat]))
    return Iteration(ref, flat, grouped, note, counts, edges, tuple(problems))


def _mean(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None and math.isfinite(v)]
    return sum(known) / len(known) if known else None


def _with_advantage(trajs: list[Trajectory]) -> list[Trajectory]:
    rewards = [t.reward for t in trajs]
    if any(r is None or not math.isfinite(r) for r in rewards):
        return trajs
    mean = sum(r for r in rewards if r is not None) / len(rewards)
    return [replace(t, advantage=(t.reward or 0.0) - mean) for t in trajs]


def text_note(n_groups: int, with_text: int, has_tree: bool) -> str | None:
    """Say plainly which groups have text (the cookbook logs only the first few)."""
    if n_groups == 0:
        return None
    if not has_tree:
        return f"no text for this iteration: the cookbook wrote only summaries ({n_groups} groups)"
    if with_text == 0:
        return f"no text in this iteration's logtree ({n_groups} groups: summaries only)"
    if with_text < n_groups:
        return f"text for the first {with_text} of {n_groups} groups only (the cookbook logs a few)"
    return None


__all__ = ["Draft", "GroupLog", "attach_text", "drafts_from_tree", "freeze", "from_summary", "histogram"]
