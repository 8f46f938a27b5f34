"""8 parallel ``tinkertop launch math_rl --local`` runs: launch latency and memory.

Prints: time for the launch command to return and until each run's first metrics line; RSS and PSS
(shared pages counted once, divided among the processes sharing them) of each recipe (client) process,
of each supervisor, of the batch's warm zygote and of the embedded backend; then stops every run.
Baseline, measured in the same run: one run launched alone (the ratio shows what parallelism costs).
The sweep's members are forked from a warm zygote (runner.control.zygote); ``TINKERTOP_ZYGOTE=0`` turns
that off to measure plain spawns. The machine's load average is printed (a shared box skews every figure).
Runs in a private ``TINKERTOP_HOME`` and workspace, so nothing of the user's is touched.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = 8
SMOKE = ["--local", "--smoke", "max_steps=1000", "save_every=0"]


def _launch(cwd: Path, name: str, extra: list[str]) -> tuple[float, list[str]]:
    from runner.control import state_dir

    t0 = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "runner.cli", "launch", "math_rl", *SMOKE, "--name", name, *extra],
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    took = time.monotonic() - t0
    if done.returncode != 0:
        raise SystemExit(f"launch failed: {done.stderr[-2000:]}")
    ids = [s["run_id"] for s in state_dir.iter_states() if str(s.get("name", "")).startswith(name)]
    return took, ids


def _first_metrics(ids: list[str], t0: float, timeout: float = 900) -> dict[str, float]:
    from runner.control import records, state_dir

    seen: dict[str, float] = {}
    while len(seen) < len(ids) and time.monotonic() - t0 < timeout:
        for run_id in ids:
            if run_id in seen:
                continue
            state = state_dir.read_state(run_id) or {}
            metrics = Path(state.get("log_path", "/nonexistent")) / "metrics.jsonl"
            if metrics.exists() and metrics.stat().st_size > 0:
                seen[run_id] = time.monotonic() - t0
            elif records.effective_status(state) in ("failed", "lost", "stopped"):
                raise SystemExit(f"{run_id} ended early: {records.tail(state_dir.console_path(run_id))[-5:]}")
        time.sleep(0.1)
    return seen


def _mib(kib: int | None) -> float:
    return (kib or 0) / 1024


def pss_kib(pid: int) -> int | None:
    """Proportional set size in KiB from /proc/<pid>/smaps_rollup (what smem reports as PSS)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _memory(ids: list[str]) -> tuple[list[float], list[float], list[float], list[int]]:
    """RSS and PSS of each client, RSS of each supervisor, and the pids of warm zygotes (clients' parents
    other than their supervisors)."""
    from runner.control import procs, state_dir

    clients, pss, sups, zygotes = [], [], [], set()
    for run_id in ids:
        state = state_dir.read_state(run_id) or {}
        pid = state.get("pid") or 0
        clients.append(_mib(procs.rss_kib(pid)))
        pss.append(_mib(pss_kib(pid)))
        sups.append(_mib(procs.rss_kib(state.get("supervisor_pid") or 0)))
        if state.get("warm"):
            zygotes.add(_parent(pid))
    return clients, pss, sups, sorted(zygotes)


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _stop_all(ids: list[str]) -> float:
    from runner.control import actions

    t0 = time.monotonic()
    for run_id in ids:
        actions.stop(run_id, grace=10, wait=False)
    for run_id in ids:
        actions.wait_status(run_id, ("stopped", "finished", "failed", "lost"), 60)
    return time.monotonic() - t0


def _status_cost(ids: list[str], rounds: int = 2000) -> None:
    """What the run-folder reader pays per refresh: records.status_for vs a bare stat (baseline)."""
    from runner.control import records, state_dir

    folders = [(state_dir.read_state(r) or {})["log_path"] for r in ids]
    t0 = time.perf_counter()
    for _ in range(rounds):
        for folder in folders:
            os.stat(folder)
    bare = (time.perf_counter() - t0) / (rounds * len(folders))
    t0 = time.perf_counter()
    for _ in range(rounds):
        for folder in folders:
            records.status_for(folder)
    cost = (time.perf_counter() - t0) / (rounds * len(folders))
    print(
        f"  status_for per live run            {cost * 1e6:7.1f} us  (bare stat {bare * 1e6:.1f} us, ratio {cost / bare:.1f})"
    )


def _row(label: str, values: list[float], unit: str) -> str:
    return (
        f"  {label:34} median {statistics.median(values):7.2f}{unit}  "
        f"min {min(values):7.2f}{unit}  max {max(values):7.2f}{unit}"
    )


