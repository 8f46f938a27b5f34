"""Alert and notification settings: the built-in tinker-cookbook profile, overridden by ``tinkertop.toml``.

```toml
[alerts.kl_sample_train]     # one table per rule: any threshold, or enabled = false
warn = 0.02
[alerts.console_warning]
enabled = false
[[alerts.override]]          # per metric glob (optionally only for one rule)
metric = "optim/kl*"
warn = 0.02
[notify]
urls = ["ntfy://my-topic"]   # any apprise URL
bell = true
```
A TOML error is a :class:`SettingsError` naming the file and line; never a traceback.
"""

from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS_FILE = "tinkertop.toml"
PROFILE_NAME = "tinker-cookbook"

# The tinker-cookbook profile: thresholds per rule (see ../shared/docs anchors (d) for their basis).
# ``rearm``: clean points after which an episode ends and the rule may fire again.
PROFILE: dict[str, dict[str, float]] = {
    "non_finite": {"rearm": 10},
    "crashed": {},
    "lost": {},
    "stalled": {"min_minutes": 10, "factor": 3, "crit_factor": 2},
    # slow: a shared host alone slows every run ~load/cores (2.4-2.8x on the demo): a note below 4x
    "slow": {"warmup": 20, "recent": 10, "window": 100, "info": 1.5, "warn": 4.0, "rearm": 10},
    "kl_sample_train": {"warn": 0.01, "crit": 0.05, "z": 6, "window": 50, "warmup": 10, "rearm": 10},
    "kl_base": {
        "z": 6,
        "ratio": 2.0,
        "window": 50,
        "warmup": 10,
        "neg_tol": 1e-3,
        "neg_steps": 3,
        "rearm": 10,
    },
    "no_signal": {"warn": 0.1, "warn_steps": 5, "crit": 0.0, "crit_steps": 3, "rearm": 10},
    "reward_pinned": {"warmup": 5, "steps": 10, "rearm": 10},
    "train_eval": {"evals": 3, "min_drop": 0.05, "rearm": 2},
    "entropy_collapse": {"baseline": 10, "recent": 3, "warn": 0.25, "crit": 0.1, "rearm": 10},
    "entropy_blowup": {"baseline": 10, "recent": 3, "warn": 2.0, "rising": 10, "rearm": 10},
    "length_cap": {"warn": 0.2, "cap_frac": 0.98, "steps": 2, "rearm": 10},
    "length_shift": {"baseline": 10, "recent": 5, "up": 2.0, "down": 0.5, "rearm": 10},
    "spike": {"warn": 6, "crit": 8, "window": 100, "warmup": 20, "factor": 10, "mad_floor": 0.1, "rearm": 10},
    "rollout_errors": {"steps": 3, "min_bad": 2, "rearm": 10},
    "console_warning": {"repeats": 5, "lines": 200},
    "disk": {"warn_free": 0.05, "crit_free": 0.01},
}
COMMON = ("enabled",)


class SettingsError(ValueError):
    """A bad ``tinkertop.toml``: the message names the file (and the line when TOML says it)."""


@dataclass(frozen=True)
class Override:
    """``[[alerts.override]]``: thresholds for metrics matching ``metric`` (a glob), optionally one rule."""

    metric: str
    rule: str | None
    values: dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """Everything the alert engine and the notifier read; loaded once."""

    rules: dict[str, dict[str, Any]] = field(default_factory=lambda: {k: dict(v) for k, v in PROFILE.items()})
    overrides: tuple[Override, ...] = ()
    notify_urls: tuple[str, ...] = ()
    bell: bool = False
    source: str = f"built-in {PROFILE_NAME} profile"

    def enabled(self, rule: str, metric: str | None = None) -> bool:
        return bool(self.get(rule, "enabled", metric, True))

    def get(self, rule: str, name: str, metric: str | None = None, default: Any = None) -> Any:
        """A rule's parameter for a metric: the last matching override wins, then the rule table."""
        if metric is not None:
            for ov in reversed(self.overrides):
                if name in ov.values and ov.rule in (None, rule) and fnmatch.fnmatchcase(metric, ov.metric):
                    return ov.values[name]
        return self.rules.get(rule, {}).get(name, default)

    def num(self, rule: str, name: str, metric: str | None = None) -> float:
        return float(self.get(rule, name, metric))


def load_settings(workspace: Path) -> Settings:
    """Settings from ``<workspace>/tinkertop.toml`` over the built-in profile (the profile alone when absent)."""
    path = Path(workspace) / SETTINGS_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Settings()
    except OSError as exc:
        raise SettingsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        doc = tomllib.loads(raw.decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    return parse_settings(doc, str(path))


def parse_settings(doc: dict[str, Any], where: str) -> Settings:
    """Validate a parsed TOML document (unknown rules or thresholds are errors naming the key)."""
    alerts = _table(doc.get("alerts", {}), where, "alerts")
    rules = {k: dict(v) for k, v in PROFILE.items()}
    overrides: list[Override] = []
    for name, body in alerts.items():
        if name == "override":
            overrides.extend(_override(item, where, i) for i, item in enumerate(_list(body, where, name)))
            continue
        if name not in PROFILE:
            raise SettingsError(f"{where}: [alerts.{name}]: unknown rule (known: {', '.join(PROFILE)})")
        rules[name].update(_values(_table(body, where, f"alerts.{name}"), where, f"alerts.{name}", name))
    notify = _table(doc.get("notify", {}), where, "notify")
    urls = notify.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise SettingsError(f"{where}: [notify] urls must be a list of strings")
    bell = notify.get("bell", False)
    if not isinstance(bell, bool):
        raise SettingsError(f"{where}: [notify] bell must be true or false")
    return Settings(rules, tuple(overrides), tuple(urls), bell, where)


def _table(value: Any, where: str, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SettingsError(f"{where}: [{name}] must be a table")
    return value


def _list(value: Any, where: str, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise SettingsError(f"{where}: alerts.{name} must be an array of tables ([[alerts.{name}]])")
    return value


def _values(body: dict[str, Any], where: str, name: str, rule: str | None) -> dict[str, Any]:
    known = set(PROFILE[rule]) if rule else {p for params in PROFILE.values() for p in params}
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key == "enabled":
            if not isinstance(value, bool):
                raise SettingsError(f"{where}: [{name}] enabled must be true or false")
        elif key not in known:
            raise SettingsError(
                f"{where}: [{name}] unknown threshold {key!r} (known: {', '.join(sorted(known))})"
            )
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise SettingsError(f"{where}: [{name}] {key} must be a number")
        out[key] = value
    return out


def _override(item: Any, where: str, i: int) -> Override:
    name = f"alerts.override #{i + 1}"
    body = dict(_table(item, where, name))
    metric, rule = body.pop("metric", None), body.pop("rule", None)
    if not isinstance(metric, str):
        raise SettingsError(f'{where}: [[alerts.override]] #{i + 1} needs metric = "glob"')
    if rule is not None and rule not in PROFILE:
        raise SettingsError(f"{where}: [[alerts.override]] #{i + 1}: unknown rule {rule!r}")
    return Override(metric, rule, _values(body, where, name, rule))
