"""The eval's renderer wrapper: the cookbook renders prompts in threads, and transformers' fast tokenizer
fails with ``RuntimeError: Already borrowed`` when two threads encode at once (23 of 50 arithmetic rows
were scored wrong that way before the wrapper). Every call through it holds one lock."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from runner.experiment.evals import Serialised


class Recorder:
    """A stand-in target (a seam: it records how many threads are inside at once)."""

    def __init__(self) -> None:
        self.inside = 0
        self.most = 0
        self.guard = threading.Lock()
        self.tokenizer = self
        self.name = "plain attribute"

    def encode(self, text: str) -> list[int]:
        with self.guard:
            self.inside += 1
            self.most = max(self.most, self.inside)
        time.sleep(0.0005)  # widen the window a second thread could enter in
        with self.guard:
            self.inside -= 1
        return [len(text)]


def test_one_thread_at_a_time_in_the_renderer_and_its_tokenizer() -> None:
    target = Recorder()
    wrapped = Serialised(target)
    with ThreadPoolExecutor(8) as pool:
        out = list(
            pool.map(lambda i: (wrapped.encode if i % 2 else wrapped.tokenizer.encode)("x" * i), range(200))
        )
    assert out == [[i] for i in range(200)]
    assert target.most == 1
    assert wrapped.name == "plain attribute"


def test_the_real_renderer_renders_the_same_from_many_threads() -> None:
    from runner.experiment.evals import renderer_for
    from tests.e2e.conftest import tiny_model_path

    renderer = Serialised(renderer_for(str(tiny_model_path()), "qwen3_disable_thinking"))
    prompts = [[{"role": "user", "content": f"What is {i} + {i * 3}?"}] for i in range(64)]
    alone = [renderer.build_generation_prompt(p).to_ints() for p in prompts]
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda p: renderer.build_generation_prompt(p).to_ints(), prompts))
    assert together == alone
