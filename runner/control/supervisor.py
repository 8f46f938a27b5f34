"""A run's supervisor: ``python -m runner.control.supervisor [--detach] <run_id>``.

Owns one job: starts it in its own process group with stdin closed and output to the run's console
log, records pid + start time, exit code and times atomically, stops it on request (TERM to the group,
grace, KILL), always reaps it, fills in the experiment record, then starts the next queued run.
Signal handlers only record the signal; the main loop acts on it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from runner.control import creds, experiments, procs, state_dir, zygote_client
from runner.control.scrub import ConsoleScrubber
from runner.control.spawn import start_detached
from runner.status import Status

POLL_S = 0.2
DEFAULT_GRACE_S = 10.0


class Supervisor:
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.spec: dict[str, Any] = state_dir.read_spec(run_id) or {}
        self.signals: list[int] = []
        self.proc: subprocess.Popen[bytes] | zygote_client.WarmJob | None = None
        self.stop_deadline: float | None = None
        self.killed = False
        self.scrubber: ConsoleScrubber | None = None

    # -- signals: record only -------------------------------------------------------------
    def _record(self, signum: int, _frame: Any) -> None:
        self.signals.append(signum)

    def install_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            signal.signal(sig, self._record)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a hang-up never stops a run

    def stop_requested(self) -> bool:
        return bool(self.signals) or (state_dir.record_dir(self.run_id) / "stop.json").exists()

    def grace(self) -> float:
        data = state_dir.read_json(state_dir.record_dir(self.run_id) / "stop.json") or {}
        return float(data.get("grace", DEFAULT_GRACE_S))

    # -- state -----------------------------------------------------------------------------
    def update(self, **changes: Any) -> dict[str, Any]:
        return state_dir.update_state(self.run_id, **changes)

    def console(self, text: str) -> None:
        with open(state_dir.console_path(self.run_id), "a") as fh:
            fh.write(f"[tinkertop {state_dir.now_iso()}] {creds.redact(text)}\n")

    # -- the job ---------------------------------------------------------------------------
    def job_env(self) -> dict[str, str]:
        return job_env(self.spec)

    def job_argv(self, mode: str) -> list[str]:
        argv = list(self.spec["argv"])
        if self.spec.get("logdir_arg", True):
            argv.append(f"behavior_if_log_dir_exists={mode}")
        return argv

    def start_job(self) -> None:
        state = state_dir.read_state(self.run_id) or {}
        mode = state.get("mode") or "delete"
        env = self.job_env()
        argv = self.job_argv(mode)
        # the job writes its own output straight to the console log; secrets it prints are masked in place
        self.scrubber = ConsoleScrubber(state_dir.console_path(self.run_id), creds.secret_values(env))
        self.console(f"attempt {state.get('attempt', 1)}: {' '.join(argv)}")
        if state.get("zygote"):
            self.update(zygote=None)  # one warm start per launch: a resume spawns plainly
            if self.start_warm(state["zygote"], argv, env):
                return
        if self.stop_requested():
            return
        with open(state_dir.console_path(self.run_id), "ab") as log:
            self.proc = start_detached(argv, log, cwd=self.spec.get("cwd") or None, env=env)
        self.record_start(self.proc.pid, argv, warm=False)

    def record_start(self, pid: int, argv: list[str], **extra: Any) -> None:
        self.update(
            status=Status.RUNNING,
            pid=pid,
            pgid=pid,
            pid_start=procs.start_time(pid),
            started_at=state_dir.now_iso(),
            argv=[creds.redact(a) for a in argv],
            **extra,
        )

    def start_warm(self, address: str, argv: list[str], env: dict[str, str]) -> bool:
        """Fork the job from the batch's warm zygote; False (and a console line) when a plain spawn must
        do. The pid is on record before the job runs a line."""
        cwd = str(Path(self.spec.get("cwd") or ".").resolve())
        request = {"argv": argv, "cwd": cwd, "env": env, "console": str(state_dir.console_path(self.run_id))}
        exit_file = state_dir.record_dir(self.run_id) / "job_exit.json"
        try:
            job = zygote_client.warm_start(address, request, exit_file, self.stop_requested)
            self.record_start(job.pid, argv, warm=True)
            job.go()
        except zygote_client.ZygoteUnavailable as exc:
            stopping = self.stop_requested()
            self.console(
                "stop requested before the job started"
                if stopping
                else f"warm start unavailable ({exc}): plain spawn"
            )
            return False
        self.console(f"forked from the warm zygote (pid {job.pid})")
        job.on_lost = self.console
        self.proc = job
        return True

    def begin_stop(self) -> None:
        grace = self.grace()
        self.console(f"stop requested: SIGTERM to process group, SIGKILL after {grace:g}s")
        self.update(stop_requested=True)
        assert self.proc is not None
        procs.signal_group(self.proc.pid, signal.SIGTERM)
        self.stop_deadline = time.monotonic() + grace

    def watch(self) -> int:
        """Wait for the job, acting on stop requests; returns its return code."""
        assert self.proc is not None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                return rc
            self.scrub()
            if self.stop_deadline is None and self.stop_requested():
                self.begin_stop()
            if self.stop_deadline is not None and not self.killed and time.monotonic() >= self.stop_deadline:
                self.console("grace period over: SIGKILL to process group")
                procs.signal_group(self.proc.pid, signal.SIGKILL)
                self.killed = True
            time.sleep(POLL_S)

    def scrub(self) -> None:
        if self.scrubber is not None:
            try:
                self.scrubber.scan()
            except OSError as exc:  # never let masking take the supervisor down
                print(f"console scrub failed: {exc}", file=sys.stderr)

    def finish(self, rc: int | None, error: str | None = None) -> Status:
        pgid = self.proc.pid if self.proc else None
        if pgid and procs.group_members(pgid):  # leftovers of the job's group never outlive it
            procs.signal_group(pgid, signal.SIGKILL)
        self.scrub()
        stopped = self.stop_deadline is not None or (rc is None and self.stop_requested())
        if stopped:
            status = Status.STOPPED
        elif rc == 0 and error is None:
            status = Status.FINISHED
        else:
            status = Status.FAILED
        ended = state_dir.now_iso()
        sig = -rc if rc is not None and rc < 0 else None
        # the experiment record is complete before the final status says so (readers wait on the status)
        record = self.spec.get("experiment_record")
        if record:
            log_path = Path(self.spec["log_path"])
            experiments.fill_metrics(Path(record), status, rc, log_path, ended)
        self.console(f"{status} (exit code {rc})" + (f": {error}" if error else ""))
        self.update(status=status, exit_code=rc, signal=sig, ended_at=ended, error=error, killed=self.killed)
        return status

    def run(self) -> int:
        self.install_handlers()
        self.update(
            supervisor_pid=os.getpid(),
            supervisor_start=procs.start_time(os.getpid()),
            status=Status.STARTING,
        )
        if not self.spec:
            self.update(
                status=Status.FAILED, error="spec.json missing or unreadable", ended_at=state_dir.now_iso()
            )
            return 1
        if self.stop_requested():
            self.finish(None)
            return 0
        try:
            self.start_job()
        except Exception as exc:
            self.finish(None, error=f"could not start: {exc}")
            return 1
        if self.proc is None:  # a stop came while it waited for the zygote
            self.finish(None)
            return 0
        rc = self.watch()
        self.finish(rc)
        return 0


def job_env(spec: dict[str, Any]) -> dict[str, str]:
    """The environment a run's job gets (the zygote of a batch is started with the same)."""
    env = creds.job_environment(spec.get("cwd", "."))
    if spec.get("local"):
        from runner.control.localenv import backend_env

        env.update(backend_env())
        env.setdefault("HF_HUB_OFFLINE", "1")  # the tiny model and tokenizer are local
    else:
        check = creds.check(env, local=False, wandb_project=spec.get("wandb_project"))
        if not check.ok:
            raise RuntimeError(check.message())
    env["PYTHONUNBUFFERED"] = "1"
    return env


def next_queued() -> None:
    """When a run ends, start queued runs into the free slots (never fatal)."""
    try:
        from runner.control import queue

        queue.drain()
    except Exception as exc:
        print(f"queue drain failed: {exc}", file=sys.stderr)


def detach(run_id: str) -> None:
    """Fork once more: the parent prints the supervisor's pid and exits, the child carries on."""
    pid = os.fork()
    if pid:
        print(pid, flush=True)
        os._exit(0)
    log = os.open(
        str(state_dir.record_dir(run_id) / "supervisor.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT
    )
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def main(argv: list[str]) -> int:
    args = [a for a in argv if a != "--detach"]
    if len(args) != 1:
        print("usage: python -m runner.control.supervisor [--detach] <run_id>", file=sys.stderr)
        return 2
    if "--detach" in argv:
        detach(args[0])
    rc = Supervisor(args[0]).run()
    next_queued()
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
