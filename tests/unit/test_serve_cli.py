"""``tinkertop serve``: the command line around textual-serve, through the installed entry point.

Real server processes on free loopback ports (no browser: ``tests/e2e/test_serve.py`` opens the app in
Chromium): the JSON line once listening, the page textual-serve sends, Ctrl-C (130) and SIGTERM (143),
usage errors (2), an address in use (1), the warning off loopback, and keys kept off every output.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner import cli, serve
from tests.shared_data import cli_exe

KEY = "tml-" + "s" * 40
DEADLINE = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TINKER_API_KEY", KEY)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    return tmp_path / "logs"


def tinkertop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(cli_exe()), *args], capture_output=True, text=True, timeout=120)


class Served:
    """A ``tinkertop serve --json`` process, its listening line read (within a deadline)."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(cli_exe()), "serve", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], DEADLINE)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.proc.kill()
            raise AssertionError(f"no listening line; stderr: {self.proc.communicate()[1]}")
        self.listening: dict[str, Any] = json.loads(line)

    def stop(self, signum: int = signal.SIGINT) -> tuple[int, str, str]:
        self.proc.send_signal(signum)
        out, err = self.proc.communicate(timeout=DEADLINE)
        return self.proc.returncode, out, err


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for s in started:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate()


def test_help_lists_serve_and_says_it_has_no_login() -> None:
    listed = tinkertop("--help")
    assert any(line.split()[:1] == ["serve"] for line in listed.stdout.splitlines()), listed.stdout
    shown = tinkertop("serve", "--help")
    text = " ".join(shown.stdout.split())
    assert (
        shown.returncode == 0
        and "127.0.0.1" in text
        and "no authentication" in text
        and "--public-url" in text
    )


def test_serve_listens_on_loopback_and_ctrl_c_exits_130(ws: Path, served: list[Served]) -> None:
    port = free_port()
    s = Served(str(ws), "--port", str(port))
    served.append(s)
    url = f"http://127.0.0.1:{port}"
    assert s.listening == {"url": url, "host": "127.0.0.1", "port": port, "folders": [str(ws.resolve())]}
    with urllib.request.urlopen(url + "/", timeout=DEADLINE) as resp:
        page = resp.read().decode()
    assert f'data-session-websocket-url="ws://127.0.0.1:{port}/ws"' in page
    assert "<div>tinkertop</div>" in page  # the title, not the command line
    code, out, err = s.stop()
    assert code == 130, err
    assert out == ""  # the one JSON line was all of stdout
    assert KEY not in page + out + err


def test_sigterm_exits_143_and_public_url_goes_into_the_page(ws: Path, served: list[Served]) -> None:
    port = free_port()
    s = Served(str(ws), "--port", str(port), "--public-url", "https://runs.example.org/")
    served.append(s)
    assert s.listening["url"] == "https://runs.example.org"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=DEADLINE) as resp:
        page = resp.read().decode()
    assert 'data-session-websocket-url="wss://runs.example.org/ws"' in page
    assert s.stop(signal.SIGTERM)[0] == 143


def test_a_host_off_loopback_is_served_with_a_warning(ws: Path, served: list[Served]) -> None:
    s = Served(str(ws), "--host", "0.0.0.0", "--port", str(free_port()))
    served.append(s)
    code, _, err = s.stop()
    assert code == 130
    assert "warning: serving on 0.0.0.0, not loopback" in err and "no login" in err


def test_loopback_needs_no_warning(ws: Path, served: list[Served]) -> None:
    s = Served(str(ws), "--host", "localhost", "--port", str(free_port()))
    served.append(s)
    assert "warning" not in s.stop()[2]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["no-such-folder"], "tinkertop: serve: no such folder: no-such-folder"),
        (["--port", "0"], "a port is 1..65535"),
        (["--port", "http"], "not a port number"),
        (["--public-url", "runs.example.org"], "--public-url must start with http:// or https://"),
    ],
)
def test_usage_errors_exit_2_on_stderr(ws: Path, args: list[str], said: str) -> None:
    shown = tinkertop("serve", *args)
    assert (shown.returncode, shown.stdout) == (2, "")
    assert said in shown.stderr


def test_an_address_in_use_fails_with_exit_1(ws: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        shown = tinkertop("serve", "--port", str(taken.getsockname()[1]))
    assert (shown.returncode, shown.stdout) == (1, "")
    assert shown.stderr.startswith("tinkertop: serve failed: ") and "Traceback" not in shown.stderr


def test_each_folder_reaches_the_app_as_an_absolute_folder(ws: Path) -> None:
    (ws.parent / "ls").mkdir()  # a folder named like a command
    (ws.parent / "my runs; rm -rf x").mkdir()
    args = cli.build_parser().parse_args(["serve", "ls", "my runs; rm -rf x"])
    spec = serve.plan(args)
    assert isinstance(spec, serve.ServeSpec)
    argv = shlex.split(spec.command)
    assert argv[:3] == [sys.executable, "-m", "tui.main"]
    assert argv[3:] == [str((ws.parent / "ls").resolve()), str((ws.parent / "my runs; rm -rf x").resolve())]
    assert serve.plan(
        argparse.Namespace(folders=[], host="::1", port=9000, public_url=None)
    ) == serve.ServeSpec(shlex.join([sys.executable, "-m", "tui.main"]), "::1", 9000, "http://[::1]:9000", ())


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True), ("0.0.0.0", False),
     ("::", False), ("192.168.1.4", False), ("example.org", False)],
)  # fmt: skip
def test_is_loopback(host: str, loopback: bool) -> None:
    assert serve.is_loopback(host) is loopback


