"""Rollouts: what the model wrote, per iteration, headless (the app's view ``3`` and ``tinkertop rollouts``).

Final API (call everything that touches files from a worker; nothing here imports Textual, and the
cookbook's store is imported lazily inside the readers)::

    list_iterations(run: Path, stats: bool = True) -> list[IterationRef]
        Both layouts (iteration folders, read through tinker_cookbook.stores.TrainingRunStore; older
        flat train_iteration_NNNNNN.html / eval_<label>_iteration_NNNNNN.html), train and eval splits,
        by step then split (train first). Never raises for a bad file: the ref's ``error`` says it.
        ``stats`` reads the small summaries files for n_trajectories / reward_mean (current layout).
    load_iteration(ref: IterationRef) -> Iteration
        One split of one iteration. Raises RolloutError (a ValueError; message names file and line)
        when nothing of it is readable; a partly bad iteration lists its ``problems``.
    nearest_iteration(run: Path, step: int, split: str = "train") -> IterationRef | None
        The iteration of that split at ``step``, else the closest before it, else the closest after.
    search(run, query, regex=False, refs=None) -> Iterator[Hit]
        Case-insensitive plain text (or a regex) over messages and logs of every iteration (or of
        ``refs``), lazily, one iteration at a time; hits carry the caller's ref. A bad regex raises
        RolloutError("not a valid regular expression: ...").
    filter_trajectories(trajs, min_reward=None, max_reward=None, correct=None, format_ok=None,
                        min_tokens=None, max_tokens=None, stop_reason=None) -> list[Trajectory]
    prompt_of(traj) -> str | None          # the last user message before the last assistant one
    same_prompt(trajs, prompt) -> list[Trajectory]   # the same question elsewhere (side by side)
    load_benchmark(path: Path) -> Iteration
        trajectories.jsonl (+ result.json beside it) of a benchmark save dir (a file or its folder),
        incorrect first; split "benchmark:<name>", one group per example (its ``idx``; several
        samples of one example share it, ``index`` counting them).
    timing(run: Path) -> Timing
        timing_spans.jsonl: per step spans (name, start, end, phase) and each phase's share.
    gantt(step: StepTiming, width: int = 60) -> list[str]          # one text line per span
    clear_cache() -> None    # load_iteration keeps recent loads (1000, 128 MB of files; keyed by size+mtime)

Data (frozen dataclasses, see ``runner.rollouts.trajectory``):
    Message(role, text, thinking=None, tool_calls=())   role: system|user|assistant|tool|env
    Trajectory(group, index, reward, step_rewards, advantage, metrics, logs, messages, tokens,
               stop_reason, has_text)
    IterationRef(step, split, source, run, layout, n_trajectories, reward_mean, has_text, error)
        split "train" | "eval:<label>" | "benchmark:<name>"; ``.base_name`` train | eval_<label>
    Iteration(ref, trajectories, groups, note, histogram, hist_edges, problems)
        ``.rewards``, ``.reward_mean``; ``ref`` filled with n_trajectories and reward_mean
    Hit(ref, group, index, message, start, end, snippet, field)   message -1: the trajectory's logs;
        field "text" | "thinking" | "tool_calls" | "logs": the text start/end index
    Timing(source, steps, shares, overlap, problems); StepTiming(step, spans, wall);
    Span(name, start, end, phase)       phases: runner.rollouts.timing.PHASES ("" = container span)
    RolloutError(ValueError)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from runner.rollouts.search import filter_trajectories, prompt_of, same_prompt, search
from runner.rollouts.timing import PHASES, gantt, read_timing
from runner.rollouts.trajectory import (
    Hit,
    Iteration,
    IterationRef,
    Message,
    RolloutError,
    Span,
    StepTiming,
    Timing,
    Trajectory,
)

# the submodules ``search`` and ``timing`` share their names with functions here: they are imported
# above, before the functions are bound, so a later import of them never rebinds the names

__all__ = [
    "Hit",
    "Iteration",
    "IterationRef",
    "Message",
    "PHASES",
    "RolloutError",
    "Span",
    "StepTiming",
    "Timing",
    "Trajectory",
    "clear_cache",
    "filter_trajectories",
    "gantt",
    "list_iterations",
    "load_benchmark",
    "load_iteration",
    "nearest_iteration",
    "prompt_of",
    "same_prompt",
    "search",
    "timing",
]


def list_iterations(run: Path, stats: bool = True) -> list[IterationRef]:
    """Every iteration and split of a run, both layouts, by step then split (train first)."""
    from runner.rollouts.current import list_current
    from runner.rollouts.flat_html import list_flat

    run = Path(run)
    refs = list_current(run, stats) + list_flat(run)
    seen: set[tuple[int, str]] = set()
    out = []
    for ref in refs:  # the current layout wins when both hold the same (step, split)
        if (ref.step, ref.split) not in seen:
            seen.add((ref.step, ref.split))
            out.append(ref)
    return sorted(out, key=lambda r: (r.step, r.split != "train", r.split))


def load_iteration(ref: IterationRef) -> Iteration:
    """One iteration of one split, loaded (see the module docstring). The last ``CACHE_SIZE`` loads
    are kept, keyed by the files' size and mtime: a file rewritten is read again."""
    stamp = _stamp(ref)
    key = (ref, stamp)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key][0]
    iteration = _load(ref)
    with _LOCK:
        _CACHE[key] = (iteration, sum(max(0, size) for _, size in stamp))
        while len(_CACHE) > CACHE_SIZE or sum(size for _, size in _CACHE.values()) > CACHE_BYTES:
            _CACHE.popitem(last=False)
    return iteration


