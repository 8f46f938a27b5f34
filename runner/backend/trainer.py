"""Training models: one LoRA adapter and one AdamW optimizer each; forward/backward and steps."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from runner.backend import lora, losses
from runner.backend.base_model import BaseModel

MICRO_BATCH_TOKENS = 2048  # padded tokens per forward pass: fastest on this CPU, bounded memory


@dataclass
class DatumIn:
    """One training example: input tokens and its ``loss_fn_inputs`` as numpy arrays."""

    tokens: list[int]
    inputs: dict[str, np.ndarray]


@dataclass
class FwdBwdJob:
    model_id: str
    loss_fn: str
    loss_fn_config: dict[str, float]
    forward_only: bool
    data: list[DatumIn]


@dataclass
class FwdBwdResult:
    outputs: list[dict[str, np.ndarray]]
    metrics: dict[str, float]


@dataclass
class TrainingModel:
    model_id: str
    session_id: str
    base_model: str
    lora_config: dict[str, Any]
    adapter: lora.Adapter
    optimizer: torch.optim.Optimizer
    user_metadata: dict[str, Any] = field(default_factory=dict)
    steps: int = 0


def make_optimizer(adapter: lora.Adapter) -> torch.optim.Optimizer:
    return torch.optim.AdamW(adapter.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-12, weight_decay=0.0)


def _targets(datum: DatumIn, index: int) -> torch.Tensor:
    if "target_tokens" not in datum.inputs:
        raise ValueError(f"datum {index}: loss_fn_inputs needs 'target_tokens'")
    tgt = torch.as_tensor(np.asarray(datum.inputs["target_tokens"], dtype=np.int64)).reshape(-1)
    if tgt.numel() != len(datum.tokens):
        raise ValueError(f"datum {index}: {tgt.numel()} target_tokens for {len(datum.tokens)} input tokens")
    return tgt


def _validate(base: BaseModel, job: FwdBwdJob) -> list[torch.Tensor]:
    """Check lengths, token ids and finite inputs; returns each datum's targets."""
    if not job.data:
        raise ValueError("forward_backward needs at least one datum")
    lengths = [len(d.tokens) for d in job.data]
    if min(lengths) < 1 or max(lengths) > base.max_context:
        raise ValueError(
            f"sequence lengths must be 1..{base.max_context}, got {min(lengths)}..{max(lengths)}"
        )
    targets = [_targets(d, i) for i, d in enumerate(job.data)]
    for i, (d, t) in enumerate(zip(job.data, targets, strict=True)):
        bad = [x for x in d.tokens + t.tolist() if x < 0 or x >= base.vocab_size]
        if bad:
            raise ValueError(
                f"datum {i}: token id {bad[0]} outside the vocabulary (0..{base.vocab_size - 1})"
            )
        for name, value in d.inputs.items():
            if np.issubdtype(np.asarray(value).dtype, np.floating) and not np.isfinite(value).all():
                raise ValueError(f"datum {i}: loss_fn_inputs[{name!r}] has NaN or infinite values")
    return targets


def micro_batches(lengths: list[int], budget: int = MICRO_BATCH_TOKENS) -> list[list[int]]:
    """Datum indices grouped by similar length, each group under ``budget`` padded tokens."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if current and (len(current) + 1) * lengths[i] > budget:
            groups.append(current)
            current = []
        current.append(i)
    return groups + [current] if current else groups


def forward_backward(base: BaseModel, model: TrainingModel, job: FwdBwdJob) -> FwdBwdResult:
    """Log-probabilities of the targets, the loss, and (unless forward-only) its gradients.

    Runs in length-sorted micro-batches (less padding, bounded memory); gradients add up."""
    targets = _validate(base, job)
    loss_fn = losses.get(job.loss_fn)
    outputs: list[dict[str, np.ndarray]] = [{} for _ in job.data]
    loss = 0.0
    for group in micro_batches([len(d.tokens) for d in job.data], MICRO_BATCH_TOKENS):
        width = max(len(job.data[i].tokens) for i in group)
        ids = torch.zeros(len(group), width, dtype=torch.long)
        tgt = torch.zeros(len(group), width, dtype=torch.long)
        for row, i in enumerate(group):
            ids[row, : len(job.data[i].tokens)] = torch.tensor(job.data[i].tokens)
            tgt[row, : len(job.data[i].tokens)] = targets[i]
        with torch.set_grad_enabled(not job.forward_only):
            logits = base.logits(ids, model.adapter)
            picked = logits.gather(-1, tgt.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
            total = torch.zeros(())
            for row, i in enumerate(group):
                lp = picked[row, : len(job.data[i].tokens)]
                elementwise = loss_fn(lp, job.data[i].inputs, job.loss_fn_config)
                total = total + elementwise.sum()
                outputs[i] = {
                    "logprobs": lp.detach().numpy().astype(np.float32),
                    "elementwise_loss": elementwise.detach().numpy().astype(np.float32),
                }
            part = float(total.detach())
            if not math.isfinite(part):
                raise ValueError(f"loss is not finite ({part})")
            if not job.forward_only and total.requires_grad:
                total.backward()
        loss += part
    return FwdBwdResult(outputs=outputs, metrics={"loss:sum": loss})


def optim_step(model: TrainingModel, params: Mapping[str, Any]) -> dict[str, float]:
    """One AdamW step with this request's hyperparameters, then clear the gradients."""
    lr = float(params.get("learning_rate", 1e-4))
    betas = (float(params.get("beta1", 0.9)), float(params.get("beta2", 0.95)))
    eps = float(params.get("eps", 1e-12))
    wd = float(params.get("weight_decay", 0.0))
    clip = float(params.get("grad_clip_norm", 0.0) or 0.0)
    if lr < 0 or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or eps < 0:
        raise ValueError(f"invalid Adam parameters: lr={lr} betas={betas} eps={eps}")
    tensors = model.adapter.parameters()
    grads = [t.grad for t in tensors if t.grad is not None]
    norm = float(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))) if grads else 0.0
    if clip > 0 and grads:
        torch.nn.utils.clip_grad_norm_(tensors, clip)
    for group in model.optimizer.param_groups:
        group.update(lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if grads:
        model.optimizer.step()
    model.optimizer.zero_grad(set_to_none=True)
    model.steps += 1
    return {"grad_norm": norm, "learning_rate": lr}
