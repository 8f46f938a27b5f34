"""Protocol conversion: the SDK's protobuf bodies and results, using the SDK's own proto module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tinker.proto import tinker_public_pb2 as pb
from tinker.proto.response_conv import _tensor_data_from_proto

from runner.backend.sampling import SampleResult
from runner.backend.trainer import DatumIn, FwdBwdJob, FwdBwdResult

MAX_DECOMPRESSED = 64 * 1024 * 1024  # the same ceiling as a plain body (http.MAX_BODY)
MAX_TOKENS = 65_536  # per datum, when the model's context is not known yet
MAX_BATCH_TOKENS = 1 << 20  # every datum of one request together
_CHUNK = 1 << 20
_ITEMSIZE = {pb.DTYPE_FLOAT32: 4, pb.DTYPE_INT64: 8, pb.DTYPE_INT32: 4, pb.DTYPE_BFLOAT16: 2}


class TooLarge(ValueError):
    """A body that would decompress past the limit (413)."""


@dataclass(frozen=True)
class Limits:
    """What a forward_backward body may ask for: tokens per datum, and the token id range."""

    max_tokens: int = MAX_TOKENS
    vocab_size: int | None = None


def decode_body(body: bytes, encoding: str | None, limit: int = MAX_DECOMPRESSED) -> bytes:
    """The body, decompressed in chunks and refused (TooLarge) as soon as it passes ``limit``."""
    if encoding and encoding.lower() == "zstd":
        return _unzstd(body, limit)
    if encoding and encoding.lower() not in ("identity", ""):
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")
    return body


def _unzstd(body: bytes, limit: int) -> bytes:
    import zstandard

    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(body, read_across_frames=True) as reader:
            while chunk := reader.read(_CHUNK):
                out += chunk
                if len(out) > limit:
                    raise TooLarge(f"zstd body decompresses past the {limit}-byte limit")
    except zstandard.ZstdError as exc:
        raise ValueError(f"malformed zstd body: {exc}") from exc
    return bytes(out)


def _config(msg: pb.ForwardBackwardRequest) -> dict[str, Any]:
    cfg: dict[str, Any] = {k: float(v) for k, v in msg.loss_fn_config.items()}
    for key, value in msg.loss_fn_config_v2.items():
        cfg[key] = value.text if value.WhichOneof("value") == "text" else float(value.number)
    return cfg


def parse_forward_backward(body: bytes, limits: Limits | None = None) -> tuple[FwdBwdJob, int]:
    """A protobuf ``ForwardBackwardRequest`` -> (job, seq_id); ValueError if malformed or out of bounds.

    Every size is checked against ``limits`` before anything is allocated for it."""
    limits = limits or Limits()
    msg = pb.ForwardBackwardRequest()
    try:
        msg.ParseFromString(body)
    except Exception as exc:
        raise ValueError(f"malformed protobuf ForwardBackwardRequest: {exc}") from exc
    if not msg.model_id:
        raise ValueError("forward_backward request has no model_id")
    data, total = [], 0
    for i, datum in enumerate(msg.data):
        tokens = _tokens(i, datum, limits)
        total += len(tokens)
        if total > MAX_BATCH_TOKENS:
            raise ValueError(f"the request holds more than {MAX_BATCH_TOKENS} tokens")
        inputs = {name: _tensor(i, name, t, limits) for name, t in datum.loss_fn_inputs.items()}
        data.append(DatumIn(tokens=tokens, inputs=inputs))
    job = FwdBwdJob(
        model_id=msg.model_id,
        loss_fn=msg.loss_fn or "cross_entropy",
        loss_fn_config=_config(msg),
        forward_only=bool(msg.forward_only),
        data=data,
    )
    return job, int(msg.seq_id)


def _tokens(i: int, datum: Any, limits: Limits) -> list[int]:
    """The datum's token ids, bounded in count and range before they become a list."""
    arrays = []
    for chunk in datum.model_input:
        if chunk.WhichOneof("chunk") != "encoded_text":
            raise ValueError(f"datum {i}: only text chunks are supported by this backend")
        raw = chunk.encoded_text.tokens
        if len(raw) % 4:
            raise ValueError(f"datum {i}: encoded_text.tokens is not a whole number of int32 values")
        arrays.append(np.frombuffer(raw, dtype=np.int32))
    count = sum(a.size for a in arrays)
    if count > limits.max_tokens:
        raise ValueError(f"datum {i}: {count} tokens, more than the {limits.max_tokens} allowed")
    ids = np.concatenate(arrays) if arrays else np.zeros(0, np.int32)
    top = limits.vocab_size if limits.vocab_size is not None else int(np.iinfo(np.int32).max) + 1
    bad = ids[(ids < 0) | (ids >= top)]
    if bad.size:
        raise ValueError(f"datum {i}: token id {int(bad[0])} outside the vocabulary (0..{top - 1})")
    return list(ids.tolist())


def _tensor(i: int, name: str, t: Any, limits: Limits) -> np.ndarray:
    """One ``loss_fn_inputs`` tensor as numpy, after checking its shape against its bytes and limits."""
    where = f"datum {i}: loss_fn_inputs[{name!r}]"
    itemsize = _ITEMSIZE.get(t.dtype)
    if itemsize is None:
        raise ValueError(f"{where}: unsupported dtype {t.dtype}")
    shape = list(t.shape)
    if any(d < 0 for d in shape) or len(shape) > 4:
        raise ValueError(f"{where}: bad shape {shape}")
    count = int(np.prod(shape, dtype=object)) if shape else 0
    if count > limits.max_tokens:
        raise ValueError(f"{where}: shape {shape} holds {count} values, more than {limits.max_tokens}")
    if t.HasField("sparse_csr"):
        _check_sparse(where, t, shape, itemsize, count)
    elif shape and len(t.dense) != count * itemsize:
        raise ValueError(f"{where}: {len(t.dense)} bytes do not fill shape {shape}")
    try:
        return np.asarray(_tensor_data_from_proto(t).to_numpy())
    except (ValueError, RuntimeError, TypeError, AssertionError, IndexError) as exc:
        raise ValueError(f"{where}: {exc}") from exc


def _check_sparse(where: str, t: Any, shape: list[int], itemsize: int, count: int) -> None:
    csr = t.sparse_csr
    if len(shape) != 2:
        raise ValueError(f"{where}: a sparse tensor must be 2-D, not shape {shape}")
    values = len(csr.values) // itemsize
    if len(csr.values) % itemsize or len(csr.col_indices) != values * 8 or values > count:
        raise ValueError(f"{where}: sparse values and column indices do not match")
    if len(csr.crow_indices) != (shape[0] + 1) * 8:
        raise ValueError(f"{where}: sparse row index does not match shape {shape}")


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
