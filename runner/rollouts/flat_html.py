"""The older flat layout: ``train_iteration_NNNNNN.html`` and ``eval_<label>_iteration_NNNNNN.html``
beside ``metrics.jsonl`` (the only layout in the public real data; the cookbook's store lists none).

Parsed with lxml's HTML parser (recovering; ten times the speed of ``html.parser`` here) into the same node shape as the logtree JSON,
then read by the same walker (``runner.rollouts.logtree``). Only the ``<body>`` is kept; inline tags
the logtree does not produce (``strong``, ``code``, ...) keep their text; a conversation block
(``div.lt-conversation``) becomes a conversation payload. In this layout each ``do_single_rollout``
section is one trajectory, in trajectory order.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from runner.rollouts import build
from runner.rollouts.logtree import KNOWN_TAGS, walk
from runner.rollouts.trajectory import Iteration, IterationRef, RolloutError

FLAT_NAME = re.compile(r"^(train|eval_(.+))_iteration_(\d+)\.html$")
SKIP = frozenset(("head", "style", "script", "title"))


def list_flat(run: Path) -> list[IterationRef]:
    """The flat HTML iterations of a run folder (no stats: they need a parse)."""
    refs = []
    try:
        names = sorted(p.name for p in run.iterdir())
    except OSError:
        return []
    for name in names:
        match = FLAT_NAME.match(name)
        if match:
            split = "train" if match.group(1) == "train" else "eval:" + str(match.group(2))
            refs.append(
                IterationRef(int(match.group(3)), split, str(run / name), str(run), "flat", has_text=True)
            )
    return refs


def _node(el: Any) -> dict[str, Any]:
    """An lxml element as a logtree node; inline tags the logtree never writes keep only their text."""
    attrs = dict(el.attrib)
    node: dict[str, Any] = {"tag": el.tag, "attrs": attrs, "children": []}
    _fill_children(node["children"], el)
    if "lt-conversation" in attrs.get("class", ""):
        _maybe_conversation(node)
    return node


def _fill_children(out: list[Any], el: Any) -> None:
    if el.text:
        out.append(el.text)
    for child in el:
        tag = child.tag
        if tag in KNOWN_TAGS:
            out.append(_node(child))
        elif isinstance(tag, str) and tag not in SKIP:
            _fill_children(out, child)
        if child.tail:
            out.append(child.tail)


def _classes(node: Any) -> list[str]:
    return str(node.get("attrs", {}).get("class", "")).split() if isinstance(node, dict) else []


def _text(node: Any) -> str:
    if isinstance(node, str):
        return node
    return "".join(_text(c) for c in node.get("children", [])) if isinstance(node, dict) else ""


def _maybe_conversation(node: dict[str, Any]) -> None:
    """``div.lt-conversation`` (the HTML of the conversation formatter) as a conversation payload."""
    if "lt-conversation" not in _classes(node):
        return
    messages = []
    for msg in node["children"]:
        roles = [c[len("lt-message-") :] for c in _classes(msg) if c.startswith("lt-message-")]
        if roles:
            parts = [c for c in msg["children"] if "lt-message-content" in _classes(c)]
            messages.append({"role": roles[0], **_content(parts[0] if parts else msg)})
    node["data"] = {"type": "conversation", "messages": messages}
    node["children"] = []


def _content(node: dict[str, Any]) -> dict[str, Any]:
    """A message's content parts from ``_render_content_html``: text, thinking, tool calls, images."""
    parts: list[dict[str, str]] = []
    calls: list[dict[str, str]] = []
    for child in node["children"]:
        classes = _classes(child)
        if "lt-thinking-part" in classes:
            body = [c for c in child["children"] if isinstance(c, dict) and c["tag"] == "pre"]
            parts.append({"type": "thinking", "thinking": _text(body[0] if body else child)})
        elif "lt-tool-call-part" in classes or "lt-unparsed-tool-call-part" in classes:
            calls.append({"text": _text(child).replace("🔧 Tool Call:", "").strip()})
        elif "lt-image-part" in classes:
            parts.append({"type": "image"})
        elif isinstance(child, dict):
            parts.append({"type": "text", "text": _text(child)})
        elif child.strip():
            parts.append({"type": "text", "text": child.strip()})
    return {"content": parts, "tool_calls": calls}


def parse_html(data: bytes, source: str) -> tuple[dict[str, Any], list[str]]:
    """The body tree of one HTML file (lxml, recovering) and its problems: a file cut short is named
    with its last line and the last element it opened."""
    import lxml.etree

    parser = lxml.etree.HTMLParser(recover=True, encoding="utf-8", remove_comments=True, huge_tree=True)
    root = lxml.etree.fromstring(data, parser) if data.strip() else None
    fatal = [e for e in parser.error_log if e.level >= lxml.etree.ErrorLevels.FATAL]
    body = None if root is None else (root if root.tag == "body" else root.find("body"))
    last_line = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if body is None:
        raise RolloutError(f"{source}:{last_line}: no <body> in this HTML file (empty or cut before it)")
    problems = []
    if not data.rstrip().endswith(b"</html>"):
        last = next(reversed(list(body.iter())), None)
        opened = (
            f"; the last element, <{last.tag}>, opened at line {last.sourceline}" if last is not None else ""
        )
        problems.append(f"{source}:{last_line}: the file is cut short (no </html>{opened})")
    problems += [f"{source}:{e.line}: the HTML parser gave up here ({e.message.strip()})" for e in fatal]
    return _node(body), problems


def load_flat(ref: IterationRef) -> Iteration:
    """One flat HTML iteration: each group's trajectories in order, numbers from the per-trajectory
    tables, text from the Prompt/Response paragraphs (or conversation blocks)."""
    path = Path(ref.source)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RolloutError(f"{path}: {exc.strerror or exc}") from exc
    root, problems = parse_html(data, str(path))
    tree = walk(root, str(path), escaped=False)
    drafts = build.drafts_from_tree(tree)
    for g, group in enumerate(tree.groups):  # transcripts beyond the episode tables still count
        known = {d.index for d in drafts if d.group == g}
        drafts.extend(build.Draft(g, i) for i in range(len(group.transcripts)) if i not in known)
    with_text = build.attach_text(drafts, tree, ordered=True)
    note = _note(len(tree.groups), with_text)
    if tree.exceptions:
        note = "; ".join(filter(None, [note, "the log records an exception: " + tree.exceptions[0]]))
    if not drafts and problems:
        raise RolloutError(problems[0])
    return build.freeze(replace(ref), drafts, note, problems)


def _note(n_groups: int, with_text: int) -> str | None:
    if n_groups == 0:
        return None
    note = f"only the {n_groups} groups the cookbook logged (this older layout keeps no summaries)"
    if with_text < n_groups:
        note += f"; text for {with_text} of them"
    return note
