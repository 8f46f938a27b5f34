"""Anomaly alerts: incremental rules over a run's metrics and files, with robust statistics.

The API the app and the CLI use: :class:`AlertEngine` (``evaluate(run) -> list[Alert]``), :func:`worst`,
:func:`load_settings` (``tinkertop.toml``), :class:`AckStore` (acks on disk). Names are imported
lazily, so that ``import runner.alerts.alert`` (the CLI's registration) does not load numpy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.alerts.acks import AckStore
    from runner.alerts.alert import Alert, Severity, worst
    from runner.alerts.engine import AlertEngine
    from runner.alerts.settings import Settings, SettingsError, load_settings

_WHERE = {
    "AckStore": "acks",
    "AlertEngine": "engine",
    "Alert": "alert",
    "Severity": "alert",
    "worst": "alert",
    "Settings": "settings",
    "SettingsError": "settings",
    "load_settings": "settings",
}
__all__ = [
    "AckStore",
    "Alert",
    "AlertEngine",
    "Settings",
    "SettingsError",
    "Severity",
    "load_settings",
    "worst",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'runner.alerts' has no attribute {name!r}")
    return getattr(importlib.import_module(f"runner.alerts.{_WHERE[name]}"), name)
