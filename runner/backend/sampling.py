"""Token generation with a KV cache: all samples of one request decode together as one batch."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from runner.backend import lora
from runner.backend.base_model import BaseModel

DEFAULT_MAX_TOKENS = 256


@dataclass
class SampleSpec:
    """What one ``asample`` request asks for (already validated)."""

    prompt: list[int]
    num_samples: int = 1
    max_tokens: int | None = None
    temperature: float = 1.0
    top_k: int = -1
    top_p: float = 1.0
    seed: int | None = None
    stop: str | list[str] | list[int] | None = None
    prompt_logprobs: bool = False
    prompt_logprobs_last_n: int | None = None


@dataclass
class SampledSeq:
    tokens: list[int]
    logprobs: list[float]
    stop_reason: str  # "stop" | "length"


@dataclass
class SampleResult:
    sequences: list[SampledSeq] = field(default_factory=list)
    prompt_logprobs: np.ndarray | None = None  # float32, len(prompt), NaN where not scored


class StopRule:
    """Decides when one sequence is done: stop token ids or stop strings (decoded text)."""

    def __init__(self, stop: str | list[str] | list[int] | None, model: BaseModel) -> None:
        self.ids: set[int] = set()
        self.strings: list[str] = []
        self.tokenizer = model.tokenizer
        if stop is None:
            self.ids = set(model.eos_ids)
        elif isinstance(stop, str):
            self.strings = [stop]
        else:
            for item in stop:
                if isinstance(item, int):
                    self.ids.add(item)
                else:
                    self.strings.append(str(item))

    def hit(self, tokens: list[int]) -> bool:
        if tokens and tokens[-1] in self.ids:
            return True
        if self.strings:
            text = self.tokenizer.decode(tokens[-64:])
            return any(s and s in text for s in self.strings)
        return False


def _prompt_logprobs(logits: torch.Tensor, prompt: list[int], last_n: int | None) -> np.ndarray:
    """logprob of prompt token i given tokens < i; NaN at 0 and before the last ``last_n``."""
    out = np.full(len(prompt), np.nan, dtype=np.float32)
    if len(prompt) > 1:
        lp = torch.log_softmax(logits[0, :-1].float(), dim=-1)
        target = torch.tensor(prompt[1:]).unsqueeze(-1)
        out[1:] = lp.gather(-1, target).squeeze(-1).numpy()
    if last_n is not None:
        out[: max(0, len(prompt) - last_n)] = np.nan
    return out


def _pick(logits: torch.Tensor, spec: SampleSpec, gen: torch.Generator) -> torch.Tensor:
    """Choose the next token per row (greedy at temperature 0)."""
    if spec.temperature <= 0:
        return logits.argmax(dim=-1)
    scaled = logits / spec.temperature
    if spec.top_k > 0:
        kth = torch.topk(scaled, min(spec.top_k, scaled.shape[-1]), dim=-1).values[:, -1:]
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if spec.top_p < 1.0:
        sorted_logits, order = torch.sort(scaled, descending=True, dim=-1)
        cum = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        drop = cum - torch.softmax(sorted_logits, dim=-1) > spec.top_p
        sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
        scaled = torch.full_like(scaled, float("-inf")).scatter(-1, order, sorted_logits)
    probs = torch.softmax(scaled, dim=-1)
    return torch.multinomial(probs, 1, generator=gen).squeeze(-1)


def check(model: BaseModel, spec: SampleSpec) -> int:
    """Validate ``spec`` against the model; returns its token limit."""
    if not spec.prompt:
        raise ValueError("the prompt is empty")
    bad = [t for t in spec.prompt if t < 0 or t >= model.vocab_size]
    if bad:
        raise ValueError(f"prompt token id {bad[0]} outside the vocabulary (0..{model.vocab_size - 1})")
    room = model.max_context - len(spec.prompt)
    if room < 1:
        raise ValueError(f"prompt of {len(spec.prompt)} tokens leaves no room (context {model.max_context})")
    return min(spec.max_tokens if spec.max_tokens is not None else DEFAULT_MAX_TOKENS, room)


def generate(model: BaseModel, adapter: lora.Adapter | None, spec: SampleSpec) -> SampleResult:
    """Sample ``spec.num_samples`` continuations of ``spec.prompt``."""
    return generate_batch(model, adapter, [spec])[0]


@dataclass
class _Req:
    """One request inside a batch: its rows, limit, stop rule and random generator."""

    spec: SampleSpec
    first: int
    limit: int
    rule: StopRule
    gen: torch.Generator


def _requests(model: BaseModel, specs: list[SampleSpec]) -> list[_Req]:
    reqs, first = [], 0
    for spec in specs:
        seed = spec.seed if spec.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)).item())
        gen = torch.Generator().manual_seed(seed)
        reqs.append(_Req(spec, first, check(model, spec), StopRule(spec.stop, model), gen))
        first += spec.num_samples
    return reqs


@torch.no_grad()
def generate_batch(
    model: BaseModel, adapter: lora.Adapter | None, specs: list[SampleSpec]
) -> list[SampleResult]:
    """Sample several requests (same adapter) as one left-padded batch with a shared KV cache."""
    reqs = _requests(model, specs)
    owner = [i for i, r in enumerate(reqs) for _ in range(r.spec.num_samples)]
    width = max(len(s.prompt) for s in specs)
    ids = torch.zeros(len(owner), width, dtype=torch.long)
    mask = torch.zeros(len(owner), width, dtype=torch.long)
    for row, i in enumerate(owner):
        prompt = specs[i].prompt
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    padded = bool((mask == 0).any())
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    logits, cache = model.step(ids, adapter, None, mask if padded else None, pos if padded else None)
    results = [SampleResult() for _ in specs]
    for r, res in zip(reqs, results, strict=True):
        if r.spec.prompt_logprobs:
            rowlogits = logits[r.first : r.first + 1, width - len(r.spec.prompt) :]
            res.prompt_logprobs = _prompt_logprobs(rowlogits, r.spec.prompt, r.spec.prompt_logprobs_last_n)
    seqs = [SampledSeq([], [], "length") for _ in owner]
    live = [row for row in range(len(owner)) if reqs[owner[row]].limit > 0]
    last, step_pos = logits[:, -1, :].float(), pos[:, -1:]
    while live:
        nxt = torch.zeros(len(owner), dtype=torch.long)
        for r in reqs:
            rows = slice(r.first, r.first + r.spec.num_samples)
            nxt[rows] = _pick(last[rows], r.spec, r.gen)
        lps = torch.log_softmax(last, dim=-1).gather(-1, nxt.unsqueeze(-1)).squeeze(-1)
        for row in live:
            seqs[row].tokens.append(int(nxt[row]))
            seqs[row].logprobs.append(float(lps[row]))
        live = [row for row in live if not _done(seqs[row], reqs[owner[row]])]
        if not live:
            break
        step_pos = step_pos + 1
        if padded:
            mask = torch.cat([mask, torch.ones(len(owner), 1, dtype=torch.long)], dim=-1)
        logits, cache = model.step(
            nxt.unsqueeze(-1), adapter, cache, mask if padded else None, step_pos if padded else None
        )
        last = logits[:, -1, :].float()
    for r, res in zip(reqs, results, strict=True):
        res.sequences = seqs[r.first : r.first + r.spec.num_samples]
    return results


def _done(seq: SampledSeq, req: _Req) -> bool:
    return _finish(seq, req.rule) or len(seq.tokens) >= req.limit


def _finish(seq: SampledSeq, rule: StopRule) -> bool:
    if rule.hit(seq.tokens):
        seq.stop_reason = "stop"
        return True
    return False
