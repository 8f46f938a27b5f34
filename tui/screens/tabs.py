"""``]`` and ``[`` step through a screen's tabs (the run view's and the compare view's)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import TabbedContent


def tab_bindings(prefix: str) -> list[Binding]:
    """The keys of ``TabKeys`` with binding ids ``<prefix>.next_tab`` and ``<prefix>.prev_tab``."""
    return [
        Binding("right_square_bracket", "tab(1)", "Next tab", id=f"{prefix}.next_tab"),
        Binding("left_square_bracket", "tab(-1)", "Prev tab", show=False, id=f"{prefix}.prev_tab"),
    ]


class TabKeys(Screen[None]):
    """A screen with one ``TabbedContent`` whose pane ids are ``TABS``, in order."""

    TABS: ClassVar[tuple[str, ...]] = ()

    def action_tab(self, delta: int) -> Awaitable[None] | None:
        """The tab ``delta`` places on (round the end), shown by the screen's ``action_show_tab`` (which
        may build the tab first: Textual awaits what an action returns)."""
        tabs = self.query_one(TabbedContent)
        i = self.TABS.index(tabs.active) if tabs.active in self.TABS else 0
        return self.action_show_tab(self.TABS[(i + delta) % len(self.TABS)])

    def action_show_tab(self, tab: str) -> Awaitable[None] | None:
        self.query_one(TabbedContent).active = tab
        return None
