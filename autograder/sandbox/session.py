"""``Sandbox`` and ``Session``: a trusted worker's zygote, and one confined child per notebook."""
from __future__ import annotations

import atexit
import dataclasses
import itertools
import json
import os
import select
import shutil
import signal
import socket
import sys
import tempfile
import contextlib
from contextlib import contextmanager
from dataclasses import asdict

from autograder.protocol import wire
from autograder.sandbox.files import copy_new_files
from autograder.sandbox.share import ShareFiles
from autograder.sandbox.isolation import SCRATCH_ROOT, Confinement
from autograder.protocol.reports import Ready

INTERRUPT_GRACE = 3.0        # seconds a child gets to answer SIGINT before SIGKILL
SHARE_BYTES = 1 << 20        # tensors larger than this reach the child through a file, not the socket
STARTUP_TIMEOUT = 180.0      # the zygote's first torch import on a cold disk
CHILD_BROKE = 70             # the child's exit code when its own serving loop raised (zygote.py)


class ChildDied(Exception):
    """The child is gone (crashed, killed, timed out, or broke the protocol)."""


class Interrupted(Exception):
    """A request ran past its time limit; the child answered SIGINT and lives on."""

    def __init__(self, message: str, reply):
        super().__init__(message)
        self.reply = reply


class Session:
    def __init__(self, sandbox: "Sandbox", sock: socket.socket, pid: int):
        self.sandbox, self.sock, self.pid = sandbox, sock, pid
        self.dead: str | None = None
        self.isolation: list[str] = []
        self.files_skipped: list[str] = []
        self.skipped: list[str] = []      # submitted files the child's working folder lacks, and why

    def _share_big_tensors(self, args: tuple, kwargs: dict, shared: bool) -> tuple[tuple, dict]:
        import torch
        slots = itertools.count()
        files = self.sandbox.share_files()

        def share(value):
            if isinstance(value, torch.Tensor) and value.element_size() * value.nelement() > SHARE_BYTES:
                return files.put(next(slots), value, shared=shared)
            return value
        shared = tuple(share(v) for v in args), {k: share(v) for k, v in kwargs.items()}
        files.clear_from(next(slots))
        return shared

    def _roundtrip(self, request: dict, timeout: float):
        if self.dead:
            raise ChildDied(self.dead)
        try:
            wire.send_request(self.sock, request)
            finished = self._wait(timeout)
            if not finished:
                self._signal(signal.SIGINT)
                if not self._wait(INTERRUPT_GRACE):
                    self._die(f"did not finish within {timeout:g} s and ignored the interrupt")
            reply = self._read()
        except (OSError, EOFError, wire.WireError) as exc:
            self._die(self._death_reason(exc))
        if not finished:
            raise Interrupted(f"did not finish within {timeout:g} s and was interrupted", reply)
        return reply

    def _wait(self, timeout: float) -> bool:
        return bool(select.select([self.sock], [], [], max(timeout, 0.0))[0])

    def _read(self):
        self.sock.settimeout(60.0)   # a child that sends half a message must not stall us
        try:
            return wire.recv_reply(self.sock)
        finally:
            self.sock.settimeout(None)

    def _signal(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def _death_reason(self, exc: Exception) -> str:
        status = self.sandbox.reap()
        if isinstance(exc, wire.WireError):
            return f"sent a malformed reply ({exc}); the process was stopped"
        if "SIGKILL" in status:
            return "was killed (SIGKILL), most likely for using more memory than allowed"
        if "SIGSEGV" in status or "SIGBUS" in status or "SIGABRT" in status:
            return f"crashed ({status.split('(')[-1].rstrip(')')})"
        if status == f"exit {CHILD_BROKE}":
            return ("broke down: student code changed something the notebook's process needs to "
                    f"answer the grader ({status})")
        return f"stopped unexpectedly ({status})"

    def kill(self, reason: str) -> None:
        self._signal(signal.SIGKILL)
        self.dead = reason

    def _die(self, reason: str):
        self.kill(reason)
        raise ChildDied(reason)

    def start(self, timeout: float) -> None:
        if not self._wait(timeout):
            self._die("did not start")
        try:
            ready = self._read()
        except (OSError, EOFError, wire.WireError) as exc:
            self._die(self._death_reason(exc))
        if not isinstance(ready, Ready):
            self._die("did not start properly")
        self.isolation = list(ready.isolation)
        self.skipped = [str(line) for line in ready.skipped]

    def run_cell(self, source: str, timeout: float):
        return self._roundtrip({"op": "run", "source": source}, timeout)

    def working_folder(self, scratch: str) -> str:
        """Where we see the child's working folder: inside its own mount namespace while it
        lives (a private tmpfs, when it could mount one), else where we made it."""
        inside = f"/proc/{self.pid}/root{scratch}"
        return inside if os.path.isdir(inside) else scratch

    def proxy(self, action: str, payload: bytes, timeout: float):
        """Do ``action`` to the student's objects (see inside/remote.py); ``payload`` is the
        pickled (target, args, kwargs)."""
        return self._roundtrip({"op": "proxy", "action": action, "payload": payload}, timeout)

    def call(self, name: str, probe, rules, timeout: float, *, max_numbers: int):
        """``rules``: the exercise's ``policy.Rules``, for the tracer in the child;
        ``max_numbers``: the most numbers the child reads of the answer."""
        args, kwargs = self._share_big_tensors(tuple(probe.args), dict(probe.kwargs), probe.shared)
        shared = dataclasses.replace(probe, args=args, kwargs=kwargs)
        return self._roundtrip({"op": "call", "name": name, "probe": shared, "rules": rules,
                                "max_numbers": max_numbers}, timeout)


class Sandbox:
    """One zygote per trusted worker process; one confined child per notebook."""

    def __init__(self):
        self._control: socket.socket | None = None
        self._zygote_pid: int | None = None
        self._share: ShareFiles | None = None
        # A uid of this sandbox's own (unique on this machine while we live): killing that
        # uid's processes ends exactly one submission's tree.
        self.uid = 200_000 + os.getpid() if os.geteuid() == 0 else None

    def start(self, fork: bool = False) -> None:
        """Start the zygote: a fresh interpreter, or with ``fork=True`` a fork of this process.

        Forking saves a second interpreter and torch import, but only a process that has not
        yet seen a job (no secret, no seed) may do it: the local pool's workers, at birth.
        """
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if fork:
            self._zygote_pid = os.fork()
            if self._zygote_pid == 0:
                _become_zygote(theirs.fileno())
        else:
            from autograder.sandbox.startup import worker_environment
            os.set_inheritable(theirs.fileno(), True)
            self._zygote_pid = os.posix_spawn(
                sys.executable, [sys.executable, "-m", "autograder.sandbox.zygote", str(theirs.fileno())],
                worker_environment(), file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])
        theirs.close()
        ours.settimeout(STARTUP_TIMEOUT)
        if json.loads(ours.recv(1 << 16) or b"{}").get("ready") is not True:
            raise RuntimeError("the grading sandbox failed to start")
        ours.settimeout(None)
        self._control = ours

    def _zygote_alive(self) -> bool:
        if self._zygote_pid is None:
            return False
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(self._zygote_pid, os.WNOHANG) == (0, 0):
                return True
        self._control.close()
        self._zygote_pid = self._control = None
        return False

    def _command(self, request: dict, fds=()) -> dict:
        if self._control is None or not self._zygote_alive():
            self.start()
        socket.send_fds(self._control, [json.dumps(request).encode()], list(fds))
        return json.loads(self._control.recv(1 << 16))

    def reap(self) -> str:
        return self._command({"op": "reap"})["status"]

    @contextmanager
    def session(self, files_dir: str | None, hide_paths: tuple, memory_mb: int, output_cap: int,
                figures: bool = True, start_timeout: float = 30.0, environment: dict | None = None,
                files_out: str | None = None):
        """``environment``: variables for student code besides the basics; ``files_out``: where
        the files the notebook creates are copied when it is done (``Session.files_skipped``
        says what was left out)."""
        # The child fills it (with the submission's regular files only), on a private tmpfs
        # when it can mount one; without root, here.
        scratch = tempfile.mkdtemp(prefix="autograder-run-", dir=SCRATCH_ROOT)
        try:
            conf = Confinement(uid=self.uid, scratch=scratch, files=files_dir or None, hide_paths=tuple(hide_paths),
                               memory_mb=memory_mb, readable=(self.share_files().dir,))
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                reply = self._command({"op": "spawn", "confinement": asdict(conf), "output_cap": output_cap,
                                       "figures": figures, "environment": dict(environment or {})},
                                      fds=[theirs.fileno()])
            finally:
                theirs.close()
            session = Session(self, ours, reply["pid"])
            try:
                session.start(start_timeout)
                yield session
            finally:
                if files_out:
                    session.files_skipped = copy_new_files(session.working_folder(scratch), files_out)
                ours.close()
                self.reap()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def share_files(self) -> ShareFiles:
        """Where probe tensors too big for the socket wait for the child (made on first use)."""
        if self._share is None:
            self._share = ShareFiles(self.uid)
        return self._share

    def close(self) -> None:
        if self._share is not None:
            self._share.close()
            self._share = None
        if self._zygote_alive():
            os.kill(self._zygote_pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._zygote_pid, 0)
            self._control.close()
            self._zygote_pid = self._control = None


def _become_zygote(control_fd: int) -> None:
    """In a freshly forked child: drop every descriptor but the control socket, then serve."""
    from autograder.sandbox import zygote
    from autograder.sandbox.startup import close_fds_except
    code = 0
    try:
        close_fds_except(control_fd)
        zygote.main(control_fd)
    except BaseException:        # noqa: BLE001 - the worker sees the zygote gone and reports it
        code = CHILD_BROKE
    finally:
        os._exit(code)


_SHARED: Sandbox | None = None


def shared_sandbox() -> Sandbox:
    """The sandbox of this process (a grading worker keeps one zygote for all its jobs)."""
    global _SHARED
    if _SHARED is None:
        _SHARED = Sandbox()
        atexit.register(close_shared_sandbox)
    return _SHARED


def close_shared_sandbox() -> None:
    """Before a worker leaves by ``os._exit``: end its zygote and free its share files."""
    global _SHARED
    if _SHARED is not None:
        _SHARED.close()
        _SHARED = None
