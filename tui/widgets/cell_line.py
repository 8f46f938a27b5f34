"""One cell of a one-line DataTable row drawn straight from its Text, as the DataTable draws it.

The DataTable draws each cell with rich: ``console.render_lines(Styled(Padding(cell, (0, p)), pre, post))``
(wrap, crop, pad, split into lines, apply the styles). For a one-line cell of plain text that comes down to:
the text cropped or padded to the column width less the padding, a padding each side, every character styled
``pre + its own style + post``. Drawing that directly costs a fraction of the rich pipeline (issue 12: the
runs list with 100 runs appending). Anything else (several lines, tabs, an ellipsis overflow, a justified
text, a renderable that is not a Text) is left to the DataTable: :func:`cell_line` returns None.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style, StyleType
from rich.text import Text

GetStyle = Callable[[StyleType], Style]
Part = tuple[str, Style | None]


def cell_line(
    cell: object, width: int, padding: int, pre: Style, post: Style, get_style: GetStyle
) -> list[Segment] | None:
    """The segments of ``cell`` drawn ``width`` cells wide with ``padding`` blank cells each side, styled
    as the DataTable styles a cell (``pre``: the row, cursor and hover styles with the cell's meta;
    ``post``: the cursor colours that win over the cell's own); None when it is not a plain one-line Text."""
    if not _plain_line(cell):
        return None
    assert isinstance(cell, Text)
    inner = width - 2 * padding
    if inner < 0:
        return None
    parts = _fit(_parts(cell, get_style), cell_len(cell.plain), inner)
    edge = pre + post if post else pre
    out = [Segment(" " * padding, edge)] if padding else []
    for text, style in parts:
        styled = pre + style
        out.append(Segment(text, styled + post if post else styled))
    if padding:
        out.append(Segment(" " * padding, edge))
    return out


def _plain_line(cell: object) -> bool:
    """A Text that rich would draw on one line, cropped and padded like any other (no justify, no
    ellipsis, no tab to expand, no second line)."""
    if not isinstance(cell, Text):
        return False
    if cell.justify not in (None, "default") or cell.overflow not in (None, "fold", "crop"):
        return False
    plain = cell.plain
    return "\n" not in plain and "\t" not in plain


def _parts(text: Text, get_style: GetStyle) -> list[Part]:
    """The text cut where its style changes, each piece with its style (``Text.render`` of the line:
    the text's own style first, then its spans in order)."""
    plain = text.plain
    if not text.spans:  # most cells: one style, or none
        return [(plain, get_style(text.style) if text.style else None)]
    spans = [(0, len(plain), text.style)] if text.style else []
    spans += [(s.start, min(s.end, len(plain)), s.style) for s in text.spans]
    if not spans:
        return [(plain, None)]
    styles = [get_style(style) for _, _, style in spans]
    cuts = sorted({0, len(plain), *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    parts: list[Part] = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        if a >= b or b > len(plain):
            continue
        covering = [st for (start, end, _), st in zip(spans, styles, strict=True) if start <= a and end >= b]
        parts.append((plain[a:b], Style.combine(covering) if covering else None))
    return parts


def _fit(parts: list[Part], length: int, width: int) -> list[Part]:
    """``parts`` cropped or padded (unstyled) to ``width`` cells."""
    if length == width:
        return parts
    if length < width:
        return [*parts, (" " * (width - length), None)]
    out: list[Part] = []
    room = width
    for text, style in parts:
        if room == 0:
            break
        size = cell_len(text)
        if size >= room:
            out.append((set_cell_size(text, room), style))
            break
        out.append((text, style))
        room -= size
    return out
