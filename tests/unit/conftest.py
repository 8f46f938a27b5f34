"""Fixtures shared by the unit tests: a private tinkertop home (never leaving a backend server behind) and
a working folder to launch self-test jobs from."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.backend_servers import servers


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``TINKERTOP_HOME`` in the test's folder; any backend server started there is killed at the end."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"
    for pid in servers(tmp_path / "home"):  # never leave a server behind, whatever failed
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private home, a fake hosted key (the self-test job reaches no service) and a working folder."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", "tml-" + "x" * 40)
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.fixture
def private_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private home (caches and records) and the test's folder as the working folder; a module asks
    for it with ``pytestmark = pytest.mark.usefixtures("private_cwd")``."""
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    return tmp_path
