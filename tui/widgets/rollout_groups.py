"""An iteration's groups side by side (GRPO): one column per group, one cell per trajectory with its
total reward, advantage (reward minus the group mean) and length. A cell marked ``✎`` has its text
logged; the others come from the summaries only. The table renders only what is visible."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from tui.format import number

if TYPE_CHECKING:
    from runner.rollouts import Trajectory

CELL_WIDTH = 21
FILTER_WORD = re.compile(r"^(reward|tokens|length|correct|format|stop)(>=|<=|>|<|=)(.+)$")
SORTS = ("group", "reward", "length")  # trajectories within a group by index, reward (high first), length


@dataclass
class Group:
    """One group's trajectories, in the order shown, and its mean reward."""

    number: int
    trajectories: list[Trajectory]
    mean: float | None = None  # of the whole group, the trajectories a filter hides too


def mean_reward(trajectories: Sequence[Trajectory]) -> float | None:
    rewards = [t.reward for t in trajectories if t.reward is not None and math.isfinite(t.reward)]
    return sum(rewards) / len(rewards) if rewards else None


def group_trajectories(
    shown: Sequence[Trajectory], every: Sequence[Trajectory] | None = None, sort: str = "group"
) -> list[Group]:
    """The ``shown`` trajectories by group (groups in the order they come: a benchmark lists its incorrect
    ones first), each group sorted by ``sort`` (see
    ``SORTS``); a group's mean reward is over all its trajectories in ``every`` (default: shown)."""
    by_group: dict[int, list[Trajectory]] = {}
    for t in shown:
        by_group.setdefault(t.group, []).append(t)
    whole: dict[int, list[Trajectory]] = {}
    for t in shown if every is None else every:
        whole.setdefault(t.group, []).append(t)
    groups = [Group(g, by_group[g], mean_reward(whole.get(g, []))) for g in by_group]  # as listed
    for group in groups:
        group.trajectories.sort(key=_sort_key(sort))
    return groups


def _sort_key(sort: str) -> Callable[[Trajectory], tuple[float, int]]:
    if sort == "reward":
        return lambda t: (-(t.reward if t.reward is not None else float("-inf")), t.index)
    if sort == "length":
        return lambda t: (-float(t.tokens or 0), t.index)
    return lambda t: (0.0, t.index)


class FilterError(ValueError):
    """A filter the user typed that cannot be understood (the message says which word and why)."""


class FilterArgs(TypedDict, total=False):
    """The keyword arguments of ``runner.rollouts.filter_trajectories``."""

    min_reward: float
    max_reward: float
    correct: bool
    format_ok: bool
    min_tokens: int
    max_tokens: int
    stop_reason: str


def filter_args(text: str) -> FilterArgs:
    """``reward>=0.5 correct=1 format=0 tokens<500 stop=length`` as ``filter_trajectories`` arguments
    (``>``/``<`` are strict: the next float, the next integer)."""
    args = FilterArgs()
    for word in text.split():
        match = FILTER_WORD.match(word)
        if match is None:
            raise FilterError(
                f"filter: cannot read {word!r} (reward>=X, tokens<N, correct=1, format=0, stop=S)"
            )
        key, op, value = match.groups()
        if key == "stop":
            args["stop_reason"] = value
        elif key in ("correct", "format"):
            if op != "=" or value not in ("0", "1", "true", "false"):
                raise FilterError(f"filter: {word!r}: {key}=1 or {key}=0")
            args["correct" if key == "correct" else "format_ok"] = value in ("1", "true")
        elif key == "reward":
            low, high = _bounds(op, _number(value, word, float))
            args.update({"min_reward": low} if low is not None else {})
            args.update({"max_reward": high} if high is not None else {})
        else:
            low_n, high_n = _bounds(op, _number(value, word, int))
            args.update({"min_tokens": int(low_n)} if low_n is not None else {})
            args.update({"max_tokens": int(high_n)} if high_n is not None else {})
    return args


def _number(value: str, word: str, kind: Callable[[str], float]) -> float:
    try:
        return kind(value)
    except ValueError:
        raise FilterError(f"filter: {word!r}: {value!r} is not a number") from None


def _bounds(op: str, x: float) -> tuple[float | None, float | None]:
    """(low, high) of ``op x``; strict ``>``/``<``: the next integer, or the next float."""
    if op == "=":
        return x, x
    if op in (">", "<"):
        up = op == ">"
        if isinstance(x, int):
            x = x + (1 if up else -1)
        else:
            x = math.nextafter(x, math.inf if up else -math.inf)
    return (x, None) if op.startswith(">") else (None, x)


