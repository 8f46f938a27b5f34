"""Scoring one model (the base, or a sampler checkpoint) on an experiment's held-out set.

RL rows come from the cookbook's benchmark framework (a ``BenchmarkBuilder`` of one-turn
``MessageEnv`` s, ``run_benchmark``, then ``load_trajectories``); SFT rows from ``SamplerNLLEvaluator``
(one datum at a time, for per-example NLLs) plus one sampled completion per prompt. The eval set is read
here too (cheap); everything from ``tinker``/``tinker_cookbook`` is imported inside the functions.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.json_rows import json_objects

ARITHMETIC = "arithmetic"
ARITHMETIC_SEED = 20_240_613  # held out: not the training stream's seeds
BENCH_NAME = "tinkertop_eval"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class EvalSetError(ValueError):
    """An eval set that cannot be used: names the file and line."""


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.0
    max_tokens: int = 32

    def as_dict(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "max_tokens": self.max_tokens}


@dataclass(frozen=True)
class QA:
    """One RL example: a question and the answer the grader expects."""

    question: str
    answer: str
    prefix: tuple[tuple[str, str], ...] = ()  # few-shot (role, content) turns before the question


@dataclass(frozen=True)
class Chat:
    """One SFT example: the conversation before the answer, and the reference answer."""

    prompt: list[dict[str, Any]]
    reference: str


def arithmetic_set(n: int) -> list[QA]:
    """``What is x + y?`` with the cookbook arithmetic env's few-shot turn, from a fixed held-out seed."""
    rng = random.Random(ARITHMETIC_SEED)
    prefix = (("user", "What is 4 + 5?"), ("assistant", "9"))
    pairs = [(rng.randint(0, 100), rng.randint(0, 100)) for _ in range(n)]
    return [QA(f"What is {x} + {y}?", str(x + y), prefix) for x, y in pairs]


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    problems: list[str] = []
    rows = list(json_objects(data, str(path), problems))
    if problems:
        raise EvalSetError(problems[0])
    return rows


def qa_file(path: Path, limit: int | None) -> list[QA]:
    """RL rows ``{"question": ..., "answer"|"ground_truth": ...}``."""
    items = []
    for number, row in _jsonl(path)[:limit]:
        answer = row.get("answer", row.get("ground_truth"))
        if not isinstance(row.get("question"), str) or answer is None:
            raise EvalSetError(
                f"{path}:{number}: an RL row needs 'question' and 'answer' (or 'ground_truth')"
            )
        items.append(QA(row["question"], str(answer)))
    return items


def chat_file(path: Path, limit: int | None) -> list[Chat]:
    """SFT rows ``{"messages": [...]}`` ending with the assistant's answer (the cookbook's chat JSONL)."""
    items = []
    for number, row in _jsonl(path)[:limit]:
        msgs = row.get("messages")
        if not isinstance(msgs, list) or not msgs or not all(isinstance(m, dict) for m in msgs):
            msgs = [{}]
        if msgs[-1].get("role") != "assistant" or not isinstance(msgs[-1].get("content"), str):
            raise EvalSetError(f"{path}:{number}: an SFT row needs 'messages' ending with an assistant turn")
        items.append(Chat(list(msgs[:-1]), msgs[-1]["content"]))
    return items


def extract_answer(text: str) -> str | None:
    """The last number in the answer (commas dropped), as the arithmetic env grades."""
    found = _NUMBER.findall(text.replace(",", ""))
    return found[-1] if found else None


def is_correct(extracted: str | None, expected: str) -> bool:
    if extracted is None:
        return False
    try:
        return float(extracted) == float(expected)
    except ValueError:
        return extracted.strip() == expected.strip()


def sampling_client(model: str, sampler_path: str | None) -> Any:
    """A sampling client on the base model (``sampler_path`` None) or on a sampler checkpoint."""
    import tinker

    service = tinker.ServiceClient()
    if sampler_path:
        return service.create_sampling_client(model_path=sampler_path)
    return service.create_sampling_client(base_model=model)


def renderer_for(model: str, renderer_name: str) -> Any:
    from tinker_cookbook import renderers
    from tinker_cookbook.tokenizer_utils import get_tokenizer

    return renderers.get_renderer(renderer_name, get_tokenizer(model))


def cookbook_benchmark(name: str) -> bool:
    """A benchmark the installed cookbook ships (``tinker_cookbook/eval/benchmarks/<name>.py``), found
    without importing it (most download their data from Hugging Face)."""
    import importlib.util

    spec = importlib.util.find_spec("tinker_cookbook")
    if spec is None or not spec.submodule_search_locations or not re.fullmatch(r"[a-z0-9_]+", name):
        return False
    root = Path(next(iter(spec.submodule_search_locations))) / "eval" / "benchmarks"
    return (root / f"{name}.py").is_file()


