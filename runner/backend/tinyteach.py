"""Teach the tiny base model a little arithmetic, and measure it on the cookbook's arithmetic env.

Part of creating the cached model (``runner.backend.tinymodel``), never of serving it: a short
full-parameter SFT in plain torch on conversations rendered exactly as the cookbook's
``math_rl`` arithmetic env renders them (few-shot prefix, ``What is x + y?``, the bare sum), so
that the base model gets some but not all problems right and RL has room to improve it.

Two imperfections are built in: about half the replies are long-winded (they never reach the stop
token within a few-token budget: the env's format penalty), and teaching stops once about one
sampled answer in ten is right. Number tokens start with a small number-line embedding (value,
square, last-digit phase), without which a model this small learns nothing in a minute.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

FEWSHOT: list[Any] = [
    {"role": "user", "content": "What is 4 + 5?"},
    {"role": "assistant", "content": "9"},
]


@dataclass(frozen=True)
class Accuracy:
    """Share of problems answered correctly, and share ending cleanly on the stop token."""

    correct: float
    well_formed: float
    mean_reward: float
    n: int


def is_held_out(x: int, y: int) -> bool:
    """Problems kept out of teaching, to measure generalisation."""
    return (x * 101 + y) % 8 == 0


def problems(rng: random.Random, n: int, held_out: bool | None = None) -> list[tuple[int, int]]:
    """``n`` problems drawn like the env draws them (0..100 each); optionally only held-out ones."""
    out: list[tuple[int, int]] = []
    while len(out) < n:
        x, y = rng.randint(0, 100), rng.randint(0, 100)
        if held_out is None or is_held_out(x, y) == held_out:
            out.append((x, y))
    return out


def _renderer(tokenizer: Any) -> Any:
    from tinker_cookbook import renderers

    from runner.backend.tinymodel import RENDERER_NAME

    return renderers.get_renderer(RENDERER_NAME, tokenizer)


def _prompt(renderer: Any, x: int, y: int) -> list[int]:
    convo = [*FEWSHOT, {"role": "user", "content": f"What is {x} + {y}?"}]
    return list(renderer.build_generation_prompt(convo).to_ints())


VERBOSE = "Let me work it out step by step: {x} plus {y} makes {s}."


def _example(renderer: Any, tokenizer: Any, x: int, y: int, verbose: bool = False) -> tuple[list[int], int]:
    """(tokens, prompt length): the rendered prompt, then the answer and the stop token. The
    verbose answer is too long for a few-token sampling budget: it never reaches the stop token."""
    prompt = _prompt(renderer, x, y)
    text = VERBOSE.format(x=x, y=y, s=x + y) if verbose else str(x + y)
    answer = tokenizer.encode(text, add_special_tokens=False)
    return prompt + answer + renderer.get_stop_sequences(), len(prompt)


def _batch(examples: list[tuple[list[int], int]], pad: int) -> tuple[Any, Any]:
    import torch

    width = max(len(t) for t, _ in examples)
    ids = torch.full((len(examples), width), pad, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    for row, (tokens, start) in enumerate(examples):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        labels[row, start : len(tokens)] = torch.tensor(tokens[start:])
    return ids, labels


def teach(
    model: Any,
    tokenizer: Any,
    seed: int,
    max_steps: int = 900,
    batch: int = 64,
    lr: float = 3e-3,
    target: float = 0.1,
    verbose: float = 0.5,
    report: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Full-parameter SFT on rendered arithmetic until the expected share of correct answers when
    sampling at temperature 1 reaches ``target`` (checked on a fixed probe batch), or
    ``max_steps``. A share ``verbose`` of the answers are long-winded (badly formatted for the
    env's short budget). Stopping early keeps the model imperfect, which is the point."""
    import torch

    renderer = _renderer(tokenizer)
    rng = random.Random(seed)
    torch.manual_seed(seed)
    number_line(model, tokenizer)
    probe_pairs = problems(random.Random(seed + 1), 128, held_out=False)
    probe = _batch([_example(renderer, tokenizer, x, y) for x, y in probe_pairs], pad=0)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: min(1.0, (i + 1) / 20))
    model.train()
    losses: list[float] = []
    cache: dict[tuple[int, int, bool], tuple[list[int], int]] = {}
    for step in range(max_steps):
        rows = []
        for x, y in problems(rng, batch, held_out=False):
            key = (x, y, rng.random() < verbose)
            if key not in cache:
                cache[key] = _example(renderer, tokenizer, *key)
            rows.append(cache[key])
        ids, labels = _batch(rows, pad=0)
        loss = _answer_loss(model, ids, labels)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if report is not None:
            report(step, losses[-1])
        if step % 10 == 9 and expected_correct(model, *probe) >= target:
            break
    model.eval()
    return losses


