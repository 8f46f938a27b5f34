"""The status timer is paced by the summaries' CPU (RESUMMARISE_COST_FACTOR): with many runs it ticks less
often than every RESUMMARISE_S. After an action on a run (stop, resume, an acknowledged alert) the runs are
summarised again at once, pace or not, runs read a moment ago too. Real run folders and follower; one seam,
named as such: a recorder around ``Follower.resummarise``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.app.conftest import FROZEN_NOW, copy_run, wait_until
from tui.app import TinkertopApp


async def test_an_action_summarises_at_once_while_the_timer_is_paced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy_run("rl_arith", tmp_path)
    app = TinkertopApp([tmp_path], now=lambda: FROZEN_NOW)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: app.loaded, what="the full read")
        calls: list[bool] = []
        resummarise = app.follower.resummarise

        def recording(every: bool = False):  # type: ignore[no-untyped-def]  # seam: a recorder
            calls.append(every)
            return resummarise(every)

        monkeypatch.setattr(app.follower, "resummarise", recording)
        app._next_resummary = time.monotonic() + 3600.0  # paced: the timer's next tick is far away
        await app.resummarise_runs().wait()
        assert calls == []  # the timer waits its turn
        await app.resummarise_runs(every=True).wait()
        assert calls == [True]  # an action does not
