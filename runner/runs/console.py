"""The one console-log tail reader and the one ANSI pattern.

Used for a run's ``logs.log`` (or a foreign framework's log), the supervisor's console capture
(:mod:`runner.control.records`) and verl step lines (:mod:`runner.runs.foreign`).

- Bounded: at most ``max_bytes`` are read, backwards from the end (linear); of a longer last line
  only its end is kept. A FIFO, device or directory is never opened blocking: it is reported, not read.
- Lines split at ``\\n``, ``\\r\\n`` and a lone ``\\r``, so each progress-bar update (tqdm redraws its
  line after ``\\r``) is a line of its own rather than one endless line.
- ANSI escapes removed: CSI with parameters and intermediate bytes (colours, cursor moves), OSC
  (window titles, hyperlinks), character-set selection and two-character escapes, and a lone ESC.
"""

from __future__ import annotations

import re
from pathlib import Path

from runner.runs.jsonl import describe_error, read_tail

CONSOLE_LINES = 200
CONSOLE_MAX_BYTES = 1024 * 1024  # the console tail never reads more than this from the end

# Every alternative starts at an ESC and its repeated classes cannot hold an ESC, so a match attempt
# never runs past the next ESC: stripping is linear in the text.
ANSI_RE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: parameters, intermediates, final byte
    r"|\x1b\][^\x07\x1b\n]*(?:\x07|\x1b\\)"  # OSC, ended by BEL or ST
    r"|\x1b[ -/]+[0-~]"  # nF: character-set selection such as ESC ( B
    r"|\x1b[0-~]?"  # two-character escapes (and a cut CSI/OSC opener), or a lone ESC
)


def strip_ansi(text: str) -> str:
    """``text`` without ANSI escape sequences."""
    return ANSI_RE.sub("", text)


def console_lines(data: bytes, whole: bool, skip_blank: bool = False) -> list[str]:
    """The lines of a console tail: decoded, ANSI removed, split at any line break including a lone
    ``\\r``; the first line dropped when the read started inside it (``whole`` false)."""
    lines = strip_ansi(data.decode("utf-8", errors="replace")).splitlines()
    if not whole and len(lines) > 1:
        lines = lines[1:]
    if skip_blank:
        lines = [line for line in lines if line.strip()]
    return lines


def console_tail_or_error(
    path: Path, n: int = CONSOLE_LINES, max_bytes: int = CONSOLE_MAX_BYTES, skip_blank: bool = False
) -> tuple[list[str], str | None]:
    """The last ``n`` lines of a console log (see the module notes), and why an existing file was not
    read (``logs.log: not a regular file (FIFO), skipped``). A missing file: ``([], None)``.
    ``skip_blank`` drops blank lines, so they do not count towards ``n``."""
    try:
        # blank lines may be skipped: then read the whole window, not just n newlines' worth
        data, whole = read_tail(path, max_bytes if skip_blank else n, max_bytes)
    except FileNotFoundError:
        return [], None
    except OSError as exc:
        return [], f"{path.name}: {describe_error(exc)}"
    return console_lines(data, whole, skip_blank)[-n:], None


def read_console_tail(
    path: Path, n: int = CONSOLE_LINES, max_bytes: int = CONSOLE_MAX_BYTES, skip_blank: bool = False
) -> list[str]:
    """As :func:`console_tail_or_error`, without the reason: a file that cannot be read gives []."""
    return console_tail_or_error(path, n, max_bytes, skip_blank)[0]