def test_everything_the_server_prints_is_redacted() -> None:
    sink = io.StringIO()
    stream = serve.RedactingStream(sink, ["hunter2-secret-value"])
    stream.write(f"app crashed with hunter2-secret-value and {KEY} in its locals\n")
    assert "hunter2-secret-value" not in sink.getvalue() and KEY not in sink.getvalue()
    assert sink.getvalue().startswith("app crashed with ")


def test_registering_serve_imports_no_server_and_no_ui() -> None:
    probe = (
        "import sys, argparse\nimport runner.serve as s\ns.register(argparse.ArgumentParser().add_subparsers())\n"
        "print([m for m in ('textual', 'textual_serve', 'aiohttp', 'tui') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=os.environ
    )
    assert out.stdout.strip() == "[]"


def spec_for(host: str, port: int, public_url: str | None = None) -> serve.ServeSpec:
    spec = serve.plan(argparse.Namespace(folders=[], host=host, port=port, public_url=public_url))
    assert isinstance(spec, serve.ServeSpec)
    return spec


@pytest.mark.parametrize(
    ("origin", "host", "refused"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", False),
        ("http://localhost:8000", "localhost:8000", False),  # the same server by its other loopback name
        ("http://[::1]:8000", "[::1]:8000", False),
        (None, "127.0.0.1:8000", False),  # not a browser (browsers always send Origin on a websocket)
        ("http://evil.example", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", True),  # another local server's page
        ("https://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("null", "127.0.0.1:8000", True),
        ("http://evil.example:8000", "evil.example:8000", True),  # DNS rebinding: same origin, foreign host
        ("http://127.0.0.1:8000", "evil.example:8000", True),
        ("http://127.0.0.1:8000", None, True),
        ("http://127.0.0.1:8000", "127.0.0.1:notaport", True),
    ],
)  # fmt: skip
def test_a_websocket_from_a_foreign_origin_or_host_is_refused(
    origin: str | None, host: str | None, refused: bool
) -> None:
    reason = serve.refusal(spec_for("127.0.0.1", 8000), origin, host)
    assert (reason is not None) is refused, reason


def test_behind_a_public_url_its_origin_and_host_are_the_allowed_ones() -> None:
    spec = spec_for("127.0.0.1", 8000, "https://runs.example.org/")
    assert serve.refusal(spec, "https://runs.example.org", "runs.example.org") is None
    assert serve.refusal(spec, "https://runs.example.org:443", "127.0.0.1:8000") is None  # proxy's Host
    assert serve.refusal(spec, "http://runs.example.org", "runs.example.org") is not None
    assert serve.refusal(spec, "https://evil.example", "runs.example.org") is not None
    off = spec_for("192.168.1.4", 8000)  # a concrete address off loopback: loopback names are not it
    assert serve.refusal(off, "http://192.168.1.4:8000", "192.168.1.4:8000") is None
    assert serve.refusal(off, "http://localhost:8000", "localhost:8000") is not None


async def ws_status(port: int, headers: dict[str, str]) -> tuple[int, int]:
    """Open the app's websocket with ``headers``: (HTTP status, bytes of app output read, up to 1)."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/ws?width=80&height=24"
    async with aiohttp.ClientSession() as session:
        try:
            async with session.ws_connect(
                url, headers=headers, timeout=aiohttp.ClientWSTimeout(DEADLINE)
            ) as ws:
                msg = await ws.receive(timeout=DEADLINE)
                return 101, len(msg.data) if isinstance(msg.data, bytes | str) else 0
        except aiohttp.WSServerHandshakeError as refused:
            return refused.status, 0


def test_the_served_websocket_refuses_foreign_origins_and_hosts(ws: Path, served: list[Served]) -> None:
    import asyncio

    port = free_port()
    s = Served(str(ws), "--port", str(port))
    served.append(s)
    ours = f"127.0.0.1:{port}"
    assert asyncio.run(ws_status(port, {"Origin": "http://evil.example"})) == (403, 0)
    rebound = {"Origin": f"http://evil.example:{port}", "Host": f"evil.example:{port}"}  # DNS rebinding
    assert asyncio.run(ws_status(port, rebound)) == (403, 0)
    status, got = asyncio.run(ws_status(port, {"Origin": f"http://{ours}"}))
    assert status == 101 and got > 0
    code, _, err = s.stop()
    assert code == 130, err
    assert "refused a websocket" in err and "evil.example" in err
