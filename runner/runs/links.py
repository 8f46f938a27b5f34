"""Where a run is also tracked: its W&B run, found in its own files (no network, no Textual).

- ``logs.log``: the cookbook's ``ml_log`` writes ``Logging to: https://wandb.ai/<entity>/<project>/runs/<id>``
  once per (re)start; the last such line wins. wandb's own ``View run at https://...`` (console captures,
  other frameworks) counts too.
- ``wandb/``: a run folder ``run-<time>-<id>`` or ``offline-run-<time>-<id>`` names the run id and
  whether it was offline (an offline run has no URL until ``wandb sync``).

Logs are scanned incrementally: each call reads only the bytes added since the last call.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from runner.runs.jsonl import open_regular

URL_RE = re.compile(
    rb"(?:Logging to:|View run at)\s+(https?://[^\s\"'<>\[\]]*wandb[^\s\"'<>\[\]]*/runs/[A-Za-z0-9_-]+)"
)
WANDB_DIR_RE = re.compile(r"^(offline-run|run)-(\d{8}_\d{6})-([A-Za-z0-9]+)$")
CHUNK = 1 << 20


@dataclass(frozen=True)
class WandbLink:
    """The W&B run of a run folder: ``url`` when known, else the local run id and mode."""

    url: str | None
    run_id: str | None
    offline: bool
    folder: str | None  # the wandb/ run folder, if any
    source: str  # "logs.log", a console file name, or "wandb/"

    def describe(self) -> str:
        if self.url:
            return self.url
        where = f" ({self.folder})" if self.folder else ""
        mode = "offline" if self.offline else "online"
        return f"W&B {mode} run {self.run_id}{where}" + (": wandb sync to upload" if self.offline else "")


# file path -> (bytes scanned, last url found)
_scanned: dict[str, tuple[int, str | None]] = {}
_lock = threading.Lock()


def last_url(path: Path) -> str | None:
    """The last W&B run URL logged in ``path`` (new bytes only since the previous call)."""
    key = str(path)
    try:
        fd, st = open_regular(path)  # never a blocking open of a FIFO, never a device
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        return _scan(fh, key, st.st_size)


def _scan(fh: BinaryIO, key: str, size: int) -> str | None:
    with _lock:
        offset, found = _scanned.get(key, (0, None))
    if size < offset:  # truncated or replaced: start over
        offset, found = 0, None
    try:
        fh.seek(offset)
        while offset < size:
            data = fh.read(min(CHUNK, size - offset))
            if not data:
                break
            cut = data.rfind(b"\n") + 1  # a half-written last line waits for its end
            if not cut:
                if offset + len(data) >= size:
                    break
                cut = len(data)  # a line longer than CHUNK: scan it as is
            for match in URL_RE.finditer(data[:cut]):
                found = match.group(1).decode("utf-8", "replace")
            offset += cut
            fh.seek(offset)
    except OSError:
        return found
    with _lock:
        _scanned[key] = (offset, found)
    return found


def wandb_folder(run_path: Path) -> tuple[str, str, bool] | None:
    """(folder name, run id, offline) of the newest ``wandb/*run-*`` folder."""
    try:
        names = os.listdir(run_path / "wandb")
    except OSError:
        return None
    found = [
        (m.group(2), n, m.group(3), m.group(1) == "offline-run")
        for n in names
        if (m := WANDB_DIR_RE.match(n))
    ]
    if not found:
        return None
    _, name, run_id, offline = max(found)
    return name, run_id, offline


def wandb_link(run_path: str | Path, extra_logs: tuple[str | Path, ...] = ()) -> WandbLink | None:
    """The W&B run of ``run_path``: a logged URL first, else what its ``wandb/`` folder says."""
    run_path = Path(run_path)
    folder = wandb_folder(run_path)
    for log in (run_path / "logs.log", *map(Path, extra_logs)):
        url = last_url(log)
        if url:
            run_id = url.rstrip("/").rsplit("/", 1)[-1]
            return WandbLink(url, run_id, False, folder[0] if folder else None, log.name)
    if folder:
        name, run_id, offline = folder
        return WandbLink(None, run_id, offline, f"wandb/{name}", "wandb/")
    return None
