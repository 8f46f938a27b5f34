"""The held-out QA set as a cookbook benchmark (the GSM8K pattern: a one-turn ``MessageEnv`` graded on the
answer). The classes subclass ``tinker_cookbook``'s, so they are made inside :func:`qa_benchmark`: importing
this module stays cheap, like every runner module."""

from __future__ import annotations

from typing import Any

from runner.experiment.evals import BENCH_NAME, QA, extract_answer, is_correct


def qa_benchmark(items: list[QA]) -> Any:
    """A ``BenchmarkBuilder`` with one env per item, in order (the trajectory ``idx`` is the row)."""
    from collections.abc import Sequence

    from tinker_cookbook.eval.benchmarks import BenchmarkBuilder, BenchmarkConfig
    from tinker_cookbook.renderers import get_text_content
    from tinker_cookbook.renderers.base import Message, Renderer
    from tinker_cookbook.rl.message_env import EnvFromMessageEnv, MessageEnv, MessageStepResult
    from tinker_cookbook.rl.types import Env

    class QAMessageEnv(MessageEnv):
        """One question, graded on the last number of the answer."""

        def __init__(self, item: QA) -> None:
            self.item = item

        async def initial_observation(self) -> list[Message]:
            turns: list[Any] = [{"role": role, "content": text} for role, text in self.item.prefix]
            return [*turns, {"role": "user", "content": self.item.question}]

        async def step(self, message: Message) -> MessageStepResult:
            response = get_text_content(message)
            extracted = extract_answer(response)
            correct = is_correct(extracted, self.item.answer)
            logs: dict[str, str | int | float] = {"input": self.item.question, "expected": self.item.answer}
            return MessageStepResult(
                reward=1.0 if correct else 0.0,
                episode_done=True,
                next_messages=[],
                metrics={"correct": float(correct)},
                logs=logs | {"extracted": extracted or "", "output": response},
            )

    class QABenchmark(BenchmarkBuilder):
        name = BENCH_NAME

        def make_envs(self, renderer: Renderer, config: BenchmarkConfig) -> Sequence[Env]:
            return [EnvFromMessageEnv(renderer, QAMessageEnv(item)) for item in items]

    return QABenchmark()
