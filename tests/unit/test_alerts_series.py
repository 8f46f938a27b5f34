"""The rules read a run's metrics through ``MetricTable.columns_since`` (a public bulk read), never the
table's private layout."""

from __future__ import annotations

import math
import re
from array import array
from pathlib import Path

import numpy as np

import runner.alerts
from runner.alerts.series import nonfinite_keys, points_of, read_column
from runner.runs.series import Columns, MetricTable


def _table(*batches: list[dict]) -> MetricTable:
    table = MetricTable()
    for batch in batches:
        table.ingest(batch, 0.0)
    return table


def test_columns_since_copies_aligned_columns_under_one_read():
    table = _table(
        [
            {"step": 0, "loss": 1.0, "kl": 0.1, "tag": "a"},
            {"step": 1, "loss": math.nan, "tag": "b"},
            {"step": 2, "loss": 0.5, "kl": 0.3},
        ]
    )
    cols = table.columns_since()
    assert list(cols.values) == table.numeric_keys() == ["loss", "kl"]  # "tag" is not numeric
    assert (cols.start, list(cols.steps), cols.in_step_order) == (0, [0, 1, 2], True)
    assert cols.present == {"loss": b"\x01\x01\x01", "kl": b"\x01\x00\x01"}
    assert math.isnan(cols.values["loss"][1]) and math.isnan(cols.values["kl"][1])  # a NaN vs not logged
    tail = table.columns_since(["kl", "missing", "tag"], start=1)
    assert (tail.start, list(tail.steps), list(tail.values), tail.present) == (
        1,
        [1, 2],
        ["kl"],
        {"kl": b"\x00\x01"},
    )
    table.ingest([{"step": 3, "loss": 0.25, "kl": 0.5}], 0.0)
    assert len(cols.steps) == len(cols.values["kl"]) == 3  # a copy: the table grew, the read did not


def test_points_follow_step_order_after_a_resume_back_in_time():
    table = _table(
        [{"step": s, "loss": float(s)} for s in range(5, 10)],
        [{"step": s, "loss": 100.0 + s} for s in range(0, 7)],  # a resume re-logs from step 0; later wins
    )
    pts = read_column(table, "loss")
    steps, values = table.column("loss")
    assert not table.columns_since().in_step_order
    assert pts.steps.tolist() == steps == list(range(10))
    assert pts.values.tolist() == values and values[:7] == [100.0 + s for s in range(7)]


def test_nonfinite_keys_only_in_the_rows_asked_for():
    table = _table(
        [{"step": 0, "a": math.nan, "b": 1.0}, {"step": 1, "a": 1.0, "b": math.inf}, {"step": 2, "c": 2.0}]
    )
    cols = table.columns_since()
    assert nonfinite_keys(cols, 0) == ["a", "b"]
    assert nonfinite_keys(cols, 1) == ["b"]
    assert nonfinite_keys(table.columns_since(start=1), 1) == ["b"]
    assert nonfinite_keys(cols, 2) == []  # the NaN padding of absent rows is not a value
    assert points_of(cols, "c").steps.tolist() == [2] and points_of(cols, "nope").values.dtype == np.float64


def test_nonfinite_keys_key_by_key_when_columns_are_not_aligned():
    cols = Columns(0, array("q", [0, 1, 2]), {"a": array("d", [1.0, math.nan]), "b": array("d", [1.0, 2.0, 3.0])},
                   {"a": b"\x01\x01", "b": b"\x01\x01\x01"}, True)  # fmt: skip
    assert nonfinite_keys(cols, 0) == ["a"] and nonfinite_keys(cols, 2) == []
    assert points_of(cols, "a").steps.tolist() == [0, 1]


def test_alert_modules_read_no_private_table_state():
    """A layout change in MetricTable must not silently slow or break the rules: they use its public API."""
    private = re.compile(r"""(\b(?!self\b|cls\b)\w+\._(cols|present|lock|sorted|steps|times|other|order)\b)"""
                         r"""|getattr\([^)]*["']_\w+""")  # fmt: skip
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in sorted(Path(runner.alerts.__file__).parent.glob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if private.search(line)
    ]
    assert offenders == []


def test_merged_since_names_the_lowest_older_row_and_step_lines_merged_into():
    table = _table([{"step": s, "loss": 1.0} for s in range(5)])
    v0 = table.version
    assert table.merged_since(v0) is None
    table.ingest([{"step": 5, "loss": 1.0}, {"step": 5, "eval": 0.5}], 0.0)  # a row new in its own batch
    assert table.merged_since(v0) is None
    v1 = table.version
    table.ingest([{"step": 3, "eval": math.nan}, {"step": 6, "loss": 1.0}], 0.0)
    table.ingest([{"step": 1, "loss": 2.0}], 0.0)
    assert (table.merged_since(v0), table.merged_since(v1)) == ((1, 1), (1, 1))
    assert table.merged_since(table.version - 1) == (1, 1) and table.merged_since(table.version) is None
    for _ in range(40):  # many merging batches: older ones coalesce, never lost
        table.ingest([{"step": 4, "loss": 3.0}], 0.0)
    assert table.merged_since(v1) == (1, 1) and table.merged_since(table.version - 1) == (4, 4)


def test_resets_count_every_time_the_table_is_emptied():
    table = _table([{"step": 0, "loss": 1.0}])
    assert table.resets == 0
    table.ingest([{"step": 0, "loss": 2.0}], 0.0)
    v = table.version
    table.reset()
    assert table.resets == 1 and table.version > v and table.merged_since(-1) is None
