"""A strip under the run view's title: supervisor status, exit code, console tail on failure, W&B link."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual.message import Message
from textual.widgets import Static

from runner import api
from runner.api import RunInfo
from runner.status import Status
from tui.widgets.run_table import STATUS_VARS

POLL_S = 2.0
TAIL_SHOWN = 8


class RunInfoRead(Message):
    def __init__(self, info: RunInfo) -> None:
        super().__init__()
        self.info = info


def info_text(info: RunInfo) -> str:
    """Markup for ``info`` ('' when there is nothing to add)."""
    ref = info.ref
    parts = []
    if ref.run_id:
        colour = STATUS_VARS.get(ref.status, "foreground")
        head = f"supervisor: [${colour}]{escape(ref.status)}[/]"
        if ref.exit_code is not None and ref.status != Status.RUNNING:
            head += f" · exit code {ref.exit_code}"
        if ref.pid:
            head += f" · pid {ref.pid}"
        parts.append(head)
    if info.wandb:
        url = info.wandb_url
        shown = f'[link="{url}"]{escape(url)}[/link]' if url else escape(info.wandb)
        parts.append(f"W&B: {shown}")
    text = " · ".join(parts)
    if info.console_tail and ref.status in (Status.FAILED, Status.LOST):
        lines = "\n".join(escape(line) for line in info.console_tail[-TAIL_SHOWN:])
        text += f"\n[b]last console lines[/b] (K/R/D act on this run):\n{lines}"
    return text


class RunInfoBar(Static):
    """Polls the run's record every ``POLL_S`` in a worker; hidden when there is nothing to say."""

    DEFAULT_CSS = "RunInfoBar { height: auto; max-height: 12; padding: 0 1; }"

    def __init__(self, path: str, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.path = path
        self.info: RunInfo | None = None

    def on_mount(self) -> None:
        self.display = False
        self.poll()
        self.set_interval(POLL_S, self.poll)

    def poll(self) -> None:
        self.run_worker(self._read, thread=True, group="run-info", exclusive=True, exit_on_error=False)

    def _read(self) -> None:
        self.post_message(RunInfoRead(api.run_info(self.path)))

    def on_run_info_read(self, message: RunInfoRead) -> None:
        message.stop()
        self.info = message.info
        text = info_text(message.info)
        self.display = bool(text)
        self.update(text)
