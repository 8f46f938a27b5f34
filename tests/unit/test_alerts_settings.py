"""tinkertop.toml settings, acks on disk, worst(), and the ``tinkertop alerts`` command."""

from __future__ import annotations

import json
import math

import pytest

from runner.alerts import AckStore, Alert, Settings, SettingsError, load_settings, worst
from runner.alerts.engine import explain
from runner.alerts.settings import PROFILE
from runner.cli import main
from tests.shared_data import SHARED
from tests.unit.test_alerts_helpers import (
    ARITH,
    BZZ,
    IFRL,
    alerts_for,
    by_rule,
    copy_run,
    rows_of,
    write_rows,
)

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def toml(tmp_path, text: str):
    (tmp_path / "tinkertop.toml").write_text(text)
    return load_settings(tmp_path)


def test_no_file_is_the_cookbook_profile(tmp_path):
    s = load_settings(tmp_path)
    assert s.rules == PROFILE and s.notify_urls == () and not s.bell and "tinker-cookbook" in s.source


def test_rule_table_glob_override_and_notify(tmp_path):
    s = toml(
        tmp_path,
        """
[alerts.kl_sample_train]
crit = 0.1
[alerts.console_warning]
enabled = false
[[alerts.override]]
metric = "optim/kl*"
warn = 0.02
[[alerts.override]]
metric = "train_mean_nll"
rule = "spike"
enabled = false
[notify]
urls = ["json://127.0.0.1:9/x"]
bell = true
""",
    )
    assert s.num("kl_sample_train", "crit", "optim/kl_sample_train_v2") == 0.1
    assert s.num("kl_sample_train", "warn", "optim/kl_sample_train_v2") == 0.02
    assert s.num("kl_sample_train", "warn", "env/all/reward/total") == 0.01
    assert not s.enabled("console_warning") and not s.enabled("spike", "train_mean_nll")
    assert s.enabled("spike", "grad_norm") and s.notify_urls == ("json://127.0.0.1:9/x",) and s.bell
    text = "\n".join(explain(s))
    assert "off console_warning" in text and "override optim/kl*: warn=0.02" in text and "crit=0.1" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[alerts\nwarn = 1\n", "line 1"),
        ("[alerts.nope]\nwarn = 1\n", "unknown rule"),
        ("[alerts.spike]\nwran = 1\n", "unknown threshold 'wran'"),
        ("[alerts.spike]\nwarn = 'x'\n", "warn must be a number"),
        ("[notify]\nurls = 'json://x'\n", "urls must be a list"),
        ("[[alerts.override]]\nwarn = 1\n", "needs metric"),
    ],
)
def test_bad_settings_name_the_file(tmp_path, text, expected):
    with pytest.raises(SettingsError) as err:
        toml(tmp_path, text)
    assert str(tmp_path / "tinkertop.toml") in str(err.value) and expected in str(err.value)


@needs_shared
def test_a_threshold_override_silences_a_rule(tmp_path):
    settings = toml(
        tmp_path, "[[alerts.override]]\nmetric = 'optim/kl_sample_train_*'\nwarn = 1.0\ncrit = 1.0\n"
    )
    assert by_rule(alerts_for(BZZ / "exp4_reward_only"), "kl_sample_train")
    assert by_rule(alerts_for(BZZ / "exp4_reward_only", settings), "kl_sample_train") == []


def _alert(**kw) -> Alert:
    base = dict(run_path="/r", rule="spike", severity="warning", metric="train_mean_nll", first_step=5, last_step=5,
                value=2.0, threshold=1.0, window="w", message="m", flag="f")  # fmt: skip
    base.update(kw)
    return Alert(**base)


def test_acks_persist_and_lapse_when_worse(tmp_path):
    AckStore(tmp_path).acknowledge(_alert())
    store = AckStore(tmp_path)  # read back from disk
    assert store.mark(_alert()).acked and store.mark(_alert(value=2.5)).acked
    assert not store.mark(_alert(value=4.0)).acked  # beyond the acked value by the margin
    assert not store.mark(_alert(severity="critical")).acked
    assert not store.mark(_alert(first_step=30)).acked  # a new episode
    assert json.loads((tmp_path / ".tinkertop" / "acks.json").read_text())


