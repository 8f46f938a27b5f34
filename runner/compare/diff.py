"""Config diff of several runs: only the keys that differ, with each run's git commit and code diff.

``config_diff(paths)`` reads each run's ``config.json`` through the run reader (:func:`read_config`,
bounded), flattens it to dotted keys (``dataset_builder.batch_size``) and keeps the keys whose values
differ (all keys with ``all_keys=True``). A key absent from a run holds :data:`MISSING` there; such a
row is ``added`` when the first run lacks it, ``removed`` when the first run has it and another lacks
it. Lists are values (kept as tuples, so rows stay hashable); a nested dict's type marker
(``__chz_name__``, ``__class__``, ``_target_``...) becomes the value of the dict's own key.

Commit and code diff per run: the code diff is ``code.diff`` in the run folder (the cookbook writes it
at start-up: the git state of the ``tinker_cookbook`` module), else the one tinkertop's launch record
keeps (the user's repo, ``<state dir>/runs/<id>/code.diff``). The commit is the launch record's
(``state.json`` ``code.commit``), else the ``### repo: ... @ <sha>`` header of the code diff, else a
``git_commit``/``commit`` entry of the config. Secrets in a code diff are masked as everywhere
(``runner.control.creds.redact``). Reading is bounded and never raises: a file that cannot be read is a
note naming it (``ConfigDiff.notes``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.runs.discover import files_for, run_name
from runner.runs.folder import read_config
from runner.runs.jsonl import describe_error, read_capped

MAX_DIFF_BYTES = 2_000_000  # as runner.control.gitinfo keeps
TYPE_MARKERS = ("__chz_name__", "__chz_class__", "__class__", "_target_", "__type__", "_type")
COMMIT_KEYS = ("git_commit", "commit", "git_sha", "git_rev")
_REPO_RE = re.compile(r"^### repo: .* @ ([0-9a-f]{7,40})\s*$", re.MULTILINE)


class _Missing:
    """The value of a key a run does not have (one instance: :data:`MISSING`)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "—"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return False

    def __reduce__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass(frozen=True)
class DiffRow:
    """One flattened config key across the runs (``values`` aligned with ``ConfigDiff.runs``)."""

    key: str
    values: tuple[object, ...]
    change: str  # "changed" | "added" | "removed" | "same"


@dataclass(frozen=True)
class ConfigDiff:
    """Config keys across runs, with each run's commit and code diff (aligned with ``runs``)."""

    runs: tuple[str, ...]  # display names, unique
    rows: tuple[DiffRow, ...]  # sorted by key
    commits: tuple[str | None, ...]
    code_diffs: tuple[str | None, ...]
    paths: tuple[str, ...] = ()  # the run paths, as given
    notes: tuple[str, ...] = field(default=())  # "<run>: config.json: not valid JSON (...)"


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, object]:
    """Nested dicts as dotted keys; lists as tuples; a dict's type marker as the value of its own key
    (``{"builder": {"__chz_name__": "X", "n": 1}}`` -> ``{"builder": "X", "builder.n": 1}``).
    An empty dict stays a value (``{}``) so the key is not lost."""
    out: dict[str, object] = {}
    for raw_key, value in config.items():
        key = str(raw_key)
        if key in TYPE_MARKERS and prefix:
            out[prefix] = _as_value(value)
            continue
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and value:
            out.update(flatten_config(value, full))
        else:
            out[full] = _as_value(value)
    return out


def _as_value(value: Any) -> object:
    if isinstance(value, list | tuple):
        return tuple(_as_value(v) for v in value)
    if isinstance(value, Mapping):
        return {str(k): _as_value(v) for k, v in value.items()}
    return value


def format_value(value: object) -> str:
    """A config value for a screen or a text table: ``—`` when missing, floats by ``repr``
    (``4e-05``, ``0.0001``), lists as ``[a, b]``, strings as they are."""
    if value is MISSING:
        return "—"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {format_value(v)}" for k, v in value.items()) + "}"
    return repr(value) if isinstance(value, float) else str(value)


def comparable(value: object) -> object:
    """What equality of config values compares: 1 == 1.0, True != 1, NaN == NaN."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, tuple):
        return tuple(comparable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, repr(comparable(v))) for k, v in value.items()))
    return value


def change_of(values: Sequence[object]) -> str:
    """``added`` (the first run lacks the key, another has it), ``removed`` (the first has it,
    another lacks it), ``changed`` (present everywhere, not all equal) or ``same``."""
    absent = [v is MISSING for v in values]
    if any(absent) and not all(absent):
        return "added" if absent[0] else "removed"
    first = comparable(values[0]) if values else None
    return "same" if all(comparable(v) == first for v in values) else "changed"


def display_names(paths: Sequence[str | Path]) -> tuple[str, ...]:
    """Unique display names: each run's name, with as many parent folders as it takes where names
    clash (``a/logs``, ``b/logs``); a full path repeated twice gets ``#2``."""
    parts = [Path(os.path.abspath(p)).parts for p in paths]
    names = [run_name(Path(p)) for p in paths]
    depth = [1] * len(paths)
    for _ in range(max((len(p) for p in parts), default=0)):
        clashes = _clashing(names, parts)
        if not clashes:
            break
        for i in clashes:
            if depth[i] < len(parts[i]) - 1:
                depth[i] += 1
                names[i] = "/".join((*parts[i][-depth[i] : -1], run_name(Path(paths[i]))))
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return tuple(out)


