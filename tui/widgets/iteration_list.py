"""The rollouts view's list of iterations (train and each eval) with reward statistics and a small
reward histogram drawn as bars. Rows are keyed by (split, step): the cursor stays on its iteration
while the list grows."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.widgets import DataTable

from tui.format import number

if TYPE_CHECKING:
    from runner.rollouts import IterationRef

BARS = "▁▂▃▄▅▆▇█"
COLUMNS = (
    ("step", "Step", 5),
    ("split", "Split", 10),
    ("n", "N", 4),
    ("mean", "Reward", 7),
    ("hist", "Hist", 10),
)


def bars(counts: Sequence[float]) -> str:
    """A histogram as one line of block characters: empty bins blank, the fullest a full block."""
    top = max(counts, default=0)
    if top <= 0:
        return ""
    out = []
    for c in counts:
        out.append(" " if c <= 0 else BARS[min(len(BARS) - 1, int(c / top * (len(BARS) - 1) + 0.5))])
    return "".join(out)


def ref_key(ref: IterationRef) -> str:
    """A stable row key of an iteration: its split and step (a benchmark: its file, as several
    evaluations of one benchmark share both)."""
    key = f"{ref.split}@{ref.step}"
    return f"{key}@{ref.source}" if ref.layout == "benchmark" else key


def split_label(split: str) -> str:
    """``train``, or an eval's name (``eval/test`` or ``eval:test`` shows as ``eval test``), or a
    benchmark's (``bench arith``)."""
    for prefix, label in (("eval/", "eval"), ("eval:", "eval"), ("eval_", "eval"), ("benchmark:", "bench")):
        if split.startswith(prefix):
            return f"{label} {split[len(prefix) :]}"
    return split


def nearest(refs: list[IterationRef], step: int) -> IterationRef:
    """The iteration at ``step``, else the closest before it, else the closest after (as the
    headless ``nearest_iteration``, over refs already listed)."""
    before = [r for r in refs if r.step <= step]
    return max(before, key=lambda r: r.step) if before else min(refs, key=lambda r: r.step)


class IterationList(DataTable[Text | str]):
    """One row per iteration; ``histograms`` fills the Hist column of the iterations loaded so far."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self.refs: list[IterationRef] = []
        self.histograms: dict[str, str] = {}
        self.loaded: dict[str, IterationRef] = {}  # refs a load filled in (count, mean), by key

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, width=width, key=key)

    def selected(self) -> IterationRef | None:
        """The iteration under the cursor."""
        if not self.refs or not 0 <= self.cursor_row < len(self.refs):
            return None
        return self.refs[self.cursor_row]

    def show(self, refs: Sequence[IterationRef]) -> None:
        """Show ``refs`` in this order; the cursor stays on the iteration it was on."""
        refs = [self.loaded.get(ref_key(r), r) if r.n_trajectories is None else r for r in refs]
        if [ref_key(r) for r in refs] == [ref_key(r) for r in self.refs] and refs == self.refs:
            return
        old = [ref_key(r) for r in self.refs]
        if old and [ref_key(r) for r in refs[: len(old)]] == old:  # a live run: rows added at the end
            for before, ref in zip(self.refs, refs, strict=False):
                if before != ref:
                    for column, cell in zip(COLUMNS, self._cells(ref), strict=True):
                        self.update_cell(ref_key(ref), column[0], cell)
            self.refs = refs
            for ref in refs[len(old) :]:
                self.add_row(*self._cells(ref), key=ref_key(ref))
            return
        keep = self.selected()
        self.refs = refs
        self.clear()
        for ref in refs:
            self.add_row(*self._cells(ref), key=ref_key(ref))
        if keep is not None:
            self.select(keep.split, keep.step)

    def select(self, split: str, step: int) -> bool:
        """Move the cursor to the iteration of ``split`` at ``step``; False when there is none."""
        for i, ref in enumerate(self.refs):
            if ref.split == split and ref.step == step:
                self.move_cursor(row=i)
                return True
        return False

    def select_ref(self, want: IterationRef) -> bool:
        """Move the cursor to ``want`` (a benchmark among several of the same name too)."""
        key = ref_key(want)
        for i, ref in enumerate(self.refs):
            if ref_key(ref) == key:
                self.move_cursor(row=i)
                return True
        return False

    def set_loaded(self, ref: IterationRef, counts: Sequence[float]) -> None:
        """A loaded iteration's row: its count and mean (``ref`` as the load filled it in) and its reward
        histogram."""
        key = ref_key(ref)
        self.histograms[key] = bars(counts)
        self.loaded[key] = ref
        self.refs = [ref if ref_key(r) == key else r for r in self.refs]
        if key in self.rows:
            for column, cell in zip(("n", "mean", "hist"), self._cells(ref)[2:], strict=True):
                self.update_cell(key, column, cell)

    def _cells(self, ref: IterationRef) -> list[Text | str]:
        mean = number(ref.reward_mean, short=True) if ref.reward_mean is not None else "-"
        own = getattr(ref, "histogram", None)  # a ref that carries its histogram draws it at once
        hist = self.histograms.get(ref_key(ref)) or (bars(own) if own else "")
        split = Text(split_label(ref.split), style="" if ref.split == "train" else "italic")
        n = "-" if ref.n_trajectories is None else str(ref.n_trajectories)
        step = str(ref.step)
        if ref.layout == "benchmark":  # which evaluation: its save dir's name (base_..., final_...)
            step, split = "bench", Text(Path(ref.run).parent.name or ref.split, style="italic")
        return [step, split, n, mean, hist]
