"""Grouping by a config key: values that print alike but differ (1 and "1") stay two groups, every
run in one; ``tinkertop compare --csv --group-by`` writes each run's group; ``--metric`` naming a
metric no run has is said on stderr."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from runner import cli
from runner.compare import group_key_values

pytestmark = pytest.mark.usefixtures("private_cwd")


def _runs(root: Path, seeds: dict[str, object]) -> list[Path]:
    out: list[Path] = []
    for name, seed in seeds.items():
        run = root / name
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text(f'{{"step": 0, "loss": {len(out) + 1}.0}}\n')
        (run / "config.json").write_text(json.dumps({} if seed is None else {"seed": seed}))
        out.append(run)
    return out


def test_values_printed_alike_stay_apart_and_no_run_is_dropped(tmp_path: Path) -> None:
    runs = _runs(tmp_path, {"a": 1, "b": "1", "c": 1.0, "d": "—", "e": None, "f": True, "g": "true"})
    groups = group_key_values(runs, "seed")
    assert sorted(p.name for members in groups.values() for p in members) == list("abcdefg")
    assert len(groups) == 6  # 1 and 1.0 are one value
    assert [p.name for p in groups["seed=1"]] == ["a", "c"]
    assert [p.name for p in groups['seed="1"']] == ["b"]
    assert [p.name for p in groups["seed=—"]] == ["e"]  # the missing key keeps its label
    assert [p.name for p in groups['seed="—"']] == ["d"]
    assert [p.name for p in groups["seed=true"]] == ["f"] and [p.name for p in groups['seed="true"']] == ["g"]
    plain = group_key_values([runs[0], runs[2]], "seed")  # no clash: labels as before
    assert list(plain) == ["seed=1"]


def test_csv_with_group_by_has_each_runs_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = _runs(tmp_path, {"a": 1, "b": 2, "c": 1})
    assert cli.main(["compare", *map(str, runs), "--csv", "--group-by", "seed"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["name"]: r["group"] for r in rows} == {"a": "seed=1", "b": "seed=2", "c": "seed=1"}


def test_csv_without_group_by_has_no_group_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = _runs(tmp_path, {"a": 1})
    assert cli.main(["compare", *map(str, runs), "--csv"]) == 0
    assert "group" not in next(csv.reader(io.StringIO(capsys.readouterr().out)))


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--csv"]])
def test_a_metric_no_run_has_is_said_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: list[str]
) -> None:
    runs = _runs(tmp_path, {"a": 1, "b": 2})
    assert cli.main(["compare", *map(str, runs), "--metric", "nope", "--metric", "loss", *fmt]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "tinkertop: compare: no compared run has a finite value of metric 'nope'"
    assert "nope" in captured.out  # still a column: the output's shape is what was asked for
