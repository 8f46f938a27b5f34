"""runner.experiment.results: the results folder's writer and reader (what the app's result view reads)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.experiment import results
from tests.unit.experiment_folders import make_folder, rl_rows


def test_read_results_gives_summary_rows_and_flips(tmp_path: Path) -> None:
    got = results.read_results(make_folder(tmp_path, "rl"))
    assert got.task_type == "rl" and got.baseline == 0.5 and got.trained == 0.5
    assert [r["index"] for r in got.base_rows] == [0, 1, 2, 3]
    assert [f.index for f in got.improved] == [1]
    assert [f.index for f in got.regressed] == [3]
    assert got.improved[0].base["completion"] == "no idea" and got.improved[0].trained["completion"] == "2"


def test_sft_flips_are_rows_whose_nll_moved_largest_first(tmp_path: Path) -> None:
    got = results.read_results(make_folder(tmp_path, "sft"))
    assert [(f.index, f.improved) for f in got.flips] == [(2, True), (0, True), (3, False)]
    assert got.baseline == 2.0 and got.trained == 1.5


def test_rows_are_written_sorted_by_index(tmp_path: Path) -> None:
    rows = rl_rows([True, False, True])
    results.write_rows(tmp_path / "x.jsonl", [rows[2], rows[0], rows[1]])
    lines = (tmp_path / "x.jsonl").read_text().splitlines()
    assert [json.loads(x)["index"] for x in lines] == [0, 1, 2]


def test_a_bad_line_is_named_with_file_and_line(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    path = folder / results.TRAINED_FILE
    path.write_text(path.read_text() + "{not json\n")
    with pytest.raises(results.ResultsError, match=r"trained_model.jsonl:5: not JSON"):
        results.read_results(folder)


def test_a_missing_summary_is_named(tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    (folder / results.SUMMARY_FILE).unlink()
    with pytest.raises(results.ResultsError, match="summary.json: cannot read"):
        results.read_results(folder)


def test_scores_from_rows() -> None:
    assert results.rl_score(rl_rows([True, False, False, False])) == 0.25
    assert results.rl_score([]) == 0.0
