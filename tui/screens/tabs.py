"""``]`` and ``[`` step through a screen's tabs (the run view's and the compare view's); a footer that
redraws its keys only when they change."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import ClassVar

from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent


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


class SteadyFooter(Footer):
    """Textual's footer rebuilds every key widget on each bindings signal (a screen opening sends
    several: mount, each focus change, each tab shown), ~30 widgets a time. This one rebuilds at most
    once per refresh, and only when the keys it would show differ from those it shows."""

    def __init__(self) -> None:
        super().__init__()
        self._queued = False
        self._shown: tuple[object, ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or self._queued:
            return
        if self.is_attached and screen is self.screen:
            self._queued = True
            self.call_after_refresh(self._recompose_if_changed)

    async def _recompose_if_changed(self) -> None:
        self._queued = False
        if not self.is_attached:  # its screen went away meanwhile
            return
        shown = self._keys()
        if shown != self._shown:
            self._shown = shown
            await self.recompose()

    def _keys(self) -> tuple[object, ...]:
        """What ``compose`` draws from: each shown binding, its key display, enabled and tooltip."""
        app = self.app
        keys = tuple(
            (b.key, app.get_key_display(b), b.description, b.action, b.group, enabled, tooltip)
            for (_, b, enabled, tooltip) in self.screen.active_bindings.values()
            if b.show
        )
        return (keys, self.compact, self.show_command_palette, app.ENABLE_COMMAND_PALETTE)
