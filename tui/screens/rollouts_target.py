"""Where a chart or an alert points the rollouts view: the step (:func:`chart_step`) and the split
(:func:`metric_split`, :func:`chart_split`) of the iteration to open. Used by the run view and the
alerts view through :mod:`tui.screens.rollouts`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tui.widgets.metric_chart import MetricChart


def chart_step(chart: MetricChart) -> int | None:
    """The step a chart points at: its alert marker, else the centre of a zoomed view, else the last
    step shown."""
    marker = chart.marker
    if marker is not None and marker.key in chart.keys and marker.step is not None:
        return int(marker.step)
    series = next((chart.series[k] for k in chart.keys if k in chart.series and chart.series[k].steps), None)
    if series is None:
        return None
    steps = series.steps
    if chart.view.zoom >= 1.0:
        return steps[-1]
    lo, hi = steps[0], steps[-1]
    centre = hi - (hi - lo) * chart.view.zoom / 2
    return min(steps, key=lambda s: abs(s - centre))


TRAIN_NAMESPACES = frozenset(
    {"env", "optim", "progress", "time", "train", "sampling_client", "training_client", "teacher_kl", "final"}
)


def metric_split(key: str) -> str:
    """The rollouts split a metric comes from: ``<name>/...`` is the ``<name>`` evaluator's
    (``eval:<name>``: the cookbook prefixes an RL evaluator's metrics with its name and writes its
    rollouts as ``eval_<name>_*``), a training namespace or a bare key is ``train``. The view falls
    back to train when the run has no such eval split."""
    name = key.split("/", 1)[0] if "/" in key else ""
    return "train" if not name or name in TRAIN_NAMESPACES else f"eval:{name}"


def chart_split(chart: MetricChart) -> str:
    """The split of the first metric charted (its alert marker's metric when marked)."""
    marker = chart.marker
    key = marker.key if marker is not None and marker.key in chart.keys else next(iter(chart.keys), "")
    return metric_split(key)
