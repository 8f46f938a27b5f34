"""The plain dataclasses the rollouts readers return (no I/O here, no Textual, no cookbook).

Everything is frozen and made of builtins, so the app can hold them, hash the refs and pass them
between a worker and the UI thread as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HIST_BINS = 10


class RolloutError(ValueError):
    """A rollout file that cannot be read: the message names the file (and the line where it helps)."""


@dataclass(frozen=True)
class Message:
    """One message of a transcript.

    ``role``: system | user | assistant | tool | env (env feedback, reward components, diagnostics).
    ``text`` is raw text (already HTML-unescaped); ``thinking`` the model's thinking parts joined, if
    any; ``tool_calls`` one readable string per call (``name(arguments)``).
    """

    role: str
    text: str
    thinking: str | None = None
    tool_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class Trajectory:
    """One trajectory (episode) of a group.

    ``reward``: the total return (sum of step rewards + the group-level final reward) or None.
    ``step_rewards``: one per env step. ``advantage``: reward minus the mean of its group (None when a
    reward of the group is unknown). ``metrics``: env metrics merged over steps (``correct``,
    ``format``, ...; later steps win) plus the trajectory metrics. ``logs``: env logs and reward
    components as text. ``messages``: the transcript, empty when the cookbook wrote no text for it.
    ``tokens``: action (sampled) tokens over all steps. ``stop_reason``: e.g. ``max_tokens`` when known.
    """

    group: int
    index: int
    reward: float | None
    step_rewards: tuple[float, ...] = ()
    advantage: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    messages: tuple[Message, ...] = ()
    tokens: int | None = None
    stop_reason: str | None = None
    has_text: bool = False


@dataclass(frozen=True)
class IterationRef:
    """Where one iteration's rollouts of one split live (cheap: made by ``list_iterations``).

    ``split``: ``"train"``, ``"eval:<label>"`` or, for a benchmark, ``"benchmark:<name>"``.
    ``source``: the main file (logtree JSON, else summaries JSONL, else HTML, else trajectories.jsonl).
    ``layout``: ``"current"`` (iteration folders), ``"flat"`` (older ``train_iteration_NNNNNN.html``) or
    ``"benchmark"``. ``n_trajectories`` / ``reward_mean`` come from the summaries when listing read
    them (current layout), else None until the iteration is loaded. ``has_text``: a transcript file
    (logtree JSON or HTML) exists. ``error``: listing found the summaries unreadable (the message names
    the file); the iteration still lists.
    """

    step: int
    split: str
    source: str
    run: str = ""
    layout: str = "current"
    n_trajectories: int | None = None
    reward_mean: float | None = None
    has_text: bool = False
    error: str | None = None

    @property
    def base_name(self) -> str:
        """The cookbook's file prefix: ``train`` or ``eval_<label>``."""
        if self.split.startswith("eval:"):
            return "eval_" + self.split[len("eval:") :]
        return self.split


@dataclass(frozen=True)
class Iteration:
    """One iteration of one split, loaded.

    ``groups``: the trajectories grouped (GRPO groups), by group index. ``note``: what the files do
    not hold, said plainly (e.g. text for the first 4 of 32 groups only). ``problems``: readable
    complaints about parts that could not be read (file and line), the rest is still shown.
    ``histogram``/``hist_edges``: the rewards in ``HIST_BINS`` bins (edges has bins+1 values; both
    empty when no reward is known).
    """

    ref: IterationRef
    trajectories: tuple[Trajectory, ...]
    groups: tuple[tuple[Trajectory, ...], ...]
    note: str | None = None
    histogram: tuple[int, ...] = ()
    hist_edges: tuple[float, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def rewards(self) -> list[float]:
        """The known rewards, in trajectory order."""
        return [t.reward for t in self.trajectories if t.reward is not None and math.isfinite(t.reward)]

    @property
    def reward_mean(self) -> float | None:
        values = self.rewards
        return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Hit:
    """A search hit: ``message`` indexes the trajectory's messages (-1: its logs), ``field`` which text
    of it matched (``text``, ``thinking``, ``tool_calls`` joined by newlines, or ``logs`` as
    ``key: value`` lines), ``start``/``end`` the match within that text, ``snippet`` a one-line
    excerpt around it."""

    ref: IterationRef
    group: int
    index: int
    message: int
    start: int
    end: int
    snippet: str
    field: str = "text"


@dataclass(frozen=True)
class Span:
    """One timed span of a step: seconds relative to the step's earliest span; ``phase`` one of
    ``PHASES`` or ``""`` for a container span (it holds other spans: drawn, not counted)."""

    name: str
    start: float
    end: float
    phase: str = ""

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


@dataclass(frozen=True)
class StepTiming:
    """One step's spans and its wall time (the latest end)."""

    step: int
    spans: tuple[Span, ...]
    wall: float


@dataclass(frozen=True)
class Timing:
    """``timing_spans.jsonl`` of a run: each step's spans and each phase's share of the run's wall
    time (union of the phase's spans over the summed step walls; ``waiting`` is time no counted span
    covers). Shares of phases that overlap (sampling during training) add up to more than 1:
    ``overlap`` is the share of time sampling and training ran at once. ``problems``: bad lines."""

    source: str
    steps: tuple[StepTiming, ...] = ()
    shares: dict[str, float] = field(default_factory=dict)
    overlap: float = 0.0
    problems: tuple[str, ...] = ()
