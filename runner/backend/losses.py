"""Built-in loss functions, per datum, on the target tokens' log-probabilities.

Each returns the elementwise loss (one value per target position); the request's loss is the sum
over all datums and positions (``loss:sum``), as the hosted service reports it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

LossFn = Callable[[torch.Tensor, Mapping[str, np.ndarray], Mapping[str, float]], torch.Tensor]


def _vec(inputs: Mapping[str, np.ndarray], key: str, like: torch.Tensor) -> torch.Tensor:
    if key not in inputs:
        raise ValueError(f"loss_fn_inputs is missing {key!r}")
    value = torch.as_tensor(np.asarray(inputs[key], dtype=np.float32)).reshape(-1)
    if value.shape != like.shape:
        raise ValueError(f"loss_fn_inputs[{key!r}] has {value.numel()} values, expected {like.numel()}")
    return value


def cross_entropy(
    lp: torch.Tensor, inputs: Mapping[str, np.ndarray], cfg: Mapping[str, float]
) -> torch.Tensor:
    weights = _vec(inputs, "weights", lp) if "weights" in inputs else torch.ones_like(lp)
    return -lp * weights


def _ratio(lp: torch.Tensor, inputs: Mapping[str, np.ndarray]) -> torch.Tensor:
    old = _vec(inputs, "logprobs", lp)
    return torch.exp(lp - old)


def importance_sampling(
    lp: torch.Tensor, inputs: Mapping[str, np.ndarray], cfg: Mapping[str, float]
) -> torch.Tensor:
    return -_ratio(lp, inputs) * _vec(inputs, "advantages", lp)


def _bounds(cfg: Mapping[str, float]) -> tuple[float, float]:
    return float(cfg.get("clip_low_threshold", 0.8)), float(cfg.get("clip_high_threshold", 1.2))


def ppo(lp: torch.Tensor, inputs: Mapping[str, np.ndarray], cfg: Mapping[str, float]) -> torch.Tensor:
    adv = _vec(inputs, "advantages", lp)
    ratio = _ratio(lp, inputs)
    low, high = _bounds(cfg)
    return -torch.minimum(ratio * adv, torch.clamp(ratio, low, high) * adv)


def cispo(lp: torch.Tensor, inputs: Mapping[str, np.ndarray], cfg: Mapping[str, float]) -> torch.Tensor:
    adv = _vec(inputs, "advantages", lp)
    low, high = _bounds(cfg)
    weight = torch.clamp(_ratio(lp, inputs), low, high).detach()
    return -weight * lp * adv


def dro(lp: torch.Tensor, inputs: Mapping[str, np.ndarray], cfg: Mapping[str, float]) -> torch.Tensor:
    adv = _vec(inputs, "advantages", lp)
    old = _vec(inputs, "logprobs", lp)
    beta = float(cfg.get("beta", 0.05))
    return -(lp * adv - 0.5 * beta * (lp - old) ** 2)


LOSSES: dict[str, LossFn] = {
    "cross_entropy": cross_entropy,
    "importance_sampling": importance_sampling,
    "ppo": ppo,
    "cispo": cispo,
    "dro": dro,
}


def get(name: str) -> LossFn:
    if name not in LOSSES:
        raise ValueError(f"loss function {name!r} is not supported here; use one of {sorted(LOSSES)}")
    return LOSSES[name]
