"""Reading a run's small files in isolation: config.json, and the one-line
reason a read failed (``<file>: read failed (<Type>: <message>)``)."""

from __future__ import annotations

from pathlib import Path

from runner.runs.jsonl import (
    CONFIG_MAX_BYTES,
    describe_error,
    parse_line,
    read_capped,
)


def failure(file: str, exc: BaseException) -> str:
    """``<file>: read failed (<Type>: <message>)``, the message cut short."""
    text = str(exc)
    text = text if len(text) <= 200 else text[:200] + "..."
    return f"{file}: read failed ({type(exc).__name__}: {text})"


def read_config(path: Path) -> tuple[dict | None, str | None]:
    """A run's config.json (read bounded) as a dict, or None and the reason naming the file."""
    try:
        obj = parse_line(read_capped(path, CONFIG_MAX_BYTES))
    except OSError as exc:
        return None, f"{path.name}: {describe_error(exc)}"
    except ValueError as exc:
        return None, f"{path.name}: not valid JSON ({exc})"
    except Exception as exc:  # isolation, as in _guarded
        return None, failure(path.name, exc)
    if not isinstance(obj, dict):
        return None, f"{path.name}: not a JSON object"
    return obj, None
