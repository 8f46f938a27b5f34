"""Search across iterations (plain text or regex) and filter trajectories of one iteration."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import regex as rx  # unlike re: a match timeout, and the GIL released while matching (concurrent=True)

from runner.rollouts.trajectory import Hit, IterationRef, RolloutError, Trajectory

SNIPPET = 40  # characters each side of a hit
MATCH_TIMEOUT_S = 2.0  # a regex gets this long on one text (a catastrophic one backtracks for hours)
TOO_SLOW = "the regular expression took too long"


def compile_query(query: str, regex: bool = False) -> rx.Pattern[str]:
    """A case-insensitive pattern; an invalid regex raises RolloutError saying why."""
    try:
        return rx.compile(query if regex else rx.escape(query), rx.IGNORECASE | rx.VERSION0)
    except rx.error as exc:
        raise RolloutError(f"not a valid regular expression: {query!r} ({exc})") from exc


def _matches(pattern: rx.Pattern[str], text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each non-empty match; RolloutError when matching one text takes longer than
    ``MATCH_TIMEOUT_S`` (the GIL is released meanwhile, so the app's loop keeps running)."""
    try:
        spans = [m.span() for m in pattern.finditer(text, concurrent=True, timeout=MATCH_TIMEOUT_S)]
    except TimeoutError:
        raise RolloutError(
            f"{TOO_SLOW} (over {MATCH_TIMEOUT_S:g} s on one text of {len(text):,} characters): "
            f"{pattern.pattern!r} backtracks too much; simplify it"
        ) from None
    return ((a, b) for a, b in spans if b > a)


def snippet(text: str, start: int, end: int, width: int = SNIPPET) -> str:
    """One line around text[start:end], with an ellipsis where cut."""
    lo, hi = max(0, start - width), min(len(text), end + width)
    body = text[lo:hi].replace("\r", " ").replace("\n", " ")
    return ("…" if lo > 0 else "") + body + ("…" if hi < len(text) else "")


def search_trajectory(ref: IterationRef, traj: Trajectory, pattern: rx.Pattern[str]) -> Iterator[Hit]:
    """Hits in one trajectory: each message's text, thinking and tool calls, then its logs (message -1,
    searched as ``key: value`` lines). ``Hit.field`` says which text ``start``/``end`` index."""
    for k, msg in enumerate(traj.messages):
        for field, text in (
            ("text", msg.text),
            ("thinking", msg.thinking or ""),
            ("tool_calls", "\n".join(msg.tool_calls)),
        ):
            for a, b in _matches(pattern, text):
                yield Hit(ref, traj.group, traj.index, k, a, b, snippet(text, a, b), field)
    logs = "\n".join(f"{key}: {value}" for key, value in traj.logs.items())
    for a, b in _matches(pattern, logs):
        yield Hit(ref, traj.group, traj.index, -1, a, b, snippet(logs, a, b), "logs")


def search(
    run: Path,
    query: str,
    regex: bool = False,
    refs: Sequence[IterationRef] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[Hit]:
    """Every hit of ``query`` across the iterations (``refs``, default all of the run), in order.

    Lazy: iterations load one at a time as the caller consumes hits. An iteration that cannot be
    read is skipped (the listing already names it). A file is only parsed when its raw bytes hold the
    query (plain text) so a search over many iterations reads mostly bytes. ``cancelled`` is asked
    before each iteration and trajectory: True ends the search (its caller went away).
    """
    from runner.rollouts import list_iterations, load_iteration

    pattern = compile_query(query, regex)
    stop = cancelled or (lambda: False)
    for ref in list_iterations(run, stats=False) if refs is None else refs:
        if stop():
            return
        if not regex and not _may_hold(ref, query):
            continue
        try:
            iteration = load_iteration(ref)
        except (RolloutError, OSError, RecursionError):
            continue
        for traj in iteration.trajectories:
            if stop():
                return
            yield from search_trajectory(ref, traj, pattern)  # the caller's ref, for equality


_WORD = re.compile(r"[A-Za-z0-9_]+")


def _may_hold(ref: IterationRef, query: str) -> bool:
    """False only when the iteration's files cannot hold the query: a byte-level prefilter on its
    ASCII words (HTML/JSON escaping touches only punctuation and non-ASCII letters, and the text we
    join, ``key: value`` or ``name(arguments)``, is made of words found in the files)."""
    words = {w.lower().encode() for w in _WORD.findall(query)}
    if not words:
        return True
    src = Path(ref.source)
    files = [src]
    if ref.layout == "current":
        files.append(src.with_name(ref.base_name + "_rollout_summaries.jsonl"))
    data = b""
    for f in dict.fromkeys(files):
        try:
            data += f.read_bytes().lower()
        except FileNotFoundError:
            continue
        except OSError:
            return True  # let the reader say what is wrong
    return all(w in data for w in words)


def _flag(traj: Trajectory, *keys: str) -> bool | None:
    for key in keys:
        if key in traj.metrics:
            return traj.metrics[key] > 0.5
    for key in keys:
        value = traj.logs.get(key, "").strip().lower()
        if value in ("true", "false"):
            return value == "true"
    return None


def filter_trajectories(
    trajs: Iterable[Trajectory],
    min_reward: float | None = None,
    max_reward: float | None = None,
    correct: bool | None = None,
    format_ok: bool | None = None,
    min_tokens: int | None = None,
    max_tokens: int | None = None,
    stop_reason: str | None = None,
) -> list[Trajectory]:
    """The trajectories passing every given filter (None: no filter). A reward bound drops trajectories
    without a known reward; ``correct``/``format_ok`` read the ``correct`` / ``format`` (or
    ``format_valid``) metric or log; a token bound drops those without a count."""
    out = []
    for t in trajs:
        reward = t.reward if t.reward is not None and not math.isnan(t.reward) else None
        if (min_reward is not None or max_reward is not None) and reward is None:
            continue
        if reward is not None and (
            (min_reward is not None and reward < min_reward)
            or (max_reward is not None and reward > max_reward)
        ):
            continue
        if correct is not None and _flag(t, "correct") is not correct:
            continue
        if format_ok is not None and _flag(t, "format", "format_valid") is not format_ok:
            continue
        if (min_tokens is not None or max_tokens is not None) and t.tokens is None:
            continue
        if t.tokens is not None and (
            (min_tokens is not None and t.tokens < min_tokens)
            or (max_tokens is not None and t.tokens > max_tokens)
        ):
            continue
        if stop_reason is not None and t.stop_reason != stop_reason:
            continue
        out.append(t)
    return out


def prompt_of(traj: Trajectory) -> str | None:
    """The question a trajectory answers: the last user message before its last assistant message
    (few-shot pairs come first in the cookbook's prompts; in a multi-turn episode this is the last
    turn's user message)."""
    last_assistant = max((k for k, m in enumerate(traj.messages) if m.role == "assistant"), default=None)
    if last_assistant is None:
        return None
    users = [m.text for m in traj.messages[:last_assistant] if m.role == "user"]
    return users[-1] if users else None


def same_prompt(trajs: Iterable[Trajectory], prompt: str) -> list[Trajectory]:
    """The trajectories answering ``prompt`` (whitespace-insensitive): the same question at another
    step or in another run, for a side-by-side view."""
    want = " ".join(prompt.split())
    return [t for t in trajs if (p := prompt_of(t)) is not None and " ".join(p.split()) == want]
