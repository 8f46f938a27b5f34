"""Compare runs (headless, no Textual, no pandas): a table of the metrics that matter per kind, the
config keys that differ (with each run's commit and code diff), and groups by a config key.

``config_diff(paths)`` -> :class:`ConfigDiff`; ``compare_table(paths)`` -> :class:`CompareTable`
(``table_to_csv``, ``table_to_records``); ``group_key_values(paths, key)`` and
``group_series(series, groups)`` -> :class:`GroupLine` (mean and min-max band). Every function is
cheap enough for an app worker; pandas DataFrames for notebooks live in :mod:`runner.frames`.
"""

from runner.compare.diff import (
    MISSING,
    ConfigDiff,
    DiffRow,
    config_diff,
    display_names,
    flatten_config,
    format_value,
)
from runner.compare.groups import GroupLine, find_key, group_key_values, group_series, group_summary
from runner.compare.table import (
    DEFAULT_EMA,
    CompareTable,
    MetricStats,
    TableRow,
    compare_table,
    direction,
    headline_metrics,
    metric_stats,
    table_to_csv,
    table_to_records,
)

__all__ = [
    "DEFAULT_EMA",
    "MISSING",
    "CompareTable",
    "ConfigDiff",
    "DiffRow",
    "GroupLine",
    "MetricStats",
    "TableRow",
    "compare_table",
    "config_diff",
    "direction",
    "display_names",
    "find_key",
    "flatten_config",
    "format_value",
    "group_key_values",
    "group_series",
    "group_summary",
    "headline_metrics",
    "metric_stats",
    "table_to_csv",
    "table_to_records",
]
