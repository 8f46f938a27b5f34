"""Config diff (``runner.compare.config_diff``) on the real IF-RLVR versions and on hand-made runs:
only the keys that differ, added/removed/changed, every key on request, commits and code diffs from
the run folder and from tinkertop's launch record, a bad config.json as a note naming the file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from runner.compare import MISSING, config_diff, display_names, flatten_config, format_value
from tests.shared_data import IF_RLVR, needs_if_rlvr

pytestmark = pytest.mark.usefixtures("private_cwd")


def _flat(obj: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The test's own flattening (nested dicts only), to check the diff against the files."""
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _run(root: Path, name: str, config: dict[str, Any] | None, diff: str | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    if diff is not None:
        (folder / "code.diff").write_text(diff)
    return folder


@needs_if_rlvr
def test_if_rlvr_versions_differ_in_exactly_the_keys_the_files_differ_in() -> None:
    runs = sorted(p for p in IF_RLVR.iterdir() if (p / "config.json").is_file())
    assert len(runs) == 5
    flats = [_flat(json.loads((p / "config.json").read_text())) for p in runs]
    expected = sorted(k for k in flats[0] if len({json.dumps(f.get(k)) for f in flats}) > 1)
    assert set().union(*flats) == set(flats[0])  # same key sets: every differing key is "changed"

    diff = config_diff(runs)

    assert [r.key for r in diff.rows] == expected
    assert (
        "dataset_builder.group_size" in expected
        and "max_tokens" in expected
        and "learning_rate" not in expected
    )
    assert {r.change for r in diff.rows} == {"changed"}
    for row in diff.rows:
        assert list(row.values) == [f[row.key] for f in flats]
    assert diff.runs == tuple(p.name for p in runs)
    for path, commit, code in zip(runs, diff.commits, diff.code_diffs, strict=True):
        text = (path / "code.diff").read_text()
        assert code == text
        found = re.search(r"@ ([0-9a-f]{40})", text)
        assert found is not None and commit == found.group(1)
    assert diff.notes == ()


@needs_if_rlvr
def test_all_keys_lists_every_key_with_same_marked() -> None:
    runs = sorted(p for p in IF_RLVR.iterdir() if (p / "config.json").is_file())[:2]
    flats = [_flat(json.loads((p / "config.json").read_text())) for p in runs]
    diff = config_diff(runs, all_keys=True)
    assert [r.key for r in diff.rows] == sorted(flats[0])
    same = {r.key for r in diff.rows if r.change == "same"}
    assert "learning_rate" in same and "model_name" in same
    assert {r.key for r in diff.rows if r.change != "same"} == {r.key for r in config_diff(runs).rows}
    lr = next(r for r in diff.rows if r.key == "learning_rate")
    assert lr.values == (4e-05, 4e-05) and format_value(lr.values[0]) == "4e-05"


def test_added_removed_changed_nested_lists_and_type_markers(tmp_path: Path) -> None:
    base = {"lr": 1e-4, "opt": {"beta": 0.9, "eps": 1e-8}, "layers": [1, 2], "only_a": True, "seed": 1}
    other = {"lr": 0.0001, "opt": {"beta": 0.95}, "layers": [1, 3], "only_b": None, "seed": 1.0}
    a = _run(tmp_path, "a", base)
    b = _run(tmp_path, "b", other)
    diff = config_diff([a, b])
    rows = {r.key: r for r in diff.rows}
    assert set(rows) == {"opt.beta", "opt.eps", "layers", "only_a", "only_b"}  # lr and seed equal as numbers
    assert rows["opt.beta"].change == "changed" and rows["opt.beta"].values == (0.9, 0.95)
    assert rows["opt.eps"].change == "removed" and rows["opt.eps"].values == (1e-8, MISSING)
    assert rows["only_b"].change == "added" and rows["only_b"].values == (MISSING, None)
    assert rows["layers"].values == ((1, 2), (1, 3)) and format_value(rows["layers"].values[0]) == "[1, 2]"
    assert repr(MISSING) == "—" and format_value(MISSING) == "—"
    reverse = {r.key: r.change for r in config_diff([b, a]).rows}
    assert reverse["opt.eps"] == "added" and reverse["only_b"] == "removed"

    flat = flatten_config({"builder": {"__chz_name__": "FromFile", "n": 3}, "empty": {}})
    assert flat == {"builder": "FromFile", "builder.n": 3, "empty": {}}


def test_a_run_without_config_or_with_a_bad_one_is_a_note_and_the_rest_still_diffs(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"lr": 1, "x": 2})
    b = _run(tmp_path, "b", {"lr": 2, "x": 2})
    bad = _run(tmp_path, "bad", None)
    (bad / "config.json").write_text('{"lr": 3,')  # half written
    none = _run(tmp_path, "none", None)
    diff = config_diff([a, b, bad, none])
    rows = {r.key: r for r in diff.rows}
    assert rows["lr"].values == (1, 2, MISSING, MISSING) and rows["lr"].change == "removed"
    assert rows["x"].change == "removed"
    assert len(diff.notes) == 1 and diff.notes[0].startswith("bad: config.json: not valid JSON")


