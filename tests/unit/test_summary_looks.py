"""A run's summary (made for every run on every timer tick) does not look at a metrics file the last refresh
saw; a run without one still says so. One spy, named as such: ``Path.exists``."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.runs.folder import RunFolder


def test_the_summary_takes_the_refreshs_word_for_the_metrics_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_metrics, without = tmp_path / "a", tmp_path / "b"
    for folder in (with_metrics, without):
        folder.mkdir()
        (folder / "config.json").write_text("{}")
    (with_metrics / "metrics.jsonl").write_text('{"step": 0, "loss": 1.0}\n')
    runs = [RunFolder(with_metrics), RunFolder(without)]
    for run in runs:
        run.refresh()
    looked: list[Path] = []
    real = Path.exists
    monkeypatch.setattr(Path, "exists", lambda self, **kw: looked.append(self) or real(self, **kw))  # a spy
    first, second = (run.summary() for run in runs)
    assert "no metrics.jsonl" not in first.note and "no metrics.jsonl" in second.note
    assert with_metrics / "metrics.jsonl" not in looked and without / "metrics.jsonl" in looked
