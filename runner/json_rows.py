"""The one whole-file JSON-lines reader of small files: results rows, eval sets, ``checkpoints.jsonl``,
rollout summaries, timing spans. (Growing ``metrics.jsonl`` files are followed by ``runner.runs.jsonl``;
each line here goes through the same ``parse_line``: bare NaN/Infinity accepted, nesting past its
limit refused.)

A line that is not a JSON object is one problem ``source:line: reason`` and reading goes on; what a
caller does with the problems (list them all, or raise the first) is the caller's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from runner.runs.jsonl import LineError, parse_line


def json_values(data: bytes, source: str, problems: list[str]) -> Iterator[tuple[int, Any]]:
    """Each non-blank line's 1-based number and JSON value; a line that is not JSON (bad syntax, nested
    too deep) adds ``source:line: not JSON (reason)`` to ``problems`` instead. Bytes that are not UTF-8
    become U+FFFD (a value inside a string is kept; outside one, the line is not JSON)."""
    text = data.decode("utf-8", errors="replace").encode("utf-8")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, parse_line(line)
        except LineError as exc:
            problems.append(f"{source}:{number}: not JSON ({exc})")


def json_objects(data: bytes, source: str, problems: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """As :func:`json_values`, for lines that must hold a JSON object: any other value adds
    ``source:line: not a JSON object (its type)`` to ``problems``."""
    for number, value in json_values(data, source, problems):
        if isinstance(value, dict):
            yield number, value
        else:
            problems.append(f"{source}:{number}: not a JSON object ({type(value).__name__})")
