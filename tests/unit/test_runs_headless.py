"""Headless twins: ``tinkertop ls/show --json`` on real folders, and what importing runner costs.

The import check runs in fresh interpreters: no runner module may load textual or tui; the modules
``tinkertop ls`` and the app start-up touch (everything but the embedded backend's engine) may not
load torch, tinker, tinker_cookbook, pandas or transformers either.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from runner import cli
from tests.shared_data import SHARED

REPO = Path(__file__).resolve().parents[2]

FORMATS = SHARED / "formats"
HEAVY = ("torch", "tinker", "tinker_cookbook", "pandas", "transformers")
UI = ("textual", "tui")
# the embedded backend's engine may import torch; its command registration and package may not
LIGHT_BACKEND = {"runner.backend", "runner.backend.cli"}

needs_formats = pytest.mark.skipif(not FORMATS.is_dir(), reason="../shared/formats absent")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def runner_modules() -> list[str]:
    mods = []
    for path in sorted((REPO / "runner").rglob("*.py")):
        rel = path.relative_to(REPO).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        mods.append(".".join(parts))
    return mods


def strict_modules() -> list[str]:
    return [m for m in runner_modules() if not m.startswith("runner.backend.") or m in LIGHT_BACKEND]


def loaded_by_import(modules: list[str], forbidden: tuple[str, ...]) -> dict[str, list[str]]:
    """Import ``modules`` one by one in a fresh interpreter; forbidden top-level packages each
    import brought in (attributed to the first module that loaded them)."""
    code = f"""
import importlib, json, sys
forbidden = {forbidden!r}
out = {{}}
def seen():
    return sorted(m for m in forbidden if m in sys.modules)
for name in {modules!r}:
    before = set(seen())
    importlib.import_module(name)
    if name == "runner.cli":
        importlib.import_module("runner.cli").build_parser()  # registers every command family
    new = [m for m in seen() if m not in before]
    if new:
        out[name] = new
print(json.dumps(out))
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_start_up_modules_load_nothing_heavy_and_no_ui():
    mods = strict_modules()
    assert "runner.runs.store" in mods and "runner.cli" in mods
    assert "runner.rollouts.current" in mods and "runner.rollouts.flat_html" in mods  # read lazily
    assert loaded_by_import(mods, HEAVY + UI) == {}


def test_the_apps_engine_interface_loads_nothing_heavy_and_no_ui():
    """runner.api, the one module the app calls for control, on its own in a fresh interpreter (with the
    status enum and the snapshot data it hands over)."""
    api = ["runner.api", "runner.status", "runner.runs.snapshot", "runner.control.pending"]
    assert set(api) <= set(strict_modules())
    assert loaded_by_import(api, HEAVY + UI) == {}


def test_backend_engine_modules_never_load_the_ui():
    engine = [m for m in runner_modules() if m.startswith("runner.backend.") and m not in LIGHT_BACKEND]
    if not engine:
        pytest.skip("no backend engine modules")
    assert loaded_by_import(engine, UI) == {}


@needs_formats
def test_ls_json_on_formats(capsys):
    assert cli.main(["ls", str(FORMATS), "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["rl_arith"]["kind"] == "rl" and by_name["rl_arith"]["status"] == "finished"
    assert by_name["dpo_local"]["latest"]["state_path"].startswith("tinker://")
    direct = by_name["ml_log_direct"]
    assert direct["latest"]["nan_metric"] == "NaN"
    assert direct["latest"]["inf_metric"] == "Infinity" and direct["latest"]["neg_inf"] == "-Infinity"
    assert direct["latest"]["a_none"] is None and direct["latest"]["a_bool"] is True
    expected_lines = len((FORMATS / "sl_conversations/metrics.jsonl").read_text().splitlines())
    assert by_name["sl_conversations"]["n_lines"] == expected_lines
    for row in rows:
        assert {"path", "name", "kind", "status", "step", "n_lines", "bad_lines", "latest"} <= row.keys()


@needs_formats
def test_ls_plain_table_is_aligned(capsys):
    assert cli.main(["ls", str(FORMATS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("NAME") and len(lines) > 5
    col = lines[0].index("KIND")
    assert all(line[col - 2 : col] == "  " for line in lines[1:])


@needs_formats
def test_show_json_on_formats(capsys):
    assert cli.main(["show", str(FORMATS / "rl_arith_async"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["mode"] == "async"
    series = doc["series"]["env/all/reward/total"]
    raw = [json.loads(x) for x in (FORMATS / "rl_arith_async/metrics.jsonl").read_text().splitlines()]
    vals = [r["env/all/reward/total"] for r in raw if "env/all/reward/total" in r]
    assert series["count"] == len(vals) and series["first"] == vals[0] and series["last"] == vals[-1]
    assert math.isclose(series["max"], max(vals)) and series["non_finite"] == 0
    assert doc["config"]["async_config"] and doc["checkpoints"] and doc["console_tail"]


@needs_formats
def test_show_json_non_finite_as_strings(capsys):
    assert cli.main(["show", str(FORMATS / "ml_log_direct"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["series"]["nan_metric"] == {
        "count": 1, "first": "NaN", "last": "NaN", "min": None, "max": None, "non_finite": 1
    }  # fmt: skip
    assert doc["non_numeric"]["a_str"]["last"] == "tinker://x/weights/000001"


def test_missing_path_is_exit_2(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert cli.main(["show", str(missing)]) == 2
    assert cli.main(["ls", str(missing), "--json"]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "no such" in err


@needs_formats
def test_real_console_script_ls_json():
    script = Path(sys.executable).parent / "tinkertop"
    if not script.exists():
        pytest.skip("console script not installed")
    proc = subprocess.run(
        [str(script), "ls", str(FORMATS / "dpo_local"), str(FORMATS / "distill_onpolicy"), "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    kinds = {json.loads(line)["name"]: json.loads(line)["kind"] for line in proc.stdout.splitlines()}
    assert kinds == {"dpo_local": "dpo", "distill_onpolicy": "distill"}
