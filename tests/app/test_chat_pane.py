"""The run view's Chat tab (``t``): pickers, settings, a prompt, two answers side by side.

Answers: ``tui.widgets.chat_pane.CHAT_ARGV`` is the named seam. The first test points it at a real
subprocess that replays ``data/chat_answers.jsonl`` (real answers of ``tinkertop chat --json`` on the
embedded backend, recorded by ``TINKERTOP_RECORD_CHAT=1 pytest tests/e2e/test_chat.py``) and writes
the command it was given; the error test runs the real ``tinkertop chat`` with no service reachable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.app.conftest import copy_run, wait_until
from tests.app.screen_text import screen_text
from tui.app import TinkertopApp
from tui.widgets import chat_pane
from tui.widgets.chat_pane import ChatPane

RECORDED = Path(__file__).parent / "data" / "chat_answers.jsonl"
REPLAY = """
import json, sys
answers, argv_out = sys.argv[1], sys.argv[2]
open(argv_out, "w").write(json.dumps(sys.argv[3:]))
sys.stdout.write(open(answers).read())
"""


async def open_chat(pilot, app: TinkertopApp) -> ChatPane:  # type: ignore[no-untyped-def]
    await wait_until(pilot, lambda: app.loaded and app.summaries, what="the full read")
    await pilot.press("enter")
    await wait_until(pilot, app._run_view, what="the run view")
    await pilot.press("t")
    pane = app.screen.query_one(ChatPane)
    await wait_until(pilot, lambda: pane.right.value == "final", what="the run's checkpoints in the pickers")
    return pane


async def test_chat_pane_two_checkpoints_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = copy_run("cli_chat_sl", tmp_path / "runs")
    data = tmp_path / "convos.jsonl"  # the run's training data, where its config.json says it is
    convo = [{"role": "user", "content": "What is 3 + 11?"}, {"role": "assistant", "content": "14"}]
    data.write_text(json.dumps({"messages": convo}) + "\n")
    config = json.loads((run / "config.json").read_text())
    config["dataset_builder"]["file_path"] = str(data)
    (run / "config.json").write_text(json.dumps(config))
    script, argv_out = tmp_path / "replay.py", tmp_path / "argv.json"
    script.write_text(REPLAY)
    monkeypatch.setattr(chat_pane, "CHAT_ARGV", [sys.executable, str(script), str(RECORDED), str(argv_out)])
    recorded = [json.loads(line) for line in RECORDED.read_text().splitlines()]
    app = TinkertopApp([tmp_path / "runs"])
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await open_chat(pilot, app)
        await wait_until(pilot, lambda: pane.examples._options[1:], what="the prompts of the run's data")
        pane.examples.value = "What is 3 + 11?"
        await wait_until(pilot, lambda: pane.prompt.value == "What is 3 + 11?", what="the picked prompt")
        pane.prompt.value = ""
        assert pane.left.value == "base" and [c.name for c in pane.choices] == ["base", "000002", "final"]
        text = screen_text(app)
        assert "temperature" in text and "0.7" in text and "max_tokens" in text and "256" in text
        assert app.focused is pane.prompt
        pane.temperature.value = "0"
        pane.max_tokens.value = "12"
        await pilot.press("h", "i")
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: recorded[1]["answer"].split("\n")[0] in screen_text(app), what="answers"
        )
        args = json.loads(argv_out.read_text())
        assert args[1:3] == ["--prompt", "hi"] and args[-4:] == [
            "--checkpoint",
            "base",
            "--checkpoint",
            "final",
        ]
        assert args[args.index("--temperature") + 1] == "0.0" and args[args.index("--max-tokens") + 1] == "12"
        left, right = (str(pane.answers[s].render()) for s in ("left", "right"))
        assert left.startswith("base · ") and right.startswith("final · ")
        assert f"{recorded[0]['tokens']} tokens" in left and recorded[0]["answer"].strip() in left
        assert recorded[1]["answer"].strip() in right


async def test_chat_pane_bad_settings_and_no_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy_run("cli_chat_sl", tmp_path)
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))  # no embedded backend recorded there
    monkeypatch.delenv("TINKER_BASE_URL", raising=False)
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    app = TinkertopApp([tmp_path])
    async with app.run_test(size=(160, 45)) as pilot:
        pane = await open_chat(pilot, app)
        pane.temperature.value = "hot"
        pane.prompt.value = "What is 2 + 2?"
        await pilot.press("enter")
        assert "temperature 'hot' is not a number" in screen_text(app)
        pane.temperature.value = "0.5"
        await pilot.press("enter")
        await wait_until(pilot, lambda: "sampling failed" in screen_text(app), timeout=60, what="the error")
        assert "no service: set TINKER_API_KEY" in screen_text(app)
        assert "tinkertop backend start" in str(pane.answers["right"].render())
