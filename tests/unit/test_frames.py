"""``runner.frames``: DataFrames on the fast reader. Equal to ``pandas.read_json(lines=True)`` on a clean
real file; not broken by a half-written last line where read_json fails; the compare table and the
long form; export by suffix; and pandas never loaded by importing ``runner.compare``/``runner.frames``
or by the app's start-up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from runner.frames import compare_frame, export, long_frame, metrics_frame
from tests.probes import modules_after
from tests.shared_data import IF_RLVR, SHARED, needs_if_rlvr

pytestmark = pytest.mark.usefixtures("private_cwd")

REPO = Path(__file__).resolve().parents[2]
REWARD = "env/all/reward/total"


def copy_run(name: str, dest: Path) -> Path:
    return Path(
        shutil.copytree(IF_RLVR / name, dest / name, ignore=shutil.ignore_patterns("*.html", "wandb"))
    )


@needs_if_rlvr
@pytest.mark.parametrize("name", ["logs", "logs_v2p7"])
def test_metrics_frame_equals_read_json_on_a_clean_file(name: str) -> None:
    expected = pd.read_json(IF_RLVR / name / "metrics.jsonl", lines=True)
    got = metrics_frame(IF_RLVR / name)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs["bad_lines"] == 0 and got.attrs["path"] == str(IF_RLVR / name)


@needs_if_rlvr
def test_a_half_written_last_line_is_left_for_later(tmp_path: Path) -> None:
    run = copy_run("logs_v2p7", tmp_path)
    clean = pd.read_json(run / "metrics.jsonl", lines=True)
    with (run / "metrics.jsonl").open("a") as fh:
        fh.write('{"step": 113, "env/all/reward/tot')  # a run still writing
    with pytest.raises(ValueError):
        pd.read_json(run / "metrics.jsonl", lines=True)
    got = metrics_frame(run)
    pd.testing.assert_frame_equal(got, clean)
    assert got.attrs["bad_lines"] == 0


def test_nan_strings_and_merged_steps(tmp_path: Path) -> None:
    run = tmp_path / "odd"
    run.mkdir()
    (run / "metrics.jsonl").write_text(
        '{"step": 0, "loss": NaN, "phase": "warm", "n": 1}\n'
        '{"step": 1, "loss": 0.5, "phase": "main", "n": 2}\n'
        '{"step": 1, "eval": 0.25}\n'
        "garbage\n"
        '{"step": 2, "loss": Infinity, "n": 3}\n'
    )
    df = metrics_frame(run)
    assert df["step"].tolist() == [0, 1, 2]
    assert df["loss"].isna().tolist() == [True, False, False] and df["loss"].iloc[2] == float("inf")
    assert df["phase"].tolist()[:2] == ["warm", "main"] and pd.isna(df["phase"].iloc[2])
    assert df["eval"].isna().tolist() == [True, False, True] and df["n"].dtype == "int64"
    assert df.attrs["bad_lines"] == 1 and "1 bad line" in df.attrs["note"]


def test_a_missing_run_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere"):
        metrics_frame(tmp_path / "nowhere")


@needs_if_rlvr
def test_compare_and_long_frames(tmp_path: Path) -> None:
    runs = [IF_RLVR / "logs", IF_RLVR / "logs_v2"]
    table = compare_frame(runs, metrics=[REWARD])
    assert table["name"].tolist() == ["logs", "logs_v2"]
    raw = [pd.read_json(p / "metrics.jsonl", lines=True) for p in runs]  # (floats parsed a bit imprecisely)
    assert table[f"{REWARD}:max"].tolist() == pytest.approx([r[REWARD].max() for r in raw], rel=1e-12)

    long = long_frame(runs, metrics=[REWARD, "optim/entropy"])
    assert list(long.columns) == ["run", "step", "metric", "value"]
    assert len(long) == sum(len(r) * 2 for r in raw)
    one = long[(long["run"] == "logs_v2") & (long["metric"] == REWARD)]
    assert one["step"].tolist() == raw[1]["step"].tolist()
    assert one["value"].tolist() == pytest.approx(raw[1][REWARD].tolist(), rel=1e-12)
    everything = long_frame(runs[:1])
    assert set(everything["metric"].unique()) == {c for c in raw[0].columns if c != "step"}


@needs_if_rlvr
@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_export_by_suffix(tmp_path: Path, suffix: str) -> None:
    df = metrics_frame(IF_RLVR / "logs")
    path = export(df, tmp_path / f"out{suffix}")
    back = {".csv": pd.read_csv, ".parquet": pd.read_parquet}.get(suffix)
    again = back(path) if back else pd.read_json(path, lines=True)
    pd.testing.assert_frame_equal(again, df, check_dtype=suffix == ".parquet")
    if suffix == ".json":
        assert json.loads(path.read_text().splitlines()[0])["step"] == 0


def test_export_refuses_other_suffixes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"out\.xlsx"):
        export(pd.DataFrame({"a": [1]}), tmp_path / "out.xlsx")


def test_compare_and_frames_import_no_pandas_until_a_frame_is_asked_for() -> None:
    fmt = SHARED / "formats" / "rl_arith"
    call = f"compare_table([Path({str(fmt)!r})])" if fmt.is_dir() else "None"
    light = modules_after(
        f"from pathlib import Path\nimport runner.frames\nfrom runner.compare import *\n{call}"
    )
    assert "runner" in light and "pandas" not in light
    heavy = modules_after("import runner.frames\nrunner.frames.export.__call__\nimport pandas")
    assert "pandas" in heavy  # the probe can see it


def test_app_start_up_with_the_compare_modules_loads_no_pandas() -> None:
    mods = modules_after("import tui.main, tui.app\nimport runner.compare, runner.compare.cli, runner.frames")
    assert "textual" in mods and "pandas" not in mods
