"""Prompts to try a checkpoint on, from where a run keeps them (cheap to import: the app uses it).

First the held-out rows of the run's results folder (what base and trained were scored on), then the
run's own data files named in ``config.json`` (``test_path`` before ``file_path`` / ``train_path``):
chat rows (``messages``), comparisons (``prompt_conversation``) or plain ``question``/``problem``/``prompt``.
Reads are bounded: the first ``MAX_BYTES`` of a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MAX_BYTES = 1 << 20
DATA_KEYS = ("test_path", "file_path", "train_path")


def prompt_text(value: Any) -> str:
    """A prompt as text: a string as is; a conversation: its first user turn."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        users = [m.get("content") for m in value if isinstance(m, dict) and m.get("role") == "user"]
        return users[0] if users and isinstance(users[0], str) else ""
    return ""


def row_prompt(row: Any) -> str:
    if not isinstance(row, dict):
        return ""
    for key in ("question", "problem", "prompt", "messages"):
        if key in row:
            return prompt_text(row[key])
    comparison = row.get("comparison")
    if isinstance(comparison, dict):
        return prompt_text(comparison.get("prompt_conversation"))
    return ""


def jsonl_prompts(path: Path, limit: int) -> list[str]:
    try:
        with path.open("rb") as f:
            head = f.read(MAX_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return []
    out: list[str] = []
    for line in head.splitlines()[:-1] if len(head) == MAX_BYTES else head.splitlines():
        try:
            text = row_prompt(json.loads(line))
        except ValueError:
            continue
        if text:
            out.append(text)
        if len(out) >= limit:
            break
    return out


def data_files(config: dict[str, Any]) -> list[Path]:
    """JSONL files the config names under ``DATA_KEYS`` (any depth), test sets first, existing only."""
    found: dict[str, list[Path]] = {key: [] for key in DATA_KEYS}

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in found and isinstance(value, str) and value.endswith(".jsonl"):
                    found[key].append(Path(value).expanduser())
                walk(value)

    walk(config)
    return [p for key in DATA_KEYS for p in found[key] if p.is_file()]


def run_prompts(run_path: str, limit: int = 200) -> list[str]:
    """Distinct prompts for the run: its results rows, then its data files (blocking: call from a worker)."""
    from runner.experiment.results import BASE_FILE, ResultsError, read_rows
    from runner.experiment.verdict import find_results

    prompts: list[str] = []
    folder = find_results(run_path)
    if folder is not None:
        try:
            prompts += [row_prompt(r) for r in read_rows(folder / BASE_FILE)[:limit]]
        except ResultsError:
            pass
    try:
        config = json.loads((Path(run_path) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    for path in data_files(config if isinstance(config, dict) else {}):
        prompts += jsonl_prompts(path, limit)
    return [p for p in dict.fromkeys(prompts) if p.strip()][:limit]
