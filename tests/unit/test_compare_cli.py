"""``tinkertop compare``: JSON lines (rows, diff, code, groups), CSV, the text view, a folder of runs
expanding to its runs, and usage errors (a bad path) exiting 2 with one line naming it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from runner import cli
from tests.shared_data import IF_RLVR, cli_exe, needs_if_rlvr

pytestmark = pytest.mark.usefixtures("private_cwd")

REWARD = "env/all/reward/total"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict]:
    assert cli.main(["compare", *args, "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@needs_if_rlvr
def test_json_lines_rows_then_diff_then_code(capsys: pytest.CaptureFixture[str]) -> None:
    runs = sorted(p for p in IF_RLVR.iterdir() if p.is_dir())
    lines = run_json(capsys, str(IF_RLVR))  # the folder of runs expands to its five runs
    types = [line["type"] for line in lines]
    assert types == sorted(types, key=["row", "diff", "code"].index)
    rows = [line for line in lines if line["type"] == "row"]
    assert [r["path"] for r in rows] == [str(p) for p in runs]
    v2p7 = next(r for r in rows if r["name"] == "logs_v2p7")
    assert v2p7["status"] == "finished" and v2p7["kind"] == "rl" and v2p7["step"] == 112
    assert set(v2p7["metrics"][REWARD]) == {"last", "min", "max", "best_step", "smoothed_last"}
    diffs = {line["key"]: line for line in lines if line["type"] == "diff"}
    assert diffs["max_tokens"]["values"] == {"logs": 16384, "logs_v2": 8192, "logs_v2p3": 8192,
                                            "logs_v2p5": 8192, "logs_v2p7": 8192}  # fmt: skip
    assert diffs["max_tokens"]["change"] == "changed" and diffs["max_tokens"]["missing"] == []
    codes = [line for line in lines if line["type"] == "code"]
    assert [c["name"] for c in codes] == [p.name for p in runs]
    assert all(
        c["commit"] and len(c["commit"]) == 40 and "(no local changes)" in c["code_diff"] for c in codes
    )


@needs_if_rlvr
def test_metric_and_group_by(capsys: pytest.CaptureFixture[str]) -> None:
    runs = [str(p) for p in sorted(IF_RLVR.iterdir()) if (p / "metrics.jsonl").exists()]
    lines = run_json(
        capsys, *runs, "--metric", REWARD, "--metric", "optim/entropy", "--group-by", "max_tokens"
    )
    rows = [line for line in lines if line["type"] == "row"]
    assert all(list(r["metrics"]) == [REWARD, "optim/entropy"] for r in rows)
    groups = [line for line in lines if line["type"] == "group"]
    assert [g["label"] for g in groups] == ["max_tokens=8192", "max_tokens=16384"]
    assert groups[1]["runs"] == ["logs"] and len(groups[0]["runs"]) == 3 and groups[0]["metric"] == REWARD
    last = {r["name"]: r["metrics"][REWARD]["last"] for r in rows}
    big = [last[n] for n in groups[0]["runs"]]
    assert groups[0]["last_mean"] == pytest.approx(sum(big) / 3)
    assert (groups[0]["last_min"], groups[0]["last_max"]) == (min(big), max(big))
    assert groups[1]["last_mean"] == groups[1]["last_min"] == groups[1]["last_max"] == last["logs"]


@needs_if_rlvr
def test_csv_is_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", str(IF_RLVR / "logs_v2"), str(IF_RLVR / "logs_v2p3"), "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["name"] for r in rows] == ["logs_v2", "logs_v2p3"]
    assert rows[0]["status"] == "finished" and float(rows[0][f"{REWARD}:max"]) > 0


@needs_if_rlvr
def test_text_shows_table_then_diff_then_groups(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", str(IF_RLVR), "--group-by", "dataset_builder.group_size"]) == 0
    out = capsys.readouterr().out
    assert out.index("NAME") < out.index(REWARD) < out.index("keys that differ") < out.index("groups (")
    assert "~  max_tokens" in out and "dataset_builder.group_size=16" in out and "8f32fc851c7b" in out


def test_bad_paths_exit_2_naming_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["compare", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"tinkertop: no such file or folder: {tmp_path / 'nope'}"
    assert cli.main(["compare", str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tinkertop: not a run folder, and no run below it: {empty}" and "\n" not in err


def test_usage_errors_from_the_installed_command(tmp_path: Path) -> None:
    exe = cli_exe()
    if not exe.exists():
        pytest.skip("tinkertop not installed")
    both = subprocess.run(
        [str(exe), "compare", str(tmp_path), "--json", "--csv"], capture_output=True, text=True
    )
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    none = subprocess.run([str(exe), "compare"], capture_output=True, text=True)
    assert none.returncode == 2 and "RUN_PATH" in none.stderr
    bad = subprocess.run([str(exe), "compare", str(tmp_path / "x")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.strip().endswith(str(tmp_path / "x")) and bad.stdout == ""


def test_a_broken_run_is_compared_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": 0.5}\n')
    (good / "config.json").write_text('{"learning_rate": 0.001, "model_name": "m"}')
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "metrics.jsonl").write_text('{"step": 0, "loss": 2.0}\nnot json\n{"step": 1, "lo')
    (broken / "config.json").write_text('{"learning_rate": ')
    lines = run_json(capsys, str(good), str(broken))
    rows = {r["name"]: r for r in lines if r["type"] == "row"}
    assert rows["good"]["metrics"]["loss"]["last"] == 0.5
    assert rows["broken"]["metrics"]["loss"]["last"] == 2.0 and "1 bad line" in rows["broken"]["note"]
    notes = [r["message"] for r in lines if r["type"] == "note"]
    assert notes and notes[0].startswith("broken: config.json: not valid JSON")


def test_nan_is_written_as_the_string_nan_in_json_and_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "nanrun"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n{"step": 1, "loss": NaN}\n')
    out = subprocess.run([str(cli_exe()), "compare", str(run), "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr

    def strict(token: str) -> None:
        raise ValueError(f"bare {token}")

    rows = [json.loads(line, parse_constant=strict) for line in out.stdout.splitlines()]
    assert rows[0]["metrics"]["loss"]["last"] == "NaN" and rows[0]["metrics"]["loss"]["min"] == 1.0
    assert cli.main(["compare", str(run)]) == 0
    words = capsys.readouterr().out.split()
    assert "NaN" in words and "nan" not in words
    assert cli.main(["compare", str(run), "--csv"]) == 0
    assert next(csv.DictReader(io.StringIO(capsys.readouterr().out)))["loss:last"] == "NaN"


def test_many_runs_list_each_value_with_its_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(8):
        run = tmp_path / "sweep" / f"run{i}"
        run.mkdir(parents=True)
        (run / "metrics.jsonl").write_text(json.dumps({"step": 0, "loss": 1.0 / (i + 1)}) + "\n")
        (run / "config.json").write_text(
            json.dumps({"learning_rate": [1e-4, 1e-3][i % 2], "model_name": "m"})
        )
    assert cli.main(["compare", str(tmp_path / "sweep")]) == 0
    out = capsys.readouterr().out.splitlines()
    at = out.index("  ~  learning_rate")
    assert out[at + 1 : at + 3] == [
        "       0.0001: run0, run2, run4, run6",
        "       0.001: run1, run3, run5, run7",
    ]
    assert "    no commit  no code.diff: run0, run1, run2, run3, ... (8 runs)" in out
