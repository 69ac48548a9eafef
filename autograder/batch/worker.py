"""A grading worker: the trusted process that takes notebook jobs and returns results.

The local pool's workers are forked from one *fork server*: a fresh interpreter that imports
the grader (torch, the sandbox's code) and warms it up once, and never receives a job. A newborn worker first forks its sandbox zygote, while it is still as clean as the fork
server (no job, so no seed, has reached it yet), then serves jobs over its own socket. One
interpreter start and one torch import serve the whole pool, and replacing a worker that
died costs a fork.

    python -m autograder.batch.worker --fork-server CONTROL_FD GRADER

Fork server protocol (one JSON message per SOCK_SEQPACKET packet on CONTROL_FD):
  server -> pool: {"ready": true} | {"error": "..."}   once, after the warm-up
  pool -> server: "fork" with the new worker's socket attached (SCM_RIGHTS)
  server -> pool: {"forked": PID}, and later {"exited": PID, "code": N} when that worker ends
  pool -> server: {"kill": PID}: SIGKILL that worker (for a pool that gave up root)

A grader module may define ``warm_up()`` (run once in the fork server), ``after_fork()``
(run in each newborn worker before its first job) and ``before_exit()`` (run as a worker
leaves: it ends by ``os._exit``, which skips ``atexit``).
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import select
import signal
import socket
import sys
import time
import traceback
from typing import Callable

from autograder.batch.jobs import NotebookJob, NotebookResult
from autograder.sandbox.startup import close_fds_except, skip_unused_grammar

log = logging.getLogger("autograder.batch.worker")

DEFAULT_GRADER = "autograder.notebook.grade:grade_notebook"


def resolve(path: str) -> Callable[[NotebookJob], NotebookResult]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _hook(grader: str, name: str) -> Callable[[], None] | None:
    hook = getattr(sys.modules.get(resolve(grader).__module__), name, None)
    return hook if callable(hook) else None


def failed_result(job: NotebookJob, reason: str) -> NotebookResult:
    return NotebookResult(assignment=job.assignment, student=job.student, notebook=job.notebook,
                          status="failed", autograded_nb_json=None, problems=[reason])


def run_job(job: NotebookJob, grader: str = DEFAULT_GRADER) -> NotebookResult:
    """Grade one job; never raises (a grader exception becomes a failed result)."""
    t0 = time.perf_counter()
    try:
        res = resolve(grader)(job)
        if not isinstance(res, NotebookResult):
            res = failed_result(job, f"grader returned {type(res).__name__}, not NotebookResult")
    except Exception as exc:  # noqa: BLE001 - the batch must go on
        res = failed_result(job, f"grader error: {type(exc).__name__}: {exc}")
        log.debug("grader error\n%s", traceback.format_exc())
    res.timings.setdefault("worker_total", time.perf_counter() - t0)
    return res


def release(grader: str = DEFAULT_GRADER) -> None:
    """Run the grader's ``before_exit`` in a process that stays (a Dask worker, after a run):
    its zygote ends and the memory its share files hold is freed."""
    before_exit = _hook(grader, "before_exit")
    if before_exit:
        before_exit()


def _serve_jobs(fd: int, grader: str) -> None:
    """A newborn worker: fork the zygote while still clean, then grade job after job."""
    from multiprocessing.connection import Connection
    conn = Connection(fd)
    try:
        after_fork = _hook(grader, "after_fork")
        if after_fork:
            after_fork()
    except Exception as exc:  # noqa: BLE001
        conn.send(("error", f"a grading worker could not start: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        key, job = msg
        conn.send((key, run_job(job, grader)))


def _fork_worker(fd: int, grader: str) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        close_fds_except(fd)
        _serve_jobs(fd, grader)
        release(grader)
    except BaseException:  # noqa: BLE001 - the pool learns of it from the exit code
        code = 1
        traceback.print_exc()
    finally:
        os._exit(code)


def fork_server(control: socket.socket, grader: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the pool decides what Ctrl-C means
    try:
        resolve(grader)
        warm_up = _hook(grader, "warm_up")
        if warm_up:
            warm_up()
    except Exception as exc:  # noqa: BLE001
        control.send(json.dumps({"error": f"cannot load grader {grader}: {type(exc).__name__}: {exc}"}).encode())
        return
    control.send(b'{"ready": true}')
    workers: dict[int, int] = {}                      # pidfd -> pid
    while True:
        for ready in select.select([control, *workers], [], [])[0]:
            if ready is control:
                try:
                    message, fds, _, _ = socket.recv_fds(control, 64, 1)
                except ConnectionError:
                    message, fds = b"", []
                if not message:
                    # The pool is gone (workers notice on their own sockets). Leave without
                    # tearing down torch and friends: that alone takes about a second.
                    os._exit(0)
                if not fds:
                    victim = json.loads(message).get("kill")
                    if victim in workers.values():      # its own workers only: it is root
                        os.kill(victim, signal.SIGKILL)
                    continue
                pid = _fork_worker(fds[0], grader)
                os.close(fds[0])
                workers[os.pidfd_open(pid)] = pid
                control.send(json.dumps({"forked": pid}).encode())
            else:
                pid = workers.pop(ready)
                os.close(ready)
                _, status = os.waitpid(pid, 0)
                try:
                    control.send(json.dumps({"exited": pid, "code": os.waitstatus_to_exitcode(status)}).encode())
                except ConnectionError:
                    os._exit(0)


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--fork-server":
    skip_unused_grammar()
    fork_server(socket.socket(fileno=int(sys.argv[2])), sys.argv[3])
