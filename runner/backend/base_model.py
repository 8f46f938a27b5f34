"""The frozen base model (a local HF-format Qwen3 directory) with LoRA wrappers, float32 on CPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from runner.backend import lora


@dataclass
class BaseModel:
    """The loaded model, its LoRA wrappers, tokenizer and a few facts about it."""

    path: Path
    hf: Any
    layers: dict[str, lora.LoRALinear]
    tokenizer: Any
    vocab_size: int
    max_context: int
    eos_ids: tuple[int, ...]

    def logits(self, input_ids: torch.Tensor, adapter: lora.Adapter | None) -> torch.Tensor:
        """Full-sequence logits (batch, time, vocab) with ``adapter`` active."""
        lora.activate(self.layers, adapter)
        return self.hf(input_ids=input_ids, use_cache=False).logits

    def step(
        self,
        input_ids: torch.Tensor,
        adapter: lora.Adapter | None,
        cache: Any = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, Any]:
        """One cached forward (prefill or decode): returns (logits, cache).

        With left padding, ``attention_mask`` covers cache + new tokens and ``position_ids``
        counts real tokens only."""
        lora.activate(self.layers, adapter)
        out = self.hf(
            input_ids=input_ids,
            past_key_values=cache,
            use_cache=True,
            attention_mask=attention_mask,
            position_ids=position_ids,
        )
        return out.logits, out.past_key_values


def load(path: Path) -> BaseModel:
    """Load config, weights and tokenizer from a local directory (no downloads)."""
    from transformers import AutoTokenizer, Qwen3ForCausalLM

    hf = Qwen3ForCausalLM.from_pretrained(str(path), dtype=torch.float32, local_files_only=True)
    hf.eval()
    layers = lora.inject(hf)
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    cfg = hf.config
    eos: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(cfg, "eos_token_id", None)):
        if isinstance(value, int):
            eos.add(value)
        elif isinstance(value, list):
            eos.update(v for v in value if isinstance(v, int))
    return BaseModel(
        path=path,
        hf=hf,
        layers=layers,
        tokenizer=tokenizer,
        vocab_size=int(cfg.vocab_size),
        max_context=int(getattr(cfg, "max_position_embeddings", 2048)),
        eos_ids=tuple(sorted(eos)),
    )
