"""Backend pieces without a server: wire encoding (decoded by the SDK's own converters), losses,
tinker:// paths, the state file, LoRA wrappers."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from runner.backend import checkpoints, lora, losses, state, wire
from runner.backend.sampling import SampledSeq, SampleResult
from runner.backend.trainer import FwdBwdResult


def test_forward_backward_output_decodes_with_sdk() -> None:
    from tinker.proto.response_conv import deserialize_forward_backward_output

    outs = [
        {
            "logprobs": np.array([-1.0, -2.0], np.float32),
            "elementwise_loss": np.array([1.0, 2.0], np.float32),
        },
        {"logprobs": np.array([-0.5], np.float32), "elementwise_loss": np.array([0.5], np.float32)},
    ]
    decoded = deserialize_forward_backward_output(
        wire.forward_backward_proto(FwdBwdResult(outs, {"loss:sum": 3.5}))
    )
    assert decoded.metrics == {"loss:sum": 3.5}
    assert len(decoded.loss_fn_outputs) == 2
    assert decoded.loss_fn_outputs[0]["logprobs"].data == [-1.0, -2.0]
    assert decoded.loss_fn_outputs[1]["elementwise_loss"].data == [0.5]


def test_sample_response_decodes_with_sdk() -> None:
    from tinker.proto.response_conv import deserialize_sample_response

    result = SampleResult(
        [SampledSeq([5, 6], [-0.1, -0.2], "stop"), SampledSeq([7], [-0.3], "length")],
        np.array([np.nan, -1.5, -2.5], np.float32),
    )
    decoded = deserialize_sample_response(wire.sample_proto(result))
    assert [s.tokens for s in decoded.sequences] == [[5, 6], [7]]
    assert [s.stop_reason for s in decoded.sequences] == ["stop", "length"]
    assert decoded.prompt_logprobs == [None, -1.5, -2.5]


def test_forward_backward_request_roundtrip() -> None:
    from tinker import types
    from tinker.proto.request_conv import forward_backward_request_to_proto

    datum = types.Datum(
        model_input=types.ModelInput.from_ints([1, 2, 3]),
        loss_fn_inputs={"target_tokens": [2, 3, 4], "advantages": [1.0, 0.0, -1.0], "logprobs": [0.0] * 3},
    )
    req = types.ForwardBackwardRequest(
        forward_backward_input=types.ForwardBackwardInput(
            data=[datum], loss_fn="ppo", loss_fn_config={"clip_low_threshold": 0.9}
        ),
        model_id="s:train:0",
        seq_id=3,
    )
    job, seq = wire.parse_forward_backward(forward_backward_request_to_proto(req).SerializeToString())
    assert (job.model_id, job.loss_fn, seq, job.forward_only) == ("s:train:0", "ppo", 3, False)
    assert job.loss_fn_config == {"clip_low_threshold": pytest.approx(0.9)}
    assert job.data[0].tokens == [1, 2, 3]
    assert job.data[0].inputs["advantages"].tolist() == [1.0, 0.0, -1.0]


def test_malformed_protobuf_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        wire.parse_forward_backward(b"\xff\xff\xff not protobuf")


def test_losses_match_their_definitions() -> None:
    lp = torch.tensor([-1.0, -2.0])
    ce = losses.cross_entropy(lp, {"weights": np.array([1.0, 0.0])}, {})
    assert ce.tolist() == [1.0, -0.0]
    inputs = {"logprobs": np.array([-1.5, -2.0]), "advantages": np.array([1.0, -1.0])}
    ratio = torch.exp(lp - torch.tensor([-1.5, -2.0]))
    assert torch.allclose(losses.importance_sampling(lp, inputs, {}), -ratio * torch.tensor([1.0, -1.0]))
    ppo = losses.ppo(lp, inputs, {"clip_low_threshold": 0.9, "clip_high_threshold": 1.1})
    # ratio 1.65 with advantage +1 is clipped to 1.1; ratio 1 with advantage -1 is untouched
    assert ppo.tolist() == pytest.approx([-1.1, 1.0])
    with pytest.raises(ValueError, match="not supported"):
        losses.get("nonsense")
    with pytest.raises(ValueError, match="missing 'advantages'"):
        losses.ppo(lp, {"logprobs": np.zeros(2)}, {})


def test_tinker_paths_are_validated() -> None:
    assert checkpoints.parse_path("tinker://s_1:train:0/weights/000002") == (
        "s_1:train:0",
        "weights",
        "000002",
    )
    for bad in (
        "tinker://a/weights/../../etc",
        "tinker://a/other/x",
        "http://a/weights/x",
        "tinker://a/weights",
    ):
        with pytest.raises(ValueError):
            checkpoints.parse_path(bad)


def test_state_file_is_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path))
    info = state.BackendInfo("http://127.0.0.1:1", 1, os.getpid(), "tml-secret", "/m", 0.0, "/log")
    path = state.write_info(info)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert state.read_info() == info
    assert "key" not in info.public()
    state.clear_info(pid=os.getpid() + 1)
    assert path.exists()
    state.clear_info(pid=os.getpid())
    assert state.read_info() is None


def test_lora_starts_as_the_base_and_switches_per_adapter() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential()
    net.add_module("q_proj", torch.nn.Linear(8, 8))
    layers = lora.inject(net)
    x = torch.randn(2, 8)
    base = net(x)
    adapter = lora.new_adapter(layers, rank=4, targets=lora.ATTN, seed=1)
    lora.activate(layers, adapter)
    assert torch.allclose(net(x), base), "B starts at zero"
    adapter.tensors["q_proj.B"].data.fill_(0.1)
    assert not torch.allclose(net(x), base)
    lora.activate(layers, None)
    assert torch.allclose(net(x), base)
    assert not any(p.requires_grad for p in net.parameters()), "base weights are frozen"


def test_batched_sampling_matches_one_request_at_a_time() -> None:
    """Left-padded batches give the same greedy tokens and logprobs as single requests."""
    from runner.backend import base_model, sampling
    from tests.e2e.conftest import tiny_model_path

    base = base_model.load(tiny_model_path())
    specs = [
        sampling.SampleSpec(
            list(range(5, 5 + n)), 2, max_tokens=5, temperature=0, stop=[], prompt_logprobs=True
        )
        for n in (3, 9, 17)
    ]
    batch = sampling.generate_batch(base, None, specs)
    for spec, together in zip(specs, batch, strict=True):
        alone = sampling.generate(base, None, spec)
        assert [s.tokens for s in alone.sequences] == [s.tokens for s in together.sequences]
        assert len(together.sequences[0].tokens) == 5
        assert np.allclose(alone.sequences[0].logprobs, together.sequences[0].logprobs, atol=1e-5)
        assert alone.prompt_logprobs is not None and together.prompt_logprobs is not None
        assert np.allclose(alone.prompt_logprobs[1:], together.prompt_logprobs[1:], atol=1e-5)
        assert np.isnan(together.prompt_logprobs[0])


def test_old_in_memory_sampler_snapshots_are_dropped() -> None:
    from runner.backend import engine

    eng = engine.Engine.__new__(engine.Engine)  # no worker thread or model: only the sampler table
    adapter = lora.Adapter(rank=1, alpha=1.0, targets=())
    eng.samplers = {f"s1:sample:{i}": engine.Sampler("m", None, adapter) for i in range(70)}
    eng.samplers["s1:sample:saved"] = engine.Sampler("m", "tinker://s1:train:0/sampler_weights/x")
    eng.samplers["s2:sample:0"] = engine.Sampler("m", None, adapter)
    eng._prune_snapshots("s1")
    kept = [k for k in eng.samplers if k.startswith("s1:") and eng.samplers[k].adapter is not None]
    assert len(kept) == engine.MAX_SNAPSHOTS_PER_SESSION and kept[-1] == "s1:sample:69"
    assert "s1:sample:saved" in eng.samplers and "s2:sample:0" in eng.samplers


def test_micro_batches_group_by_length_under_budget() -> None:
    from runner.backend.trainer import micro_batches

    lengths = [5, 100, 7, 90, 6, 100]
    groups = micro_batches(lengths, budget=200)
    assert sorted(i for g in groups for i in g) == list(range(6))
    for group in groups:
        assert len(group) * max(lengths[i] for i in group) <= 200 or len(group) == 1
    assert groups[0] == [0, 4, 2]  # the short ones travel together
    assert micro_batches([500], budget=10) == [[0]]


def test_micro_batching_does_not_change_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.backend import base_model, trainer
    from tests.e2e.conftest import tiny_model_path

    base = base_model.load(tiny_model_path())
    rng = np.random.default_rng(0)
    data = []
    for n in (4, 30, 9, 17):
        toks = rng.integers(0, base.vocab_size, n).tolist()
        inputs = {
            "target_tokens": np.array(toks),
            "logprobs": np.zeros(n, np.float32),
            "advantages": np.ones(n, np.float32),
        }
        data.append(trainer.DatumIn(toks, inputs))
    job = trainer.FwdBwdJob("m", "importance_sampling", {}, False, data)

    def run(budget: int) -> tuple[trainer.FwdBwdResult, list[torch.Tensor]]:
        monkeypatch.setattr(trainer, "MICRO_BATCH_TOKENS", budget)
        adapter = lora.new_adapter(base.layers, 4, lora.ATTN + lora.MLP, seed=5)
        for t in adapter.parameters():
            t.data.normal_(0, 0.05, generator=torch.Generator().manual_seed(1))
        tm = trainer.TrainingModel("m", "s", "b", {}, adapter, trainer.make_optimizer(adapter))
        result = trainer.forward_backward(base, tm, job)
        return result, [t.grad.clone() for t in adapter.parameters() if t.grad is not None]

    whole, grads_whole = run(10_000)
    split, grads_split = run(20)
    assert whole.metrics["loss:sum"] == pytest.approx(split.metrics["loss:sum"], rel=1e-5)
    for a, b in zip(whole.outputs, split.outputs, strict=True):
        assert np.allclose(a["logprobs"], b["logprobs"], atol=1e-5)
    assert len(grads_whole) == len(grads_split) > 0
    assert all(torch.allclose(a, b, atol=1e-5) for a, b in zip(grads_whole, grads_split, strict=True))
