"""``tinkertop serve``: the app in a browser, through textual-serve.

textual-serve is a small aiohttp server: each browser tab that opens the page gets its own app process
(``tinkertop FOLDER...`` run with Textual's web driver) streamed into an xterm.js terminal over a
websocket. This module only builds that command and runs the server; it imports neither Textual nor
textual-serve until the command runs, so registering it costs nothing.

textual-serve has no authentication: whoever reaches the port drives the app (launch, stop, delete
runs). It listens on 127.0.0.1 unless told otherwise, and a non-loopback ``--host`` prints a warning.
A web page the user visits could still open the app's websocket (browsers let any page do that), so
``/ws`` is refused (403) unless its ``Origin`` is the served URL's (or this server's other loopback
name) and its ``Host`` is an address of this server (DNS rebinding); no ``Origin`` means no browser.
Everything the server and the app processes print goes to stderr through ``creds.redact`` (the app
process inherits the environment, keys included, because launches need them); stdout holds only the
URL line (``--json``: one JSON object). Ctrl-C stops the server and every app process: exit 130
(128 + the signal; SIGTERM 143).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import ipaddress
import logging
import os
import shlex
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast
from urllib.parse import urlsplit

from runner.cli import EXIT_USAGE

if TYPE_CHECKING:
    from aiohttp import web
    from textual_serve.server import Server

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
LOGGER = "tinkertop.serve"  # our own warnings (a refused websocket), formatted like textual-serve's
SHUTDOWN_SECONDS = 5.0  # how long open browser sessions get to close their app on Ctrl-C
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
BROWSER_LOOPBACK = ("localhost", "127.0.0.1", "::1")  # what a browser on this machine may call us
WILDCARDS = ("0.0.0.0", "::", "")
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class ServeSpec:
    """What to serve and where: the app's command line and the address browsers use."""

    command: str
    host: str
    port: int
    url: str
    folders: tuple[str, ...]


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve",
        help="the app in a browser (textual-serve) on 127.0.0.1:8000; no login: keep it on loopback",
        description="Serve the app in a web browser through textual-serve: each browser tab runs its own "
        "app on the folders. There is no authentication: anyone who reaches the address drives the app, "
        "so it listens on 127.0.0.1 unless --host says otherwise (reach it from elsewhere with an SSH "
        "tunnel: ssh -L 8000:127.0.0.1:8000 HOST). Ctrl-C stops it (exit 130).",
    )
    p.add_argument(
        "folders", nargs="*", metavar="FOLDER", help="folders holding run folders (default ./results/logs)"
    )
    p.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    p.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT})"
    )
    p.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="the URL browsers reach the server at, when it differs (a proxy, a tunnel): http(s)://HOST[:PORT]",
    )
    p.add_argument(
        "--json", action="store_true", help="one JSON object (url, host, port, folders) once listening"
    )
    p.set_defaults(func=cmd_serve)


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 1..65535, got {port}")
    return port


def is_loopback(host: str) -> bool:
    """True for an address only this machine reaches (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def default_url(host: str, port: int) -> str:
    """The URL of ``host:port`` as a browser writes it (IPv6 in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}"


