"""The current layout, ``iteration_NNNNNN/{train,eval_<label>}_{logtree.json,rollout_summaries.jsonl}``,
read through the cookbook's own ``tinker_cookbook.stores.TrainingRunStore`` over a ``LocalStorage``.

The store lists iterations and logtrees and reads the bytes; the parsing is ours because the store's
readers skip a malformed line or file with only a logged warning, and the viewer must say which file
and line is bad. ``tinker_cookbook.stores`` imports without torch (about 60 ms); it is imported here
lazily, inside the functions, so nothing of the cookbook loads on the app's start-up path.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.json_rows import json_objects
from runner.rollouts import build
from runner.rollouts.logtree import TreeLog, walk
from runner.rollouts.trajectory import Iteration, IterationRef, RolloutError

if TYPE_CHECKING:
    from tinker_cookbook.stores import TrainingRunStore

SUMMARIES = "_rollout_summaries.jsonl"
LOGTREE = "_logtree.json"
MAX_STATS_BYTES = 4 << 20  # listing reads summaries up to this size for its figures
TOO_DEEP = "nested too deeply to read (more levels than Python's recursion limit)"


def open_store(run: Path) -> TrainingRunStore:
    """The cookbook's store over the run folder (never creates the folder)."""
    from tinker_cookbook.stores import LocalStorage, TrainingRunStore

    return TrainingRunStore(LocalStorage(run, mkdir=False))


def _iter_dir(step: int) -> str:
    return f"iteration_{step:06d}"


def _split(base_name: str) -> str:
    return "eval:" + base_name[len("eval_") :] if base_name.startswith("eval_") else base_name


def list_current(run: Path, stats: bool = True) -> list[IterationRef]:
    """Every (iteration, split) with summaries or a logtree, by step then split (train first)."""
    if not any(p.name.startswith("iteration_") for p in _children(run)):
        return []
    store = open_store(run)
    refs: list[IterationRef] = []
    for step in _iterations(store):
        try:
            names = store.storage.list_dir(_iter_dir(step))
        except (OSError, ValueError) as exc:  # LocalStorage refuses a folder linked outside the run
            source = str(run / _iter_dir(step))
            refs.append(IterationRef(step, "train", source, str(run), "current", error=f"{source}: {exc}"))
            continue
        bases = sorted(
            {n[: -len(SUMMARIES)] for n in names if n.endswith(SUMMARIES)}
            | {n[: -len(LOGTREE)] for n in names if n.endswith(LOGTREE)},
            key=lambda b: (b != "train", b),
        )
        for base in bases:
            refs.append(_ref(run, step, base, names, store if stats else None))
    return refs


def _iterations(store: TrainingRunStore) -> list[int]:
    """The iteration numbers, from the store; one by one when one folder makes the store fail."""
    try:
        return [info.iteration for info in store.list_iterations()]
    except (OSError, ValueError):
        names = store.storage.list_dir("")
        return sorted(int(m.group(1)) for n in names if (m := re.fullmatch(r"iteration_(\d+)", n)))


def _children(run: Path) -> list[Path]:
    try:
        return list(run.iterdir())
    except OSError:
        return []


def _ref(run: Path, step: int, base: str, names: list[str], store: TrainingRunStore | None) -> IterationRef:
    folder = run / _iter_dir(step)
    has_tree = base + LOGTREE in names
    has_sum = base + SUMMARIES in names
    source = folder / (base + (LOGTREE if has_tree else SUMMARIES))
    ref = IterationRef(step, _split(base), str(source), str(run), "current", has_text=has_tree)
    if store is None or not has_sum:
        return ref
    path = f"{_iter_dir(step)}/{base}{SUMMARIES}"
    try:
        stat = store.storage.stat(path)
        if stat is None or stat.size > MAX_STATS_BYTES:
            return ref
        records, problems = parse_summaries(store.storage.read(path), str(folder / (base + SUMMARIES)))
    except (OSError, ValueError) as exc:
        return replace(ref, error=f"{folder / (base + SUMMARIES)}: {getattr(exc, 'strerror', None) or exc}")
    rewards = [r for rec in records if isinstance(r := rec.get("total_reward"), int | float)]
    finite = [float(r) for r in rewards if math.isfinite(r)]
    mean = sum(finite) / len(finite) if finite else None
    return replace(
        ref, n_trajectories=len(records), reward_mean=mean, error=problems[0] if problems else None
    )


SUMMARY_SHAPE: dict[str, type] = {
    "group_idx": int,
    "traj_idx": int,
    "trajectory_metrics": dict,
    "steps": list,
}
STEP_SHAPE: dict[str, type] = {"metrics": dict, "logs": dict}
_KINDS = {int: "an integer", dict: "an object", list: "a list", str: "a string", float: "a number"}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else _KINDS.get(type(value), type(value).__name__)


