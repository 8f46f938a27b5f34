"""One status enum for every layer: its sets, its strings on disk, and records written before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.control import records, state_dir
from runner.status import LIVE, LIVE_OR_QUEUED, STOPPABLE, TERMINAL, Status


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def test_sets_say_each_rule_once() -> None:
    assert LIVE == {Status.STARTING, Status.RUNNING}
    assert LIVE_OR_QUEUED == LIVE | {Status.QUEUED}
    assert STOPPABLE == LIVE_OR_QUEUED | {Status.LOST}
    assert TERMINAL == {Status.FINISHED, Status.FAILED, Status.STOPPED}
    assert not (LIVE & TERMINAL) and not (STOPPABLE & TERMINAL)
    # every recorded status has its place in the state machine
    assert set(state_dir.ALLOWED) == {None, *LIVE_OR_QUEUED, *TERMINAL, Status.LOST}


def test_members_are_their_strings_in_json_and_text() -> None:
    assert Status.RUNNING == "running" and f"{Status.LOST}" == "lost"
    assert json.dumps({"status": Status.QUEUED}) == '{"status": "queued"}'
    assert Status.parse("stale", Status.UNKNOWN) is Status.STALE
    assert Status.parse("no such word", Status.UNKNOWN) is Status.UNKNOWN
    assert Status.parse(None, Status.LOST) is Status.LOST


def test_a_record_written_with_plain_strings_still_reads(home: Path) -> None:
    """State files from before the enum hold the same words: they read, compare and move on."""
    run_id = "old-1"
    state_file = state_dir.state_path(run_id)
    state_file.parent.mkdir(parents=True)
    state_file.write_text(json.dumps({"run_id": run_id, "status": "finished", "exit_code": 0}))
    status = records.effective_status(state_dir.read_state(run_id) or {})
    assert status is Status.FINISHED and status in TERMINAL
    assert state_dir.update_state(run_id, status=Status.STARTING)["status"] == "starting"  # a resume
    assert json.loads(state_file.read_text())["status"] == "starting"  # written as the same word
    with pytest.raises(state_dir.IllegalTransition):
        state_dir.update_state(run_id, status=Status.QUEUED)


def test_a_record_without_a_status_is_lost_and_a_strange_word_unknown(home: Path) -> None:
    assert records.effective_status({}) is Status.LOST
    assert records.effective_status({"status": "exploded"}) is Status.UNKNOWN
