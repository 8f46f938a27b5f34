"""Screens, widgets and commands reach the app through one typed accessor, ``tui.typed.tapp``, and
mypy checks tui/ with nothing switched off: no ``type: ignore`` there without a written reason."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from tests.app.conftest import wait_until
from tui.app import TinkertopApp
from tui.screens.runs import RunsScreen
from tui.typed import tapp

TUI = Path(__file__).resolve().parents[2] / "tui"
# an ignore is allowed only with its reason after it on the line: "# type: ignore[code]  # because ..."
IGNORE = re.compile(r"#\s*type:\s*ignore(?:\[[^\]]*\])?(?P<rest>.*)$")


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("hosted", id="hosted")


async def test_tapp_returns_the_tinkertop_app_typed(tmp_path: Path) -> None:
    app = TinkertopApp([tmp_path / "runs"])
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.runs_screen.is_mounted, what="the runs list")
        screen = app.screen
        assert isinstance(screen, RunsScreen)
        assert tapp(screen) is app
        assert tapp(screen).roots == [tmp_path / "runs"]


async def test_tapp_in_another_app_names_both() -> None:
    app = Host()
    async with app.run_test(size=(40, 5)):
        widget = app.query_one("#hosted", Static)
        with pytest.raises(TypeError, match="Static needs the TinkertopApp, it runs in Host"):
            tapp(widget)


def test_no_type_ignore_in_tui_without_a_reason() -> None:
    bare = []
    for path in sorted(TUI.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = IGNORE.search(line)
            if m and "#" not in m.group("rest"):
                bare.append(f"{path.relative_to(TUI.parent)}:{n}: {line.strip()}")
    assert bare == [], "type: ignore without a reason:\n" + "\n".join(bare)


def test_no_screen_reaches_the_app_untyped() -> None:
    """``self.app.<attr of TinkertopApp>`` is what ``tapp`` replaced: Textual types it as a plain App."""
    own = {
        "summaries",
        "follower",
        "roots",
        "open_run",
        "close_run",
        "focus_run",
        "acknowledge",
        "now",
        "runs_screen",
        "first_paint",
        "hook",
        "open_compare",
        "all_alerts",
        "resummarise_runs",
    }
    found = []
    for path in sorted(TUI.rglob("*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            for attr in re.findall(r"\bself\.app\.(\w+)", line):
                if attr in own:
                    found.append(f"{path.relative_to(TUI.parent)}:{n}: {line.strip()}")
    assert found == []