def _record(
    ratio: float, last: float, base: float, pss: list[float], zygote: float, rss: list[float]
) -> None:
    from bench import results

    per_client = (sum(pss) + zygote) / len(pss)  # the zygote's own pages shared out among its children
    results.record(
        "sweep_first_line", f"an {N}-run sweep on the embedded backend: first metrics line (last run)",
        f"{last:.1f} s ({ratio:.2f}x)", f"1 run {base:.1f} s", "under 1.5x of one run", ratio < 1.5,
        ratio=ratio, last_s=last, base_s=base,
    )  # fmt: skip
    results.record(
        "sweep_pss", "memory per run client (PSS, shared pages counted once)",
        f"{statistics.median(pss):.0f} MiB ({per_client:.0f} MiB with the zygote's share)",
        f"RSS {statistics.median(rss):.0f} MiB", "under 250 MB", per_client * 1.048576 < 250,
        pss_mib=statistics.median(pss), with_zygote_mib=per_client,
    )  # fmt: skip


def run(work: Path) -> None:
    from runner.backend import lifecycle as backend
    from runner.control import procs

    print(f"{_load()} (nproc {os.cpu_count()}; the machine may be shared)")
    t0 = time.monotonic()
    info = backend.ensure_running()
    print(f"backend ready in {time.monotonic() - t0:.1f}s (pid {info.pid})")

    t0 = time.monotonic()
    base_cmd, base_ids = _launch(work, "base", [])
    base_first = _first_metrics(base_ids, t0)
    print(f"baseline, 1 run: command returned {base_cmd:.1f}s, first metrics {max(base_first.values()):.1f}s")
    base_clients, base_pss, base_sups, _ = _memory(base_ids)
    _stop_all(base_ids)

    print(_load())
    t0 = time.monotonic()
    sweep = ",".join(str(i) for i in range(N))
    cmd, ids = _launch(work, "par", ["--sweep", f"seed={sweep}"])
    first = _first_metrics(ids, t0)
    clients, pss, sups, zygotes = _memory(ids)
    backend_rss = _mib(procs.rss_kib(info.pid))
    zygote_pss = sum(_mib(pss_kib(z)) for z in zygotes)
    warm = (
        "off (TINKERTOP_ZYGOTE=0)"
        if os.environ.get("TINKERTOP_ZYGOTE") == "0"
        else f"{len(zygotes)} zygote(s)"
    )
    print(f"{N} parallel runs (one launch command with --sweep; warm start: {warm}):")
    print(
        f"  launch command returned            {cmd:7.2f}s  (baseline {base_cmd:.2f}s, ratio {cmd / base_cmd:.2f})"
    )
    print(_row("time to first metrics line", list(first.values()), "s"))
    ratio = max(first.values()) / max(base_first.values())
    median_ratio = statistics.median(first.values()) / max(base_first.values())
    print(f"  last run's first metrics vs baseline: ratio {ratio:.2f} (median run: {median_ratio:.2f})")
    print(_row("recipe (client) process RSS", clients, " MiB"))
    print(_row("recipe (client) process PSS", pss, " MiB"))
    print(_row("supervisor RSS", sups, " MiB"))
    print(
        f"  baseline client RSS {base_clients[0]:.1f} MiB, PSS {base_pss[0]:.1f} MiB, supervisor {base_sups[0]:.1f} MiB"
    )
    print(f"  warm zygote PSS                    {zygote_pss:7.1f} MiB")
    print(f"  backend RSS                        {backend_rss:7.1f} MiB  (serving {N} clients)")
    print(f"  total RSS                          {sum(clients) + sum(sups) + backend_rss:7.1f} MiB")
    print(f"  clients + zygote PSS               {sum(pss) + zygote_pss:7.1f} MiB")
    if zygotes or os.environ.get("TINKERTOP_ZYGOTE") != "0":  # the budget rows hold the default set-up
        _record(ratio, max(first.values()), max(base_first.values()), pss, zygote_pss, clients)
    else:
        print("  (warm starts off: not recorded in bench/results.json)")
    print(_load())
    _status_cost(ids)
    print(f"stopped all {N} in {_stop_all(ids):.1f}s")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tinkertop-bench-parallel-") as tmp:
        old = os.environ.get("TINKERTOP_HOME")
        os.environ["TINKERTOP_HOME"] = str(Path(tmp) / "home")
        os.environ.pop("TINKER_API_KEY", None)
        work = Path(tmp) / "work"
        work.mkdir()
        try:
            run(work)
        finally:
            from runner.backend import lifecycle as backend

            backend.stop()
            if old is None:
                os.environ.pop("TINKERTOP_HOME", None)
            else:
                os.environ["TINKERTOP_HOME"] = old


if __name__ == "__main__":
    main()
