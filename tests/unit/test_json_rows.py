"""``runner.json_rows``: the one whole-file JSON-lines reader of small files (results rows, eval sets,
checkpoints, rollout summaries): objects with their line numbers, one ``file:line`` problem per other line,
and hostile lines (nesting past the limit, bytes that are not UTF-8) a problem, never an exception."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.chat.targets import read_records
from runner.experiment import evals, results
from runner.experiment.check import load_rows
from runner.json_rows import json_objects

DEEP = b"[" * 200_000 + b"]" * 200_000


def test_objects_with_line_numbers_and_a_problem_per_bad_line() -> None:
    problems: list[str] = []
    data = b'{"a": 1}\n\n[1, 2]\n{"b": NaN}\nnot json\n' + DEEP + b"\n\xff\xfe\n"
    got = list(json_objects(data, "f.jsonl", problems))
    assert [n for n, _ in got] == [1, 4] and got[0][1] == {"a": 1}
    assert problems[0] == "f.jsonl:3: not a JSON object (list)"
    assert problems[1].startswith("f.jsonl:5: not JSON (")
    assert problems[2] == "f.jsonl:6: not JSON (nested deeper than 100 levels)"
    assert problems[3].startswith("f.jsonl:7: not JSON (")
    assert len(problems) == 4


def test_a_hostile_line_is_named_by_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "trained_model.jsonl"
    path.write_bytes(b'{"index": 0}\n' + DEEP + b"\n")
    with pytest.raises(results.ResultsError, match=r"trained_model.jsonl:2: not JSON \(nested"):
        results.read_rows(path)
    with pytest.raises(evals.EvalSetError, match=r"trained_model.jsonl:2: not JSON \(nested"):
        evals.qa_file(path, 10)
    problems: list[str] = []
    load_rows(tmp_path, path.name, "rl", problems)
    assert any(p.startswith("trained_model.jsonl:2: not JSON (nested") for p in problems)
    records, notes = read_records(path)
    assert records == [{"index": 0}] and notes[0].startswith(f"{path}:2: not JSON (nested")


def test_bytes_that_are_not_utf8_are_a_problem_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "base_model.jsonl"
    path.write_bytes(b'{"index": 0}\n\xff\xfe{"index": 1}\n')
    with pytest.raises(results.ResultsError, match=r"base_model.jsonl:2: not JSON"):
        results.read_rows(path)
