"""Metric search: type to filter the key list, space/enter to pick keys to overlay.

The picker holds its two children by reference (a live refresh never queries them, so it cannot fail
while the screen is mounting or being torn down) and rebuilds the list without posting highlight
messages: a burst of typed keys rebuilds it many times before the list handles its queue, and a stale
``OptionHighlighted`` naming an index the new, shorter list no longer has made Textual raise.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, OptionList, SelectionList

QUIET = (OptionList.OptionHighlighted, SelectionList.SelectionHighlighted, SelectionList.SelectedChanged)


class MetricList(SelectionList[str]):
    """The key list; ignores a highlight message that a rebuild made stale."""

    def _on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index >= self.option_count or self.get_option_at_index(event.option_index) is not (
            event.option
        ):
            event.stop()  # the list changed since the message was posted
            return
        super()._on_option_list_option_highlighted(event)


class MetricPicker(Vertical):
    """A filter box over a multi-select list of metric keys."""

    class Changed(Message):
        """The picked keys changed."""

        def __init__(self, keys: list[str]) -> None:
            super().__init__()
            self.keys = keys

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.all_keys: list[str] = []
        self.picked: list[str] = []
        self.needle = ""
        self.search = Input(placeholder="search metrics", id="metric-search")
        self.listing = MetricList(id="metric-list")

    def compose(self) -> ComposeResult:
        yield self.search
        yield self.listing

    def set_keys(self, keys: list[str], picked: list[str] | None = None) -> None:
        """All metric keys of the run; new keys are appended without resetting the list."""
        if picked is not None:
            self.picked = list(picked)
        old = set(self.all_keys)
        if picked is not None or not old:
            self.all_keys = sorted(keys)
            self._rebuild()
            return
        new = [k for k in keys if k not in old]
        self.all_keys += new
        with self.listing.prevent(*QUIET):
            self.listing.add_options([(k, k, k in self.picked) for k in new if self._matches(k)])

    def _matches(self, key: str) -> bool:
        return all(part in key.lower() for part in self.needle.lower().split())

    def _rebuild(self) -> None:
        listing = self.listing
        shown = [k for k in self.all_keys if self._matches(k)]
        with listing.prevent(*QUIET):
            listing.clear_options()
            listing.add_options([(k, k, k in self.picked) for k in shown])
            if shown:
                listing.highlighted = next((i for i, k in enumerate(shown) if k in self.picked), 0)

    @on(Input.Changed, "#metric-search")
    def _search(self, event: Input.Changed) -> None:
        self.needle = event.value
        self._rebuild()

    @on(Input.Submitted, "#metric-search")
    def _search_done(self) -> None:
        self.listing.focus()

    @on(SelectionList.SelectedChanged)
    def _picked(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        shown = {k for k in self.all_keys if self._matches(k)}
        selected = set(self.listing.selected)
        kept = [k for k in self.picked if k not in shown]
        new = kept + [k for k in self.all_keys if k in selected]
        if new != self.picked:
            self.picked = new
            self.post_message(self.Changed(list(new)))
