"""The supervisor records looked up cheaply: the records folder listed once per pass, a state file read
again only when it changed (``runner.control.records.RecordBook``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.control import records, state_dir
from runner.runs.store import RunStore


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    return tmp_path


def _settle(path: Path) -> None:
    """Date ``path`` a minute back: a file changed just now is not trusted to show its next change."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - 60 * 10**9))


def _launched(home: Path, name: str, status: str = "finished") -> Path:
    folder = home / "logs" / name
    folder.mkdir(parents=True)
    run_id = state_dir.run_id_for(folder)
    state_dir.write_state(run_id, {"run_id": run_id, "name": name, "status": status, "exit_code": 0})
    _settle(state_dir.state_path(run_id))
    return folder


def test_a_pass_lists_the_records_folder_once(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    book = records.RecordBook()
    mine = _launched(home, "mine")
    others = [home / "logs" / f"other{i}" for i in range(5)]
    for folder in others:
        folder.mkdir()
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(records.os, "listdir", lambda p: listed.append(p) or real_listdir(p))  # a spy
    with book.one_pass():
        assert [book(f) for f in others] == [None] * 5
        assert book(mine)["status"] == "finished"
    assert len(listed) == 1
    _settle(state_dir.runs_root())
    assert book(mine)["status"] == "finished"  # settled: listed once more, then kept
    assert book(others[0]) is None and len(listed) == 2


def test_a_state_file_is_read_again_only_when_it_changed(home: Path) -> None:
    book = records.RecordBook()
    folder = _launched(home, "r1")
    first = book(folder)
    assert first is not None and first["status"] == "finished" and book.reads == 1
    assert book(folder) is first and book.reads == 1  # unchanged: the same record, no read
    run_id = state_dir.run_id_for(folder)
    state_dir.write_state(run_id, {"run_id": run_id, "name": "r1", "status": "failed", "exit_code": 3})
    again = book(folder)
    assert again is not None and again["status"] == "failed" and book.reads == 2


def test_a_record_made_after_a_look_is_seen_at_once(home: Path) -> None:
    book = records.RecordBook()
    folder = home / "logs" / "late"
    folder.mkdir(parents=True)
    assert book(folder) is None
    run_id = state_dir.run_id_for(folder)
    state_dir.write_state(run_id, {"run_id": run_id, "name": "late", "status": "stopped"})
    seen = book(folder)
    assert seen is not None and seen["status"] == "stopped"
    state_dir.state_path(run_id).unlink()
    assert book(folder) is None


def test_the_store_summarises_every_run_in_one_pass(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folders = [_launched(home, f"run{i}") for i in range(3)]
    for folder in folders:
        (folder / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    book = records.RecordBook()
    store = RunStore([home / "logs"], book)
    store.scan()
    listed: list[str] = []
    real_listdir = os.listdir
    monkeypatch.setattr(records.os, "listdir", lambda p: listed.append(p) or real_listdir(p))  # a spy
    summaries = store.summaries()
    assert {s.status for s in summaries} == {"finished"} and len(listed) <= 1
