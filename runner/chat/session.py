"""Sampling one answer from a chosen model, on the cookbook's own chat pieces.

Heavy (tinker, tinker_cookbook, a tokenizer): only the ``tinkertop chat`` process imports it, never the app.
The conversation state is the cookbook's ``ChatSession`` (``tinker_cookbook.chat_app.tinker_chat_cli``);
``respond`` is its ``generate_response`` with the error raised instead of returned as text, and with the
token count and how the answer ended kept for the caller.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

from runner.chat.targets import ChatTarget, Choice, TargetError


@dataclass(frozen=True)
class Settings:
    temperature: float = 0.7
    max_tokens: int = 256
    top_p: float = 1.0


@dataclass(frozen=True)
class Answer:
    """One sampled answer and what produced it (plain data: printed as text or one JSON line)."""

    checkpoint: str
    sampler_path: str | None
    model_name: str
    renderer_name: str
    prompt: str
    answer: str
    tokens: int
    ended: str  # the renderer's ParseTermination, or "max_tokens" when the answer hit the cap
    temperature: float
    max_tokens: int
    top_p: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def renderer_for(target: ChatTarget) -> tuple[str, str]:
    """The model and renderer names to use; the cookbook's recommended renderer when the run names none."""
    if not target.model_name:
        raise TargetError("the base model is unknown: give --model (the run's config.json names none)")
    if target.renderer_name:
        return target.model_name, target.renderer_name
    from tinker_cookbook.model_info import get_recommended_renderer_name

    try:
        return target.model_name, get_recommended_renderer_name(target.model_name)
    except (KeyError, ValueError) as exc:
        raise TargetError(f"no renderer known for {target.model_name}: give --renderer ({exc})") from exc


def open_session(target: ChatTarget, choice: Choice, settings: Settings) -> Any:
    """A cookbook ``ChatSession`` on the choice's sampler (TINKER_BASE_URL / TINKER_API_KEY from the env)."""
    import tinker
    from tinker_cookbook import renderers
    from tinker_cookbook.chat_app.tinker_chat_cli import ChatSession
    from tinker_cookbook.tokenizer_utils import get_tokenizer

    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    model, renderer_name = renderer_for(target)
    service = tinker.ServiceClient()
    if choice.sampler_path:
        client = service.create_sampling_client(model_path=choice.sampler_path).result()
    else:
        client = service.create_sampling_client(base_model=model).result()
    renderer = renderers.get_renderer(renderer_name, get_tokenizer(model))
    return ChatSession(client, renderer, settings.max_tokens, settings.temperature, settings.top_p)


async def respond(session: Any) -> tuple[str, int, str]:
    """Sample the next assistant turn of ``session`` (added to its history): text, tokens, how it ended."""
    from tinker import types
    from tinker_cookbook import renderers

    prompt = session.renderer.build_generation_prompt(session.conversation_history)
    params = types.SamplingParams(
        max_tokens=session.max_tokens,
        temperature=session.temperature,
        top_p=session.top_p,
        stop=session.renderer.get_stop_sequences(),
    )
    response = await session.sampling_client.sample(prompt=prompt, num_samples=1, sampling_params=params)
    tokens = list(response.sequences[0].tokens)
    message, termination = session.renderer.parse_response(tokens)
    text = renderers.format_content_as_string(message["content"], separator="\n--------\n")
    session.add_assistant_message(text)
    ended = "max_tokens" if len(tokens) >= session.max_tokens else str(termination)
    return text, len(tokens), ended


def ask(target: ChatTarget, choice: Choice, prompt: str, settings: Settings) -> Answer:
    """One prompt, one answer from ``choice`` (a fresh conversation)."""
    session = open_session(target, choice, settings)
    session.add_user_message(prompt)
    text, tokens, ended = asyncio.run(respond(session))
    model, renderer = renderer_for(target)
    return Answer(
        choice.name,
        choice.sampler_path,
        model,
        renderer,
        prompt,
        text,
        tokens,
        ended,
        settings.temperature,
        settings.max_tokens,
        settings.top_p,
    )
