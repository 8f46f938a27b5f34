"""Server entry point: ``python -m runner.backend.server [--model DIR] [--port 0]``.

Binds loopback only, makes a fresh ``tml-`` key, writes the state file (0600) and serves until
SIGTERM/SIGINT. The key goes to the state file only, never to a log.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import os
import secrets
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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


async def _serve(model_path: Path, sock: socket.socket, key: str, log_path: str) -> None:
    import uvicorn
    from fastapi import FastAPI

    from runner.backend import checkpoints, rest, routes, state
    from runner.backend.engine import Engine
    from runner.backend.futures import FutureStore
    from runner.backend.http import Guard

    started = time.time()
    futures = FutureStore(asyncio.get_running_loop())
    store = checkpoints.Store(state.backend_dir() / "store")
    engine = Engine(model_path, store, futures)
    ctx = routes.Context(engine=engine, started_at=started)
    api = FastAPI(title="tinkertop embedded backend", docs_url=None, redoc_url=None, openapi_url=None)
    api.include_router(routes.build(ctx))
    api.include_router(rest.build(ctx))
    config = uvicorn.Config(
        Guard(api, key), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    host, port = sock.getsockname()[:2]
    url = f"http://{host}:{port}"
    info = state.BackendInfo(url, port, os.getpid(), key, str(model_path), started, log_path)
    state.write_info(info)
    log.warning("backend pid %d listening on %s, model %s", os.getpid(), url, model_path)
    try:
        await server.serve(sockets=[sock])
    finally:
        state.clear_info(pid=os.getpid())
        engine.close()
        log.warning("backend pid %d stopped", os.getpid())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import torch

    torch.set_num_threads(max(1, args.threads))
    torch.set_num_interop_threads(1)
    if args.model:
        model_path = Path(args.model).expanduser().resolve()
    else:
        from runner.backend.tinymodel import ensure_base_model

        model_path = ensure_base_model().resolve()
    if not (model_path / "config.json").exists():
        print(f"error: {model_path} is not a model directory (no config.json)", file=sys.stderr)
        return 2
    sock = _loopback_socket(args.host, args.port)
    key = "tml-" + secrets.token_urlsafe(32)
    asyncio.run(_serve(model_path, sock, key, args.log_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
