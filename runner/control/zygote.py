"""A warm parent for a batch of runs: ``python -m runner.control.zygote SOCKET [--warm MODULE]
[--tokenizer MODEL_FOLDER]``.

Starting a recipe costs seconds of imports (torch, transformers, datasets, tinker_cookbook) and hundreds of
MiB of Python objects; an 8-run sweep paid that eight times over on a 2-core box. The zygote imports the
recipe's module once (and, for a local model, loads its tokenizer), freezes the heap (``gc.freeze``: collections never touch the shared pages), then
``os.fork()``s one child per run that execs nothing: pages stay shared copy-on-write.

It listens on a Unix socket (its folder is private to the user) for supervisors, one connection per run,
newline-delimited JSON:

    supervisor -> zygote   {"argv": [...], "cwd": ..., "env": {...}, "console": PATH, "exit_file": PATH}
    zygote -> supervisor   {"pid": N}                       (or {"error": "..."}: plain spawn instead)
    supervisor -> zygote   {"go": true}                     (after it recorded the pid)
    zygote -> supervisor   {"returncode": RC}               (Popen's convention: -SIGNAL if killed)

The child is set up exactly like a plain spawn (its own session and process group, stdin from /dev/null,
stdout and stderr appended to the console log, the job's environment and cwd) and waits for "go" before
it runs anything, so a supervisor that gave up never leaves an unsupervised run behind. The child also
writes its exit code to ``exit_file``, so a supervisor still learns it if the zygote dies first.
Nothing here logs an environment (it holds the API key). The zygote exits once it has no child and no
connection for ``IDLE_S`` seconds.
"""

from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

IDLE_S = 30.0
WARM_LIMIT_S = 600  # longer than a supervisor waits for its pid (zygote_client.START_WAIT_S)
POLL_S = 0.2
MAX_MESSAGE = 4 << 20


@dataclass
class Client:
    """One supervisor's connection and, once forked, its child."""

    conn: socket.socket
    buf: bytes = b""
    pid: int | None = None
    go_fd: int | None = None  # the write end of the child's start pipe
    listening: bool = True  # the connection is still registered with the selector
    request: dict[str, Any] = field(default_factory=dict)


def warm(module: str | None) -> str:
    """Import the recipe's module and everything under it; then drop the module itself so the child runs
    it afresh as ``__main__`` (as ``python -m`` would). Returns a line for the zygote's log."""
    t0 = time.monotonic()
    if module:
        importlib.import_module(module)
        sys.modules.pop(module, None)
    return f"warm: {module or '-'} imported in {time.monotonic() - t0:.1f}s, {len(sys.modules)} modules"


def warm_tokenizer(model: str) -> str:
    """Load the batch's tokenizer through the cookbook's cache (``get_tokenizer`` keeps what it loaded),
    so each child finds it loaded; only a local model folder (nothing to download)."""
    t0 = time.monotonic()
    try:
        from tinker_cookbook.tokenizer_utils import get_tokenizer

        get_tokenizer(model)
    except Exception as exc:  # the child loads it itself, as a plain spawn would
        return f"tokenizer of {model} not preloaded: {exc!r}"
    return f"tokenizer of {model} loaded in {time.monotonic() - t0:.1f}s"


def freeze() -> None:
    """Move everything allocated so far out of the collector's sight: its passes then never write to
    (and so never copy) the pages the children share."""
    gc.collect()
    gc.freeze()


def native_threads() -> list[str]:
    """The names of this process's OS threads (the main one included)."""
    names = []
    for task in os.listdir("/proc/self/task"):
        try:
            names.append(Path(f"/proc/self/task/{task}/comm").read_text().strip())
        except OSError:
            continue
    return names


def fork_blockers(allowed: int = 1) -> str | None:
    """Why forking now would be unsafe: a Python thread besides this one, or more OS threads than the
    ``allowed`` count seen right after the imports (the idle pools that numpy's OpenBLAS and pyarrow's
    jemalloc start at import re-create themselves after fork through their atfork handlers, as in any
    forked data-loader worker; a pool started later, torch's intra-op one say, would not be safe)."""
    if threading.active_count() > 1:
        names = ", ".join(t.name for t in threading.enumerate() if t is not threading.current_thread())
        return f"threads running in the zygote: {names}"
    native = native_threads()
    if len(native) > allowed:
        return f"{len(native)} threads in the zygote, {allowed} after its imports: {', '.join(native)}"
    return None


def read_message(client: Client) -> dict[str, Any] | None:
    """The next complete JSON line from the client, or None (more to come). EOFError when it closed."""
    while b"\n" not in client.buf:
        chunk = client.conn.recv(65536)
        if not chunk:
            raise EOFError
        client.buf += chunk
        if len(client.buf) > MAX_MESSAGE:
            raise EOFError
        if b"\n" not in client.buf:
            return None
    line, _, client.buf = client.buf.partition(b"\n")
    data = json.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a message is a JSON object")
    return data


def send(conn: socket.socket, data: dict[str, Any]) -> bool:
    try:
        conn.sendall(json.dumps(data).encode() + b"\n")
    except OSError:
        return False
    return True