def shape_problem(record: dict[str, Any], shape: dict[str, type], step_shape: dict[str, type]) -> str | None:
    """Why a record's fields are not the types the reader needs (``"group_idx" is null, not an
    integer``), or None. Absent fields are fine, and a null object or list (read as empty); each dict in
    ``steps`` is checked with ``step_shape``."""
    for key, kind in shape.items():
        if not _fits(record.get(key, kind()), kind):
            return f'"{key}" is {_kind(record[key])}, not {_KINDS[kind]}'
    for k, step in enumerate(record.get("steps") or [], start=1):
        for key, kind in step_shape.items():
            if isinstance(step, dict) and not _fits(step.get(key, kind()), kind):
                return f'"{key}" of step {k} is {_kind(step[key])}, not {_KINDS[kind]}'
    return None


def _fits(value: Any, kind: type) -> bool:
    if value is None:
        return kind is not int
    return isinstance(value, kind) and not isinstance(value, bool)


def parse_summaries(
    data: bytes,
    source: str,
    shape: dict[str, type] = SUMMARY_SHAPE,
    step_shape: dict[str, type] = STEP_SHAPE,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The records of a summaries file, and one problem per bad line (``file:line: reason``): not
    JSON, not an object, or a field of the wrong type (``shape``)."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    for lineno, record in json_objects(data, source, problems):
        if (why := shape_problem(record, shape, step_shape)) is not None:
            problems.append(f"{source}:{lineno}: {why}")
            continue
        records.append(record)
    return records, problems


def parse_logtree(data: bytes, source: str) -> TreeLog:
    """The walked logtree of a ``*_logtree.json`` file; RolloutError names the file (and line)."""
    try:
        tree = json.loads(data)
    except json.JSONDecodeError as exc:
        raise RolloutError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg}, column {exc.colno})") from exc
    except UnicodeDecodeError as exc:
        raise RolloutError(f"{source}: not UTF-8 text ({exc.reason})") from exc
    except RecursionError as exc:
        raise RolloutError(f"{source}: {TOO_DEEP}") from exc
    try:
        return walk(tree, source, escaped=True)
    except RecursionError as exc:
        raise RolloutError(f"{source}: {TOO_DEEP}") from exc


def load_current(ref: IterationRef) -> Iteration:
    """One iteration of one split: summaries for every trajectory, the logtree's text for the groups
    the cookbook logged. A bad part is a problem on the iteration; nothing readable raises
    RolloutError naming the file."""
    run = Path(ref.run)
    store = open_store(run)
    folder = run / _iter_dir(ref.step)
    problems: list[str] = []
    records = _read_summaries(store, ref, folder, problems)
    tree = _read_tree(store, ref, folder, problems)
    if records is None and tree is None:
        raise RolloutError(problems[0] if problems else f"{folder}: no {ref.base_name} rollouts here")
    drafts = (
        [build.from_summary(r) for r in records] if records else build.drafts_from_tree(tree or TreeLog())
    )
    with_text = build.attach_text(drafts, tree, False, skip_failed=bool(records)) if tree is not None else 0
    n_groups = len({d.group for d in drafts})
    note = build.text_note(n_groups, with_text, tree is not None)
    if tree is not None and tree.exceptions:
        note = "; ".join(filter(None, [note, "the log records an exception: " + tree.exceptions[0]]))
    return build.freeze(ref, drafts, note, problems)


def _read_summaries(
    store: TrainingRunStore, ref: IterationRef, folder: Path, problems: list[str]
) -> list[dict[str, Any]] | None:
    path = f"{_iter_dir(ref.step)}/{ref.base_name}{SUMMARIES}"
    source = str(folder / (ref.base_name + SUMMARIES))
    try:
        data = store.storage.read(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        problems.append(f"{source}: {getattr(exc, 'strerror', None) or exc}")
        return None
    records, bad = parse_summaries(data, source)
    problems.extend(bad)
    return records if records or not bad else None


def _read_tree(
    store: TrainingRunStore, ref: IterationRef, folder: Path, problems: list[str]
) -> TreeLog | None:
    path = f"{_iter_dir(ref.step)}/{ref.base_name}{LOGTREE}"
    source = str(folder / (ref.base_name + LOGTREE))
    try:
        return parse_logtree(store.storage.read(path), source)
    except FileNotFoundError:
        return None
    except RolloutError as exc:
        problems.append(str(exc))
    except (OSError, ValueError) as exc:
        problems.append(f"{source}: {getattr(exc, 'strerror', None) or exc}")
    return None
