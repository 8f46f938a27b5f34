"""``tinkertop serve`` in a real headless browser: Chromium (Debian's package) loads the page, the app runs
behind it on a copied real run, and the runs list shows in the page's terminal.

textual-serve draws the app into an xterm.js canvas, so the text is not in the DOM. The test drives
Chromium over the DevTools protocol (``--remote-debugging-port``, aiohttp's websocket client) and reads
the terminal's own buffer: ``Runtime.queryObjects`` lists the page's objects, and the one holding
``terminal.buffer`` is textual-serve's terminal; its rows, as text, are what the user sees. The page is
served unmodified.

Ctrl-C (SIGINT) then stops the server while the browser is still connected: exit 130, and no app
process is left (none holds the workspace in its command line). A key in the server's environment
appears nowhere: not on stdout or stderr, not in the page, not on the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.shared_data import SHARED, cli_exe, in_ci

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

RUN = SHARED / "formats" / "rl_arith"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,900",
    "--remote-debugging-port=0",
)
DEADLINE = 120.0  # generous: the machine running the suite may be busy
TERMINAL_TEXT = """function () {
  const found = this.find((o) => { try { return !!(o && o.terminal && o.terminal.buffer.active); }
                                   catch (e) { return false; } });
  if (!found) return null;
  const term = found.terminal, rows = [];
  for (let i = 0; i < term.rows; i++) {
    const line = term.buffer.active.getLine(i);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def chromium() -> str:
    """Debian's Chromium; absent: a skip on a developer machine, a failure in CI."""
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found:
        return found
    reason = "chromium absent (apt-get install chromium; .ci/run installs it)"
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def poll(cond: Any, what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return value


def pids_holding(text: str) -> list[int]:
    """Processes whose command line holds ``text`` (the app on this test's private workspace)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # not a process, or it ended meanwhile
            continue
        if entry.name.isdigit() and text in cmdline:
            pids.append(int(entry.name))
    return pids


def kill_group(proc: subprocess.Popen[str]) -> str:
    """Kill the server and the apps it started (its process group), if any is left; its stderr."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.communicate()[1] if proc.returncode is None else ""


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    if not RUN.is_dir():
        pytest.skip(f"{RUN} absent")
    ws = tmp_path / "served-ws"
    shutil.copytree(RUN, ws / "rl_arith")
    return ws


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[int]:
    """A headless Chromium with the DevTools protocol on; yields its port."""
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        active = profile / "DevToolsActivePort"
        yield int(poll(lambda: active.exists() and active.read_text().split()[:1], "Chromium's port")[0])
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Page:
    """One browser tab over the DevTools protocol: ``call`` sends a method and returns its result."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        my = next(self.ids)
        await self.ws.send_json({"id": my, "method": method, "params": params})
        async for msg in self.ws:
            data = json.loads(msg.data)
            if data.get("id") == my:
                assert "error" not in data, data
                return dict(data["result"])
        raise ConnectionError("the DevTools connection closed")

    async def value(self, expression: str) -> Any:
        got = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return got["result"].get("value")

    async def terminal_text(self) -> str | None:
        """The rows of textual-serve's xterm.js terminal, as text (None before it exists)."""
        proto = await self.call("Runtime.evaluate", expression="Object.prototype")
        objects = await self.call("Runtime.queryObjects", prototypeObjectId=proto["result"]["objectId"])
        array = objects["objects"]["objectId"]
        try:
            got = await self.call(
                "Runtime.callFunctionOn",
                objectId=array,
                functionDeclaration=TERMINAL_TEXT,
                returnByValue=True,
            )
        finally:
            await self.call("Runtime.releaseObject", objectId=array)
        return got["result"].get("value")


async def wait_page(page: Page, what: str, check: Any) -> str:
    deadline = time.monotonic() + DEADLINE
    while True:
        text = await page.terminal_text()
        if text and check(text):
            return text
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}; the terminal shows:\n{text}")
        await asyncio.sleep(0.25)


async def open_in_browser(port: int, url: str) -> tuple[str, str]:
    """Open ``url`` in the browser's tab; returns the page's HTML and the terminal once the runs list shows."""
    async with aiohttp.ClientSession() as http:
        targets = await (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
        tab = next(t for t in targets if t["type"] == "page")
        async with http.ws_connect(tab["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            page = Page(ws)
            await page.call("Page.navigate", url=url)
            text = await wait_page(page, "the runs list", lambda t: "rl_arith" in t and "Status" in t)
            html = await page.value("document.documentElement.outerHTML")
            return str(html), text


def start_serve(workspace: Path, home: Path, key: str) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    env = dict(os.environ, TINKERTOP_HOME=str(home), TINKER_API_KEY=key, WANDB_API_KEY=key[::-1])
    proc = subprocess.Popen(
        [str(cli_exe()), "serve", str(workspace), "--port", str(free_port()), "--json"],
        cwd=workspace.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as in a terminal: Ctrl-C reaches the apps too
    )
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], DEADLINE)  # the line comes once listening
    line = proc.stdout.readline() if ready else ""
    assert line, f"serve exited ({proc.wait()}): {proc.stderr.read() if proc.stderr else ''}"
    return proc, json.loads(line)


def test_serve_shows_the_runs_list_in_a_real_browser(workspace: Path, browser: int, tmp_path: Path) -> None:
    key = "tml-" + secrets.token_hex(20)
    proc, listening = start_serve(workspace, tmp_path / "home", key)
    try:
        assert listening["url"].startswith("http://127.0.0.1:") and listening["host"] == "127.0.0.1"
        assert listening["folders"] == [str(workspace.resolve())]
        try:
            html, text = asyncio.run(open_in_browser(browser, listening["url"]))
        except TimeoutError as exc:  # say what the server and the app printed (an app that crashed)
            pytest.fail(f"{exc}\n--- serve's stderr:\n{kill_group(proc)[-3000:]}")
        header = next(line for line in text.splitlines() if "Status" in line).split()
        assert header[:4] == ["Run", "Kind", "Status", "Step"], text
        row = next(line for line in text.splitlines() if "rl_arith" in line).split()
        assert row[:3] == ["rl_arith", "rl", "finished"], text
        app = f"tui.main {workspace.resolve()}"
        assert pids_holding(app), "no app process runs for the browser's session"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in its terminal, with the browser still connected
        out, err = proc.communicate(timeout=60)
        poll(lambda: not pids_holding(app), "every app process to end after Ctrl-C", timeout=30)
    finally:
        kill_group(proc)  # only what a failed check left behind
    assert proc.returncode == 130, err
    assert out == ""  # stdout held the one JSON line, nothing else
    for where, said in (("stdout", out), ("stderr", err), ("page", html), ("terminal", text)):
        assert key not in said and key[::-1] not in said, f"a key on the {where}"