def returncode(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


class Zygote:
    def __init__(self, address: str) -> None:
        self.address = address
        self.pid = os.getpid()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # bound under a temporary name and listening before it takes the address: a supervisor that
        # finds the address can always connect (no "connection refused" between bind and listen)
        pending = f"{address}.{os.getpid()}.tmp"
        self.listener.bind(pending)
        self.listener.listen(64)
        os.replace(pending, address)
        self.listener.setblocking(False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ)
        self.clients: dict[int, Client] = {}  # by the connection's fd
        self.idle_since = time.monotonic()
        self.allowed_threads = 1
        atexit.register(self.cleanup)

    def cleanup(self) -> None:
        if os.getpid() == self.pid:  # a child inherits this handler: only the zygote removes the socket
            for remove in (os.unlink, os.rmdir):  # the socket, then its private folder
                try:
                    remove(self.address if remove is os.unlink else os.path.dirname(self.address))
                except OSError:
                    pass

    def serve(self) -> None:
        self.idle_since = time.monotonic()
        while self.clients or time.monotonic() - self.idle_since < IDLE_S:
            for key, _ in self.selector.select(POLL_S):
                if key.fileobj is self.listener:
                    self.accept()
                else:
                    self.handle(self.clients[key.fd])
            self.reap()
            if self.clients:
                self.idle_since = time.monotonic()

    def accept(self) -> None:
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
        if int.from_bytes(creds[4:8], sys.byteorder) != os.getuid():  # only our own user
            conn.close()
            return
        conn.setblocking(False)
        self.clients[conn.fileno()] = Client(conn)
        self.selector.register(conn, selectors.EVENT_READ)

    def drop(self, client: Client) -> None:
        if client.pid is not None and client.go_fd is not None:  # forked, never told to go: not a run
            os.kill(client.pid, signal.SIGKILL)  # it waits on the pipe: its group holds nothing else
        if client.go_fd is not None:
            os.close(client.go_fd)
            client.go_fd = None
        self.unlisten(client)
        del self.clients[client.conn.fileno()]
        client.conn.close()

    def unlisten(self, client: Client) -> None:
        if client.listening:
            self.selector.unregister(client.conn)
            client.listening = False

    def handle(self, client: Client) -> None:
        try:
            message = read_message(client)
        except (EOFError, OSError, ValueError):
            if client.pid is None or client.go_fd is not None:
                self.drop(client)
            else:  # the supervisor went away; the run goes on, reaped here
                self.unlisten(client)
            return
        if message is None:
            return
        if client.pid is None:
            self.start(client, message)
        elif message.get("go") and client.go_fd is not None:
            os.write(client.go_fd, b"1")
            os.close(client.go_fd)
            client.go_fd = None

    def start(self, client: Client, request: dict[str, Any]) -> None:
        problem = fork_blockers(self.allowed_threads)
        if problem:
            send(client.conn, {"error": problem})
            self.drop(client)
            return
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(write_fd)
            self.become_child(read_fd, request)
        os.close(read_fd)
        client.pid, client.go_fd, client.request = pid, write_fd, request
        if not send(client.conn, {"pid": pid}):
            self.drop(client)

    def become_child(self, go_fd: int, request: dict[str, Any]) -> NoReturn:
        """In the child: let go of the zygote's sockets, wait for "go", then run the job."""
        os.setsid()
        self.selector.close()
        self.listener.close()
        for other in self.clients.values():
            other.conn.close()
            if other.go_fd is not None:
                os.close(other.go_fd)
        go = os.read(go_fd, 1)
        os.close(go_fd)
        if go != b"1":
            os._exit(1)
        try:
            run_job(request)  # ends in SystemExit: it unwinds to the interpreter's own exit
        except Exception:  # the set-up failed (a missing cwd, say): say why, as a plain spawn would
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)

    def reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            for client in list(self.clients.values()):
                if client.pid == pid:
                    client.pid = None  # gone: nothing left to kill
                    send(client.conn, {"returncode": returncode(status)})
                    self.drop(client)


def setup_stdio(console: str) -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    log = os.open(console, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)


def reseed() -> None:
    """A fresh process draws fresh seeds; a forked one would repeat the zygote's (``random`` reseeds
    itself after fork)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.seed()


def run_job(request: dict[str, Any]) -> NoReturn:
    """Become the job: ``[python, -m, module, args...]`` or ``[python, script, args...]``."""
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD, signal.SIGUSR1):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    setup_stdio(request["console"])
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    reseed()
    gc.unfreeze()
    code = run_target(list(request["argv"]))
    write_exit(request.get("exit_file"), code)
    sys.stdout.flush()
    sys.exit(code)  # unwinds to the interpreter's own exit: threads joined, atexit handlers run


def run_target(argv: list[str]) -> int:
    try:
        if argv[1] == "-m":
            sys.argv = [argv[2], *argv[3:]]
            sys.path[0] = os.getcwd()
            runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        else:
            sys.argv = argv[1:]
            sys.path[0] = os.path.dirname(os.path.abspath(argv[1]))
            runpy.run_path(argv[1], run_name="__main__")
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    return 0


def write_exit(path: str | None, code: int) -> None:
    if not path:
        return
    tmp = f"{path}.{os.getpid()}"
    try:
        Path(tmp).write_text(json.dumps({"exit_code": code}))
        os.replace(tmp, path)
    except OSError:
        pass


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m runner.control.zygote")
    parser.add_argument("socket")
    parser.add_argument("--warm", metavar="MODULE")
    parser.add_argument("--tokenizer", metavar="MODEL_FOLDER")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    zygote = Zygote(args.socket)  # bound before the imports: supervisors queue up while it warms
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # exit cleans the socket up
    signal.alarm(WARM_LIMIT_S)  # a hung import never leaves a zygote behind (SIGALRM ends it)
    print(warm(args.warm), flush=True)
    threads = native_threads()  # a thread started from here on makes forking unsafe: refused then
    zygote.allowed_threads = len(threads)
    print(f"threads after the imports: {', '.join(threads)}", flush=True)
    if args.tokenizer:
        print(warm_tokenizer(args.tokenizer), flush=True)
    freeze()
    signal.alarm(0)
    zygote.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
