"""Rules on status and files: crashed, lost, stalled, repeated console warnings, disk nearly full.

Crashed and the console rule run on real logs. Lost, stalled, a non-zero exit code and the disk rule
need a supervisor record or a full disk; those are judged from ``RunFacts`` built by hand (the seam
the engine fills from the run) and a stand-in ``statvfs``, named as such.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from runner.alerts import Settings
from runner.alerts.filerules import RunFacts, console_warning, crashed, disk, file_alerts, lost, stalled
from runner.runs.status import forget_holders
from tests.shared_data import SHARED
from tests.unit.test_alerts_helpers import BZZ, CRASH_LOG, IFRL, alerts_for, by_rule

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")
S = Settings()
NOW = 1_800_000_000.0


@pytest.fixture(autouse=True)
def _own_state_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))


def facts(**kw) -> RunFacts:
    base = dict(path="/runs/a", status="running", status_source="supervisor", exit_code=None, last_step=41,
                console_tail=[], metrics_mtime=NOW - 60, step_seconds=30.0)  # fmt: skip
    base.update(kw)
    return RunFacts(**base)


@needs_shared
def test_crashed_fires_on_a_real_traceback_log():
    (alert,) = by_rule(alerts_for(CRASH_LOG), "crashed")
    assert alert.severity == "critical" and "BadRequestError" in alert.message


@needs_shared
def test_crashed_quiet_on_a_finished_run():
    assert by_rule(alerts_for(BZZ / "exp1_off_policy"), "crashed") == []


def test_crashed_on_a_non_zero_exit_code():
    (alert,) = crashed(facts(status="failed", exit_code=1), S)
    assert alert.flag == "exit 1" and alert.value == 1
    assert crashed(facts(status="finished", exit_code=0), S) == []


def test_a_run_the_user_stopped_is_not_crashed():
    """K (SIGTERM, grace) and ctrl+k (SIGKILL) end a run with a negative exit code and status stopped."""
    for code in (-15, -9, 143):
        assert crashed(facts(status="stopped", exit_code=code), S) == []
        assert [a.rule for a in file_alerts(facts(status="stopped", exit_code=code), S, NOW)] == []
    assert crashed(facts(status="failed", exit_code=-9), S)[0].flag == "exit -9"  # killed by someone else


def test_lost_fires_only_for_lost():
    assert lost(facts(status="lost"), S)[0].severity == "critical"
    assert lost(facts(status="running"), S) == []


def test_stalled_warns_then_goes_critical_and_needs_a_live_process():
    limit_s = 600  # max(10 min, 3 x 30 s)
    assert stalled(facts(metrics_mtime=NOW - limit_s + 5), S, NOW) == []
    (warn,) = stalled(facts(metrics_mtime=NOW - 14 * 60), S, NOW)
    assert (warn.severity, warn.flag) == ("warning", "stalled 14m")
    assert stalled(facts(metrics_mtime=NOW - 21 * 60), S, NOW)[0].severity == "critical"
    assert stalled(facts(metrics_mtime=NOW - 60 * 60, status="finished"), S, NOW) == []
    assert stalled(facts(metrics_mtime=NOW - 60 * 60, status_source="files"), S, NOW) == []


def test_stalled_from_the_files_needs_a_live_local_process(tmp_path):
    """No supervisor: the files say running (growing, or held by a local process). A real process holding
    metrics.jsonl open for writing is alive, so 14 min without a metrics line is a stall; a folder that
    is only growing (a copy being synced in, old mtimes kept) is not judged."""
    run = tmp_path / "run"
    run.mkdir()
    metrics = run / "metrics.jsonl"
    metrics.write_text('{"step": 0}\n')
    f = facts(path=str(run), status_source="files", metrics_mtime=NOW - 14 * 60)
    forget_holders()
    assert stalled(f, S, NOW) == []
    writer = "import sys; f = open(sys.argv[1], 'a'); print('open', flush=True); sys.stdin.read()"
    proc = subprocess.Popen(
        [sys.executable, "-c", writer, str(metrics)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "open"
        forget_holders()
        (alert,) = stalled(f, S, NOW)
        assert (alert.severity, alert.flag) == ("warning", "stalled 14m")
        assert (
            stalled(
                facts(path=str(run), status_source="files", status="unknown", metrics_mtime=NOW - 14 * 60),
                S,
                NOW,
            )
            == []
        )
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
        forget_holders()


def test_stalled_limit_follows_slow_steps():
    assert (
        stalled(facts(metrics_mtime=NOW - 20 * 60, step_seconds=600.0), S, NOW) == []
    )  # 3 x 10 min = 30 min


@needs_shared
def test_console_warning_fires_on_repeated_retry_errors():
    (alert,) = by_rule(alerts_for(IFRL / "logs"), "console_warning")
    assert "retry_handler" in alert.message and alert.value >= 5


@needs_shared
def test_console_warning_quiet_on_a_repeated_benign_warning():
    # exp1's log repeats a renderer WARNING 128 times: not a retry, rate limit or heartbeat
    assert by_rule(alerts_for(BZZ / "exp1_off_policy"), "console_warning") == []


def test_console_warning_counts_lines_that_differ_only_in_numbers():
    tail = [
        f"2026-01-01 10:00:{i:02d} WARNING Rate limited, retrying in {i}s (attempt {i})" for i in range(6)
    ]
    (alert,) = console_warning(facts(console_tail=tail), S)
    assert alert.value == 6
    assert console_warning(facts(console_tail=tail[:4]), S) == []


class FakeStatvfs:
    """Stand-in for os.statvfs: a filesystem with the given free fraction."""

    def __init__(self, free: float) -> None:
        self.f_blocks, self.f_bavail, self.f_frsize = 1_000_000, int(free * 1_000_000), 4096

    def __call__(self, path: str) -> FakeStatvfs:
        return self


def test_disk_nearly_full(tmp_path):
    f = facts(path=str(tmp_path))
    assert disk(f, S, FakeStatvfs(0.5)) == []
    assert disk(f, S, FakeStatvfs(0.03))[0].severity == "warning"
    assert disk(f, S, FakeStatvfs(0.005))[0].severity == "critical"
    st = os.statvfs(tmp_path)  # the real call: what it says about this filesystem, judged by hand
    free = st.f_bavail / st.f_blocks
    expected = [] if free >= 0.05 else ["critical" if free < 0.01 else "warning"]
    assert [a.severity for a in disk(f, S)] == expected


def test_rules_can_be_turned_off():
    from runner.alerts.settings import parse_settings

    off = parse_settings({"alerts": {"lost": {"enabled": False}}}, "tinkertop.toml")
    assert [a.rule for a in file_alerts(facts(status="lost"), S, NOW) if a.rule == "lost"] == ["lost"]
    assert [a.rule for a in file_alerts(facts(status="lost"), off, NOW) if a.rule == "lost"] == []
