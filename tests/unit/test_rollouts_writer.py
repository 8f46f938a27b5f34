"""Transcripts the cookbook's own logtree writer makes (thinking parts, tool calls, HTML escapes), read
back from both files it writes: the JSON (current layout) and the HTML (as the older flat layout).

The writer is the real one (``tinker_cookbook.utils.logtree`` with ``ConversationFormatter``), run in
the test; importing it loads the renderers (and torch), so this module costs about a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.rollouts import list_iterations, load_iteration

pytest.importorskip("tinker_cookbook")

QUESTION = "Is 2 < 3 & 5 > 4? Say <b>yes</b>."
THOUGHT = "compare <each> pair & answer"
ANSWER = "yes — 2 < 3 and 5 > 4"


def _write_iteration(run: Path, step: int) -> None:
    from tinker_cookbook.renderers.base import ToolCall
    from tinker_cookbook.stores import LocalStorage, TrainingRunStore
    from tinker_cookbook.utils import logtree
    from tinker_cookbook.utils.logtree_formatters import ConversationFormatter

    store = TrainingRunStore(LocalStorage(run))
    folder = run / f"iteration_{step:06d}"
    folder.mkdir(parents=True)
    call = ToolCall(function=ToolCall.FunctionBody(name="calc", arguments='{"x": "2<3"}'))
    with logtree.init_trace(f"RL Iteration {step}", path=folder / "train.html") as trace:
        with logtree.scope_header("Group Rollout"):
            with logtree.scope_header("Prompt"):
                logtree.log_formatter(ConversationFormatter(messages=[{"role": "user", "content": QUESTION}]))
            with logtree.scope_header("Policy Response"):
                msg = {
                    "role": "assistant",
                    "content": [{"type": "thinking", "thinking": THOUGHT}, {"type": "text", "text": ANSWER}],
                    "tool_calls": [call],
                }
                logtree.log_formatter(ConversationFormatter(messages=[msg]))  # type: ignore[list-item]
            with logtree.scope_header("Reward"):
                logtree.table_from_dict({"correct": "True", "reward": "1.000"}, caption="Reward components")
    store.write_logtree(step, trace.to_dict(), base_name="train")


def test_logtree_json_keeps_thinking_tool_calls_and_unescapes(tmp_path: Path) -> None:
    _write_iteration(tmp_path, 3)
    (ref,) = list_iterations(tmp_path)
    it = load_iteration(ref)
    (traj,) = it.trajectories
    user, assistant, env = traj.messages
    assert (user.role, user.text) == ("user", QUESTION)
    assert (assistant.role, assistant.text, assistant.thinking) == ("assistant", ANSWER, THOUGHT)
    assert assistant.tool_calls == ('calc({"x": "2<3"})',)
    assert env.role == "env" and "correct: True" in env.text and traj.reward == 1.0


def test_the_same_trace_as_html_reads_the_same(tmp_path: Path) -> None:
    _write_iteration(tmp_path / "w", 3)
    flat = tmp_path / "flat"
    flat.mkdir()
    (tmp_path / "w" / "iteration_000003" / "train.html").rename(flat / "train_iteration_000003.html")
    (ref,) = list_iterations(flat)
    (traj,) = load_iteration(ref).trajectories
    user, assistant, env = traj.messages
    assert (user.role, user.text) == ("user", QUESTION)
    assert (assistant.role, assistant.text, assistant.thinking) == ("assistant", ANSWER, THOUGHT)
    assert env.role == "env" and "reward: 1.000" in env.text


def test_search_says_which_text_of_a_message_matched(tmp_path: Path) -> None:
    from runner.rollouts import search

    _write_iteration(tmp_path, 1)
    hits = {(h.message, h.field): h for h in search(tmp_path, "<each>")}
    assert set(hits) == {(1, "thinking")}
    hit = hits[(1, "thinking")]
    assert THOUGHT[hit.start : hit.end] == "<each>"
    (call,) = list(search(tmp_path, "calc("))
    assert (call.message, call.field) == (1, "tool_calls")
    hits_log = list(search(tmp_path, "correct: true"))  # the reward table: an env message and the logs
    assert [(h.message, h.field) for h in hits_log] == [(2, "text"), (-1, "logs")]
