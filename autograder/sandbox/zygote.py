"""A clean process with torch already imported that forks one child per notebook.

The zygote never sees a secret, a reference or a score: it is started before any grading
(a fresh interpreter, or forked from a worker that has not yet been given a job), takes only
"spawn" and "reap" commands from its worker, and so every child forked from it starts from
the same clean state in ~15 ms instead of a fresh interpreter and torch import.
It is the children's subreaper: whatever a submission starts, however detached, ends up
here or under the submission's own uid, and "reap" kills all of it.

Protocol on the control socket (one JSON message per SOCK_SEQPACKET packet; "spawn" carries the job socket by SCM_RIGHTS):
  {"op": "spawn", "confinement": {...}, "output_cap": N, "figures": bool, "environment": {...}}
                                                         ->  {"pid": P}
  {"op": "reap"}                                         ->  {"status": "exit 0" | "signal 9" | ...}
"""
from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys

PR_SET_CHILD_SUBREAPER = 36
_prepared = False


def prepare() -> None:
    """Pay every one-off cost once, not in each child: imports, lazy torch.func machinery,
    matplotlib's font cache and first PNG render. A process that forks zygotes (the local
    pool's fork server) calls this first, so its zygotes are warm at birth and skip it."""
    global _prepared
    if _prepared:
        return
    import io

    import numpy  # noqa: F401
    import torch
    torch.set_num_threads(1)       # one core per worker; the batch spreads work over cores
    torch.manual_seed(torch.initial_seed())   # its lazy set-up, leaving a fresh process's generator state
    x = torch.ones(2, dtype=torch.float64)
    torch.func.jacrev(torch.sin)(x)
    torch.func.jacfwd(torch.tanh)(x)
    torch.func.vjp(torch.relu, x)
    torch.autograd.functional.jacobian(torch.sigmoid, x)
    import matplotlib
    matplotlib.use("module://matplotlib_inline.backend_inline")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1], label="warm")
    ax.imshow([[0, 1], [1, 0]])
    ax.legend()
    fig.colorbar(ax.images[0])
    fig.savefig(io.BytesIO(), format="png", bbox_inches="tight")
    plt.close(fig)
    import matplotlib_inline.backend_inline  # noqa: F401
    import autograder.inside.calling  # noqa: F401  (the child-side engine code)
    import autograder.inside.child  # noqa: F401
    _prepared = True


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"signal {sig} ({signal.Signals(sig).name})"
    return f"exit {os.WEXITSTATUS(status)}"


def _reap(child_pid: int, uid: int | None) -> str:
    from autograder.sandbox.isolation import kill_uid
    by_uid = uid is not None and os.geteuid() == 0
    if by_uid:
        kill_uid(uid)              # every process of the submission, whatever its parent
    status = "unknown"
    while True:                    # the child and every orphan reparented to us, until none is left
        if not by_uid:
            _kill_children()
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            return status
        if pid == child_pid:
            status = _describe(st)


def _kill_children() -> None:
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = f.read().rsplit(")", 1)[1].split()[1]
            except (OSError, IndexError):
                continue
            if ppid == me:
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except ProcessLookupError:
                    pass


def main(control_fd: int) -> None:
    import ctypes
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)   # die with the worker
    control = socket.socket(fileno=control_fd)
    prepare()
    from autograder.inside.child import make_shell, serve
    shell, current = make_shell()
    # Everything so far is shared with the children; keep their garbage collector from
    # walking (and so copying) it.
    gc.freeze()
    from autograder.sandbox.isolation import Confinement, confine
    control.send(b'{"ready": true}')
    child_pid, uid = None, None
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1 << 16, 1)
        if not message:
            return
        request = json.loads(message)
        if request["op"] == "spawn":
            fields = request["confinement"]
            conf = Confinement(**{**fields, "hide_paths": tuple(fields["hide_paths"]),
                                  "readable": tuple(fields["readable"])})
            uid = conf.uid
            child_pid = os.fork()
            if child_pid == 0:
                code = 0
                try:
                    control.close()
                    job = socket.socket(fileno=fds[0])
                    applied, skipped = confine(conf)
                    serve(job, shell=shell, current=current, scratch=conf.scratch, isolation=applied,
                          skipped=skipped, output_cap=request["output_cap"], figures=request["figures"],
                          environment=request["environment"])
                except BaseException:       # noqa: BLE001 - the child's end is reported via its exit code
                    code = 70           # CHILD_BROKE in sandbox/__init__.py
                finally:
                    os._exit(code)
            os.close(fds[0])
            control.send(json.dumps({"pid": child_pid}).encode())
        elif request["op"] == "reap":
            status = _reap(child_pid, uid) if child_pid else "none"
            child_pid = None
            control.send(json.dumps({"status": status}).encode())


if __name__ == "__main__":
    main(int(sys.argv[1]))
