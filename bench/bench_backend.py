"""Embedded backend speed: the real cookbook recipes (SFT and RL) against a fresh server on the
tiny model, compared with the JAX (skyrl) server measured on this machine in the local-backend
study (shared/docs/local-backend-study.md, section 4). Ratio = ours / JAX; below 1 is faster.

    python -m bench backend
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# the study's figures for the JAX server, tiny-qwen3, same machine: (low, high)
JAX = {
    "sft_step_s": (0.30, 0.30),
    "rl_step_s": (1.2, 1.7),
    "first_step_s": (7.0, 28.0),
    "server_rss_gb": (1.1, 1.1),
}
REPO = Path(__file__).resolve().parents[1]


def _rows(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (log / "metrics.jsonl").read_text().splitlines() if line.strip()]


def _run(module: str, args: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", module, *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def _rss_gb(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in GB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    kb = lambda key: float(fields.get(key, "0 kB").split()[0])  # noqa: E731
    return kb("VmRSS") / 1e6, kb("VmHWM") / 1e6


def _line(label: str, ours: float, key: str, unit: str) -> None:
    low, high = JAX[key]
    base = f"{low:g}" if low == high else f"{low:g} to {high:g}"
    ratio = f"{ours / low:.2f}" if low == high else f"{ours / high:.2f} to {ours / low:.2f}"
    print(f"{label:<34} {ours:8.3f} {unit:<3} | JAX server {base:>10} {unit:<3} | ratio {ratio}")


def _recipes(model: Path, work: Path, env: dict[str, str]) -> dict[str, float]:
    """Run the SFT and RL recipes; return their step timings from metrics.jsonl."""
    data = Path(__import__("tinker_cookbook").__path__[0]) / "example_data" / "conversations.jsonl"
    common = [
        f"model_name={model}",
        "renderer_name=qwen3_disable_thinking",
        "lora_rank=8",
        "behavior_if_log_dir_exists=delete",
        "eval_every=0",
        "save_every=1000",
    ]
    sft_args = [*common, f"dataset={data}", "batch_size=16", "max_length=512", "num_epochs=2"]
    rl_args = [*common, "env=arithmetic", "group_size=4", "groups_per_batch=8", "max_tokens=8", "max_steps=6"]
    out = {
        "sft_wall_s": _run(
            "tinker_cookbook.recipes.chat_sl.train", [*sft_args, f"log_path={work / 'sft'}"], env, work
        )
    }
    out["rl_wall_s"] = _run(
        "tinker_cookbook.recipes.math_rl.train", [*rl_args, f"log_path={work / 'rl'}"], env, work
    )
    sft = [float(r["time/step"]) for r in _rows(work / "sft") if "time/step" in r]
    rl = [float(r["time/total"]) for r in _rows(work / "rl") if "time/total" in r]
    out.update(sft_first_s=sft[0], sft_step_s=statistics.median(sft[2:]), sft_steps=len(sft))
    out.update(rl_first_s=rl[0], rl_step_s=statistics.median(rl[1:]), rl_steps=len(rl))
    return out


def main() -> None:
    from runner.backend import lifecycle
    from runner.backend.tinymodel import ensure_base_model

    model = ensure_base_model().resolve()
    old_home = os.environ.get("TINKERTOP_HOME")
    with tempfile.TemporaryDirectory(prefix="bench_backend_") as tmp:
        work = Path(tmp)
        os.environ["TINKERTOP_HOME"] = str(work / "home")
        t0 = time.perf_counter()
        info = lifecycle.start(wait=True, model=model)
        ready_s = time.perf_counter() - t0
        try:
            env = dict(os.environ, **lifecycle.env_for(info), HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
            env["PYTHONPATH"] = str(REPO)
            stats = _recipes(model, work, env)
            rss, peak = _rss_gb(info.pid)
        finally:
            lifecycle.stop()
            if old_home is None:
                os.environ.pop("TINKERTOP_HOME", None)
            else:
                os.environ["TINKERTOP_HOME"] = old_home
    cfg = json.loads((model / "config.json").read_text())
    shape = f"hidden {cfg['hidden_size']}, {cfg['num_hidden_layers']} layers, vocab {cfg['vocab_size']}"
    print(f"model {model.name} ({shape}; the study's JAX figures are for hidden 64, 2 layers)")
    print(
        f"server ready in {ready_s:.1f} s (model loaded); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"SFT chat_sl: {stats['sft_steps']:.0f} steps in {stats['sft_wall_s']:.1f} s wall (JAX: 54 s)")
    print(f"RL math_rl:  {stats['rl_steps']:.0f} steps in {stats['rl_wall_s']:.1f} s wall (JAX: 32 s)")
    _line("SFT step, steady median", stats["sft_step_s"], "sft_step_s", "s")
    _line("RL step (32 rollouts, 8 tokens)", stats["rl_step_s"], "rl_step_s", "s")
    _line("first SFT step", stats["sft_first_s"], "first_step_s", "s")
    _line("first RL step", stats["rl_first_s"], "first_step_s", "s")
    _line(f"server resident memory (now {rss:.2f})", peak, "server_rss_gb", "GB")


if __name__ == "__main__":
    main()
