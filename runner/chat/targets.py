"""What ``tinkertop chat`` samples from: a run's base model or one of its sampler checkpoints.

Cheap to import (no tinker, no torch): the app builds its checkpoint picker from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.json_rows import json_objects

BASE = "base"
FINAL = "final"


class TargetError(ValueError):
    """The run, checkpoint or model cannot be resolved; the message says what is missing."""


@dataclass(frozen=True)
class Choice:
    """One thing to sample from: the base model (``sampler_path`` None) or a sampler checkpoint."""

    name: str
    sampler_path: str | None = None
    step: int | None = None

    @property
    def label(self) -> str:
        if self.sampler_path is None:
            return "base model"
        plain = self.step is None or self.name in (FINAL, f"{self.step:06d}", str(self.step))
        return self.name if plain else f"{self.name} (step {self.step})"


@dataclass(frozen=True)
class ChatTarget:
    """A run (or a bare checkpoint) ready to sample: its model, renderer and choices."""

    model_name: str | None
    renderer_name: str | None
    choices: list[Choice] = field(default_factory=list)
    run_path: str | None = None

    def pick(self, name: str | None) -> Choice:
        """``base``, ``final``, a checkpoint name or step, or a ``tinker://`` path; default: final, else
        the last sampler checkpoint, else the base model."""
        if name is None:
            samplers = [c for c in self.choices if c.sampler_path]
            return next(
                (c for c in samplers if c.name == FINAL), samplers[-1] if samplers else self.choices[0]
            )
        if name.startswith("tinker://"):
            return next((c for c in self.choices if c.sampler_path == name), Choice(name, name))
        for choice in self.choices:
            if name in (choice.name, str(choice.step)) or (name.isdigit() and choice.step == int(name)):
                return choice
        known = ", ".join(c.name for c in self.choices)
        raise TargetError(f"no checkpoint {name!r} in {self.run_path}: choose one of {known}")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def choices_from_records(records: list[dict[str, Any]]) -> list[Choice]:
    """Base first, then each record with a ``sampler_path`` in file order (a later record of the same
    name replaces the earlier one: a resumed run saves again)."""
    by_name: dict[str, Choice] = {}
    for rec in records:
        path = rec.get("sampler_path")
        if isinstance(path, str) and path:
            name = str(rec.get("name") or path.rsplit("/", 1)[-1])
            by_name.pop(name, None)
            by_name[name] = Choice(name, path, _int(rec.get("batch", rec.get("step"))))
    return [Choice(BASE), *by_name.values()]


def read_records(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of ``checkpoints.jsonl`` and a note per line that is not a JSON object."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], []
    notes: list[str] = []
    return [rec for _, rec in json_objects(data, str(path), notes)], notes


def _config(run: Path) -> dict[str, Any]:
    path = run / "config.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise TargetError(f"{path}: not JSON ({exc})") from exc
    return data if isinstance(data, dict) else {}


def _find(config: dict[str, Any], key: str) -> str | None:
    """``key`` at the top of the config, else the first nested one (``dataset_builder.renderer_name``)."""
    value = config.get(key)
    if isinstance(value, str) and value:
        return value
    for sub in config.values():
        if isinstance(sub, dict):
            found = _find(sub, key)
            if found:
                return found
    return None


def model_and_renderer(config: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """The run's base model and renderer from its ``config.json`` (``model_name_for_tokenizer`` when a
    config only names the tokenizer's model)."""
    config = config or {}
    model = _find(config, "model_name") or _find(config, "model_name_for_tokenizer")
    return model, _find(config, "renderer_name")


def load_target(ref: str) -> ChatTarget:
    """A run folder (its ``config.json`` and ``checkpoints.jsonl``) or a bare ``tinker://`` sampler path."""
    if ref.startswith("tinker://"):
        return ChatTarget(None, None, [Choice(ref.rsplit("/", 1)[-1], ref)], None)
    run = Path(ref).expanduser()
    if not run.is_dir():
        raise TargetError(f"{ref}: not a run folder nor a tinker:// checkpoint path")
    model, renderer = model_and_renderer(_config(run))
    records, _notes = read_records(run / "checkpoints.jsonl")
    return ChatTarget(model, renderer, choices_from_records(records), str(run))
