"""The footer every screen shows: Textual's, redrawn only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer


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