def eval_rl(
    items: list[QA] | str, client: Any, renderer: Any, sampling: Sampling, save_dir: Path, limit: int | None
) -> list[dict[str, Any]]:
    """Score ``items`` (or the cookbook benchmark of that name) through ``run_benchmark``; rows read back
    with ``load_trajectories``, sorted by index."""
    import asyncio

    from tinker_cookbook.eval.benchmarks import BenchmarkConfig, load_trajectories, run_benchmark

    from runner.experiment.qa_bench import qa_benchmark

    config = BenchmarkConfig(
        save_dir=str(save_dir),
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        concurrency=8,
        max_examples=limit if isinstance(items, str) else None,
    )
    bench = items if isinstance(items, str) else qa_benchmark(items)
    serialised: Any = Serialised(renderer)  # the Renderer's interface, one thread at a time
    asyncio.run(run_benchmark(bench, client, serialised, config))
    name = items if isinstance(items, str) else BENCH_NAME
    known = [] if isinstance(items, str) else items
    trajs = load_trajectories(str(save_dir), name)
    failed = [t for t in trajs if getattr(t, "error", None)]
    if failed:  # the cookbook scores a row it could not sample as wrong: that is no evidence
        raise EvalError(
            f"{len(failed)} of {len(trajs)} rows could not be scored (row {failed[0].idx}: {failed[0].error}); "
            f"trajectories in {save_dir}"
        )
    rows = [row_of(traj, known[traj.idx] if traj.idx < len(known) else None) for traj in trajs]
    return sorted(rows, key=lambda r: r["index"])


class EvalError(RuntimeError):
    """Rows of an eval that could not be scored (sampling or rendering failed)."""


class Serialised:
    """A renderer whose every call (and its tokenizer's) takes one lock. The cookbook's
    ``EnvFromMessageEnv`` renders prompts in threads (``asyncio.to_thread``), and transformers' fast
    tokenizer sets state on the shared Rust tokenizer at each ``encode``
    (``encode_special_tokens``): two renders at once fail with ``RuntimeError: Already borrowed``,
    which the benchmark runner then scores as a wrong answer (seen: 23 of 50 rows at concurrency 8).
    Rendering still runs off the event loop; only one thread is inside the tokenizer at a time."""

    def __init__(self, target: Any, lock: Any = None) -> None:
        import threading

        self._target = target
        self._lock = lock if lock is not None else threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name == "tokenizer":
            return Serialised(value, self._lock)
        if not callable(value):
            return value
        lock = self._lock

        def call(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return value(*args, **kwargs)

        return call


def row_of(traj: Any, item: QA | None) -> dict[str, Any]:
    """One RL row from a stored trajectory (``logs``: input, expected, extracted, output, as the cookbook's
    own benchmarks write them); ``item`` fills question and answer when the logs lack them (a truncated
    answer logs nothing)."""
    logs = traj.logs or {}
    completion = str(logs.get("output") or _last_assistant(traj.turns))
    extracted = logs.get("extracted") or extract_answer(completion)
    return {
        "index": traj.idx,
        "question": item.question if item else str(logs.get("input", "")),
        "ground_truth": item.answer if item else str(logs.get("expected", "")),
        "completion": completion,
        "extracted_answer": None if extracted is None else str(extracted),
        "correct": bool(traj.metrics.get("correct", traj.reward > 0)),
    }


def _last_assistant(turns: list[Any]) -> str:
    said = [t.content for t in turns if t.role == "assistant"]
    return said[-1] if said else ""


def eval_sft(items: list[Chat], client: Any, renderer: Any, sampling: Sampling) -> list[dict]:
    """Per-example NLL of the reference answer (``SamplerNLLEvaluator``) and a sampled completion."""
    import asyncio

    from tinker_cookbook.supervised.data import conversation_to_datum
    from tinker_cookbook.supervised.nll_evaluator import SamplerNLLEvaluator

    async def one(index: int, item: Chat) -> dict[str, Any]:
        convo: list[Any] = [*item.prompt, {"role": "assistant", "content": item.reference}]
        datum = conversation_to_datum(convo, renderer, max_length=None)
        scores = await SamplerNLLEvaluator([datum], name="row")(client)
        completion = await _sample(client, renderer, item.prompt, sampling)
        return {"index": index, "prompt": item.prompt, "completion": completion, "nll": scores["row/nll"]}

    async def run_all() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(i, item) for i, item in enumerate(items))))

    return asyncio.run(run_all())


async def _sample(client: Any, renderer: Any, prompt: list[dict[str, Any]], sampling: Sampling) -> str:
    import tinker
    from tinker_cookbook.renderers import get_text_content

    params = tinker.SamplingParams(
        max_tokens=sampling.max_tokens,
        temperature=sampling.temperature,
        stop=renderer.get_stop_sequences(),
    )
    model_input = renderer.build_generation_prompt(prompt)
    result = await client.sample_async(prompt=model_input, num_samples=1, sampling_params=params)
    message, _ok = renderer.parse_response(result.sequences[0].tokens)
    return str(get_text_content(message))
