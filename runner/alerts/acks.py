"""Acknowledged alerts, kept on disk in the workspace (``<workspace>/.tinkertop/acks.json``).

An acked alert stays hidden (``acked=True``) until the same rule fires again worse: a new episode
(another key), a higher severity, or a value beyond the acked one by ``MARGIN`` (relative) in the
rule's harmful direction. Writes are atomic (temp file + rename); a corrupt file reads as empty.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from runner.alerts.alert import LEVEL, Alert

ACKS_FILE = Path(".tinkertop") / "acks.json"
MARGIN = 0.5
MAX_ACKS = 5000


class AckStore:
    """Acks of one workspace."""

    def __init__(self, workspace: Path) -> None:
        self.path = Path(workspace) / ACKS_FILE
        self._lock = threading.Lock()
        self._acks: dict[str, dict[str, Any]] = self._load()
        self.version = 0  # moves with every acknowledgement (what ``mark`` says may have changed)

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def acknowledge(self, alert: Alert) -> None:
        """Hide ``alert`` until it fires again worse; persisted at once."""
        with self._lock:
            value = alert.value if alert.value is not None and alert.value == alert.value else None
            self._acks[alert.key] = {"severity": alert.severity, "value": value, "direction": alert.direction}
            while len(self._acks) > MAX_ACKS:
                del self._acks[next(iter(self._acks))]
            self.version += 1
            self._write()

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".acks.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self._acks, fh, indent=1, allow_nan=False)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def is_acked(self, alert: Alert) -> bool:
        ack = self._acks.get(alert.key)
        if ack is None:
            return False
        if alert.level > LEVEL.get(str(ack.get("severity")), 3):
            return False
        old, new = ack.get("value"), alert.value
        if isinstance(old, int | float) and new is not None and new == new:
            gap = MARGIN * max(abs(old), 1e-12)
            if (new - old if alert.direction >= 0 else old - new) > gap:
                return False
        return True

    def mark(self, alert: Alert) -> Alert:
        """``alert`` with ``acked`` set from the store."""
        acked = self.is_acked(alert)
        return alert if acked == alert.acked else dataclasses.replace(alert, acked=acked)


def acknowledge(workspace: Path, alert: Alert) -> None:
    """Convenience: ack one alert in ``workspace``."""
    AckStore(workspace).acknowledge(alert)
