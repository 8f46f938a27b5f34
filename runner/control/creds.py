"""Credentials: ``.env`` via python-dotenv (never overriding the real environment), checks, redaction.

Secrets reach a job only through its environment. What we write stores environment variable NAMES,
never values, and everything we write goes through ``redact``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SECRET_NAMES = ("TINKER_API_KEY", "WANDB_API_KEY", "NEPTUNE_API_TOKEN", "HF_TOKEN", "OPENAI_API_KEY")
_KEY_RE = re.compile(r"tml-[A-Za-z0-9_\-]{8,}")
# Each pattern below: group 2 is the secret, group 1 what says it is one (``scrub`` masks group 2 too).
# A value after a name that says what it is: ``WANDB_API_KEY=...``, ``os.environ["HF_TOKEN"] = "..."``
_NAMED_RE = re.compile(
    r"(?i)((?:api[_-]?key|token|secret|password|wandb[_a-z]*key)[\"']?\]?\s*[:=]\s*[\"']?)([A-Za-z0-9_\-.]{16,})"
)
# a ``key=`` argument given a string: ``wandb.login(key="...")``
_KEY_ARG_RE = re.compile(r"(?i)(\bkey\s*=\s*[\"'])([A-Za-z0-9_\-.]{16,})")
# a 40-hex W&B key on a line that mentions wandb (elsewhere a bare 40-hex string is a git commit)
_WANDB_HEX_RE = re.compile(r"(?i)(wandb[^\n]*?)\b([0-9a-f]{40})\b")
_HEX_WANDB_RE = re.compile(r"(?i)()\b([0-9a-f]{40})\b(?=[^\n]*wandb)")
NAMED_PATTERNS = (_NAMED_RE, _KEY_ARG_RE, _WANDB_HEX_RE, _HEX_WANDB_RE)
MASK = "***"


def dotenv_values_for(cwd: str | Path) -> dict[str, str]:
    """Values from ``<cwd>/.env`` (empty if there is none)."""
    path = Path(cwd) / ".env"
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def job_environment(cwd: str | Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a job: the real environment, plus ``.env`` keys it does not already set."""
    env = dict(os.environ if base is None else base)
    for key, value in dotenv_values_for(cwd).items():
        env.setdefault(key, value)
    return env


@dataclass
class CredentialCheck:
    required: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.missing

    def message(self) -> str:
        lines = [f"missing credentials: {', '.join(self.missing)}"]
        for name in self.missing:
            lines.append(f"  set {name} in the environment or in ./.env ({_HINTS.get(name, '')})")
        return "\n".join(lines)


_HINTS = {
    "TINKER_API_KEY": "a hosted run needs a Tinker API key; or launch with --local",
    "WANDB_API_KEY": "W&B logging is on because wandb_project is set",
    "WANDB_PROJECT": "W&B logging is on but no project name is known",
}


def check(env: Mapping[str, str], *, local: bool, wandb_project: str | None) -> CredentialCheck:
    """What a launch needs: TINKER_API_KEY when hosted; W&B key and project when W&B logging is on."""
    required = [] if local else ["TINKER_API_KEY"]
    if wandb_project is not None:
        required.append("WANDB_API_KEY")
        if not wandb_project:
            required.append("WANDB_PROJECT")
    if wandb_project is not None and (env.get("WANDB_MODE") or "").lower() in ("offline", "disabled"):
        required = [n for n in required if not n.startswith("WANDB")]
    missing = [n for n in required if not env.get(n)]
    return CredentialCheck(required=required, missing=missing)


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values of the secret variables set in ``env`` (to scrub exactly, besides the patterns)."""
    names = set(SECRET_NAMES) | {k for k in env if k.endswith(("_API_KEY", "_TOKEN", "_SECRET"))}
    return sorted({env[n] for n in names if env.get(n) and len(env[n]) >= 6}, key=len, reverse=True)


def redact(text: str, extra: list[str] | None = None) -> str:
    """Mask anything that looks like a key (``tml-...``, a named key or token, a ``key=`` argument, a
    40-hex key on a line mentioning wandb) and the given values."""
    for value in extra or ():
        text = text.replace(value, MASK)
    text = _KEY_RE.sub(MASK, text)
    for pattern in NAMED_PATTERNS:
        text = _masked(pattern, text)
    return text


def _masked(pattern: re.Pattern[str], text: str) -> str:
    """``pattern``'s group 2 masked everywhere, again until none is left (a match may hide the next
    one on its line: ``wandb login KEY1 KEY2``); each round masks at least one value, so this ends."""
    while True:
        masked = pattern.sub(lambda m: m.group(1) + MASK, text)
        if masked == text:
            return text
        text = masked


def redact_obj(obj: Any, extra: list[str] | None = None) -> Any:
    """``redact`` applied to every string inside a JSON-like object."""
    if isinstance(obj, str):
        return redact(obj, extra)
    if isinstance(obj, list | tuple):
        return [redact_obj(v, extra) for v in obj]
    if isinstance(obj, dict):
        return {k: redact_obj(v, extra) for k, v in obj.items()}
    return obj


def looks_secret(value: str) -> bool:
    return bool(_KEY_RE.search(value)) or redact(value) != value
