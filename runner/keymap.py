"""Key remapping: the ``[keys]`` table of ``tinkertop.toml``, binding id -> keys (Textual's keymap).

```toml
[keys]
"runs.sort" = "o"            # a binding id (the help screen lists them) and its new key(s)
"app.quit" = "q,ctrl+q"      # several keys: comma-separated, or a list ["q", "ctrl+q"]
```
A bare dotted key (``runs.sort = "o"``) and a sub-table (``[keys.runs]`` with ``sort = "o"``) mean the
same. A problem is a :class:`KeymapError` naming the file and line, never a traceback; it keeps the
entries that were good (``keymap``) so they can still be applied. Headless: no Textual import here (the
app passes the binding ids it knows), and only the standard library.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

KEYS_FILE = "tinkertop.toml"
TABLE = "keys"
MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
NAMED = frozenset(
    {"escape", "enter", "return", "tab", "space", "backspace", "delete", "insert", "home", "end"}
    | {"pageup", "pagedown", "up", "down", "left", "right", "at", "slash", "backslash", "minus", "plus"}
    | {"underscore", *(f"f{n}" for n in range(1, 25))}
)
# the names Textual gives ASCII punctuation (unicode names: "?" is "question_mark", "[" ...)
REPLACED = {"solidus", "reverse_solidus", "commercial_at", "hyphen_minus", "plus_sign", "low_line"}


class KeymapError(ValueError):
    """A bad ``[keys]`` table: one line per problem, each naming the file and line (``<file>: line <n>:``,
    as for the alert settings). ``keymap``: the
    entries that were good."""

    def __init__(self, message: str, keymap: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.keymap = keymap or {}


def _char_name(char: str) -> str:
    return unicodedata.name(char).lower().replace("-", "_").replace(" ", "_")


PUNCTUATION = frozenset(_char_name(c) for c in string.punctuation) - REPLACED


def key_problem(key: str) -> str | None:
    """Why ``key`` (one key, e.g. ``o``, ``ctrl+o``, ``question_mark``, ``f5``) is not a key name."""
    *mods, name = key.split("+")
    bad = [m for m in mods if m not in MODIFIERS]
    if bad:
        return f"unknown modifier {bad[0]!r} in {key!r} (modifiers: {', '.join(sorted(MODIFIERS))})"
    if len(name) == 1:
        return None if name.isprintable() and not name.isspace() else f"{key!r} is not a printable key"
    if name in NAMED or name in PUNCTUATION:
        return None
    return f"unknown key {key!r} (a character, a name like escape, enter, f5, question_mark, with ctrl+ ...)"


def split_keys(value: object) -> tuple[str, str | None]:
    """``value`` as Textual's comma-separated keys, and the first problem with it (or None)."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str):
        return "", f'keys must be a string like "o" or "o,ctrl+o", not {value!r}'
    keys = [k.strip() for k in value.split(",")]
    if "" in keys:  # the comma key is "comma"
        return value, f"empty key in {value!r} (the comma key is named comma)"
    problems = [p for p in map(key_problem, keys) if p]
    return ",".join(keys), problems[0] if problems else None


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, object]:
    """``{"runs": {"sort": "o"}}`` (a dotted key or a sub-table) as ``{"runs.sort": "o"}``."""
    flat: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def line_of(text: str, binding_id: str) -> int | None:
    """The line (1-based) that sets ``binding_id`` under ``[keys]``, in any of the TOML spellings."""
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        bare = line.split("#", 1)[0].strip()
        if bare.startswith("["):
            table = bare.strip("[]").replace('"', "").replace("'", "").replace(" ", "")
        elif "=" in bare:
            key = bare.split("=", 1)[0].replace('"', "").replace("'", "").replace(" ", "")
            if f"{table}.{key}" == f"{TABLE}.{binding_id}":
                return number
    return None


def _where(path: Path, text: str, binding_id: str) -> str:
    line = line_of(text, binding_id)
    return f"{path}: line {line}" if line else f"{path}: [{TABLE}]"


def check_keys(
    path: Path, text: str, table: dict[str, Any], known: Collection[str] | None
) -> tuple[dict[str, str], list[str]]:
    """The good entries of ``table`` and one message per bad one (file:line: what)."""
    keymap: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, value in flatten(table).items():
        keys, problem = split_keys(value)
        if known is not None and binding_id not in known:
            problem = f"unknown binding id {binding_id!r} (press ? in the app for the ids)"
        if problem:
            problems.append(f"{_where(path, text, binding_id)}: {problem}")
        else:
            keymap[binding_id] = keys
    return keymap, problems


def load_keymap(
    workspace: Path, known: Callable[[], Collection[str]] | Collection[str] | None = None
) -> dict[str, str]:
    """Binding id -> keys from ``workspace/tinkertop.toml`` (empty when there is no file or no table).

    ``known``: the binding ids that exist (or a function giving them, called only when the table has
    entries); an id outside them is an error. Raises :class:`KeymapError` (file and line, the good entries
    kept) for an unreadable file, bad TOML, an unknown id or a bad key name."""
    import tomllib  # here: the app imports this module at start-up, and reads the file in a worker

    path = Path(workspace) / KEYS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise KeymapError(f"{path}: cannot be read: {exc}") from None
    try:
        table = tomllib.loads(text).get(TABLE, {})
    except tomllib.TOMLDecodeError as exc:
        raise KeymapError(f"{path}: {exc}") from None
    if not isinstance(table, dict):
        raise KeymapError(
            f"{path}: line {line_of_table(text)}: [{TABLE}] must be a table of binding id = keys"
        )
    if not table:
        return {}
    ids = known() if callable(known) else known
    keymap, problems = check_keys(path, text, table, ids)
    if problems:
        raise KeymapError("\n".join(problems), keymap)
    return keymap


def line_of_table(text: str) -> int:
    """The first line that names the ``keys`` table (1 when none does)."""
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip().startswith(TABLE):
            return number
    return 1
