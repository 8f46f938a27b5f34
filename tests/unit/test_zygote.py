"""The warm zygote with real processes: a real ``python -m runner.control.zygote`` forks real jobs."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.control import procs, zygote_client
from runner.control.testing import wait_for

WARM_MODULE = "import os\nLOADED_IN = os.getpid()  # the pid of the process that imported it\n"
JOB_MODULE = textwrap.dedent(
    """
    import json, os, sys, time
    import warmmark
    facts = {
        "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
        "warm_loaded_in": warmmark.LOADED_IN, "argv": sys.argv[1:], "cwd": os.getcwd(),
        "job_var": os.environ.get("JOB_VAR"), "stdin": sys.stdin.read(), "name": __name__,
    }
    print("hello from the job", flush=True)
    with open(sys.argv[1], "w") as fh:
        json.dump(facts, fh)
    while len(sys.argv) > 3 and not os.path.exists(sys.argv[3]):
        time.sleep(0.02)
    sys.exit(int(sys.argv[2]))
    """
)


STARTED: list[str] = []


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("TINKERTOP_HOME", str(tmp_path / "home"))
    folder = tmp_path / "jobs"
    folder.mkdir()
    (folder / "warmmark.py").write_text(WARM_MODULE)
    (folder / "warmentry.py").write_text("import warmmark  # the zygote warms this: a recipe's imports\n")
    (folder / "jobmod.py").write_text(JOB_MODULE)
    yield folder
    for address in STARTED:  # our zygotes (and any job a failed test left) end with the test
        for pid in procs_running(address):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(Path(address).parent, ignore_errors=True)  # a killed zygote leaves its folder
    STARTED.clear()


def procs_running(address: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and address.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def start(folder: Path, warm: str = "warmentry") -> str:
    STARTED.append(zygote_client.start_zygote(sys.executable, folder, dict(os.environ), warm))
    return STARTED[-1]


def request(folder: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "argv": [sys.executable, "-m", "jobmod", *args],
        "cwd": str(folder),
        "env": dict(os.environ) | (env or {}),
        "console": str(folder / f"console-{args[0].rsplit('/', 1)[-1]}.log"),
    }


def fork(address: str, folder: Path, *args: str, **kw: Any) -> zygote_client.WarmJob:
    job = zygote_client.warm_start(
        address, request(folder, *args, **kw), folder / f"exit-{len(args)}-{args[0][-6:]}"
    )
    job.go()
    return job


def finished(job: zygote_client.WarmJob, timeout: float = 60) -> int:
    return int(wait_for(lambda: (rc := job.poll()) is not None and str(rc), timeout, what="the job's end"))


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def test_a_job_is_forked_from_the_warm_parent_and_set_up_like_a_plain_spawn(jobs: Path) -> None:
    address = start(jobs)
    out = jobs / "facts.json"
    job = fork(address, jobs, str(out), "3", env={"JOB_VAR": "given"})
    assert finished(job) == 3
    facts = json.loads(out.read_text())
    assert facts["pid"] == job.pid and facts["name"] == "__main__"
    # the warm module was imported once, in the zygote, which is the job's parent
    assert facts["warm_loaded_in"] == facts["ppid"] != facts["pid"]
    assert b"runner.control.zygote" in Path(f"/proc/{facts['ppid']}/cmdline").read_bytes()
    assert facts["pgid"] == facts["sid"] == job.pid  # its own session and process group
    assert facts["argv"] == [str(out), "3"] and facts["cwd"] == str(jobs)
    assert facts["job_var"] == "given" and facts["stdin"] == ""
    assert "hello from the job" in Path(request(jobs, str(out))["console"]).read_text()
    assert json.loads((jobs / f"exit-2-{str(out)[-6:]}").read_text()) == {"exit_code": 3}


def test_stopping_one_job_signals_only_its_own_group(jobs: Path) -> None:
    address = start(jobs)
    gate = jobs / "never"
    a = fork(address, jobs, str(jobs / "a.json"), "0", str(gate))
    b = fork(address, jobs, str(jobs / "b.json"), "0", str(gate))
    wait_for(lambda: (jobs / "a.json").exists() and (jobs / "b.json").exists(), what="both jobs up")
    zygote_pid = parent_of(a.pid)
    assert procs.signal_group(a.pid, signal.SIGTERM)
    assert finished(a) == -signal.SIGTERM
    assert b.poll() is None and procs.alive(b.pid, b.pid_start)
    assert procs.alive(zygote_pid, procs.start_time(zygote_pid))
    gate.write_text("")
    assert finished(b) == 0


def test_a_zygote_killed_mid_run_leaves_the_run_going_and_its_exit_code_known(jobs: Path) -> None:
    address = start(jobs)
    gate = jobs / "gate"
    job = fork(address, jobs, str(jobs / "c.json"), "5", str(gate))
    lost: list[str] = []
    job.on_lost = lost.append
    wait_for(lambda: (jobs / "c.json").exists(), what="the job up")
    zygote_pid = parent_of(job.pid)
    os.kill(zygote_pid, signal.SIGKILL)
    wait_for(lambda: job.poll() is None and job.lost, what="the supervisor side to notice")
    assert lost and "zygote is gone" in lost[0]
    assert procs.alive(job.pid, job.pid_start)
    gate.write_text("")
    assert finished(job) == 5


def test_a_zygote_that_dies_while_warming_gives_no_warm_start(jobs: Path) -> None:
    gate = jobs / "fail-now"
    (jobs / "brokenwarm.py").write_text(
        f"import os, time\nwhile not os.path.exists({str(gate)!r}):\n    time.sleep(0.02)\n"
        "raise ImportError('broken on purpose')\n"
    )
    address = start(jobs, warm="brokenwarm")

    def break_it_now() -> bool:  # called while the supervisor side waits for its pid
        gate.write_text("")
        return False

    with pytest.raises(zygote_client.ZygoteUnavailable, match="went away"):
        zygote_client.warm_start(
            address, request(jobs, str(jobs / "d.json"), "0"), jobs / "exit-d", break_it_now
        )
    assert not (jobs / "d.json").exists()
    assert "broken on purpose" in (jobs.parent / "home" / "zygote.log").read_text()


def test_no_zygote_at_the_address_gives_no_warm_start(jobs: Path) -> None:
    with pytest.raises(zygote_client.ZygoteUnavailable, match="cannot reach"):
        zygote_client.warm_start(str(jobs / "nosock"), request(jobs, "x", "0"), jobs / "exit-x")


def test_a_job_whose_supervisor_never_says_go_is_never_run(jobs: Path) -> None:
    address = start(jobs)
    job = zygote_client.warm_start(address, request(jobs, str(jobs / "e.json"), "0"), jobs / "exit-e")
    start_time = job.pid_start
    job.conn.close()  # the supervisor gave up before "go"
    wait_for(lambda: not procs.alive(job.pid, start_time), what="the unstarted child to be gone")
    assert not (jobs / "e.json").exists()


FORK_CHECKS = textwrap.dedent(
    """
    import json, threading
    from runner.control import zygote
    allowed = len(zygote.native_threads())
    out = {"idle": zygote.fork_blockers(allowed)}
    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="busy-worker")
    worker.start()
    out["busy"] = zygote.fork_blockers(allowed)
    stop.set()
    worker.join()
    out["pool"] = zygote.fork_blockers(allowed - 1)
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def fork_checks() -> dict[str, str | None]:
    """``fork_blockers`` in a fresh interpreter, as the zygote sees it after its imports (the test process
    itself holds threads earlier tests left: the SDK's, asyncio's, tqdm's)."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-c", FORK_CHECKS], capture_output=True, text=True, timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    checks: dict[str, str | None] = json.loads(out.stdout.splitlines()[-1])
    return checks


def test_the_zygote_refuses_to_fork_while_a_python_thread_runs(fork_checks: dict[str, str | None]) -> None:
    assert fork_checks["idle"] is None
    assert "busy-worker" in (fork_checks["busy"] or "")


def test_the_zygote_refuses_to_fork_once_a_native_thread_pool_started_after_its_imports(
    fork_checks: dict[str, str | None],
) -> None:
    assert "after its imports" in (fork_checks["pool"] or "")


def test_a_zygote_told_to_stop_takes_its_socket_folder_with_it(jobs: Path) -> None:
    address = start(jobs)
    (pid,) = procs_running(address)
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(address).parent.exists(), what="the socket folder removed")
