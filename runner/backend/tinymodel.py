"""A tiny Qwen3-architecture base model and tokenizer, made locally (no downloads) and cached.

``ensure_base_model(name)`` returns ``<cache>/models/<name>-<version>``: an HF-format directory
(``config.json``, ``model.safetensors``, tokenizer files). It is built once, deterministically (fixed
seeds), in a temp dir beside the target and moved in with ``os.replace`` under a file lock.
Variants: ``tiny-qwen3`` is taught a little arithmetic (see ``runner.backend.tinyteach``) so RL on
the cookbook's arithmetic env has something to improve; ``tiny-qwen3-raw`` is the same model untaught.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import paths

VERSION = "v3"
RENDERER_NAME = "qwen3_disable_thinking"
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
ADDED_TOKENS = (
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
    "<tools>",
    "</tools>",
)
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@dataclass(frozen=True)
class ModelSpec:
    """Architecture and recipe of one variant."""

    hidden: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 384
    vocab_target: int = 1000
    max_positions: int = 1024
    seed: int = 1234
    teach_seed: int = 0
    teach: bool = True


VARIANTS: dict[str, ModelSpec] = {
    "tiny-qwen3": ModelSpec(),
    "tiny-qwen3-raw": ModelSpec(teach=False),
    "tiny-qwen3-micro": ModelSpec(hidden=32, layers=1, intermediate=64, vocab_target=600, teach=False),
}


def model_dir(name: str = "tiny-qwen3") -> Path:
    """Where variant ``name`` lives (it may not exist yet)."""
    return paths.cache_dir() / "models" / f"{name}-{VERSION}"


def ensure_base_model(name: str = "tiny-qwen3") -> Path:
    """Return the cached model directory for ``name``, creating it once if missing."""
    if name not in VARIANTS:
        raise ValueError(f"unknown tiny model {name!r}; known: {', '.join(sorted(VARIANTS))}")
    target = model_dir(name)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _file_lock(target.parent / f".{target.name}.lock"):
        if _complete(target):
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            build_model(tmp, VARIANTS[name])
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _complete(path: Path) -> bool:
    return all((path / f).is_file() for f in ("config.json", "model.safetensors", "tokenizer.json"))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_model(out: Path, spec: ModelSpec) -> None:
    """Write tokenizer, config and weights for ``spec`` into the existing directory ``out``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    tokenizer = build_tokenizer(spec)
    tokenizer.save_pretrained(str(out))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # fixed thread count: the same bytes on every machine and run
    try:
        model = _init_model(spec, tokenizer)
        if spec.teach:
            from runner.backend import tinyteach

            losses = tinyteach.teach(model, tokenizer, seed=spec.teach_seed)
            summary = {"steps": len(losses), "first_loss": losses[0], "last_loss": losses[-1]}
            (out / "teaching.json").write_text(json.dumps(summary, indent=1) + "\n")
        model.save_pretrained(str(out))
    finally:
        torch.set_num_threads(threads)


def _init_model(spec: ModelSpec, tokenizer: Any) -> Any:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    vocab = -(-len(tokenizer) // 64) * 64
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    fields: dict[str, Any] = dict(
        vocab_size=vocab,
        hidden_size=spec.hidden,
        intermediate_size=spec.intermediate,
        num_hidden_layers=spec.layers,
        num_attention_heads=spec.heads,
        num_key_value_heads=spec.kv_heads,
        head_dim=spec.hidden // spec.heads,
        max_position_embeddings=spec.max_positions,
        tie_word_embeddings=True,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
        dtype="float32",
    )
    config = Qwen3Config(**fields)
    torch.manual_seed(spec.seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model


def build_tokenizer(spec: ModelSpec) -> Any:
    """A byte-level BPE trained on a synthetic corpus, wrapped for transformers."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(r"\p{N}{1,3}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_target,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(synthetic_corpus(spec.seed), trainer=trainer)
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in ADDED_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        unk_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=spec.max_positions,
        clean_up_tokenization_spaces=False,
    )


CHAT_LINES = (
    "Hello! How can I help you today?",
    "Can you explain what a learning rate is?",
    "A learning rate sets how big each update step is during training.",
    "What is the capital of France?",
    "The capital of France is Paris.",
    "Please write a short poem about the sea.",
    "The sea is wide and blue, the waves come rolling through.",
    "Thank you for your help.",
    "You are welcome. Let me know if you need anything else.",
    "Sure, here is the answer you asked for.",
    "Let me think about this step by step.",
    "The answer is",
    "I am not sure, but I think it is correct.",
    "Add the two numbers together to get the sum.",
    "You are a helpful assistant.",
    "Summarize the following text in one sentence.",
    "Translate this sentence into French.",
    "What time is it in Tokyo right now?",
    "I do not have access to the current time.",
    "Reward, loss, and accuracy are the main metrics of the run.",
)
WORDS = (
    "the a an and or but if then because so very more most less few many some any each every all "
    "model data train training run runs step steps loss reward policy value sample samples token tokens "
    "number numbers sum add plus minus times divide answer question problem problems solve solved check "
    "good bad better best worse worst small large tiny big fast slow quick short long simple hard easy "
    "time day week year today tomorrow yesterday morning evening night world city country river mountain "
    "book story poem song music picture color red green blue yellow black white light dark warm cold "
    "people person friend family child teacher student doctor water food bread apple coffee tea house "
    "home school office computer program code function file folder test result results metric chart "
    "learn learned learning think thinking write writing read reading speak speaking listen explain "
    "help helpful assistant user system message reply please thanks hello goodbye yes no maybe sure "
    "first second third last next previous before after during while until since about above below "
    "is are was were be been being have has had do does did can could will would should may might must"
).split()


def synthetic_corpus(seed: int, n_arith: int = 3000, n_chat: int = 3000) -> Iterator[str]:
    """Text in the exact shapes the cookbook's Qwen3 renderers produce, plus chat and numbers."""
    rng = random.Random(seed)
    few = "<|im_start|>user\nWhat is 4 + 5?<|im_end|>\n<|im_start|>assistant\n9<|im_end|>\n"
    for _ in range(n_arith):
        x, y = rng.randint(0, 100), rng.randint(0, 100)
        yield (
            f"{few}<|im_start|>user\nWhat is {x} + {y}?<|im_end|>\n"
            f"<|im_start|>assistant\n<think>\n\n</think>\n\n{x + y}<|im_end|>"
        )
    for _ in range(n_chat):
        q, a = rng.choice(CHAT_LINES), rng.choice(CHAT_LINES)
        if rng.random() < 0.7:
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 16))).capitalize() + "."
        think = f"<think>\n{rng.choice(CHAT_LINES)}\n</think>\n\n" if rng.random() < 0.3 else ""
        yield (
            f"<|im_start|>system\n{CHAT_LINES[14]}<|im_end|>\n<|im_start|>user\n{q}<|im_end|>\n"
            f"<|im_start|>assistant\n{think}{a} {rng.randint(0, 100000)}<|im_end|>"
        )
    for _ in range(200):  # every sum the env can ask for, often enough to be one token each
        yield " ".join(str(n) for n in range(201))