def apply_filter(trajectories: Sequence[Trajectory], text: str) -> list[Trajectory]:
    """The trajectories the filter ``text`` keeps (all of them for an empty filter)."""
    if not text.strip():
        return list(trajectories)
    from runner.rollouts import filter_trajectories

    return list(filter_trajectories(trajectories, **filter_args(text)))


def signed(value: float | None) -> str:
    """``+0.25``, ``-0.10``, ``-`` (an advantage)."""
    return "-" if value is None else f"{value:+.2f}"


def compact(value: float | None) -> str:
    """A reward in at most 5 characters: ``0.471``, ``1``, ``-0.1``, ``-``."""
    if value is None or not math.isfinite(value):
        return "-" if value is None else str(value)
    for digits in (3, 2, 1):
        text = f"{value:.{digits}g}"
        if len(text) <= 5:
            return text
    return f"{value:.0e}"


def tokens(n: int | None) -> str:
    """``364t``, ``9066t``, ``12kt``; empty when unknown."""
    if n is None:
        return ""
    return f"{n}t" if n < 10_000 else f"{n / 1000:.0f}kt"


def trajectory_summary(t: Trajectory) -> str:
    """Everything the summaries say of one trajectory, as a few plain lines."""
    steps = ", ".join(number(r, short=True) for r in t.step_rewards) or "-"
    lines = [
        f"group {t.group} · trajectory {t.index} · reward {number(t.reward, short=True)}"
        f" · advantage {signed(t.advantage)} · {t.tokens if t.tokens is not None else '-'} tokens"
        + (f" · stop {t.stop_reason}" if t.stop_reason else "")
        + f" · step rewards [{steps}]",
    ]
    if t.metrics:
        lines.append("metrics: " + "  ".join(f"{k}={number(v, short=True)}" for k, v in t.metrics.items()))
    if t.logs:
        lines.append("logs: " + "  ".join(f"{k}={_short(v)}" for k, v in t.logs.items()))
    return "\n".join(lines)


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class RolloutGroups(DataTable[Text | str]):
    """Groups as columns, their trajectories as rows; ``selected`` is the trajectory under the cursor."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="cell", zebra_stripes=False, **kwargs)
        self.groups: list[Group] = []

    def selected(self) -> Trajectory | None:
        """The trajectory under the cursor (None on an empty cell)."""
        return self.at(self.cursor_coordinate)

    def at(self, coordinate: Coordinate) -> Trajectory | None:
        row, column = coordinate
        if not 0 <= column < len(self.groups):
            return None
        trajectories = self.groups[column].trajectories
        return trajectories[row] if 0 <= row < len(trajectories) else None

    def show(self, groups: list[Group]) -> None:
        """Lay ``groups`` out side by side; the cursor stays on its trajectory when still shown."""
        keep = self.selected()
        self.groups = groups
        self.clear(columns=True)
        for group in groups:
            label = f"g{group.number} μ {number(group.mean, short=True)}" if group.trajectories else ""
            self.add_column(label or f"g{group.number}", width=CELL_WIDTH, key=str(group.number))
        rows = max((len(g.trajectories) for g in groups), default=0)
        for row in range(rows):
            self.add_row(*[self._cell(g, row) for g in groups], key=str(row))
        if keep is not None:
            self.select(keep.group, keep.index)

    def select(self, group: int, index: int) -> bool:
        """Move the cursor to trajectory ``index`` of ``group``; False when it is not shown."""
        for column, g in enumerate(self.groups):
            if g.number != group:
                continue
            for row, t in enumerate(g.trajectories):
                if t.index == index:
                    self.move_cursor(row=row, column=column)
                    return True
        return False

    def _cell(self, group: Group, row: int) -> Text | str:
        if row >= len(group.trajectories):
            return ""
        t = group.trajectories[row]
        mark = "✎" if t.has_text else "·"
        text = f"{mark}{t.index:>2} {compact(t.reward):>5} {signed(t.advantage):>5} {tokens(t.tokens)}"
        return Text(text, style=self._style(t.advantage))

    def _style(self, advantage: float | None) -> str:
        if advantage is None or abs(advantage) < 1e-9:
            return "dim"
        var = "success" if advantage > 0 else "error"
        color = self.app.theme_variables.get(var) if self.is_attached else None
        return color or ""
