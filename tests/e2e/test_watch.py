"""``tinkertop watch`` end to end: a real subprocess follows a copy of a real run, a NaN line is appended,
and the notification reaches a test HTTP server on 127.0.0.1 through apprise (``json://``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.shared_data import SHARED
from tests.unit.test_alerts_helpers import BZZ, copy_run, rows_of, write_rows

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not SHARED.is_dir(), reason="../shared is absent")]
TINKERTOP = Path(sys.executable).parent / "tinkertop"
TIMEOUT_S = 60.0


class Hook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hook.received.append(json.loads(body or b"{}"))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def wait_for(condition, what: str, timeout: float = TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def hook_server():
    Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_watch_posts_when_a_nan_line_is_appended(tmp_path, hook_server):
    logs = tmp_path / "logs"
    run = copy_run(BZZ / "exp1_off_policy", logs / "sft-copy")
    copy_run(BZZ / "exp4_reward_only", logs / "kl-copy")  # already wrong at start: printed, never sent
    port = hook_server.server_address[1]
    (tmp_path / "tinkertop.toml").write_text(
        f'[notify]\nurls = ["json://127.0.0.1:{port}/hook"]\nbell = true\n'
    )
    env = dict(os.environ, TINKERTOP_HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [str(TINKERTOP), "watch", str(logs)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("watching 2 run") for line in out), "the watcher to start")
        assert any("kl_sample_train" in line and "kl-copy" in line for line in out)
        last = rows_of(run)[-1]
        write_rows(
            run / "metrics.jsonl", [dict(last, step=last["step"] + 1, train_mean_nll=float("nan"))], "a"
        )
        wait_for(lambda: any("non_finite" in m.get("title", "") for m in Hook.received), "the POST")
        (msg,) = [m for m in Hook.received if "non_finite" in m.get("title", "")]
        assert "sft-copy" in msg["title"] and "train_mean_nll is NaN" in msg["message"]
        wait_for(lambda: any("non_finite" in line for line in out), "the printed alert")
        assert sum("non_finite" in line for line in out) == 1
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT_S) == 0
        assert "\a" in proc.stderr.read()  # the bell
        assert len([m for m in Hook.received if "non_finite" in m.get("title", "")]) == 1  # once
        assert not [m for m in Hook.received if "kl-copy" in m.get("title", "")]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