def _address(netloc: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of ``HOST[:PORT]``: lower case, no brackets, None for a port left out."""
    try:
        parts = urlsplit(f"//{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname or parts.username is not None or parts.path:
        return None
    return parts.hostname, port


def _origin(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an origin or URL (the scheme's port by default); None for ``null``."""
    scheme, _, rest = url.lower().partition("://")
    address = _address(rest.split("/", 1)[0]) if rest and scheme in DEFAULT_PORTS else None
    if address is None:
        return None
    name, port = address
    return scheme, name, DEFAULT_PORTS[scheme] if port is None else port


def allowed_origins(spec: ServeSpec) -> set[tuple[str, str, int]]:
    """The served URL's origin, and this server by a loopback name when it listens on loopback."""
    allowed = {origin for origin in [_origin(spec.url)] if origin}
    host = spec.host.strip("[]").lower()
    if is_loopback(host) or host in WILDCARDS:
        allowed |= {("http", name, spec.port) for name in BROWSER_LOOPBACK}
    elif host:
        allowed.add(("http", host, spec.port))
    return allowed


def allowed_hosts(spec: ServeSpec) -> set[tuple[str, int | None]]:
    """``Host`` headers of this server: the allowed origins' (a default port may be left out) and the
    listening address itself (what a reverse proxy usually forwards)."""
    hosts: set[tuple[str, int | None]] = {(spec.host.strip("[]").lower(), spec.port)}
    for scheme, name, port in allowed_origins(spec):
        hosts.add((name, port))
        if port == DEFAULT_PORTS[scheme]:
            hosts.add((name, None))
    return hosts


def refusal(spec: ServeSpec, origin: str | None, host: str | None) -> str | None:
    """Why a websocket with these ``Origin`` and ``Host`` headers is refused (None: it is not)."""
    if host is None or _address(host) not in allowed_hosts(spec):
        return f"Host {host!r} is not this server"
    if origin is not None and _origin(origin) not in allowed_origins(spec):
        return f"Origin {origin!r} is not {spec.url}"
    return None


def app_command(folders: list[str]) -> str:
    """The shell command textual-serve runs per browser session: this interpreter's ``tinkertop``
    on the folders, made absolute so that none is ever read as a command name."""
    return shlex.join([sys.executable, "-m", "tui.main", *folders])


def plan(args: argparse.Namespace) -> ServeSpec | str:
    """The spec, or a usage error (a missing folder, a public URL that is not http(s))."""
    missing = [f for f in args.folders if not Path(f).is_dir()]
    if missing:
        return f"no such folder: {missing[0]}"
    url = args.public_url or default_url(args.host, args.port)
    if not url.startswith(("http://", "https://")):
        return f"--public-url must start with http:// or https://, got {url!r}"
    folders = tuple(str(Path(f).resolve()) for f in args.folders)
    return ServeSpec(app_command(list(folders)), args.host, args.port, url.rstrip("/"), folders)


def cmd_serve(args: argparse.Namespace) -> int:
    spec = plan(args)
    if isinstance(spec, str):
        print(f"tinkertop: serve: {spec}", file=sys.stderr)
        return EXIT_USAGE
    if not is_loopback(spec.host):
        print(
            f"tinkertop: warning: serving on {spec.host}, not loopback: textual-serve has no login, so anyone "
            f"who reaches {spec.host}:{spec.port} can drive the app (launch, stop and delete runs)",
            file=sys.stderr,
        )
    return serve(spec, as_json=args.json)


def serve(spec: ServeSpec, as_json: bool = False) -> int:
    """Run the server until SIGINT/SIGTERM; returns 128 + that signal. An address already in use is an
    ``OSError`` (the CLI says it and exits 1)."""
    from runner.control import creds

    out = sys.stdout
    quiet = cast(TextIO, RedactingStream(sys.stderr, creds.secret_values(os.environ)))
    sys.stdout = quiet  # textual-serve writes an app's stderr to sys.stdout: keep stdout for our line
    try:
        return _run_server(spec, quiet, lambda: _say_listening(out, spec, as_json))
    finally:
        sys.stdout = out


def _say_listening(out: TextIO, spec: ServeSpec, as_json: bool) -> None:
    if as_json:
        from runner.runs.cli import dump_json

        out.write(dump_json({"url": spec.url, "host": spec.host, "port": spec.port, "folders": spec.folders}))
    else:
        out.write(f"tinkertop: serving the app at {spec.url}  (Ctrl-C stops)")
    out.write("\n")
    out.flush()


class RedactingStream(io.TextIOBase):
    """A text stream that masks keys (``creds.redact``) before writing to ``target``."""

    def __init__(self, target: TextIO, secrets: list[str]) -> None:
        super().__init__()
        self._target = target
        self._secrets = secrets

    def write(self, text: str) -> int:
        from runner.control import creds

        self._target.write(creds.redact(text, self._secrets))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def writable(self) -> bool:
        return True


def _run_server(spec: ServeSpec, log_stream: TextIO, on_listening: Callable[[], None]) -> int:
    """textual-serve's ``Server`` with our logging, signals and shutdown (its own ``serve`` prints a
    banner to stdout, shows locals in tracebacks and waits up to a minute for open sessions)."""
    from aiohttp import web
    from aiohttp.web_runner import GracefulExit
    from textual_serve.server import Server

    caught: list[int] = []

    def stop(signum: int) -> None:
        caught.append(signum)
        raise GracefulExit()

    server = Server(spec.command, host=spec.host, port=spec.port, title="tinkertop", public_url=spec.url)
    _log_to(log_stream)
    sessions: set[asyncio.Task[Any]] = set()
    loop = asyncio.new_event_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop, signum)
    try:
        web.run_app(
            _web_app(server, sessions, spec),
            host=spec.host,
            port=spec.port,
            handle_signals=False,
            loop=loop,
            access_log=None,
            shutdown_timeout=SHUTDOWN_SECONDS,
            print=lambda *_args: on_listening(),
        )
    finally:
        loop.close()
    return 128 + (caught[0] if caught else signal.SIGINT)


async def _web_app(server: Server, sessions: set[asyncio.Task[Any]], spec: ServeSpec) -> web.Application:
    """textual-serve's routes (its ``_make_app`` without the stdout banner), with every browser session
    tracked so that shutdown closes each one: its app process is told to quit and is waited for. A
    websocket from a foreign origin or host is refused (403) before any app process starts."""
    import aiohttp_jinja2
    import jinja2
    from aiohttp import web

    async def session(request: web.Request) -> web.StreamResponse:
        reason = refusal(spec, request.headers.get("Origin"), request.headers.get("Host"))
        if reason is not None:
            logging.getLogger(LOGGER).warning("refused a websocket: %s", reason)
            raise web.HTTPForbidden(text=f"tinkertop serve: {reason}\n")
        task = asyncio.current_task()
        assert task is not None
        sessions.add(task)
        try:
            return await server.handle_websocket(request)
        finally:
            sessions.discard(task)

    async def close_sessions(_app: web.Application) -> None:
        for task in list(sessions):
            task.cancel()  # textual-serve then sends the app "quit" and waits for its output to end
        if sessions:
            await asyncio.wait(list(sessions), timeout=SHUTDOWN_SECONDS)

    app = web.Application()
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(server.templates_path))
    app.add_routes(
        [
            web.get("/", server.handle_index, name="index"),
            web.get("/ws", session, name="websocket"),
            web.get("/download/{key}", server.handle_download, name="download"),
            web.static("/static", server.statics_path, name="static"),
        ]
    )
    app.on_shutdown.append(close_sessions)
    return app


def _log_to(stream: TextIO) -> None:
    """textual-serve's and aiohttp's warnings and errors, plain (no locals in tracebacks), on ``stream``."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("tinkertop serve: %(name)s: %(message)s"))
    for name in ("textual-serve", "aiohttp", LOGGER):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.WARNING)
        logger.propagate = False
