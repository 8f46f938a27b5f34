"""Protocol conversion: the SDK's protobuf bodies and results, using the SDK's own proto module."""

from __future__ import annotations

from typing import Any

import numpy as np
from tinker.proto import tinker_public_pb2 as pb
from tinker.proto.response_conv import _tensor_data_from_proto

from runner.backend.sampling import SampleResult
from runner.backend.trainer import DatumIn, FwdBwdJob, FwdBwdResult

MAX_DECOMPRESSED = 512 * 1024 * 1024


def decode_body(body: bytes, encoding: str | None) -> bytes:
    if encoding and encoding.lower() == "zstd":
        import zstandard

        return zstandard.ZstdDecompressor().decompress(body, max_output_size=MAX_DECOMPRESSED)
    if encoding and encoding.lower() not in ("identity", ""):
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return body


def _config(msg: pb.ForwardBackwardRequest) -> dict[str, Any]:
    cfg: dict[str, Any] = {k: float(v) for k, v in msg.loss_fn_config.items()}
    for key, value in msg.loss_fn_config_v2.items():
        cfg[key] = value.text if value.WhichOneof("value") == "text" else float(value.number)
    return cfg


def parse_forward_backward(body: bytes) -> tuple[FwdBwdJob, int]:
    """A protobuf ``ForwardBackwardRequest`` -> (job, seq_id); ValueError if malformed."""
    msg = pb.ForwardBackwardRequest()
    try:
        msg.ParseFromString(body)
    except Exception as exc:
        raise ValueError(f"malformed protobuf ForwardBackwardRequest: {exc}") from exc
    if not msg.model_id:
        raise ValueError("forward_backward request has no model_id")
    data = []
    for i, datum in enumerate(msg.data):
        tokens: list[int] = []
        for chunk in datum.model_input:
            if chunk.WhichOneof("chunk") != "encoded_text":
                raise ValueError(f"datum {i}: only text chunks are supported by this backend")
            tokens.extend(np.frombuffer(chunk.encoded_text.tokens, dtype=np.int32).tolist())
        inputs = {name: _tensor_data_from_proto(t).to_numpy() for name, t in datum.loss_fn_inputs.items()}
        data.append(DatumIn(tokens=tokens, inputs=inputs))
    job = FwdBwdJob(
        model_id=msg.model_id,
        loss_fn=msg.loss_fn or "cross_entropy",
        loss_fn_config=_config(msg),
        forward_only=bool(msg.forward_only),
        data=data,
    )
    return job, int(msg.seq_id)


def _batched(arrays: list[np.ndarray]) -> pb.BatchedTensor:
    bt = pb.BatchedTensor()
    flat = [np.ascontiguousarray(a, dtype=np.float32).reshape(-1) for a in arrays]
    offsets = np.zeros(len(flat) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([a.nbytes for a in flat])
    bt.data = b"".join(a.tobytes() for a in flat)
    bt.offsets = offsets.tobytes()
    bt.dtype = pb.DTYPE_FLOAT32
    return bt


def forward_backward_proto(result: FwdBwdResult) -> bytes:
    msg = pb.ForwardBackwardOutput()
    msg.loss_fn_output_type = "ArrayRecord"
    for key, value in result.metrics.items():
        msg.metrics[key] = float(value)
    if result.outputs:
        record = msg.loss_fn_outputs.add()
        record.num_datums = len(result.outputs)
        for name in result.outputs[0]:
            record.fields[name].CopyFrom(_batched([out[name] for out in result.outputs]))
    return bytes(msg.SerializeToString())


def forward_backward_json(result: FwdBwdResult) -> dict[str, Any]:
    outputs = [
        {k: {"data": v.tolist(), "dtype": "float32", "shape": list(v.shape)} for k, v in out.items()}
        for out in result.outputs
    ]
    return {"loss_fn_output_type": "ArrayRecord", "loss_fn_outputs": outputs, "metrics": result.metrics}


def sample_proto(result: SampleResult) -> bytes:
    msg = pb.SampleResponse()
    for seq in result.sequences:
        out = msg.sequences.add()
        out.stop_reason = pb.STOP_REASON_STOP if seq.stop_reason == "stop" else pb.STOP_REASON_LENGTH
        out.tokens = np.asarray(seq.tokens, dtype=np.int32).tobytes()
        out.logprobs = np.asarray(seq.logprobs, dtype=np.float32).tobytes()
    if result.prompt_logprobs is not None:
        msg.prompt_logprobs = result.prompt_logprobs.astype(np.float32).tobytes()
    return bytes(msg.SerializeToString())


def sample_json(result: SampleResult) -> dict[str, Any]:
    seqs = [
        {"tokens": s.tokens, "logprobs": s.logprobs, "stop_reason": s.stop_reason} for s in result.sequences
    ]
    plp = None
    if result.prompt_logprobs is not None:
        plp = [None if np.isnan(x) else float(x) for x in result.prompt_logprobs]
    return {"type": "sample", "sequences": seqs, "prompt_logprobs": plp}
