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
    """The metric a run list shows for this kind, with fallbacks for non-standard keys."""
    ks = list(keys)
    present = set(ks)
    for cand in HEADLINES.get(kind, HEADLINES["unknown"]):
        if cand in present:
            return cand
    for suffix in ("reward/total", "reward", "accuracy", "correct", "nll", "loss"):
        for k in ks:
            if k.endswith(suffix) and not k.startswith("time/"):
                return k
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
