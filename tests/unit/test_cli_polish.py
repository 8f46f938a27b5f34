"""The command line's rough edges: ``tinkertop backend env`` (eval-able exports the tinker SDK and CLI use),
a friendly Ctrl-C during ``backend start``, and ``tinkertop --help`` listing every command (``demo`` too).
Real processes through the installed entry point; real backend servers in a private home."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.backend import lifecycle, state, tinymodel
from runner.backend.cli import _after_interrupt
from runner.control.testing import wait_for
from tests.e2e.conftest import tiny_model_path
from tests.shared_data import cli_exe
from tests.unit.backend_servers import recorded_pid, servers

COMMANDS = ("demo", "ls", "show", "alerts", "watch", "launch", "runs", "stop", "resume", "clone", "rm")
COMMANDS += ("queue", "backend")


def tinkertop(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, TINKERTOP_HOME=str(home))
    return subprocess.run([str(cli_exe()), *args], env=env, capture_output=True, text=True, timeout=300)


# ---- tinkertop --help ----------------------------------------------------------------------------


def test_help_lists_every_command_with_demo_and_demo_help_still_works(home: Path) -> None:
    shown = tinkertop(home, "--help")
    assert shown.returncode == 0, shown.stderr
    listed = {line.split()[0] for line in shown.stdout.splitlines() if line.startswith("    ")}
    assert set(COMMANDS) <= listed, set(COMMANDS) - listed
    assert any(line.split()[:1] == ["demo"] and "live demo" in line for line in shown.stdout.splitlines())
    demo = tinkertop(home, "demo", "--help")
    assert demo.returncode == 0 and "usage: tinkertop demo" in demo.stdout and "--no-app" in demo.stdout


def test_help_imports_no_textual() -> None:
    probe = "import sys\nfrom tui.main import main\nmain(['--help'])\nprint('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert "demo" in out and out.splitlines()[-1] == "False"


# ---- tinkertop backend env -----------------------------------------------------------------------


def test_backend_env_with_no_backend_fails_on_stderr(home: Path) -> None:
    for args in (("backend", "env"), ("backend", "env", "--json")):
        shown = tinkertop(home, *args)
        assert shown.returncode == 1 and shown.stdout == ""
        assert "no backend runs" in shown.stderr and "tinkertop backend start" in shown.stderr
    assert _after_interrupt() == "no backend runs"


def test_backend_env_help_says_the_key_goes_to_stdout_only_on_request(home: Path) -> None:
    shown = tinkertop(home, "backend", "env", "--help")
    assert shown.returncode == 0
    text = " ".join(shown.stdout.split())
    assert "TINKER_API_KEY" in text and "only" in text and 'eval "$(tinkertop backend env)"' in text


def test_backend_env_reaches_the_backend_from_the_tinker_cli_and_sdk(home: Path) -> None:
    info = lifecycle.start(wait=True, model=tiny_model_path())
    shown = tinkertop(home, "backend", "env")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == f"export TINKER_BASE_URL={info.url} TINKER_API_KEY={info.key}\n"
    as_json = tinkertop(home, "backend", "env", "--json")
    assert json.loads(as_json.stdout) == {"TINKER_BASE_URL": info.url, "TINKER_API_KEY": info.key}
    assert info.key not in shown.stderr + as_json.stderr
    assert info.key not in tinkertop(home, "backend", "status", "--json").stdout  # only on request
    on_screen = _on_a_terminal(home, "backend", "env")  # a terminal: the key never lands on a screen
    assert info.key not in on_screen and "TINKER_API_KEY=" in on_screen and "--show-key" in on_screen
    assert info.key in _on_a_terminal(home, "backend", "env", "--show-key")
    # a shell with nothing tinker-related but what `backend env` exports
    bindir = Path(sys.executable).parent
    script = (
        f'eval "$({cli_exe()} backend env)" && tinker -f json model list && echo ---- && python -c '
        "'import tinker; print(tinker.ServiceClient().get_server_capabilities().supported_models[0].model_name)'"
    )
    env = {"PATH": f"{bindir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(home.parent / "user")}
    env["TINKERTOP_HOME"] = str(home)
    done = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    from_cli, from_sdk = done.stdout.split("----\n")
    assert json.loads(from_cli)["models"][0]["model_name"] == str(tiny_model_path())
    assert from_sdk.strip() == str(tiny_model_path())
    assert f"pid {info.pid}" in _after_interrupt() and "running and ready" in _after_interrupt()
    assert lifecycle.stop() is True


# ---- Ctrl-C during tinkertop backend start -------------------------------------------------------


@contextlib.contextmanager
def tiny_model_being_built(cache: Path) -> Iterator[None]:
    """Hold the tiny model's build lock in an empty cache, as another process building it does: a server
    started without ``--model`` records itself, then waits for the model (no race with machine speed)."""
    target = tinymodel.model_dir()
    assert target.parent.parent == cache and not target.exists()
    target.parent.mkdir(parents=True)
    with open(target.parent / f".{target.name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def test_ctrl_c_during_backend_start_says_in_one_line_what_the_backend_does(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TINKERTOP_CACHE", str(home.parent / "cache"))
    with tiny_model_being_built(home.parent / "cache"):
        launcher = subprocess.Popen(
            [str(cli_exe()), "backend", "start"],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
        try:
            pid = wait_for(lambda: recorded_pid(home), timeout=120, what="the server's own record")
            os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
            out, err = launcher.communicate(timeout=60)
        finally:
            if launcher.poll() is None:
                launcher.kill()
        assert launcher.returncode == 130 and out == "", out + err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert f"pid {pid}" in err and "still starting" in err and "backend stop" in err
        assert state.read_info().key not in err  # type: ignore[union-attr]
        assert servers(home) == [pid]  # the server goes on, recorded: status and stop find it
        assert tinkertop(home, "backend", "status").returncode == 4
        stopped = tinkertop(home, "backend", "stop")
        assert stopped.returncode == 0 and "backend stopped" in stopped.stdout
    wait_for(lambda: not servers(home), timeout=60, what="the server to exit")


def _on_a_terminal(home: Path, *args: str) -> str:
    """What ``tinkertop ARGS`` shows when its stdout and stderr are a terminal (a real pty)."""
    import pty

    leader, follower = pty.openpty()
    env = dict(os.environ, TINKERTOP_HOME=str(home))
    with subprocess.Popen([str(cli_exe()), *args], stdout=follower, stderr=follower, env=env) as proc:
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        proc.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")