CACHE_SIZE = 1000  # iterations, and at most CACHE_BYTES of their files' bytes (a search sweeps them all)
CACHE_BYTES = 128 << 20
_CACHE: OrderedDict[tuple[IterationRef, tuple[tuple[int, int], ...]], tuple[Iteration, int]] = OrderedDict()
_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every loaded iteration (benchmarks measure cold loads with it)."""
    with _LOCK:
        _CACHE.clear()


def _stamp(ref: IterationRef) -> tuple[tuple[int, int], ...]:
    src = Path(ref.source)
    files = [src]
    if ref.layout == "current":
        files = [
            src.with_name(ref.base_name + "_logtree.json"),
            src.with_name(ref.base_name + "_rollout_summaries.jsonl"),
        ]
    elif ref.layout == "benchmark":
        files.append(src.with_name("result.json"))
    out = []
    for f in files:
        try:
            st = f.stat()
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append((-1, -1))
    return tuple(out)


def _load(ref: IterationRef) -> Iteration:
    """One iteration by its layout; a file nested past the recursion limit is a RolloutError naming it."""
    try:
        return _load_layout(ref)
    except RecursionError as exc:
        raise RolloutError(f"{ref.source}: nested too deeply to read") from exc


def _load_layout(ref: IterationRef) -> Iteration:
    if ref.layout == "flat":
        from runner.rollouts.flat_html import load_flat

        return load_flat(ref)
    if ref.layout == "benchmark":
        return load_benchmark(Path(ref.source))
    from runner.rollouts.current import load_current

    return load_current(ref)


def nearest_iteration(run: Path, step: int, split: str = "train") -> IterationRef | None:
    """The iteration at ``step`` (that split), else the closest before it, else the closest after."""
    refs = [r for r in list_iterations(run, stats=False) if r.split == split]
    if not refs:
        return None
    before = [r for r in refs if r.step <= step]
    return max(before, key=lambda r: r.step) if before else min(refs, key=lambda r: r.step)


def load_benchmark(path: Path) -> Iteration:
    """A benchmark's trajectories.jsonl (+ result.json), incorrect first."""
    from runner.rollouts.benchmark import load_benchmark as _load

    return _load(Path(path))


def timing(run: Path) -> Timing:
    """The run's timing_spans.jsonl: spans per step, each phase's share."""
    return read_timing(Path(run))
