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
A TOML error is a :class:`SettingsError` naming the file and line; never a traceback. So is a bad value
(the line found by searching the file for the table and key): an unknown threshold, a value that is not a
number (NaN is not), or one below its parameter's minimum (``COUNTS``: counts of steps or points, whole
numbers; ``FLOORS``).
"""

from __future__ import annotations

import fnmatch
import math
import re
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
    # length_shift down: a 2x trim is a model learning a terse format (the demo's steady run, 4.2 -> 2.1
    # tokens per answer while it learns); a 4x fall while reward rises is the shortcut worth a warning
    "length_shift": {"baseline": 10, "recent": 5, "up": 2.0, "down": 0.25, "rearm": 10},
    "spike": {"warn": 6, "crit": 8, "window": 100, "warmup": 20, "factor": 10, "mad_floor": 0.1, "rearm": 10},
    "rollout_errors": {"steps": 3, "min_bad": 2, "rearm": 10},
    "console_warning": {"repeats": 5, "lines": 200},
    "disk": {"warn_free": 0.05, "crit_free": 0.01},
}
# the least value of a parameter: below it a rule means nothing or cannot judge at all (steps = 0)
COUNTS = {"rearm": 1, "steps": 1, "window": 1, "recent": 1, "baseline": 1, "rising": 1, "warn_steps": 1,
          "crit_steps": 1, "neg_steps": 1, "min_bad": 1, "lines": 1, "repeats": 1, "warmup": 0, "evals": 2}  # fmt: skip
FLOORS = {"min_minutes": 0, "factor": 0, "crit_factor": 0, "neg_tol": 0, "cap_frac": 0, "warn_free": 0,
          "crit_free": 0}  # fmt: skip


class SettingsError(ValueError):
    """A bad ``tinkertop.toml``: the message names the file (and the line when TOML says it, or when the
    table and key, kept in ``table`` and ``key``, can be found in the file)."""

    def __init__(self, message: str, table: str = "", key: str = "") -> None:
        super().__init__(message)
        self.table, self.key = table, key


def _bad(where: str, table: str, key: str, what: str) -> SettingsError:
    return SettingsError(f"{where}: [{table}] {what}", table, key)


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
    text = raw.decode("utf-8", errors="replace")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    try:
        return parse_settings(doc, str(path))
    except SettingsError as exc:
        line = line_of(text, exc.table, exc.key) if exc.table else None
        if line is None:
            raise
        at = str(exc).replace(f"{path}: ", f"{path}: line {line}: ", 1)
        raise SettingsError(at, exc.table, exc.key) from None


def line_of(text: str, table: str, key: str) -> int | None:
    """The 1-based line of ``key`` in ``[table]`` (``alerts.spike``, ``alerts.override #2``), or of the
    table's header when ``key`` is ""; else of a dotted or inline key (``alerts.spike.warn = 1``) when one
    line alone names both. None when not found for sure."""
    lines = text.splitlines()
    name, _, nth = table.partition(" #")
    parts = [re.escape(p) for p in name.split(".")]
    head = _header(lines, r"\s*\.\s*".join(parts), int(nth) if nth else 0)
    if head is not None:
        if not key:
            return head + 1
        assign = re.compile(rf"^\s*{re.escape(key)}\s*=")
        for i in range(head + 1, len(lines)):
            if lines[i].lstrip().startswith("["):
                break
            if assign.match(lines[i]):
                return i + 1
    if not key or nth:
        return None
    both = re.compile(rf"\b{parts[-1]}\b.*\b{re.escape(key)}\s*=")
    found = [i for i, line in enumerate(lines) if both.search(line.split("#", 1)[0])]
    return found[0] + 1 if len(found) == 1 else None


def _header(lines: list[str], name_re: str, nth: int) -> int | None:
    """The index of ``[name]`` (``nth`` = 0), or of the ``nth`` ``[[name]]`` (1-based)."""
    opening = r"\[\[" if nth else r"\["
    header = re.compile(rf"^\s*{opening}\s*{name_re}\s*\]")
    heads = [i for i, line in enumerate(lines) if header.match(line)]
    at = max(nth, 1) - 1
    return heads[at] if at < len(heads) else None


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
            raise _bad(where, f"alerts.{name}", "", f"unknown rule (known: {', '.join(PROFILE)})")
        rules[name].update(_values(_table(body, where, f"alerts.{name}"), where, f"alerts.{name}", name))
    notify = _table(doc.get("notify", {}), where, "notify")
    urls = notify.get("urls", [])
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        raise _bad(where, "notify", "urls", "urls must be a list of strings")
    bell = notify.get("bell", False)
    if not isinstance(bell, bool):
        raise _bad(where, "notify", "bell", "bell must be true or false")
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
                raise _bad(where, name, key, "enabled must be true or false")
        elif key not in known:
            raise _bad(where, name, key, f"unknown threshold {key!r} (known: {', '.join(sorted(known))})")
        else:
            _check_number(where, name, key, value)
        out[key] = value
    return out


def _check_number(where: str, name: str, key: str, value: Any) -> None:
    """A threshold is a number (not NaN); a count a whole number at least its minimum; a floor respected."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _bad(where, name, key, f"{key} must be a number")
    least = COUNTS.get(key)
    if least is not None and (not math.isfinite(value) or value != int(value) or value < least):
        raise _bad(where, name, key, f"{key} must be a whole number >= {least} (got {value})")
    if key in FLOORS and value < FLOORS[key]:
        raise _bad(where, name, key, f"{key} must be >= {FLOORS[key]} (got {value})")


def _override(item: Any, where: str, i: int) -> Override:
    name = f"alerts.override #{i + 1}"
    body = dict(_table(item, where, name))
    metric, rule = body.pop("metric", None), body.pop("rule", None)
    if not isinstance(metric, str):
        raise _bad(where, name, "", 'needs metric = "glob"')
    if rule is not None and rule not in PROFILE:
        raise _bad(where, name, "rule", f"unknown rule {rule!r}")
    return Override(metric, rule, _values(body, where, name, rule))
