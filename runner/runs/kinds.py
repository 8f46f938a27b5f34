"""What kind of run a folder holds, its headline metric, and how far it has got.

Kinds: ``rl`` (mode ``sync``/``async``/``stream``), ``sl``, ``dpo``, ``distill``, ``unknown`` (and
``foreign``, decided by discovery). Strong metric keys decide first (``dpo_loss``, ``teacher_kl``,
``train_mean_nll``), then config.json the way the cookbook does (``dpo_beta``, ``dataset_configs``,
``loss_fn``, ``num_epochs``), then weaker key hints (``progress/batch``, ``env/...``,
``training_client/step``, anything with ``reward``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

HEADLINES: dict[str, tuple[str, ...]] = {
    "rl": (
        "env/all/reward/total",
        "reward/total",
        "mean_reward",
        "env/all/correct",
        "test/env/all/reward/total",
        "test/accuracy",
    ),
    "sl": ("train_mean_nll", "test/nll", "train/loss", "loss"),
    "dpo": ("dpo_loss", "loss:sum", "loss"),
    "distill": ("teacher_kl", "env/all/reward/total", "train_mean_nll"),
    "foreign": ("critic/score/mean", "critic/rewards/mean", "actor/pg_loss"),
    "unknown": ("env/all/reward/total", "reward/total", "mean_reward", "train_mean_nll", "loss", "loss:sum"),
}


@dataclass
class KindInfo:
    kind: str
    mode: str = ""  # rl only: sync / async / stream


def infer_kind(keys: Iterable[str], config: Mapping[str, Any] | None = None) -> KindInfo:
    """Kind (and RL mode) from metric keys and, when present, config.json."""
    ks = set(keys)
    kind = _kind_from_strong_keys(ks) or _kind_from_config(config) or _kind_from_weak_keys(ks)
    mode = _rl_mode(ks, config) if kind == "rl" else ""
    return KindInfo(kind=kind or "unknown", mode=mode)


def _kind_from_strong_keys(ks: set[str]) -> str | None:
    if "dpo_loss" in ks:
        return "dpo"
    if "teacher_kl" in ks or any(k.startswith("teacher_kl/") for k in ks):
        return "distill"
    if "train_mean_nll" in ks:
        return "sl"
    return None


def _kind_from_config(config: Mapping[str, Any] | None) -> str | None:
    if not config:
        return None
    if "dpo_beta" in config:
        return "dpo"
    if "dataset_configs" in config:
        return "distill"
    if "loss_fn" in config:
        return "rl"
    if "num_epochs" in config:
        return "sl"
    return None


def _kind_from_weak_keys(ks: set[str]) -> str | None:
    if {"progress/batch", "training_client/step"} & ks or any(k.startswith("env/") for k in ks):
        return "rl"
    if any("reward" in k for k in ks):
        return "rl"
    if "progress" in ks and "learning_rate" in ks:
        return "sl"
    return None


def _rl_mode(ks: set[str], config: Mapping[str, Any] | None) -> str:
    if config:
        if config.get("async_config"):
            return "async"
        if config.get("stream_minibatch_config"):
            return "stream"
    if "training_client/step" in ks:
        return "async"
    return "sync"


def headline_key(kind: str, keys: Iterable[str]) -> str | None:
    """The metric a run list shows for this kind: the kind's known keys first, then the best-ranked
    key of another trainer's spelling (see :func:`_rank`), None when nothing fits."""
    ks = list(keys)
    present = set(ks)
    for cand in HEADLINES.get(kind, HEADLINES["unknown"]):
        if cand in present:
            return cand
    loss_first = kind in ("sl", "dpo")
    ranked = [(rank, i, k) for i, k in enumerate(ks) if (rank := _rank(k, loss_first)) is not None]
    return min(ranked)[2] if ranked else None


_HELD_OUT = ("test/", "eval/", "val/", "validation/", "final/")
_SPREAD = {"std", "stddev", "var", "min", "max", "count", "sum", "chosen", "rejected", "num", "time"}
_OVERALL = {"", "total", "mean", "avg", "average"}
_REWARD_WORDS = _OVERALL | {"reward", "rewards", "episode", "train"}
_SUCCESS = ("pass@1", "pass_at_1", "pass_rate", "accuracy", "acc", "correct", "success_rate", "solve_rate")


def _rank(key: str, loss_first: bool) -> tuple[int, int, int] | None:
    """How good a headline ``key`` is (lower is better), None when it is not one.

    Families: an overall reward (``reward``, ``reward/mean``, ``train/reward``, ``mean_reward``...),
    a success rate (``reward/pass@1``, ``eval/pass_at_1``, ``accuracy``...), any other reward or score
    (``rewards/format/mean``, ``critic/score/mean``), then a loss (``nll``, ``loss``); SL and DPO runs
    put the loss first. Spreads (``std``, ``min``, ``max``, ``count``...), timings and DPO's
    chosen/rejected rewards never lead. Ties: training keys before held-out ones, then shorter.
    """
    held_out = key.startswith(_HELD_OUT)
    parts = key.split("/")
    words = {w for part in parts for w in part.replace(":", "_").split("_")}
    if words & _SPREAD:
        return None
    family = _family(parts, words)
    if family is None:
        return None
    if loss_first:
        family = (family + 1) % 4  # loss (3) becomes 0
    return family, int(held_out), len(parts)


def _family(parts: list[str], words: set[str]) -> int | None:
    """0 overall reward, 1 success rate, 2 other reward or score, 3 loss (see :func:`_rank`)."""
    for i, part in enumerate(parts):
        stat = parts[i + 1] if i + 1 < len(parts) else ""
        if part in ("reward", "rewards") and stat in _OVERALL:
            return 0
        part_words = set(part.split("_"))
        if len(part_words) > 1 and part_words & {"reward", "rewards"} and part_words <= _REWARD_WORDS:
            return 0
    if parts[-1].endswith(_SUCCESS):
        return 1
    if words & {"reward", "rewards", "score"}:
        return 2
    if parts[-1].endswith(("nll", "loss")):
        return 3
    return None


def progress_of(
    latest: Mapping[str, Any], step: int | None, config: Mapping[str, Any] | None
) -> float | None:
    """Fraction done in [0, 1]: ``progress/done_frac``, ``progress``, or step over the config's
    ``max_steps`` / ``dataset_builder.n_batches``; None when not derivable."""
    for key in ("progress/done_frac", "progress"):
        v = latest.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            return min(max(float(v), 0.0), 1.0)
    total = _total_steps(config)
    if total and step is not None:
        return min(max((step + 1) / total, 0.0), 1.0)
    return None


def _total_steps(config: Mapping[str, Any] | None) -> int | None:
    if not config:
        return None
    cands = [config.get("max_steps"), config.get("num_batches")]
    builder = config.get("dataset_builder")
    if isinstance(builder, dict):
        cands.append(builder.get("n_batches"))
    for c in cands:
        if isinstance(c, int) and not isinstance(c, bool) and c > 0:
            return c
    return None
