"""Messages from the cookbook's ``conversation`` payloads (``ConversationFormatter.to_data``:
``{"type": "conversation", "messages": [message_to_jsonable(m), ...]}``): ``content`` is a string or
a list of parts (``text``, ``thinking``, ``image``, tool calls); ``tool_calls`` /
``unparsed_tool_calls`` are optional message keys."""

from __future__ import annotations

import json
from typing import Any

from runner.rollouts.trajectory import Message


def conversation(data: dict[str, Any]) -> list[Message]:
    """The messages of a ``conversation`` payload (``content`` a string or a list of parts)."""
    out = []
    for msg in data.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        text, thinking = _content(msg.get("content"))
        calls = tuple(_tool_call(c) for c in _listed(msg.get("tool_calls")))
        calls += tuple(
            "unparsed: " + str(c.get("raw_text", c) if isinstance(c, dict) else c)
            for c in _listed(msg.get("unparsed_tool_calls"))
        )
        out.append(Message(str(msg.get("role", "?")), text, thinking, calls))
    return out


def _listed(value: Any) -> list[Any]:
    """A list field as a list (a lone value of another type is kept as one item; null is none)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _content(content: Any) -> tuple[str, str | None]:
    if isinstance(content, str):
        return content, None
    texts: list[str] = []
    thoughts: list[str] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text", "")))
        elif kind == "thinking":
            thoughts.append(str(part.get("thinking", "")))
        elif kind == "image":
            texts.append("[image]")
        elif kind in ("tool_call", "unparsed_tool_call"):
            texts.append(f"[{kind}] " + json.dumps(part.get(kind, part), ensure_ascii=False))
    return "".join(texts), ("\n".join(thoughts) if thoughts else None)


def _tool_call(call: Any) -> str:
    if not isinstance(call, dict):
        return str(call)
    if isinstance(call.get("text"), str):  # read back from the HTML: already "name(arguments)"
        return str(call["text"])
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    assert isinstance(fn, dict)
    return f"{fn.get('name', '?')}({fn.get('arguments', '')})"
