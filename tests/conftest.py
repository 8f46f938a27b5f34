"""Session-wide checks: in CI a missing shared test-data folder is a failure, not a silent skip.

Outside CI the tests that need ``shared/`` skip when it (or one of its files) is absent. With ``CI``
set, the session refuses to start without ``shared/realdata`` and ``shared/formats``, and a test that
skips because something is absent is reported as failed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.shared_data import SHARED, in_ci, missing_shared


def pytest_configure(config: pytest.Config) -> None:
    # the metrics cache of the runs the tests read goes to a folder of this session, not the user's
    # ~/.cache/tinkertop (inherited by the subprocesses the tests start; the tiny model stays shared)
    if "TINKERTOP_METRICS_CACHE" not in os.environ:
        os.environ["TINKERTOP_METRICS_CACHE"] = tempfile.mkdtemp(prefix="tinkertop-metrics-cache-")
    absent = missing_shared()
    if in_ci() and absent:
        names = ", ".join(str(p) for p in absent)
        raise pytest.UsageError(
            f"CI is set but the shared test data is missing ({names}): put shared/ beside the clone "
            f"or set TINKERTOP_SHARED (now {SHARED})"
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else str(report.longrepr)
    if in_ci() and report.skipped and "absent" in str(reason):
        report.outcome = "failed"
        report.longrepr = f"CI: test data is absent, so this test cannot skip: {report.longrepr}"
    return report