def test_display_names_add_parents_where_names_clash(tmp_path: Path) -> None:
    paths = [tmp_path / "sweep" / "lr1" / "logs", tmp_path / "sweep" / "lr2" / "logs", tmp_path / "solo"]
    assert display_names(paths) == ("lr1/logs", "lr2/logs", "solo")
    deeper = [tmp_path / "x" / "same" / "logs", tmp_path / "y" / "same" / "logs"]
    assert display_names(deeper) == ("x/same/logs", "y/same/logs")
    assert display_names([paths[0], paths[0]]) == ("logs", "logs#2")


def test_commit_and_code_diff_come_from_the_launch_record_when_the_folder_has_none(tmp_path: Path) -> None:
    from runner.control import state_dir

    folder = _run(tmp_path, "launched", {"lr": 1})
    cookbook = _run(
        tmp_path, "cookbook", {"lr": 2}, diff="### repo: /src/tc @ " + "ab" * 20 + "\n(no local changes)\n"
    )
    run_id = state_dir.run_id_for(folder)
    state_dir.write_state(
        run_id, {"run_id": run_id, "status": "finished", "code": {"commit": "c0ffee" * 6 + "abcd"}}
    )
    (state_dir.record_dir(run_id) / "code.diff").write_text("diff --git a/x b/x\n+changed\n")

    diff = config_diff([folder, cookbook, _run(tmp_path, "plain", {"lr": 3})])

    assert diff.commits == ("c0ffee" * 6 + "abcd", "ab" * 20, None)
    assert diff.code_diffs[0] == "diff --git a/x b/x\n+changed\n"
    assert diff.code_diffs[1] is not None and diff.code_diffs[1].endswith("(no local changes)\n")
    assert diff.code_diffs[2] is None


def test_values_compare_as_numbers_but_bools_stay_apart(tmp_path: Path) -> None:
    a = _run(tmp_path, "a", {"flag": True, "n": 1, "nan": float("nan")})
    b = _run(tmp_path, "b", {"flag": 1, "n": 1.0, "nan": float("nan")})
    assert [r.key for r in config_diff([a, b]).rows] == ["flag"]


def test_copied_runs_diff_by_their_own_files(tmp_path: Path) -> None:
    if not IF_RLVR.is_dir():
        pytest.skip("../shared/realdata absent")
    a = tmp_path / "one" / "logs"
    shutil.copytree(IF_RLVR / "logs", a, ignore=shutil.ignore_patterns("*.html", "wandb"))
    b = tmp_path / "two" / "logs"
    shutil.copytree(IF_RLVR / "logs", b, ignore=shutil.ignore_patterns("*.html", "wandb"))
    cfg = json.loads((b / "config.json").read_text())
    cfg["dataset_builder"]["seed"] = 7
    (b / "config.json").write_text(json.dumps(cfg))
    diff = config_diff([a, b])
    assert diff.runs == ("one/logs", "two/logs")
    assert [(r.key, r.values) for r in diff.rows] == [("dataset_builder.seed", (42, 7))]


def test_keys_in_a_code_diff_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-" + "k" * 20
    monkeypatch.setenv("WANDB_API_KEY", secret)
    text = f"### repo: /r @ {'1' * 40}\n+TINKER_API_KEY=tml-{'a' * 30}\n+wandb = '{secret}'\n"
    run = _run(tmp_path, "leaky", {"lr": 1}, diff=text)
    (shown,) = config_diff([run]).code_diffs
    assert shown is not None and "tml-" not in shown and secret not in shown and "1" * 40 in shown
