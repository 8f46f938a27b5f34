"""Notifications for ``tinkertop watch``: apprise to the settings' URLs, plus the terminal bell.

URLs can hold tokens, so they are never printed: a failed delivery is reported by its position in
the list only. apprise is imported on first use (it is not needed by the app or by ``alerts``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from runner.alerts.alert import Alert


class Notifier:
    """Sends one notification per fired alert."""

    def __init__(
        self, urls: tuple[str, ...] | list[str], bell: bool = False, bell_stream: TextIO | None = None
    ):
        self.urls = list(urls)
        self.bell = bell
        self.bell_stream = bell_stream or sys.stderr
        self._apprise: Any = None
        self.failures = 0

    def _client(self) -> Any:
        if self._apprise is None:
            import apprise

            self._apprise = apprise.Apprise()
            for i, url in enumerate(self.urls):
                if not self._apprise.add(url):
                    print(f"tinkertop watch: notify URL #{i + 1} is not a valid apprise URL", file=sys.stderr)
        return self._apprise

    def send(self, alert: Alert) -> bool:
        """Ring the bell (if on) and post to every URL; False when a delivery failed."""
        if self.bell:
            self.bell_stream.write("\a")
            self.bell_stream.flush()
        if not self.urls:
            return True
        client = self._client()
        if not len(client):
            return False
        import apprise

        kind = apprise.NotifyType.FAILURE if alert.severity == "critical" else apprise.NotifyType.WARNING
        ok = bool(client.notify(title=title_of(alert), body=body_of(alert), notify_type=kind))
        if not ok:
            self.failures += 1
            print("tinkertop watch: a notification could not be delivered", file=sys.stderr)
        return ok


def title_of(alert: Alert) -> str:
    return f"tinkertop: {alert.severity} {alert.rule} on {Path(alert.run_path).name} ({alert.flag})"


def body_of(alert: Alert) -> str:
    return f"{alert.message}\nrun: {alert.run_path}\nrule: {alert.rule}  metric: {alert.metric}"