def test_acks_file_corrupt_reads_as_empty(tmp_path):
    (tmp_path / ".tinkertop").mkdir()
    (tmp_path / ".tinkertop" / "acks.json").write_text("{not json")
    assert not AckStore(tmp_path).mark(_alert()).acked


def test_worst_prefers_unacked_active_severe():
    a, b, c = _alert(), _alert(severity="critical", active=False), _alert(severity="critical", last_step=9)
    assert worst([a, b, c]) is c and worst([]) is None
    assert worst([a, _alert(severity="critical", acked=True)]) is a


@needs_shared
def test_cli_json_nan_and_fail_on(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def nan(rows):
        rows[40]["optim/entropy"] = math.nan

    run = copy_run(ARITH, tmp_path / "logs" / "arith", nan)
    assert main(["alerts", "--json", str(run.parent)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (row,) = [r for r in rows if r["rule"] == "non_finite"]
    assert row["value"] == "NaN" and row["first_step"] == 40 and row["run_path"] == str(run)
    assert set(row) >= {"run_path", "rule", "severity", "metric", "first_step", "last_step", "value", "threshold",
                        "message"}  # fmt: skip
    assert main(["alerts", "--fail-on", "critical", str(run.parent)]) == 1
    assert main(["alerts", "--fail-on", "warning", str(IFRL / "logs_v2p3")]) == 0
    assert "no alerts" in capsys.readouterr().out


def test_cli_bad_settings_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tinkertop.toml").write_text("[alerts\n")
    assert main(["alerts", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "tinkertop.toml" in err and "line 1" in err and "Traceback" not in err


def test_cli_explain_lists_every_rule(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["alerts", "--explain"]) == 0
    out = capsys.readouterr().out
    assert all(f" {name} " in out for name in Settings().rules)


@needs_shared
def test_engine_marks_acked_alerts_until_a_new_episode(tmp_path):
    from runner.alerts import AlertEngine
    from runner.runs.folder import RunFolder

    rows = rows_of(ARITH)
    rows[20]["optim/entropy"] = rows[60]["optim/entropy"] = math.nan
    run = RunFolder(copy_run(ARITH, tmp_path / "run", lambda rs: rs.__setitem__(slice(None), rows[:50])))
    run.refresh()
    engine = AlertEngine(Settings(), AckStore(tmp_path))
    (first,) = by_rule(engine.evaluate(run), "non_finite")
    engine.acknowledge(first)
    assert by_rule(AlertEngine(Settings(), AckStore(tmp_path)).evaluate(run), "non_finite")[0].acked
    write_rows(run.path / "metrics.jsonl", rows[50:], "a")  # the same rule fires again later: a new episode
    run.refresh()
    assert [a.acked for a in by_rule(engine.evaluate(run), "non_finite")] == [False, True]


def test_cli_reads_the_settings_of_the_watched_workspace_like_the_app(tmp_path, monkeypatch, capsys):
    """``tinkertop alerts ws/results/logs`` from elsewhere uses ``ws/tinkertop.toml`` (the app's workspace)."""
    ws = tmp_path / "ws"
    (ws / "results" / "logs").mkdir(parents=True)
    (ws / "tinkertop.toml").write_text("[alerts\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["alerts", str(ws / "results" / "logs")]) == 2
    assert str(ws / "tinkertop.toml") in capsys.readouterr().err
    assert main(["alerts", str(elsewhere)]) == 0  # not a results/logs folder: the current folder's settings


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "# mine\n[alerts.reward_pinned]\nwarmup = 2\nsteps = 0\n",
            "line 4: [alerts.reward_pinned] steps must be",
        ),
        ("[alerts.train_eval]\nevals = 1\n", "line 2: [alerts.train_eval] evals must be a whole number >= 2"),
        (
            "[alerts.entropy_collapse]\nrecent = 2.5\n",
            "line 2: [alerts.entropy_collapse] recent must be a whole",
        ),
        ("[alerts.spike]\nwarmup = -1\n", "line 2: [alerts.spike] warmup must be"),
        ("[alerts.spike]\nwarn = nan\n", "line 2: [alerts.spike] warn must be a number"),
        ("[alerts.spike]\n\nwran = 1\n", "line 3: [alerts.spike] unknown threshold 'wran'"),
        (
            "[alerts.spike]\nwarn = 1\n[[alerts.override]]\nmetric = 'x'\nrearm = 0\n",
            "line 5: [alerts.override #1] rearm",
        ),
        ("alerts.reward_pinned.steps = 0\n", "line 1: [alerts.reward_pinned] steps must be"),
        ("# x\n[alerts.nope]\nwarn = 1\n", "line 2: [alerts.nope] unknown rule"),
    ],
)
def test_bad_values_name_the_file_table_and_line(tmp_path, text, expected):
    with pytest.raises(SettingsError) as err:
        toml(tmp_path, text)
    assert str(err.value).startswith(f"{tmp_path / 'tinkertop.toml'}: {expected}")


def test_cli_zero_steps_is_a_message_not_a_traceback(tmp_path, monkeypatch, capsys):
    """``steps = 0`` used to reach the rule (IndexError traceback, every run's alerts lost)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tinkertop.toml").write_text("[alerts.reward_pinned]\nsteps = 0\n")
    write_rows(tmp_path / "metrics.jsonl", [{"step": i, "env/all/reward/total": 0.0} for i in range(30)])
    assert main(["alerts", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "tinkertop.toml: line 2: [alerts.reward_pinned] steps must be a whole number >= 1" in err


def _longer(rows):
    for r in rows[30:]:
        r["env/all/ac_tokens_per_turn"] *= 5


@needs_shared
def test_cli_a_run_whose_length_falls_to_zero_does_not_take_down_the_others(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def silent(rows):
        for r in rows[30:]:
            r["env/all/ac_tokens_per_turn"] = 0.0

    copy_run(ARITH, tmp_path / "logs" / "silent", silent)
    plain = copy_run(ARITH, tmp_path / "logs" / "plain")
    assert main(["alerts", "--json", str(tmp_path / "logs")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {r["run_path"] for r in rows} == {str(plain), str(tmp_path / "logs" / "silent")}
    assert any(r["rule"] == "length_shift" and "collapsed to 0" in r["message"] for r in rows)


@needs_shared
def test_cli_and_watch_a_failing_run_is_a_note_and_the_others_go_on(tmp_path, monkeypatch, capsys):
    """A rule that raises (a stand-in: LengthShift.describe replaced by one that fails) on one run: that
    run is named on stderr, every other run is still judged; with --fail-on the unjudged run fails it."""
    from runner.alerts import AlertEngine, rules_more
    from runner.alerts.cli import _Watcher
    from runner.runs.store import RunStore

    def broken(self, key, ep, s):
        raise ZeroDivisionError("stand-in rule failure")

    monkeypatch.setattr(rules_more.LengthShift, "describe", broken)
    monkeypatch.chdir(tmp_path)
    longer = copy_run(ARITH, tmp_path / "logs" / "longer", _longer)
    plain = copy_run(ARITH, tmp_path / "logs" / "plain")
    assert main(["alerts", "--json", str(tmp_path / "logs")]) == 0
    out, err = capsys.readouterr()
    assert {json.loads(line)["run_path"] for line in out.splitlines()} == {str(plain)}
    assert f"{longer}: alert rules failed: ZeroDivisionError" in err
    assert main(["alerts", "--fail-on", "critical", str(longer)]) == 1
    assert "no alerts" in capsys.readouterr().out

    store = RunStore([tmp_path / "logs"])
    store.scan()
    _Watcher(store, AlertEngine(Settings()), None, as_json=True).judge(store.runs(), notify=False)
    out, err = capsys.readouterr()
    assert {json.loads(line)["run_path"] for line in out.splitlines()} == {str(plain)}
    assert f"{longer}: alert rules failed: ZeroDivisionError" in err


def test_cli_json_escapes_line_separators_in_metric_keys(tmp_path, monkeypatch, capsys):
    """U+2028/U+2029 split lines for str.splitlines and JavaScript: written escaped, as in ls --json."""
    monkeypatch.chdir(tmp_path)
    key = "odd\u2028key\u2029"
    write_rows(tmp_path / "metrics.jsonl", [{"step": i, key: math.nan if i == 2 else 1.0} for i in range(5)])
    assert main(["alerts", "--json", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "\u2028" not in out and "\u2029" not in out
    (row,) = [json.loads(line) for line in out.splitlines()]
    assert row["metric"] == key and row["rule"] == "non_finite"
