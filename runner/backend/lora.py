"""LoRA adapters over a frozen base model: one wrapper per linear layer, many adapters per server.

The wrappers hold no weights of their own; ``activate`` points every wrapper at one adapter's
tensors (or none) before a forward pass. All torch work runs on the engine's one worker thread,
so switching adapters between requests is safe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
UNEMBED = ("lm_head",)
DEFAULT_ALPHA = 32.0


class LoRALinear(nn.Module):
    """``base(x) + scale * B(A(x))`` with A, B taken from the active adapter (if it has this layer)."""

    def __init__(self, base: nn.Linear, name: str) -> None:
        super().__init__()
        self.base = base
        self.name = name
        self.pair: tuple[torch.Tensor, torch.Tensor, float] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        if self.pair is not None:
            a, b, scale = self.pair
            out = out + (x @ a.t()) @ b.t() * scale
        return out


@dataclass
class Adapter:
    """One model's LoRA weights: ``tensors[f"{layer}.A"]`` is (rank, in), ``.B`` is (out, rank)."""

    rank: int
    alpha: float
    targets: tuple[str, ...]
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def parameters(self) -> list[torch.Tensor]:
        return [self.tensors[k] for k in sorted(self.tensors)]

    def snapshot(self) -> Adapter:
        """A frozen copy (for sampling while training goes on)."""
        copied = {k: v.detach().clone() for k, v in self.tensors.items()}
        return Adapter(self.rank, self.alpha, self.targets, copied)


def inject(model: nn.Module) -> dict[str, LoRALinear]:
    """Wrap every attention, MLP and unembedding linear of ``model`` in place; freeze the base."""
    for p in model.parameters():
        p.requires_grad_(False)
    wrapped: dict[str, LoRALinear] = {}
    targets = ATTN + MLP + UNEMBED
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and child_name in targets:
                full = f"{name}.{child_name}" if name else child_name
                wrapper = LoRALinear(child, full)
                setattr(module, child_name, wrapper)
                wrapped[full] = wrapper
    return wrapped


def target_suffixes(train_attn: bool, train_mlp: bool, train_unembed: bool) -> tuple[str, ...]:
    return (ATTN if train_attn else ()) + (MLP if train_mlp else ()) + (UNEMBED if train_unembed else ())


def new_adapter(
    layers: dict[str, LoRALinear], rank: int, targets: tuple[str, ...], seed: int | None
) -> Adapter:
    """Fresh adapter: A ~ kaiming-uniform, B = 0 (so it starts as the base model)."""
    if rank < 1 or rank > 1024:
        raise ValueError(f"LoRA rank must be between 1 and 1024, got {rank}")
    gen = torch.Generator().manual_seed(seed if seed is not None else torch.seed() % (2**31))
    adapter = Adapter(rank=rank, alpha=DEFAULT_ALPHA, targets=targets)
    for name, layer in layers.items():
        if name.rsplit(".", 1)[-1] not in targets:
            continue
        fan_in, fan_out = layer.base.in_features, layer.base.out_features
        bound = 1.0 / math.sqrt(fan_in)
        a = (torch.rand(rank, fan_in, generator=gen) * 2 - 1) * bound
        adapter.tensors[f"{name}.A"] = a.requires_grad_(True)
        adapter.tensors[f"{name}.B"] = torch.zeros(fan_out, rank).requires_grad_(True)
    return adapter


def activate(layers: dict[str, LoRALinear], adapter: Adapter | None) -> None:
    """Point every wrapper at ``adapter``'s tensors (None: plain base model)."""
    for name, layer in layers.items():
        if adapter is None or f"{name}.A" not in adapter.tensors:
            layer.pair = None
        else:
            layer.pair = (adapter.tensors[f"{name}.A"], adapter.tensors[f"{name}.B"], adapter.scale)
