"""CI and test plumbing: no machine paths, the installed entry point, and a missing shared folder
failing in CI instead of skipping a third of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.shared_data import REPO, cli_exe

CI_RUN = REPO / ".ci" / "run"
FINDS_THE_CLI = (
    "tests/e2e/test_secrets.py",
    "tests/e2e/test_app_restart.py",
    "tests/e2e/test_tmux_app.py",
    "tests/unit/test_runs_headless.py",
    "bench/bench_app.py",
)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "TINKERTOP_SHARED": str(tmp_path / "no-shared-here"), **extra}
    env.pop("PYTEST_ADDOPTS", None)
    return env


def _fake_make(tmp_path: Path) -> str:
    """A ``make`` that only says it ran (a named seam: the real one runs the whole suite)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    make = bindir / "make"
    make.write_text("#!/bin/sh\necho FAKE-MAKE-RAN\n")
    make.chmod(0o755)
    return f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"


def test_ci_run_has_no_machine_path() -> None:
    machine = "/" + "work/"
    assert machine not in CI_RUN.read_text()


def test_tests_find_the_installed_cli_not_a_repo_venv() -> None:
    for rel in FINDS_THE_CLI:
        assert '".venv"' not in (REPO / rel).read_text(), rel
    assert cli_exe().name == "tinkertop"


def test_ci_run_fails_when_shared_data_is_missing(tmp_path: Path) -> None:
    env = _env(tmp_path, CI="true", PATH=_fake_make(tmp_path))
    proc = subprocess.run(["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "shared test data missing" in proc.stderr and "no-shared-here" in proc.stderr
    assert "FAKE-MAKE-RAN" not in proc.stdout


def test_ci_run_outside_ci_goes_on_and_says_tests_skip(tmp_path: Path) -> None:
    env = _env(tmp_path, CI="", PATH=_fake_make(tmp_path))
    proc = subprocess.run(["bash", str(CI_RUN)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "skip" in proc.stdout and "FAKE-MAKE-RAN" in proc.stdout


def test_pytest_in_ci_fails_when_shared_data_is_missing(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "pytest", "-q", "--collect-only", "-p", "no:cacheprovider", __file__]
    proc = subprocess.run(
        cmd, cwd=REPO, env=_env(tmp_path, CI="true"), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode != 0
    assert "shared test data is missing" in proc.stdout + proc.stderr
    local = subprocess.run(
        cmd, cwd=REPO, env=_env(tmp_path, CI=""), capture_output=True, text=True, timeout=300
    )
    assert local.returncode == 0, local.stdout + local.stderr


def test_in_ci_a_skip_for_absent_data_is_a_failure(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "realdata").mkdir(parents=True)
    (shared / "formats").mkdir()
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import pytest\n\n"
        "def test_needs_data():\n    pytest.skip('shared/formats/x is absent')\n\n"
        "def test_needs_tmux():\n    pytest.skip('tmux is not installed')\n"
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest", str(probe)]
    env = _env(tmp_path, TINKERTOP_SHARED=str(shared), PYTHONPATH=str(REPO))
    ci = subprocess.run(cmd, cwd=tmp_path, env={**env, "CI": "true"}, capture_output=True, text=True)
    assert ci.returncode == 1 and "1 failed, 1 skipped" in ci.stdout, ci.stdout
    local = subprocess.run(cmd, cwd=tmp_path, env={**env, "CI": ""}, capture_output=True, text=True)
    assert local.returncode == 0 and "2 skipped" in local.stdout, local.stdout
