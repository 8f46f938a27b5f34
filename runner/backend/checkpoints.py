"""Checkpoints and training-run records on disk, addressed by ``tinker://`` paths.

Layout under the store root: ``runs/<model_id>.json`` and
``checkpoints/<model_id>/<weights|sampler_weights>/<name>/{adapter.safetensors,optimizer.pt,meta.json}``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from runner.backend.lora import Adapter

KINDS = {"weights": "training", "sampler_weights": "sampler"}
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,200}$")


def check_name(value: str, what: str) -> str:
    if not _NAME.match(value or "") or ".." in value:
        raise ValueError(f"invalid {what} {value!r}: use letters, digits, '_', '-', '.', ':'")
    return value


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


@dataclass(frozen=True)
class Located:
    """A resolved checkpoint: its folder and what meta.json says about it."""

    path: str
    folder: Path
    meta: dict[str, Any]


def parse_path(tinker_path: str) -> tuple[str, str, str]:
    """``tinker://<model_id>/<kind>/<name>`` -> (model_id, kind, name); ValueError otherwise."""
    if not tinker_path.startswith("tinker://"):
        raise ValueError(f"not a tinker:// path: {tinker_path!r}")
    parts = tinker_path[len("tinker://") :].split("/")
    if len(parts) != 3 or parts[1] not in KINDS:
        raise ValueError(f"malformed tinker path {tinker_path!r}: want tinker://<run>/weights/<name>")
    return check_name(parts[0], "training run id"), parts[1], check_name(parts[2], "checkpoint name")


def _atomic_json(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


class Store:
    """Runs and checkpoints of one backend state folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = root / "runs"
        self.ckpts = root / "checkpoints"
        self.runs.mkdir(parents=True, exist_ok=True)
        self.ckpts.mkdir(parents=True, exist_ok=True)

    # training runs ---------------------------------------------------------------------------
    def record_run(self, model_id: str, record: dict[str, Any]) -> None:
        data = dict(record, training_run_id=model_id, last_request_time=iso(time.time()))
        _atomic_json(self.runs / f"{check_name(model_id, 'model id')}.json", data)

    def touch_run(self, model_id: str) -> None:
        run = self.get_run(model_id)
        if run is not None:
            self.record_run(model_id, run)

    def get_run(self, model_id: str) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.runs / f"{check_name(model_id, 'id')}.json").read_text())
        except (OSError, ValueError):
            return None
        return data

    def list_runs(self) -> list[dict[str, Any]]:
        runs = []
        for path in self.runs.glob("*.json"):
            run = self.get_run(path.stem)
            if run is not None:
                runs.append(run)
        return sorted(runs, key=lambda r: r.get("last_request_time", ""), reverse=True)

    # checkpoints -----------------------------------------------------------------------------
    def save(
        self,
        model_id: str,
        kind: str,
        name: str,
        adapter: Adapter,
        meta: dict[str, Any],
        optimizer_state: dict[str, Any] | None = None,
    ) -> str:
        """Write one checkpoint (replacing one of the same name); returns its tinker path."""
        folder = self.ckpts / check_name(model_id, "model id") / kind / check_name(name, "name")
        tmp = folder.with_name(f".{name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        tensors = {k: v.detach().contiguous() for k, v in adapter.tensors.items()}
        save_file(tensors, str(tmp / "adapter.safetensors"))
        if optimizer_state is not None:
            torch.save(optimizer_state, tmp / "optimizer.pt")
        info = dict(meta, rank=adapter.rank, alpha=adapter.alpha, targets=list(adapter.targets))
        info.update(created=time.time(), kind=kind, name=name, model_id=model_id)
        _atomic_json(tmp / "meta.json", info)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        self.touch_run(model_id)
        return f"tinker://{model_id}/{kind}/{name}"

    def locate(self, tinker_path: str) -> Located:
        model_id, kind, name = parse_path(tinker_path)
        folder = self.ckpts / model_id / kind / name
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError) as exc:
            raise LookupError(f"checkpoint not found: {tinker_path}") from exc
        return Located(tinker_path, folder, meta)

    def load_adapter(self, found: Located, trainable: bool) -> Adapter:
        tensors = load_file(str(found.folder / "adapter.safetensors"))
        if trainable:
            tensors = {k: v.clone().requires_grad_(True) for k, v in tensors.items()}
        meta = found.meta
        return Adapter(int(meta["rank"]), float(meta["alpha"]), tuple(meta["targets"]), tensors)

    def load_optimizer(self, found: Located) -> dict[str, Any] | None:
        path = found.folder / "optimizer.pt"
        if not path.exists():
            return None
        state: dict[str, Any] = torch.load(path, weights_only=True)
        return state

    def list_checkpoints(self, model_id: str | None = None) -> list[dict[str, Any]]:
        """Checkpoint records in the SDK's ``Checkpoint`` shape, newest first."""
        base = self.ckpts / check_name(model_id, "model id") if model_id else self.ckpts
        out = []
        for meta_path in base.glob("*/*/meta.json" if model_id else "*/*/*/meta.json"):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            size = sum(p.stat().st_size for p in meta_path.parent.iterdir() if p.is_file())
            out.append(
                {
                    "checkpoint_id": f"{meta['kind']}/{meta['name']}",
                    "checkpoint_type": KINDS[meta["kind"]],
                    "time": iso(meta["created"]),
                    "tinker_path": f"tinker://{meta['model_id']}/{meta['kind']}/{meta['name']}",
                    "size_bytes": size,
                }
            )
        return sorted(out, key=lambda c: c["time"], reverse=True)
