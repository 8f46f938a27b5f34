"""Server entry point: ``python -m runner.backend.server [--model DIR] [--port 0]``.

Takes the backend's server lock (one server per state dir: a second one exits at once), binds
loopback only, makes a fresh ``tml-`` key and records itself in the state file (0600, atomic) as
soon as it listens, before loading anything, so an interrupted ``backend start`` never leaves a
server nobody knows. Serves until SIGTERM/SIGINT. The key goes to the state file only, never to a log.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import ipaddress
import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

log = logging.getLogger("tinkertop.backend")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m runner.backend.server", description=__doc__)
    p.add_argument("--model", help="local HF-format model directory (default: the tiny model)")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: a tiny model gains nothing from more, and spinning threads stall on a busy 2-core box)",
    )
    p.add_argument("--log-path", default="", help="where the log goes (recorded in the state file)")
    return p


def _loopback_socket(host: str, port: int) -> socket.socket:
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing to bind {host}: the backend listens on loopback only")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _claim_lock(backend_dir: Path) -> int | None:
    """Hold ``server.lock`` for this process's life (released by the kernel when it dies)."""
    fd = os.open(backend_dir / "server.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


async def _serve(info: Any, model_path: Path, sock: socket.socket) -> None:
    import uvicorn
    from fastapi import FastAPI

    from runner.backend import checkpoints, rest, routes, state
    from runner.backend.engine import Engine
    from runner.backend.futures import FutureStore
    from runner.backend.http import Guard

    futures = FutureStore(asyncio.get_running_loop())
    store = checkpoints.Store(state.backend_dir() / "store")
    engine = Engine(model_path, store, futures)
    ctx = routes.Context(engine=engine, started_at=info.started_at)
    api = FastAPI(title="tinkertop embedded backend", docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(routes.build(ctx))
    api.include_router(rest.build(ctx))
    config = uvicorn.Config(
        Guard(api, info.key),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=3,
    )
    server = uvicorn.Server(config)
    state.write_info(replace(info, model_path=str(model_path)))
    log.warning("backend pid %d listening on %s, model %s", os.getpid(), info.url, model_path)
    try:
        await server.serve(sockets=[sock])
    finally:
        engine.close()
        log.warning("backend pid %d stopped", os.getpid())


def _model_path(given: Path | None) -> Path:
    if given is not None:
        return given
    from runner.backend.tinymodel import ensure_base_model

    return ensure_base_model().resolve()


def main(argv: Sequence[str] | None = None) -> int:
    from runner.backend import state

    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if _claim_lock(state.backend_dir()) is None:
        other = state.read_info()
        who = f"pid {other.pid}" if other else "pid unknown"
        print(f"error: another backend server is running ({who}); stop it first", file=sys.stderr)
        return 3
    sock = _loopback_socket(args.host, args.port)
    given = Path(args.model).expanduser().resolve() if args.model else None
    host, port = sock.getsockname()[:2]
    key = "tml-" + secrets.token_urlsafe(32)
    info = state.BackendInfo(
        f"http://{host}:{port}", port, os.getpid(), key, str(given or ""), time.time(), args.log_path
    )
    state.write_info(info)  # recorded before anything slow, so status/stop/start always find it
    try:
        return _load_and_serve(args, info, given, sock)
    finally:
        state.clear_info(pid=os.getpid())


def _load_and_serve(args: argparse.Namespace, info: Any, given: Path | None, sock: socket.socket) -> int:
    import torch

    torch.set_num_threads(max(1, args.threads))
    torch.set_num_interop_threads(1)
    model_path = _model_path(given)
    if not (model_path / "config.json").exists():
        print(f"error: {model_path} is not a model directory (no config.json)", file=sys.stderr)
        return 2
    asyncio.run(_serve(info, model_path, sock))
    return 0


if __name__ == "__main__":
    sys.exit(main())
