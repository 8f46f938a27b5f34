"""Start, stop and find the embedded backend server (a detached process in its own session).

Cheap to import: no torch, no tinker. The key is read from the 0600 state file and passed to child
processes through ``env_for``; it is never logged, and printed only by ``tinkertop backend env`` to a
pipe (``eval "$(tinkertop backend env)"``), never to a terminal unless asked with ``--show-key``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runner.backend.state import BackendInfo, backend_dir, clear_info, read_info
from runner.control import procs

START_TIMEOUT = 180.0
SERVER_MODULE = "runner.backend.server"
REPO_ROOT = Path(__file__).resolve().parents[2]


class BackendError(RuntimeError):
    """The backend could not be started or reached."""


class OtherModel(BackendError):
    """A backend runs, on another model than the one asked for."""


def log_path() -> Path:
    return backend_dir() / "server.log"


def _pid_alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError, OSError):
        done, _ = os.waitpid(pid, os.WNOHANG)  # reap our own exited child
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie has exited: another process (the app that started the backend) has not reaped it yet
    return not procs.is_zombie(pid)


def _is_server(pid: int) -> bool:
    """``pid`` is alive and is a backend server (not a reused pid); True where /proc is missing."""
    if pid <= 0 or not _pid_alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return SERVER_MODULE.encode() in argv


def recorded() -> BackendInfo | None:
    """The server the state file names, if that process is alive, ready or still starting."""
    info = read_info()
    return info if info is not None and _is_server(info.pid) else None


def request(info: BackendInfo, path: str, timeout: float = 3.0) -> dict[str, Any]:
    """GET ``/api/v1/<path>`` with the key; raises OSError/ValueError when unreachable."""
    req = urllib.request.Request(f"{info.url}/api/v1/{path}", headers={"X-API-Key": info.key})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


def status() -> BackendInfo | None:
    """The running server if its pid is alive and its health endpoint answers our key."""
    info = recorded()
    if info is None or not info.port:
        return None
    try:
        ok = request(info, "healthz").get("status") == "ok"
    except (OSError, ValueError):
        return None
    return info if ok else None


def details(info: BackendInfo) -> dict[str, Any]:
    """Live figures from the server (sessions, models, queue) merged with the public info."""
    data: dict[str, Any] = dict(info.public())
    try:
        data.update(request(info, "local/status"))
    except (OSError, ValueError) as exc:
        data["error"] = str(exc)
    return data


@contextlib.contextmanager
def _start_lock() -> Iterator[None]:
    with open(backend_dir() / "start.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _spawn(model: Path | None) -> subprocess.Popen[bytes]:
    log = log_path()
    argv = [sys.executable, "-m", SERVER_MODULE, "--log-path", str(log)]
    if model is not None:
        argv += ["--model", str(model)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env.pop("TINKER_API_KEY", None)
    with open(log, "ab") as out:
        os.chmod(log, 0o600)
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _wait_ready(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> BackendInfo:
    """The server ``pid`` once it answers ready; BackendError if it exits or the time runs out (it is
    recorded in the state file by then, so ``status``/``stop``/``start`` still find it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (proc.poll() is not None) if proc is not None else not _is_server(pid):
            code = proc.returncode if proc is not None else "?"
            tail = log_path().read_text(errors="replace")[-2000:]
            raise BackendError(f"backend exited with code {code}; log {log_path()}:\n{tail}")
        info = read_info()
        if info is not None and info.pid == pid and info.port:
            with contextlib.suppress(OSError, ValueError):
                if request(info, "local/status").get("ready"):
                    return info
        time.sleep(0.2)
    raise BackendError(
        f"backend (pid {pid}) did not become ready within {timeout:.0f}s; it may still be starting: "
        f"`tinkertop backend status` shows it, `tinkertop backend stop` stops it; log {log_path()}"
    )


def _same_model(info: BackendInfo, model: Path | None) -> bool:
    return model is None or not info.model_path or Path(info.model_path) == Path(model).resolve()


def start(wait: bool = True, model: Path | None = None, timeout: float = START_TIMEOUT) -> BackendInfo:
    """The backend, started detached if none runs; a live one (ready or still starting) is reused.

    With ``wait``, return once its model is loaded. OtherModel if the live one serves another model."""
    with _start_lock():
        known = recorded()
        if known is None:
            clear_info()
            proc = _spawn(model)
            if not wait:
                return BackendInfo("", 0, proc.pid, "", str(model or ""), time.time(), str(log_path()))
            info = _wait_ready(proc.pid, timeout, proc)
        else:
            info = _wait_ready(known.pid, timeout) if wait else known
    if not _same_model(info, model):
        raise OtherModel(
            f"a backend is already running on {info.model_path} (pid {info.pid}); stop it first "
            "(tinkertop backend stop)"
        )
    return info


def ensure_running(model: Path | None = None, timeout: float = START_TIMEOUT) -> BackendInfo:
    """Reuse a healthy server (serving ``model`` when given) or start one."""
    try:
        return start(wait=True, model=model, timeout=timeout)
    except OtherModel:
        stop()
    return start(wait=True, model=model, timeout=timeout)


def stop(grace: float = 10.0) -> bool:
    """SIGTERM the recorded server (ready or still starting), SIGKILL after ``grace``; True if one ran."""
    info = recorded()
    if info is None:
        clear_info()
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _pid_alive(info.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(info.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(info.pid, signal.SIGKILL)
        while _pid_alive(info.pid):
            time.sleep(0.05)
    clear_info(pid=info.pid)
    return True


def env_for(info: BackendInfo) -> dict[str, str]:
    """Environment entries that point a child's tinker SDK at this backend."""
    return {"TINKER_BASE_URL": info.url, "TINKER_API_KEY": info.key}
