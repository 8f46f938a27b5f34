"""W&B links from a run's own files: logged URLs (last wins, new bytes only), wandb/ run folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from runner.runs.links import last_url, wandb_link
from tests.shared_data import SHARED

REAL = SHARED / "realdata" / "sushantmehta_tinker-cookbook_IF_RLVR" / "logs" / "logs.log"
OFFLINE = SHARED / "formats" / "rl_arith_wandb_offline"
LINE = "tinker_cookbook.utils.ml_log:236 [INFO] Logging to: https://wandb.ai/{}/proj/runs/{}\n"


def test_real_log_links_its_wandb_run() -> None:
    if not REAL.is_file():
        pytest.skip(f"{REAL} is absent")
    assert last_url(REAL) == "https://wandb.ai/sushantmehta-surge-ai/tinker-RLVR/runs/8zwal4ai"


def test_offline_run_folder_names_the_run_without_url(tmp_path: Path) -> None:
    if not OFFLINE.is_dir():
        pytest.skip(f"{OFFLINE} is absent")
    run = shutil.copytree(OFFLINE, tmp_path / "run")
    link = wandb_link(run)
    assert link is not None and link.url is None and link.offline and link.run_id == "pemlbwjx"
    assert "wandb sync" in link.describe() and "pemlbwjx" in link.describe()


def test_last_url_wins_and_only_new_bytes_are_read(tmp_path: Path) -> None:
    log = tmp_path / "logs.log"
    log.write_text("start\n" + LINE.format("ent", "aaa111") + "x" * 3000 + "\n")
    assert wandb_link(tmp_path).url == "https://wandb.ai/ent/proj/runs/aaa111"  # type: ignore[union-attr]
    with log.open("a") as fh:
        fh.write("resumed\n" + LINE.format("ent", "bbb222")[:-4])  # half a line: not yet
    assert last_url(log) == "https://wandb.ai/ent/proj/runs/aaa111"
    with log.open("a") as fh:
        fh.write(LINE.format("ent", "bbb222")[-4:])
    assert last_url(log) == "https://wandb.ai/ent/proj/runs/bbb222"
    log.write_text("rewritten\n")  # truncated: scanned again from the start
    assert last_url(log) is None


def test_no_wandb_no_link(tmp_path: Path) -> None:
    (tmp_path / "logs.log").write_text("Logging to: /tmp/some/dir\n")
    assert wandb_link(tmp_path) is None
