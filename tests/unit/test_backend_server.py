"""A real backend server subprocess: auth, bad input, the key's privacy, and the tinker SDK
talking to it (training, sampling, several models at once)."""

from __future__ import annotations

import http.client
import json
import os
import stat
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from runner.backend import lifecycle, state
from runner.backend.state import BackendInfo
from tests.e2e.conftest import tiny_model_path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendInfo]:
    model = tiny_model_path()
    home = tmp_path_factory.mktemp("backend_home")
    old = os.environ.get("TINKERTOP_HOME")
    os.environ["TINKERTOP_HOME"] = str(home)
    try:
        yield lifecycle.start(wait=True, model=model)
    finally:
        lifecycle.stop()
        if old is None:
            os.environ.pop("TINKERTOP_HOME", None)
        else:
            os.environ["TINKERTOP_HOME"] = old


def call(
    info: BackendInfo, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(f"{info.url}/api/v1/{path}", data=body, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def healthy(info: BackendInfo) -> bool:
    return call(info, "healthz", **{"X-API-Key": info.key}) == (200, {"status": "ok"})


@pytest.fixture()
def sdk(server: BackendInfo, monkeypatch: pytest.MonkeyPatch) -> Any:
    for key, value in lifecycle.env_for(server).items():
        monkeypatch.setenv(key, value)
    # these in-process clients live until the interpreter exits, after this module's server has
    # stopped: their exit-time telemetry flush would only print connection errors (recipes in
    # subprocesses keep telemetry on and reach the server's /telemetry route)
    monkeypatch.setenv("TINKER_TELEMETRY", "0")
    import tinker

    return tinker.ServiceClient()


def test_requests_without_the_key_are_refused(server: BackendInfo) -> None:
    assert call(server, "healthz")[0] == 401
    assert call(server, "healthz", **{"X-API-Key": "tml-wrong"})[0] == 401
    assert call(server, "create_session", b"{}", **{"X-API-Key": server.key[:-1]})[0] == 401
    assert healthy(server)


def test_bad_input_gets_4xx_and_the_server_keeps_serving(server: BackendInfo) -> None:
    key = {"X-API-Key": server.key, "Content-Type": "application/json"}
    status, body = call(server, "create_session", b"{not json", **key)
    assert status == 400 and "malformed JSON" in body["detail"]
    status, body = call(server, "create_model", b'{"session_id": 5}', **key)
    assert status == 422 and "CreateModelRequest" in body["detail"]
    status, body = call(
        server,
        "forward_backward",
        b"\xff\xfe junk",
        **dict(key, **{"Content-Type": "application/x-protobuf"}),
    )
    assert status == 400
    asks_topk = {
        "prompt": {"chunks": [{"tokens": [1, 2, 3], "type": "encoded_text"}]},
        "sampling_params": {"max_tokens": 2},
        "base_model": server.model_path,
        "topk_prompt_logprobs": 2,
    }
    status, body = call(server, "asample", json.dumps(asks_topk).encode(), **key)
    assert status == 400 and "topk_prompt_logprobs" in body["detail"]
    status, body = call(
        server, "asample", json.dumps(dict(asks_topk, base_model="Qwen/Qwen3-8B")).encode(), **key
    )
    assert status == 400 and "not served here" in body["detail"]
    status, body = call(server, "retrieve_future", b'{"request_id": "nope"}', **key)
    assert status == 410
    # a declared body over the limit is refused before it is read
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.putrequest("POST", "/api/v1/telemetry")
    for name, value in {**key, "Content-Length": str(65 * 1024 * 1024)}.items():
        conn.putheader(name, value)
    conn.endheaders(b"{}")
    resp = conn.getresponse()
    assert resp.status == 413 and b"limit" in resp.read()
    conn.close()
    # a chunked body (no length declared) is cut off once it passes the limit
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    big = (b" " * (1024 * 1024) for _ in range(66))
    try:
        conn.request("POST", "/api/v1/telemetry", body=big, headers=key, encode_chunked=True)
        assert conn.getresponse().status == 413
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered 413 and closed before the upload ended
    conn.close()
    assert healthy(server)


def test_key_is_private_and_never_logged(server: BackendInfo) -> None:
    path = state.state_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert server.key.startswith("tml-") and len(server.key) > 30
    assert lifecycle.status() == server
    log = Path(server.log_path).read_text()
    assert "listening on" in log
    assert server.key not in log
    assert server.url.startswith("http://127.0.0.1:")


def test_sdk_training_loss_falls(server: BackendInfo, sdk: Any) -> None:
    from tinker import types

    tc = sdk.create_lora_training_client(base_model=server.model_path, rank=8).result()
    tok = tc.get_tokenizer()
    ids = tok.encode("What is 12 + 35? 12 + 35 = 47")
    datum = types.Datum(
        model_input=types.ModelInput.from_ints(ids[:-1]),
        loss_fn_inputs={"target_tokens": ids[1:], "weights": [1.0] * (len(ids) - 1)},
    )
    losses = []
    for _ in range(5):
        fb = tc.forward_backward([datum], "cross_entropy")
        tc.optim_step(types.AdamParams(learning_rate=5e-3)).result()
        out = fb.result()
        losses.append(out.metrics["loss:sum"])
        assert len(out.loss_fn_outputs[0]["logprobs"].data) == len(ids) - 1
    assert losses[-1] < losses[0] * 0.9, losses


def test_sdk_sampling_respects_max_tokens_and_stops(server: BackendInfo, sdk: Any) -> None:
    from tinker import types

    sampler = sdk.create_sampling_client(base_model=server.model_path).result()
    tok = sampler.get_tokenizer()
    prompt = types.ModelInput.from_ints(tok.encode("What is 3 + 4?"))
    res = sampler.sample(prompt, 3, types.SamplingParams(max_tokens=6, stop=[], seed=7)).result()
    assert len(res.sequences) == 3
    assert all(len(s.tokens) == 6 and s.stop_reason == "length" for s in res.sequences)
    assert all(len(s.logprobs) == 6 for s in res.sequences)
    again = sampler.sample(prompt, 3, types.SamplingParams(max_tokens=6, stop=[], seed=7)).result()
    assert [s.tokens for s in again.sequences] == [s.tokens for s in res.sequences], "same seed, same draws"
    # every token id we saw, used as a stop token, ends its sequence right there
    first = res.sequences[0].tokens[0]
    stopped = sampler.sample(prompt, 2, types.SamplingParams(max_tokens=6, stop=[first], seed=7)).result()
    assert stopped.sequences[0].tokens == [first] and stopped.sequences[0].stop_reason == "stop"
    text = tok.decode(res.sequences[1].tokens[:2])
    by_string = sampler.sample(prompt, 3, types.SamplingParams(max_tokens=6, stop=[text], seed=7)).result()
    assert by_string.sequences[1].stop_reason == "stop"
    assert text in tok.decode(by_string.sequences[1].tokens)
    logprobs = sampler.compute_logprobs(prompt).result()
    assert logprobs[0] is None and all(isinstance(x, float) and x < 0 for x in logprobs[1:])


def test_four_models_train_at_once_with_their_own_adapters(server: BackendInfo, sdk: Any) -> None:
    from tinker import types

    clients = [
        sdk.create_lora_training_client(base_model=server.model_path, rank=4, seed=i).result()
        for i in range(4)
    ]
    tok = clients[0].get_tokenizer()
    texts = [f"{n} + {n} = {2 * n}" for n in (11, 22, 33, 44)]

    def train(i: int) -> tuple[float, float]:
        ids = tok.encode(texts[i])
        datum = types.Datum(
            model_input=types.ModelInput.from_ints(ids[:-1]), loss_fn_inputs={"target_tokens": ids[1:]}
        )
        first = last = 0.0
        for step in range(4):
            fb = clients[i].forward_backward([datum], "cross_entropy")
            clients[i].optim_step(types.AdamParams(learning_rate=1e-2 if i < 3 else 0.0)).result()
            loss = fb.result().metrics["loss:sum"]
            first, last = (loss, loss) if step == 0 else (first, loss)
        return first, last

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(train, range(4)))
    assert len({c.model_id for c in clients}) == 4
    for first, last in results[:3]:
        assert last < first
    assert results[3][0] == pytest.approx(results[3][1]), "lr 0: this adapter must not move"
    path = clients[0].save_weights_for_sampler("trained").result().path
    trained = sdk.create_sampling_client(model_path=path).result()
    base = sdk.create_sampling_client(base_model=server.model_path).result()
    ids = types.ModelInput.from_ints(tok.encode(texts[0]))
    assert trained.compute_logprobs(ids).result() != base.compute_logprobs(ids).result()
    status = lifecycle.details(server)
    assert status["models"] >= 4 and status["live_sessions"] >= 1 and "key" not in status


def test_ensure_running_reuses_the_healthy_server(server: BackendInfo) -> None:
    assert lifecycle.ensure_running(Path(server.model_path)) == server
    assert lifecycle.ensure_running() == server
    assert lifecycle.env_for(server) == {"TINKER_BASE_URL": server.url, "TINKER_API_KEY": server.key}


def test_cli_status_shows_the_server_but_not_the_key(server: BackendInfo) -> None:
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    for extra in ([], ["--json"]):
        proc = subprocess.run(
            [sys.executable, "-m", "runner.cli", "backend", "status", *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert server.url in proc.stdout and str(server.pid) in proc.stdout
        assert server.key not in proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["running"] is True and data["model_path"] == server.model_path
    assert {"live_sessions", "models", "uptime_s"} <= set(data)


def test_cancel_future_is_accepted(server: BackendInfo) -> None:
    key = {"X-API-Key": server.key, "Content-Type": "application/json"}
    assert call(server, "cancel_future", b'{"request_id": "req_never"}', **key)[0] == 200
    assert healthy(server)


def test_sdk_forward_policy_losses_and_state_roundtrip(server: BackendInfo, sdk: Any) -> None:
    import math

    from tinker import types

    tc = sdk.create_lora_training_client(base_model=server.model_path, rank=4, seed=3).result()
    ids = tc.get_tokenizer().encode("7 + 8 = 15")
    n = len(ids) - 1
    plain = types.Datum(
        model_input=types.ModelInput.from_ints(ids[:-1]), loss_fn_inputs={"target_tokens": ids[1:]}
    )
    lp = tc.forward([plain], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].data
    assert len(lp) == n and all(x < 0 for x in lp)
    assert tc.forward([plain], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].data == lp, (
        "forward trains nothing"
    )
    adv = [1.0] * n
    old = [x - 0.5 for x in lp]  # ratio e^0.5 = 1.65
    policy = types.Datum(
        model_input=plain.model_input,
        loss_fn_inputs={"target_tokens": ids[1:], "logprobs": old, "advantages": adv},
    )
    is_loss = tc.forward([policy], "importance_sampling").result().metrics["loss:sum"]
    assert is_loss == pytest.approx(-n * math.exp(0.5), rel=1e-4)
    ppo = tc.forward([policy], "ppo", {"clip_low_threshold": 0.8, "clip_high_threshold": 1.2}).result()
    assert ppo.metrics["loss:sum"] == pytest.approx(-n * 1.2, rel=1e-4)
    assert ppo.loss_fn_outputs[0]["elementwise_loss"].data == pytest.approx([-1.2] * n, rel=1e-4)
    saved = tc.save_state("before").result().path
    tc.forward_backward([plain], "cross_entropy").result()
    tc.optim_step(types.AdamParams(learning_rate=5e-2)).result()
    moved = tc.forward([plain], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].data
    assert moved != pytest.approx(lp)
    tc.load_state(saved).result()
    back = tc.forward([plain], "cross_entropy").result().loss_fn_outputs[0]["logprobs"].data
    assert back == pytest.approx(lp, abs=1e-6)
