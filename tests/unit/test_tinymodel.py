"""The locally made tiny base model: loads offline, tokenizer fits the cookbook's Qwen3 renderer,
creation is deterministic and race-safe, and teaching really improves arithmetic."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import random
from pathlib import Path

import pytest

from runner.backend import tinymodel, tinyteach


@pytest.fixture(scope="session")
def taught_dir() -> Path:
    """The real cached default model (created once per machine, reused across sessions)."""
    return tinymodel.ensure_base_model("tiny-qwen3")


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    return tinymodel.ensure_base_model("tiny-qwen3-raw")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_loads_offline_with_transformers(taught_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoTokenizer, Qwen3ForCausalLM

    tok = AutoTokenizer.from_pretrained(str(taught_dir), local_files_only=True)
    model = Qwen3ForCausalLM.from_pretrained(str(taught_dir), local_files_only=True)
    config = json.loads((taught_dir / "config.json").read_text())
    assert config["model_type"] == "qwen3"
    assert config["tie_word_embeddings"] is True
    assert config["vocab_size"] % 64 == 0 and config["vocab_size"] >= len(tok)
    assert next(model.parameters()).dtype == torch.float32
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>"
    ids = tok("What is 4 + 5?", return_tensors="pt").input_ids
    assert model(input_ids=ids).logits.shape[-1] == config["vocab_size"]


def test_special_and_number_tokens_are_single_ids(taught_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(taught_dir))
    for text in (*tinymodel.SPECIAL_TOKENS, *tinymodel.ADDED_TOKENS):
        assert len(tok.encode(text, add_special_tokens=False)) == 1, text
    assert len({tok.convert_tokens_to_ids(t) for t in tinymodel.SPECIAL_TOKENS}) == 3
    multi = [n for n in range(201) if len(tok.encode(str(n), add_special_tokens=False)) != 1]
    assert multi == []


def test_cookbook_renderer_round_trip(taught_dir: Path) -> None:
    from tinker_cookbook import renderers
    from tinker_cookbook.tokenizer_utils import get_tokenizer

    tok = get_tokenizer(str(taught_dir))
    renderer = renderers.get_renderer(tinymodel.RENDERER_NAME, tok)
    convo = [*tinyteach.FEWSHOT, {"role": "user", "content": "What is 12 + 30?"}]
    prompt = tok.decode(renderer.build_generation_prompt(convo).to_ints())
    assert prompt.endswith(
        "<|im_start|>user\nWhat is 12 + 30?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    reply = tok.encode("42", add_special_tokens=False) + renderer.get_stop_sequences()
    message, termination = renderer.parse_response(reply)
    assert message["content"] == "42" and termination.is_stop_sequence
    full = [*convo, {"role": "assistant", "content": "42"}]
    model_input, weights = renderer.build_supervised_example(full)
    assert model_input.length == len(weights) and float(weights.sum()) > 0


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tiny model"):
        tinymodel.ensure_base_model("no-such-model")


def test_creation_is_deterministic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    for sub in ("a", "b"):
        monkeypatch.setenv("TINKERTOP_CACHE", str(tmp_path / sub))
        made.append(tinymodel.ensure_base_model("tiny-qwen3-micro"))
    assert made[0] != made[1]
    assert _digests(made[0]) == _digests(made[1])
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(_digests(made[0]))


def _create_in(cache: str) -> str:
    import os

    os.environ["TINKERTOP_CACHE"] = cache
    return str(tinymodel.ensure_base_model("tiny-qwen3-micro"))


def test_racing_processes_create_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(2) as pool:
        results = pool.map(_create_in, [str(tmp_path)] * 2)
    assert results[0] == results[1]
    models = tmp_path / "models"
    leftovers = [p.name for p in models.iterdir() if p.is_dir() and p.name.startswith(".")]
    assert leftovers == []
    assert [p.name for p in models.iterdir() if p.is_dir()] == [Path(results[0]).name]


def test_teaching_beats_untaught_on_held_out_problems(taught_dir: Path, raw_dir: Path) -> None:
    from transformers import AutoTokenizer, Qwen3ForCausalLM

    pairs = tinyteach.problems(random.Random(2024), 200, held_out=True)
    scores, expected = {}, {}
    for name, folder in (("taught", taught_dir), ("raw", raw_dir)):
        tok = AutoTokenizer.from_pretrained(str(folder))
        model = Qwen3ForCausalLM.from_pretrained(str(folder)).eval()
        renderer = tinyteach._renderer(tok)
        probe = tinyteach._batch([tinyteach._example(renderer, tok, x, y) for x, y in pairs], pad=0)
        expected[name] = tinyteach.expected_correct(model, *probe)
        scores[name] = tinyteach.measure(model, tok, pairs, temperature=1.0, max_tokens=8)
    assert expected["taught"] > expected["raw"] + 0.02
    assert scores["taught"].correct > scores["raw"].correct
    # imperfect by design: it often answers, and sometimes rambles past the sampling budget
    assert 0.2 < scores["taught"].well_formed < 0.9
