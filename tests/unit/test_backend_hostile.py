"""Hostile bodies against a real backend server: each gets a 4xx before the server allocates for it,
and the server keeps serving. Real HTTP to a real server process (started here, in a private home)."""

from __future__ import annotations

import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from runner.backend import lifecycle
from runner.backend.state import BackendInfo
from tests.e2e.conftest import tiny_model_path

PROTO = "application/x-protobuf"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendInfo]:
    model = tiny_model_path()
    old = os.environ.get("TINKERTOP_HOME")
    os.environ["TINKERTOP_HOME"] = str(tmp_path_factory.mktemp("hostile_home"))
    try:
        yield lifecycle.start(wait=True, model=model)
    finally:
        lifecycle.stop()
        if old is None:
            os.environ.pop("TINKERTOP_HOME", None)
        else:
            os.environ["TINKERTOP_HOME"] = old


def post(info: BackendInfo, path: str, body: bytes, **headers: str) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", info.port, timeout=120)
    try:
        conn.request("POST", f"/api/v1/{path}", body=body, headers={"X-API-Key": info.key, **headers})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    try:
        return resp.status, json.loads(raw or b"{}")
    except ValueError:
        return resp.status, {"raw": raw[:200].decode("latin-1")}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def fwd_bwd(tokens: list[int], **inputs: object) -> bytes:
    from tinker.proto import tinker_public_pb2 as pb

    msg = pb.ForwardBackwardRequest(model_id="hostile:train:0", loss_fn="cross_entropy")
    datum = msg.data.add()
    datum.model_input.add().encoded_text.tokens = np.asarray(tokens, dtype=np.int32).tobytes()
    for name, tensor in inputs.items():
        datum.loss_fn_inputs[name].CopyFrom(tensor)
    return bytes(msg.SerializeToString())


def sparse(shape: list[int]) -> object:
    from tinker.proto import tinker_public_pb2 as pb

    t = pb.Tensor(dtype=pb.DTYPE_FLOAT32, shape=shape)
    t.sparse_csr.crow_indices = np.zeros(2, dtype=np.int64).tobytes()
    return t


def dense(values: list[float], shape: list[int]) -> object:
    from tinker.proto import tinker_public_pb2 as pb

    return pb.Tensor(dtype=pb.DTYPE_FLOAT32, shape=shape, dense=np.asarray(values, np.float32).tobytes())


def healthy(info: BackendInfo) -> bool:
    return lifecycle.request(info, "healthz", timeout=30).get("status") == "ok"


def test_a_tiny_sparse_tensor_of_a_huge_shape_is_refused_before_allocating(server: BackendInfo) -> None:
    body = fwd_bwd([1, 2, 3], weights=sparse([1, 300_000_000]))
    assert len(body) < 100
    before = peak_rss_mb(server.pid)
    status, reply = post(server, "forward_backward", body, **{"Content-Type": PROTO})
    assert status == 400 and "weights" in reply["detail"], reply
    assert peak_rss_mb(server.pid) - before < 200  # the 1.2 GB densification never happened
    status, reply = post(
        server, "forward_backward", fwd_bwd([1], w=sparse([1, 10**12])), **{"Content-Type": PROTO}
    )
    assert status == 400, reply
    status, reply = post(
        server, "forward_backward", fwd_bwd([1], w=sparse([-1, 5])), **{"Content-Type": PROTO}
    )
    assert status == 400, reply
    assert healthy(server)


def test_dense_tensor_bytes_must_match_its_shape_and_tokens_the_vocabulary(server: BackendInfo) -> None:
    ct = {"Content-Type": PROTO}
    status, reply = post(server, "forward_backward", fwd_bwd([1, 2], w=dense([1.0], [2])), **ct)
    assert status == 400 and "w" in reply["detail"], reply
    status, reply = post(server, "forward_backward", fwd_bwd([1, 10**9], w=dense([1.0, 1.0], [2])), **ct)
    assert status == 400 and "vocabulary" in reply["detail"], reply
    assert healthy(server)


def test_deeply_nested_json_is_a_400(server: BackendInfo) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for path in ("create_session", "telemetry", "asample"):
        status, reply = post(server, path, deep, **{"Content-Type": "application/json"})
        if path == "telemetry":  # telemetry does not parse its body
            assert status < 500
            continue
        assert status == 400 and "nest" in reply["detail"], (path, reply)
    obj = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    status, reply = post(server, "create_session", obj, **{"Content-Type": "application/json"})
    assert status == 400, reply
    assert healthy(server)


def test_zstd_garbage_and_bombs_are_4xx(server: BackendInfo) -> None:
    import zstandard

    headers = {"Content-Type": PROTO, "Content-Encoding": "zstd"}
    status, reply = post(server, "forward_backward", b"\x28\xb5\x2f\xfd garbage" * 10, **headers)
    assert status == 400 and "zstd" in reply["detail"], reply
    status, reply = post(server, "forward_backward", b"not zstd at all", **headers)
    assert status == 400, reply
    zeros = b"\0" * (1 << 20)
    cctx = zstandard.ZstdCompressor(level=3)
    writer = cctx.compressobj()  # no content size in the frame: the server cannot know it in advance
    bomb = b"".join(writer.compress(zeros) for _ in range(600)) + writer.flush()
    assert len(bomb) < 1 << 20
    before = peak_rss_mb(server.pid)
    status, reply = post(server, "forward_backward", bomb, **headers)
    assert status == 413 and "decompress" in reply["detail"], reply
    assert peak_rss_mb(server.pid) - before < 200
    sized = cctx.compress(b"\0" * (100 << 20))  # the frame declares 100 MB
    status, reply = post(server, "forward_backward", sized, **headers)
    assert status == 413, reply
    assert healthy(server)
