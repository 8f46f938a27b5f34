"""Hand-made experiment results folders (the schema of ``runner.experiment.results``) for unit tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runner.experiment import results

RUN_ID = "abc-123:train:0"


def rl_rows(correct: list[bool]) -> list[dict[str, Any]]:
    return [
        {
            "index": i,
            "question": f"What is {i} + 1?",
            "ground_truth": str(i + 1),
            "completion": str(i + 1) if ok else "no idea",
            "extracted_answer": str(i + 1) if ok else None,
            "correct": ok,
        }
        for i, ok in enumerate(correct)
    ]


def sft_rows(nlls: list[float]) -> list[dict[str, Any]]:
    prompt = [{"role": "user", "content": "Say hi"}]
    return [{"index": i, "prompt": prompt, "completion": "hi", "nll": v} for i, v in enumerate(nlls)]


def summary(task: str, base: float, trained: float, log_path: str) -> dict[str, Any]:
    first, second = results.SCORE_FIELDS[task]
    return {
        "task_type": task,
        "tinker_run_id": RUN_ID,
        "log_path": log_path,
        "wandb_url": None,
        first: base,
        second: trained,
        "delta": trained - base,
        "n": 4,
        "eval_set": "arithmetic",
        "recipe": "math_rl" if task == "rl" else "chat_sl",
        "run_name": "run1",
        "model_name": "Qwen/Qwen3-8B",
        "renderer_name": "qwen3",
        "lora_rank": 32,
        "learning_rate": 1e-4,
        "steps": 3,
        "examples": 12,
        "sampling": {"temperature": 0.0, "max_tokens": 32},
        "git_commit": "0" * 40,
        "backend": "tinker",
        "launch": {"recipe": "math_rl", "overrides": [], "local": False, "smoke": False},
    }


def make_folder(root: Path, task: str = "rl") -> Path:
    """A complete folder: rows, summary, and the run's log folder with a final checkpoint."""
    out = root / "results"
    logs = out / "logs" / "run1"
    logs.mkdir(parents=True)
    ckpt = f"tinker://{RUN_ID}"
    records = [
        {"name": "000001", "batch": 1, "state_path": f"{ckpt}/weights/000001"},
        {
            "name": "final",
            "batch": 3,
            "state_path": f"{ckpt}/weights/final",
            "sampler_path": f"{ckpt}/s/final",
        },
    ]
    (logs / "checkpoints.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (logs / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "loss": 1.0}) + "\n" for s in range(3))
    )
    if task == "rl":
        base, trained = rl_rows([True, False, False, True]), rl_rows([True, True, False, False])
        scores = (0.5, 0.5)
    else:
        base, trained = sft_rows([2.0, 2.0, 3.0, 1.0]), sft_rows([1.0, 2.0, 1.0, 2.0])
        scores = (2.0, 1.5)
    results.write_rows(out / results.BASE_FILE, base)
    results.write_rows(out / results.TRAINED_FILE, trained)
    results.write_summary(out / results.SUMMARY_FILE, summary(task, *scores, str(logs)))
    return out


def edit_summary(folder: Path, **changes: Any) -> None:
    path = folder / results.SUMMARY_FILE
    data = json.loads(path.read_text())
    for key, value in changes.items():
        if value is DELETE:
            del data[key]
        else:
            data[key] = value
    path.write_text(json.dumps(data))


DELETE = object()
