"""Hysteresis: bad points of one rule on one metric grouped into episodes.

An episode opens at the first bad point, stays open while bad points keep coming, and ends after
``rearm`` clean points in a row; only then can the rule fire again. The tracker is fed only the new
points of each evaluation (incremental); its state is a few numbers plus the last episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

KEEP_EPISODES = 20  # per rule and metric: memory stays flat on a run that goes on for days


@dataclass
class Judgement:
    """A rule's verdict on some new points: the bad ones, with level, value and threshold."""

    idx: np.ndarray  # indices (into the metric's points) of the bad points, ascending
    level: np.ndarray  # 1 info, 2 warning, 3 critical
    value: np.ndarray
    threshold: np.ndarray
    note: Callable[[int], str] | None = None  # words for a bad point (by position), asked only when kept
    onset: np.ndarray | None = None  # per bad point: the index where its condition began (sustained rules)
    rank: np.ndarray | None = None  # per bad point, how bad (higher is worse); default: value x direction

    @staticmethod
    def none() -> Judgement:
        z = np.zeros(0)
        return Judgement(np.zeros(0, dtype=np.int64), z.astype(np.int64), z, z)


@dataclass
class Episode:
    first_step: int
    last_step: int
    level: int
    value: float
    threshold: float
    last_bad: int  # point index of the last bad point
    first_value: float
    note: str = ""
    active: bool = True
    rank: float = float("nan")  # how bad the kept value is (see Judgement.rank)


@dataclass
class Tracker:
    """Episodes of one (rule, metric); ``seen`` points were judged, the last at ``seen_step``."""

    rearm: int
    direction: int
    seen: int = 0
    seen_step: int | None = None
    episodes: list[Episode] = field(default_factory=list)

    def consistent(self, steps: np.ndarray) -> bool:
        """False when the metric's points changed under us (a reset or a back-filled step)."""
        if self.seen == 0:
            return True
        return len(steps) >= self.seen and int(steps[self.seen - 1]) == self.seen_step

    def feed(self, steps: np.ndarray, values: np.ndarray, verdict: Judgement, end: int) -> None:
        """Take the verdict on points ``[self.seen, end)``: runs of bad points closer than ``rearm``
        clean points are one segment; a segment joins the open episode or opens a new one."""
        open_ep = self.episodes[-1] if self.episodes and self.episodes[-1].active else None
        if len(verdict.idx):
            idx, levels = verdict.idx.tolist(), verdict.level.tolist()
            vals, thrs = verdict.value.tolist(), verdict.threshold.tolist()
            ranks = (verdict.value * self.direction if verdict.rank is None else verdict.rank).tolist()
            onset = verdict.onset.tolist() if verdict.onset is not None else idx
            cuts = (np.flatnonzero(np.diff(verdict.idx) - 1 >= self.rearm) + 1).tolist()
            for lo, hi in zip([0, *cuts], [*cuts, len(idx)], strict=True):
                seg = (idx[lo:hi], levels[lo:hi], vals[lo:hi], thrs[lo:hi], ranks[lo:hi])
                open_ep = self._segment(open_ep, steps, verdict, seg, onset[lo], lo)
        if open_ep is not None and end - 1 - open_ep.last_bad >= self.rearm:
            open_ep.active = False
        self.seen = end
        self.seen_step = int(steps[end - 1]) if end else None

    def _segment(
        self, ep: Episode | None, steps: np.ndarray, v: Judgement, seg: tuple[list, list, list, list, list],
        onset: int, offset: int,
    ) -> Episode:  # fmt: skip
        idx, levels, vals, thrs, ranks = seg
        first, last = idx[0], idx[-1]
        if ep is not None and first - ep.last_bad - 1 >= self.rearm:
            ep.active = False
            ep = None
        top = max(levels)
        w = -1
        for j, (lvl, rank) in enumerate(zip(levels, ranks, strict=True)):
            if lvl == top and (w < 0 or _worse(rank, ranks[w])):
                w = j
        val, thr, rank = vals[w], thrs[w], ranks[w]
        note = v.note(offset + w) if v.note else ""
        if ep is None:
            ep = Episode(int(steps[max(int(onset), 0)]), int(steps[last]), top, val, thr, last, val, note)
            ep.rank = rank
            self.episodes.append(ep)
            del self.episodes[:-KEEP_EPISODES]
            return ep
        ep.last_step, ep.last_bad = int(steps[last]), last
        if top > ep.level or (top == ep.level and _worse(rank, ep.rank)):
            ep.value, ep.threshold, ep.note, ep.rank = val, thr, note or ep.note, rank
        ep.level = max(ep.level, top)
        return ep


def _worse(new: float, old: float) -> bool:
    """``new`` ranks worse than ``old`` (higher is worse; NaN ranks below anything)."""
    if new != new:
        return False
    if old != old:
        return True
    return new > old
