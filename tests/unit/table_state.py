"""Everything a reader can see of a :class:`MetricTable`, for tests comparing two reads of one file."""

from __future__ import annotations

from runner.runs.series import MetricTable


def state(table: MetricTable) -> dict[str, object]:
    """Keys, columns, values, latest, notes, bad lines and counts (NaN compared by repr)."""
    return {
        "keys": table.keys(),
        "numeric": table.numeric_keys(),
        "columns": {k: repr(table.column(k)) for k in table.numeric_keys()},
        "values": {k: repr(table.values(k)) for k in table.keys()},
        "latest": repr(table.latest()),
        "notes": table.notes,
        "bad": table.bad,
        "n": (table.n_lines, table.bad_lines, len(table), table.last_step),
    }
