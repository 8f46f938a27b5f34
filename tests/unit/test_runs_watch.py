"""The one watcher: a real watchfiles watcher (inotify, and polling) sees appends under a root."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest

from runner.runs.watch import run_path_for, watch_changes

TIMEOUT_S = 20.0


class Watching:
    """Runs watch_changes in a thread; batches land in a queue."""

    def __init__(self, roots: list[Path], **kwargs) -> None:
        self.stop = threading.Event()
        self.batches: queue.Queue[set[Path]] = queue.Queue()
        self.thread = threading.Thread(target=self._run, args=(roots, kwargs), daemon=True)
        self.thread.start()

    def _run(self, roots: list[Path], kwargs: dict) -> None:
        for batch in watch_changes(roots, self.stop, **kwargs):
            self.batches.put(batch)

    def wait_for(self, wanted: Path, poke) -> None:
        """Call ``poke`` until a batch names ``wanted`` (the watcher may start a moment late)."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            poke()
            try:
                while True:
                    if wanted in self.batches.get(timeout=0.5):
                        return
            except queue.Empty:
                continue
        raise AssertionError(f"watcher never reported {wanted}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


def appender(path: Path):
    counter = iter(range(10**6))

    def poke() -> None:
        with path.open("a") as fh:
            fh.write(f'{{"step": {next(counter)}, "loss": 1.0}}\n')

    return poke


@pytest.mark.parametrize("force_polling", [None, True], ids=["native", "polling"])
def test_append_under_a_root_yields_its_run_folder(tmp_path, force_polling):
    run = tmp_path / "root" / "exp" / "run1"
    run.mkdir(parents=True)
    w = Watching([tmp_path / "root"], force_polling=force_polling, poll_delay_ms=100)
    try:
        w.wait_for(run, appender(run / "metrics.jsonl"))
    finally:
        w.close()


def test_root_that_does_not_exist_yet(tmp_path):
    root = tmp_path / "not" / "yet"
    run = root / "run1"
    w = Watching([root])
    try:
        assert w.batches.empty() and w.thread.is_alive()  # nothing to watch yet, and no crash
        append_line = appender(run / "metrics.jsonl")

        def poke() -> None:
            run.mkdir(parents=True, exist_ok=True)
            append_line()

        w.wait_for(run, poke)
    finally:
        w.close()


def test_changed_paths_map_to_their_run(tmp_path):
    root = tmp_path
    run = root / "a" / "run"
    assert run_path_for(run / "metrics.jsonl", [root]) == run
    assert run_path_for(run / "iteration_000003" / "train_logtree.json", [root]) == run
    assert run_path_for(run / "wandb" / "run-x" / "files" / "output.log", [root]) == run
    assert run_path_for(root / "b" / "gsm8k_metrics.jsonl", [root]) == root / "b" / "gsm8k_metrics.jsonl"
    assert run_path_for(Path("/elsewhere/metrics.jsonl"), [root]) is None


def test_root_deleted_and_recreated_keeps_being_watched(tmp_path):
    import shutil

    root = tmp_path / "root"
    run = root / "run1"
    run.mkdir(parents=True)
    w = Watching([root])
    try:
        w.wait_for(run, appender(run / "metrics.jsonl"))
        shutil.rmtree(root)
        w.wait_for(root, lambda: None)  # the vanished root is reported
        append_line = appender(run / "metrics.jsonl")

        def recreate() -> None:
            run.mkdir(parents=True, exist_ok=True)
            append_line()

        w.wait_for(run, recreate)
    finally:
        w.close()


def test_falls_back_to_polling_when_inotify_fails(tmp_path, monkeypatch):
    """Seam mock (named): the first notifier set-up raises like an exhausted inotify limit; later ones are
    the real watchfiles notifier. The watcher must retry with polling and work."""
    from runner.runs import watch

    real_notifier = watch._notifier
    calls: list[object] = []

    def failing_once(present, polling, poll_delay_ms):
        calls.append(polling)
        if len(calls) == 1:
            raise OSError(28, "inotify watch limit reached")
        return real_notifier(present, polling, poll_delay_ms)

    monkeypatch.setattr(watch, "_notifier", failing_once)
    run = tmp_path / "root" / "run1"
    run.mkdir(parents=True)
    w = Watching([tmp_path / "root"], poll_delay_ms=100)
    try:
        w.wait_for(run, appender(run / "metrics.jsonl"))
    finally:
        w.close()
    assert calls[0] is None and calls[1] is True


def test_each_wait_takes_the_step_asked_for_then(tmp_path, monkeypatch):
    """``step_ms`` is asked before each wait of the notifier (the runs list waits longer than an open
    run); changes still arrive, and what watchfiles would filter out (an editor's swap file) maps to no run."""
    from runner.runs import watch

    real_notifier = watch._notifier
    steps: list[int] = []

    class Recording:  # seam: the real notifier, its steps recorded
        def __init__(self, inner) -> None:
            self.inner = inner

        def __enter__(self):
            self.inner.__enter__()
            return self

        def __exit__(self, *exc) -> None:
            self.inner.__exit__(*exc)

        def watch(self, debounce, step, timeout, stop):
            steps.append(step)
            return self.inner.watch(debounce, step, timeout, stop)

    monkeypatch.setattr(watch, "_notifier", lambda *a: Recording(real_notifier(*a)))
    asked = iter(range(30, 10_000))
    run = tmp_path / "root" / "run1"
    run.mkdir(parents=True)
    w = Watching([tmp_path / "root"], step_ms=lambda: next(asked))
    poke = appender(run / "metrics.jsonl")
    try:
        w.wait_for(run, poke)
        w.wait_for(run, poke)  # a second batch: a second wait at least
    finally:
        w.close()
    assert len(steps) >= 2 and steps == list(range(30, 30 + len(steps)))
    assert watch._batch([(2, str(run / ".metrics.jsonl.swp"))], [tmp_path / "root"]) == set()
    assert watch._batch([(2, str(run / "metrics.jsonl"))], [tmp_path / "root"]) == {run}


def test_first_batch_names_the_roots_so_nothing_written_before_setup_is_missed(tmp_path):
    """A line appended after the caller read the files but before the watcher was set up has no event of
    its own: the watcher's first batch names every root, so the caller re-reads them (new bytes only)."""
    root = tmp_path / "root"
    (root / "run1").mkdir(parents=True)
    w = Watching([root])
    try:
        first = w.batches.get(timeout=TIMEOUT_S)
        assert root in first
    finally:
        w.close()
