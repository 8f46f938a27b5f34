"""The launcher's and the supervisor's side of :mod:`runner.control.zygote` (kept apart so neither ever
imports the zygote's serving loop).

``start_zygote`` starts a detached zygote for a batch of runs and returns its socket address;
``warm_start`` asks it for one run's process and returns a :class:`WarmJob`, which the supervisor treats
like a ``Popen`` (``pid``, ``poll()``). Anything wrong before the job runs raises ``ZygoteUnavailable``:
the supervisor then spawns the job plainly and says so in the console log.
"""

from __future__ import annotations

import json
import os
import select
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runner import paths
from runner.control import procs
from runner.control.spawn import start_detached
from runner.control.state_dir import read_json

START_WAIT_S = 300.0  # the zygote may still be importing torch on a busy machine
POLL_S = 0.2
BIND_WAIT_S = 10.0
MIN_BATCH = 2  # a single run gains nothing from a warm parent: it would pay the same imports


class ZygoteUnavailable(Exception):
    """No warm start (the zygote is gone, refused, or too slow): spawn the job plainly."""


def socket_dir() -> Path:
    """A private folder for the socket, short enough for AF_UNIX's 108-byte limit."""
    base = tempfile.gettempdir()
    if len(base) > 60:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="tinkertop-zygote-", dir=base))


def start_zygote(
    python: str, cwd: str | Path, env: Mapping[str, str], module: str, tokenizer: str | None = None
) -> str:
    """Start a detached zygote warming ``module`` (and the ``tokenizer`` of a local model folder); returns
    the socket address supervisors connect to. Its output goes to ``<state dir>/zygote.log`` (it never
    prints an environment)."""
    address = str(socket_dir() / "sock")
    extra = ["--tokenizer", tokenizer] if tokenizer and os.path.isdir(tokenizer) else []
    log_path = paths.state_dir() / "zygote.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        argv = [python, "-m", "runner.control.zygote", address, "--warm", module, *extra]
        proc = start_detached(argv, log, cwd=cwd, env=env)
    deadline = time.monotonic() + BIND_WAIT_S
    while not os.path.exists(address):  # it binds before its imports: moments after it starts
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise OSError(f"the zygote did not come up (see {log_path})")
        time.sleep(0.02)
    return address


def _connect(address: str) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(address)
    except OSError as exc:
        conn.close()
        raise ZygoteUnavailable(f"cannot reach the zygote: {exc.strerror or exc}") from exc
    return conn


class Lines:
    """Newline-delimited JSON messages from a socket."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buf = b""
        self.closed = False

    def next(self, timeout: float) -> dict[str, Any] | None:
        """A message, or None when none came within ``timeout``. EOFError once the peer has closed."""
        while b"\n" not in self.buf:
            if self.closed:
                raise EOFError
            ready, _, _ = select.select([self.conn], [], [], timeout)
            if not ready:
                return None
            try:
                chunk = self.conn.recv(65536)
            except OSError:
                chunk = b""
            self.closed = not chunk
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        data = json.loads(line)
        return data if isinstance(data, dict) else {}


class WarmJob:
    """A job forked by the zygote, watched like a ``Popen``: the zygote reports its return code. If the
    zygote dies first the job goes on (its own session); then its end is seen through /proc and its exit
    code read from the file the job writes as it exits (None if it was killed)."""

    def __init__(self, conn: socket.socket, pid: int, exit_file: Path) -> None:
        self.conn = conn
        self.lines = Lines(conn)
        self.pid = pid
        self.pid_start = procs.start_time(pid)
        self.exit_file = exit_file
        self.returncode: int | None = None
        self.lost = False
        self.on_lost: Callable[[str], None] = lambda _msg: None

    def go(self) -> None:
        try:
            self.conn.sendall(b'{"go": true}\n')
        except OSError as exc:
            self.conn.close()
            raise ZygoteUnavailable(f"the zygote went away before the job started: {exc}") from exc

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if not self.lost:
            try:
                message = self.lines.next(0)
            except (EOFError, ValueError):
                self.lost = True
                self.conn.close()
                self.on_lost("the zygote is gone; the job goes on, watched through /proc")
                return self.poll()
            if message is not None and "returncode" in message:
                self.returncode = int(message["returncode"])
                self.conn.close()
            return self.returncode
        if procs.alive(self.pid, self.pid_start):
            return None
        data = read_json(self.exit_file)
        code = data.get("exit_code") if data else None
        self.returncode = code if isinstance(code, int) else -9  # killed with no word: as SIGKILL
        return self.returncode


def warm_start(
    address: str,
    request: dict[str, Any],
    exit_file: Path,
    cancelled: Callable[[], bool] = lambda: False,
) -> WarmJob:
    """Ask the zygote for a process for ``request`` (argv, cwd, env, console); returns it forked and
    waiting for :meth:`WarmJob.go`. Raises ZygoteUnavailable when no warm start is to be had."""
    exit_file.unlink(missing_ok=True)
    conn = _connect(address)
    try:
        conn.sendall(json.dumps(request | {"exit_file": str(exit_file)}).encode() + b"\n")
        lines = Lines(conn)
        deadline = time.monotonic() + START_WAIT_S
        while True:
            message = lines.next(POLL_S)
            if message is not None:
                break
            if cancelled():
                raise ZygoteUnavailable("stop requested before the job started")
            if time.monotonic() > deadline:
                raise ZygoteUnavailable(f"no answer from the zygote in {START_WAIT_S:g}s")
    except (OSError, EOFError, ValueError) as exc:
        conn.close()
        raise ZygoteUnavailable(f"the zygote went away: {str(exc) or 'connection closed'}") from exc
    except ZygoteUnavailable:
        conn.close()
        raise
    if not isinstance(message.get("pid"), int):
        conn.close()
        raise ZygoteUnavailable(str(message.get("error") or "the zygote refused"))
    job = WarmJob(conn, message["pid"], exit_file)
    job.lines = lines
    return job


def for_batch(
    python: str, cwd: str | Path, local: bool, module: str | None, models: list[object]
) -> str | None:
    """A zygote for runs of ``module`` started together (``models``: each run's ``model_name``): its
    socket, or None (one run, a script target, turned off, or it could not start: each run then spawns
    plainly)."""
    if len(models) < MIN_BATCH or not module or not enabled():
        return None
    from runner.control.supervisor import job_env

    shared = models[0] if len(set(map(str, models))) == 1 and isinstance(models[0], str) else None
    try:
        env = job_env({"cwd": str(cwd), "local": local})
        return start_zygote(python, cwd, env, module, shared)
    except (OSError, RuntimeError) as exc:
        print(f"tinkertop: no warm start for this batch: {exc}", file=sys.stderr)
        return None


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """Warm starts are on unless ``TINKERTOP_ZYGOTE=0``."""
    return (env if env is not None else os.environ).get("TINKERTOP_ZYGOTE", "1") != "0"
