"""``tinkertop chat`` end to end on the embedded backend: a real short SFT run makes a checkpoint, then
the command samples from the base model and from that checkpoint (one-shot, JSON and text, and the REPL).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import Backend, RunCookbook, read_jsonl
from tests.e2e.test_backend_recipes import train_chat_sl

pytestmark = pytest.mark.e2e

RECORDED = Path(__file__).resolve().parents[1] / "app" / "data" / "chat_answers.jsonl"


@pytest.fixture(scope="module")
def trained_run(
    backend: Backend, run_cookbook: RunCookbook, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A real chat_sl run of a few steps on a local JSONL: checkpoints 000002 and final."""
    return train_chat_sl(backend, run_cookbook, tmp_path_factory.mktemp("chat_sl"))


def chat(backend: Backend, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """``tinkertop chat`` with the backend found from the state folder only (no TINKER_* in the env)."""
    env = backend.env()
    env.pop("TINKER_BASE_URL")
    env.pop("TINKER_API_KEY")
    return subprocess.run(
        [sys.executable, "-m", "runner.cli", "chat", *args],
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_chat_base_and_trained_checkpoint(backend: Backend, trained_run: Path) -> None:
    finals = [r for r in read_jsonl(trained_run / "checkpoints.jsonl") if r.get("name") == "final"]
    assert finals and str(finals[-1]["sampler_path"]).startswith("tinker://")
    proc = chat(
        backend, str(trained_run), "--checkpoint", "base", "--checkpoint", "final",
        "--prompt", "What is 26 + 57?", "--temperature", "0", "--max-tokens", "24", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [a["checkpoint"] for a in answers] == ["base", "final"]
    assert answers[0]["sampler_path"] is None and answers[1]["sampler_path"] == finals[-1]["sampler_path"]
    for a in answers:
        assert a["renderer_name"] == "qwen3_disable_thinking" and a["model_name"] == str(backend.model_path)
        assert 1 <= a["tokens"] <= 24 and isinstance(a["answer"], str)
        assert a["temperature"] == 0 and a["max_tokens"] == 24
    if os.environ.get("TINKERTOP_RECORD_CHAT") == "1":
        record(answers)
    assert backend.key not in proc.stdout + proc.stderr


def record(answers: list[dict[str, object]]) -> None:
    """Keep the real answers (model path made relative) for the chat pane's app test."""
    RECORDED.parent.mkdir(parents=True, exist_ok=True)
    rows = [{**a, "model_name": Path(str(a["model_name"])).name} for a in answers]
    RECORDED.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_chat_step_checkpoint_text_and_repl(backend: Backend, trained_run: Path) -> None:
    proc = chat(backend, str(trained_run), "--checkpoint", "2", "--prompt", "Hi", "--max-tokens", "6")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("== 000002 (tinker://") and "temperature 0.7 · max_tokens 6" in proc.stdout
    repl = chat(backend, str(trained_run), "--max-tokens", "6", stdin="What is 2 + 2?\nn\nquit\n")
    assert repl.returncode == 0, repl.stderr
    assert "\nyou> final> " in repl.stdout and "(new conversation)" in repl.stdout


def test_chat_errors(backend: Backend, trained_run: Path) -> None:
    proc = chat(backend, str(trained_run), "--checkpoint", "000099", "--prompt", "Hi")
    assert proc.returncode == 2 and "no checkpoint '000099'" in proc.stderr and "final" in proc.stderr
    bogus = "tinker://no-such-run:train:0/sampler_weights/final"
    proc = chat(
        backend, bogus, "--model", str(backend.model_path), "--renderer", "role_colon", "--prompt", "Hi"
    )
    assert proc.returncode == 1 and proc.stderr.startswith("tinkertop: chat failed:"), proc.stderr
    assert "Traceback" not in proc.stderr
