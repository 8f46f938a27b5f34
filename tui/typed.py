"""The one way screens, widgets and commands reach the app with its own attributes: ``tapp(self)``.

Textual types ``node.app`` as a plain ``App``; ``tapp`` checks at run time that it is the
``TinkertopApp`` and returns it typed, so mypy checks every use (Posting's typed app accessor).
The app's module is imported only when called: it imports the screens, which import this.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from textual.app import App

    from tui.app import TinkertopApp


class HasApp(Protocol):
    """A widget, screen or command provider: anything Textual gives an ``app``."""

    @property
    def app(self) -> App[object]: ...


def tapp(node: HasApp) -> TinkertopApp:
    """``node``'s app as the ``TinkertopApp``; a ``TypeError`` naming both when it is another app."""
    from tui.app import TinkertopApp

    app = node.app
    if not isinstance(app, TinkertopApp):
        raise TypeError(f"{type(node).__name__} needs the TinkertopApp, it runs in {type(app).__name__}")
    return app
