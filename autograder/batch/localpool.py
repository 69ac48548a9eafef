"""The default scheduler: N grading workers on this machine, forked from one warm fork server.

The fork server (``python -m autograder.batch.worker --fork-server``) starts while the writer loads
the course, imports and warms the grader once, then forks a worker per request. Jobs go to
whichever worker is free; results stream back in completion order. A worker that dies or
overruns its job's wall limit is killed and replaced; only that job is recorded as failed.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from typing import Iterable, Iterator

from autograder.batch.jobs import NotebookJob, NotebookResult
from autograder.sandbox.startup import worker_environment
from autograder.batch.worker import DEFAULT_GRADER, failed_result

log = logging.getLogger("autograder.batch.localpool")
KILL_GRACE = 60.0     # seconds past a job's notebook_timeout before the pool kills its worker
EXIT_REPORT_WAIT = 5.0


class _ForkServer:
    """The pool's end of the fork server's control socket."""

    def __init__(self, grader: str):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        # A fresh interpreter (not multiprocessing's spawn, which re-imports the parent's
        # __main__ script): it works the same under the CLI, `python -m`, a bench script or stdin.
        env = worker_environment(PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.batch.worker", "--fork-server", str(theirs.fileno()), grader],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, env=env)
        theirs.close()
        self.control = ours
        self.unborn: deque[_Worker] = deque()     # fork requests not yet answered, in order
        self.exits: dict[int, int] = {}

    def fork(self, worker: "_Worker", fd: int) -> None:
        socket.send_fds(self.control, [b"fork"], [fd])
        self.unborn.append(worker)

    def kill(self, pid: int) -> None:
        """Have the server kill one of its workers: a pool that gave up root may not signal them."""
        self.control.send(json.dumps({"kill": pid}).encode())

    def read(self) -> None:
        """Handle one message (call when the control socket is readable)."""
        message = self.control.recv(1 << 16)
        if not message:
            raise RuntimeError(f"the grading workers' fork server stopped (exit code {self.proc.wait()})")
        news = json.loads(message)
        if "error" in news:
            raise RuntimeError(news["error"])
        if "forked" in news:
            self.unborn.popleft().born(int(news["forked"]))
        elif "exited" in news:
            self.exits[int(news["exited"])] = int(news["code"])

    def exit_code(self, worker: "_Worker") -> int | None:
        """How a dead worker ended, as its parent (the fork server) saw it."""
        deadline = time.monotonic() + EXIT_REPORT_WAIT
        while (worker.pid is None or worker.pid not in self.exits) and time.monotonic() < deadline:
            if select.select([self.control], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self.read()
        return self.exits.pop(worker.pid, None)

    def close(self) -> None:
        self.control.close()                # the server returns when its control socket closes
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(PermissionError):   # root's, once the pool gave root up
                self.proc.kill()
            self.proc.wait()


class _Worker:
    def __init__(self, server: _ForkServer):
        from multiprocessing.connection import Connection
        ours, theirs = socket.socketpair()
        server.fork(self, theirs.fileno())
        theirs.close()
        self.server = server
        self.conn = Connection(ours.detach())
        self.pid: int | None = None
        self.sentinel: int | None = None   # a pidfd: readable once the worker has exited
        self.ready = False
        self.current = None                # (key, job, started)

    def born(self, pid: int) -> None:
        self.pid = pid
        self.sentinel = os.pidfd_open(pid)

    def alive(self) -> bool:
        return self.sentinel is None or not select.select([self.sentinel], [], [], 0)[0]

    def waitables(self) -> list:
        return [self.conn] + ([self.sentinel] if self.sentinel is not None else [])

    def stop(self, wait: float = 5.0) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        if self.sentinel is not None:
            select.select([self.sentinel], [], [], wait)
        self.kill()

    def kill(self) -> None:
        if self.sentinel is not None:
            try:
                signal.pidfd_send_signal(self.sentinel, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:     # a root worker of a pool that gave root up (serve --as)
                self.server.kill(self.pid)
            select.select([self.sentinel], [], [], 2.0)
            os.close(self.sentinel)
            self.sentinel = None
        self.conn.close()


class LocalPool:
    """N workers forked from one warm fork server; streams (job, result) pairs as they finish.
    It serves run after run until closed."""

    def __init__(self, workers: int | None = None, grader: str = DEFAULT_GRADER):
        self.n = max(1, workers or _cpu_count())
        self.grader = grader
        self.server: _ForkServer | None = None
        self.workers: list[_Worker] = []
        self.restarts = 0

    def describe(self) -> str:
        return f"local pool, {self.n} worker process{'es' if self.n != 1 else ''}"

    def start(self) -> "LocalPool":
        """Start the fork server and ask for the workers now: they warm up while the caller plans."""
        if self.server is None:
            self.started = time.monotonic()
            self.server = _ForkServer(self.grader)
        while len(self.workers) < self.n:
            self.workers.append(_Worker(self.server))
        return self

    def run(self, jobs: Iterable[NotebookJob]) -> Iterator[tuple[NotebookJob, NotebookResult]]:
        from multiprocessing.connection import wait

        pending = deque(enumerate(jobs))
        if not pending:
            return
        if not self.workers:
            self.n = min(self.n, len(pending))
            self.start()
        try:
            def dispatch(w: _Worker) -> None:
                if w.ready and w.current is None and pending:
                    key, job = pending.popleft()
                    w.conn.send((key, job))
                    w.current = (key, job, time.monotonic())

            while pending or any(w.current for w in self.workers):
                for w in self.workers:
                    dispatch(w)
                waitables = {self.server.control: None}
                for w in self.workers:
                    for obj in w.waitables():
                        waitables[obj] = w
                for obj in wait(list(waitables), timeout=1.0):
                    w = waitables[obj]
                    if w is None:
                        self.server.read()
                        continue
                    if w not in self.workers:
                        continue          # already replaced in this round
                    got = None
                    if obj is w.conn or w.conn.poll():
                        try:
                            got = w.conn.recv()
                        except (EOFError, OSError):
                            got = None
                    if got is not None and got[0] == "ready":
                        w.ready = True
                        log.debug("worker %s ready %.2f s after the pool started", got[1], time.monotonic() - self.started)
                        continue
                    if got is not None and got[0] == "error":
                        raise RuntimeError(got[1])
                    if got is not None and w.current and got[0] == w.current[0]:
                        job = w.current[1]
                        w.current = None
                        dispatch(w)         # the worker goes on while the writer commits
                        yield job, got[1]
                        continue
                    if got is None or not w.alive():
                        # the worker itself died (not just the sandboxed child)
                        code = self.server.exit_code(w)
                        if not w.ready:
                            raise RuntimeError(f"a grading worker failed to start (exit code {code})")
                        yield from self._replace(w, f"worker process died (exit code {code})")
                now = time.monotonic()
                for w in list(self.workers):
                    if w.current is None:
                        continue
                    limit = w.current[1].limits.notebook_timeout + KILL_GRACE
                    if now - w.current[2] > limit:
                        yield from self._replace(w, f"no result after {limit:.0f} s; worker killed")
        finally:
            self._abandon()

    def _abandon(self) -> None:
        """The pool outlives a run (its owner closes it): a worker still on a job of a run that
        stopped early is replaced, so the next run starts on idle workers."""
        for i, w in enumerate(self.workers):
            if w.current is not None:
                w.kill()
                self.workers[i] = _Worker(self.server)

    def close(self) -> None:
        for w in self.workers:
            if w.current is None and w.alive():
                w.stop(wait=2.0)
            else:
                w.kill()
        self.workers = []
        if self.server is not None:
            self.server.close()
            self.server = None

    def _replace(self, w: _Worker, reason: str):
        current = w.current
        w.current = None
        w.kill()
        self.workers[self.workers.index(w)] = _Worker(self.server)
        self.restarts += 1
        if current is not None:
            yield current[1], failed_result(current[1], reason)


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