def expected_correct(model: Any, ids: Any, labels: Any) -> float:
    """Mean probability of the right first answer token: the share of temperature-1 samples that
    start with the right number (every sum 0..200 is one token)."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits
    first = (labels != -100).long().argmax(dim=1)
    rows = torch.arange(ids.shape[0])
    probs = torch.softmax(logits[rows, first - 1], dim=-1)
    return float(probs[rows, labels[rows, first]].mean())


PERIODS: tuple[int, ...] = (10,)


def number_line(model: Any, tokenizer: Any, top: int = 200, scale: float = 1.0) -> None:
    """Give the number tokens 0..top a sense of size before teaching: a few embedding dimensions
    hold the value, its square and its last digit as a phase (a small innate numeracy)."""
    import math

    import torch

    emb = model.get_input_embeddings().weight
    with torch.no_grad():
        for n in range(top + 1):
            ids = tokenizer.encode(str(n), add_special_tokens=False)
            if len(ids) != 1:
                continue
            u = n / (top / 2) - 1.0
            feats = [u, u * u]
            for period in PERIODS:
                phase = 2 * math.pi * n / period
                feats += [0.5 * math.cos(phase), 0.5 * math.sin(phase)]
            emb[ids[0], : len(feats)] = scale * torch.tensor(feats)


def _answer_loss(model: Any, ids: Any, labels: Any) -> Any:
    """Mean next-token loss on answer tokens only. The few-shot prefix every row shares is run
    once and its key/value cache repeated across the batch, which halves the work."""
    import torch

    same = (ids == ids[:1]).all(dim=0).long().cumprod(dim=0)
    shared = max(1, min(int(same.sum()) - 1, int((labels[0] != -100).nonzero()[0]) - 1))
    prefix = model.model(input_ids=ids[:1, :shared], use_cache=True)
    cache = prefix.past_key_values
    cache.batch_repeat_interleave(ids.shape[0])
    hidden = model.model(input_ids=ids[:, shared:], past_key_values=cache, use_cache=True)
    states = hidden.last_hidden_state[:, :-1]
    targets = labels[:, shared + 1 :]
    mask = targets != -100
    per_token = torch.nn.functional.cross_entropy(
        model.lm_head(states[mask]), targets[mask], reduction="none"
    )
    # the first answer token (a number, or the start of a long-winded reply) counts fully; the
    # rest of each answer shares one more unit, so long replies do not drown the numbers
    first = mask & (mask.long().cumsum(dim=1) == 1)
    rest = mask & ~first
    weight = (first + rest / rest.sum(dim=1, keepdim=True).clamp(min=1))[mask]
    return (per_token * weight).sum() / ids.shape[0]


def measure(
    model: Any,
    tokenizer: Any,
    pairs: list[tuple[int, int]],
    temperature: float = 0.0,
    max_tokens: int = 5,
    seed: int = 0,
) -> Accuracy:
    """Sample answers and grade them with the cookbook's own arithmetic env and renderer."""
    import torch
    from tinker_cookbook.recipes.math_rl.arithmetic_env import ArithmeticEnv
    from tinker_cookbook.renderers import get_text_content

    renderer = _renderer(tokenizer)
    gen = torch.Generator().manual_seed(seed)
    correct = formed = reward = 0.0
    with torch.no_grad():
        for x, y in pairs:
            tokens = _sample(model, _prompt(renderer, x, y), renderer, temperature, max_tokens, gen)
            message, termination = renderer.parse_response(tokens)
            env = ArithmeticEnv(x, y, renderer, convo_prefix=list(FEWSHOT))
            ok = float(env.check_answer(get_text_content(message)))
            good = float(termination.is_stop_sequence)
            correct, formed = correct + ok, formed + good
            reward += ok + env.format_coef * (good - 1)
    n = max(1, len(pairs))
    return Accuracy(correct / n, formed / n, reward / n, len(pairs))


def _sample(
    model: Any, prompt: list[int], renderer: Any, temperature: float, max_tokens: int, gen: Any
) -> list[int]:
    import torch

    stop = set(renderer.get_stop_sequences())
    ids = torch.tensor([prompt])
    out: list[int] = []
    for _ in range(max_tokens):
        logits = model(input_ids=ids, use_cache=False).logits[0, -1]
        if temperature <= 0:
            nxt = int(torch.argmax(logits))
        else:
            probs = torch.softmax(logits / temperature, dim=-1)
            nxt = int(torch.multinomial(probs, 1, generator=gen))
        out.append(nxt)
        if nxt in stop:
            break
        ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    return out