def _clashing(names: list[str], parts: list[tuple[str, ...]]) -> list[int]:
    """Indices of names shared by runs at different paths (the same path twice is no clash)."""
    owners: dict[str, set[tuple[str, ...]]] = {}
    for name, path in zip(names, parts, strict=True):
        owners.setdefault(name, set()).add(path)
    return [i for i, name in enumerate(names) if len(owners[name]) > 1]


def read_text_capped(path: Path, notes: list[str], label: str) -> str | None:
    """A small text file (at most MAX_DIFF_BYTES), None when absent; why it could not be read goes to
    ``notes`` as ``<label>: <file>: <reason>``."""
    try:
        return read_capped(path, MAX_DIFF_BYTES).decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    except OSError as exc:
        notes.append(f"{label}: {path.name}: {describe_error(exc)}")
    return None


def launch_record(path: Path) -> tuple[dict[str, Any] | None, Path | None]:
    """tinkertop's launch record of the run in folder ``path`` (state.json) and its folder, if any."""
    try:
        from runner.control import state_dir

        run_id = state_dir.run_id_for(path)
        state_file = state_dir.state_path(run_id)
        if not state_file.exists():
            return None, None
        return state_dir.read_state(run_id), state_file.parent
    except Exception:  # noqa: BLE001 - no record readable: the run folder's files decide
        return None, None


def run_code(
    path: Path, config: Mapping[str, Any] | None, notes: list[str], label: str
) -> tuple[str | None, str | None]:
    """``(commit, code diff text)`` of one run (see the module docstring for where each comes from)."""
    record, record_dir = launch_record(path) if path.is_dir() else (None, None)
    diff = read_text_capped(path / "code.diff", notes, label) if path.is_dir() else None
    if diff is None and record_dir is not None:
        diff = read_text_capped(record_dir / "code.diff", notes, label)
    if diff:
        from runner.control.creds import redact, secret_values

        diff = redact(diff, secret_values(os.environ))  # a diff of a .env never shows its keys
    code = record.get("code") if record else None
    commit = code.get("commit") if isinstance(code, dict) else None
    if not commit and diff:
        found = _REPO_RE.search(diff)
        commit = found.group(1) if found else None
    if not commit and config:
        commit = next((str(config[k]) for k in COMMIT_KEYS if isinstance(config.get(k), str)), None)
    return (str(commit) if commit else None), diff


def run_config(path: Path, notes: list[str], label: str) -> dict[str, Any] | None:
    """One run's config.json (bounded read), or its launch record's resolved config; None if neither."""
    config_path = files_for(path).config
    config, error = None, None
    if config_path is not None and (config_path.exists() or config_path.is_symlink()):
        config, error = read_config(config_path)
    if error:
        notes.append(f"{label}: {error}")
    if config is None and path.is_dir():
        record, _ = launch_record(path)
        recorded = record.get("config") if record else None
        config = recorded if isinstance(recorded, dict) else None
    return config


def config_diff(paths: Sequence[Path], all_keys: bool = False) -> ConfigDiff:
    """The config keys that differ across ``paths`` (every key with ``all_keys``), sorted by key, with
    each run's commit and code diff. Cheap: a few bounded file reads per run, never an exception for
    a run's bad file (it becomes a note naming the run and the file)."""
    paths = [Path(p) for p in paths]
    names = display_names(paths)
    notes: list[str] = []
    configs = [run_config(p, notes, n) for p, n in zip(paths, names, strict=True)]
    flat = [flatten_config(c) if c else {} for c in configs]
    keys = sorted(set().union(*flat)) if flat else []
    rows = []
    for key in keys:
        values = tuple(f.get(key, MISSING) for f in flat)
        change = change_of(values)
        if all_keys or change != "same":
            rows.append(DiffRow(key, values, change))
    code = [run_code(p, c, notes, n) for p, c, n in zip(paths, configs, names, strict=True)]
    return ConfigDiff(
        runs=names,
        rows=tuple(rows),
        commits=tuple(c for c, _ in code),
        code_diffs=tuple(d for _, d in code),
        paths=tuple(str(p) for p in paths),
        notes=tuple(notes),
    )
