"""Confine the freshly forked child before it runs a single line of student code.

Applied in order: own session; private mount, network and IPC namespaces with a private,
size-limited /tmp, /var/tmp, /dev/shm and /run/lock, in which the course's secrets (source,
gradebook, submissions, the seed file) are covered by empty mounts; a working folder holding a
copy of the submission's regular files; resource limits; and finally an unprivileged uid of
its own, so the grader can later kill every process the submission started by killing that
uid's processes. Each step that the machine does not allow (not root, no namespaces) is
skipped and reported, so the instructor can see how strong the boundary was.
"""
from __future__ import annotations

import ctypes
import os
import resource
import sys
from dataclasses import dataclass

from autograder.intake.files import copy_regular_tree, open_folder

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


SCRATCH_ROOT = "/tmp"          # where the grader makes each child's (empty) working folder
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")    # the usual world-writable folders


@dataclass(frozen=True)
class Confinement:
    uid: int | None            # run as this uid (None: stay as we are; not root)
    scratch: str               # working directory and $HOME: an empty folder under SCRATCH_ROOT
    files: str | None          # the submission folder; its regular files are copied into scratch
    hide_paths: tuple          # files and folders student code must not see
    memory_mb: int
    readable: tuple = ()       # folders under /dev/shm the child may read, not write (the probe files)
    max_processes: int = 64
    max_file_mb: int = 256
    # PRIVATE_TMP and the working folder together: one private tmpfs, gone with the child
    scratch_mb: int = 256


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _hide(paths) -> None:
    for path in paths:
        if not os.path.lexists(path):
            continue
        target = os.fsencode(path)
        if os.path.isdir(path):
            _check(_libc.mount(b"tmpfs", target, b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                               b"size=4k,mode=000"), f"hide {path}")
        else:
            _check(_libc.mount(b"/dev/null", target, None, MS_BIND, None), f"hide {path}")


def _bind(fd: int, target: str, flags: int = 0) -> None:
    _check(_libc.mount(os.fsencode(f"/proc/self/fd/{fd}"), os.fsencode(target), None, MS_BIND, None),
           f"bind {target}")
    if flags:
        _check(_libc.mount(None, os.fsencode(target), None, MS_BIND | MS_REMOUNT | flags, None),
               f"remount {target}")


def _private_tmp(conf: Confinement) -> None:
    """One size-limited tmpfs of the child's own behind /tmp, /var/tmp, /dev/shm and /run/lock.

    A tmpfs is mounted on /tmp; its folders tmp/, var-tmp/, dev-shm/ and run-lock/ are then
    bound over those places, so whatever student code writes there (or in its working folder,
    inside the new /tmp) counts against one limit and vanishes with the child's mount
    namespace. The probe folders under /dev/shm, and the interpreter's own folders where they
    lie under one of those places (a checkout in /tmp), are bound back, read-only, through
    descriptors opened before the cover went on.
    """
    no_exec = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC
    wanted = {**{path: MS_RDONLY | MS_NOSUID | MS_NODEV for path in _outermost(
        p for p in _interpreter_paths() if any(_within(p, place) for place in PRIVATE_TMP))},
        **{path: no_exec for path in conf.readable}}
    kept = {path: (os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW), flags) for path, flags in wanted.items()}
    options = f"size={conf.scratch_mb}m,nr_inodes=16384,mode=755".encode()
    _check(_libc.mount(b"tmpfs", os.fsencode(SCRATCH_ROOT), b"tmpfs", MS_NOSUID | MS_NODEV, options),
           "private /tmp")
    folders = {}
    for place in filter(os.path.isdir, PRIVATE_TMP):
        folder = os.path.join(SCRATCH_ROOT, place.strip("/").replace("/", "-"))
        os.mkdir(folder)
        os.chmod(folder, 0o1777)
        folders[place] = os.open(folder, os.O_PATH)
    for place, fd in folders.items():      # only now: the first one covers SCRATCH_ROOT itself
        _bind(fd, place)
        os.close(fd)
    for path, (fd, flags) in kept.items():
        os.makedirs(path, 0o711, exist_ok=True)
        _bind(fd, path, flags)
        os.close(fd)


def _interpreter_paths() -> set[str]:
    """The folders the child's Python needs: its installation, the venv, this package's root
    and every folder on ``sys.path``."""
    import autograder
    return {os.path.realpath(p) for p in (sys.base_prefix, sys.prefix, os.path.dirname(os.path.dirname(autograder.__file__)),
                                          *(p for p in sys.path if p.startswith(os.sep) and os.path.isdir(p)))}


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _outermost(paths) -> list[str]:
    """The paths that lie inside none of the others."""
    out: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(_within(path, kept) for kept in out):
            out.append(path)
    return out


def _fill_scratch(conf: Confinement, files_fd: int | None) -> list[str]:
    """The working folder, with the submission's regular files; what was left out, in words."""
    os.makedirs(conf.scratch, mode=0o700, exist_ok=True)
    if conf.uid is not None and os.geteuid() == 0:
        os.chown(conf.scratch, conf.uid, conf.uid)
    if files_fd is None:
        return []
    try:
        return copy_regular_tree(files_fd, conf.scratch, owner=conf.uid if os.geteuid() == 0 else None)
    finally:
        os.close(files_fd)


def _closed_ancestor(path: str) -> str | None:
    """The highest folder above ``path`` that other users may not enter (e.g. /root), if any."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for i in range(1, len(parts)):
        folder = os.sep + os.path.join(*parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _expose(paths) -> None:
    """Let the unprivileged uid reach the interpreter where it lives in a closed folder.

    When Python is installed under /root (pyenv), the dropped uid could not import the
    standard library. Inside our private mount namespace we cover the closed folder with an
    empty, enterable tmpfs and bind back only the interpreter's own folders, reached
    through file descriptors opened before the cover went on. The rest stays invisible.
    """
    by_ancestor: dict[str, list[str]] = {}
    for path in paths:
        ancestor = _closed_ancestor(path)
        if ancestor:
            by_ancestor.setdefault(ancestor, []).append(os.path.abspath(path))
    for ancestor, inside in by_ancestor.items():
        fds = {path: os.open(path, os.O_PATH) for path in inside}
        _check(_libc.mount(b"tmpfs", os.fsencode(ancestor), b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=755"),
               f"cover {ancestor}")
        for path, fd in fds.items():
            os.makedirs(path, exist_ok=True)
            _check(_libc.mount(os.fsencode(f"/proc/self/fd/{fd}"), os.fsencode(path), None, MS_BIND | MS_REC, None),
                   f"expose {path}")
            os.close(fd)


def _vm_size_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _limit(name: int, value: int) -> None:
    soft, hard = resource.getrlimit(name)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(name, (value, value if hard == resource.RLIM_INFINITY else hard))


def confine(conf: Confinement) -> tuple[list[str], list[str]]:
    """Apply every step the machine allows; return what was applied, for the report, and
    the submission's files that were not copied into the working folder."""
    applied = []
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    # Opened before any mount: the submission folder may lie under /tmp or among the hidden paths.
    files_fd = open_folder(conf.files) if conf.files and os.path.isdir(conf.files) else None
    # A private IPC namespace too: System V shared memory would otherwise outlive the child.
    namespaced = os.geteuid() == 0 and _libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) == 0
    if namespaced:
        _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
        _private_tmp(conf)
    skipped = _fill_scratch(conf, files_fd)
    if namespaced:
        _hide(conf.hide_paths)
        if conf.uid is not None:
            _expose(_interpreter_paths())
        applied += ["mount namespace (course secrets hidden)", "no network",
                    f"private /tmp, /var/tmp, /dev/shm, /run/lock and home ({conf.scratch_mb} MB in all)",
                    "private IPC"]
    # Address space above what torch already maps: a memory bomb gets MemoryError in its own cell.
    _limit(resource.RLIMIT_AS, _vm_size_bytes() + conf.memory_mb * 1024 * 1024)
    _limit(resource.RLIMIT_FSIZE, conf.max_file_mb * 1024 * 1024)
    _limit(resource.RLIMIT_CORE, 0)
    applied.append(f"memory limit {conf.memory_mb} MB")
    os.chdir(conf.scratch)
    if conf.uid is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(conf.uid)
        os.setuid(conf.uid)
        # Per uid, so it caps exactly this submission's processes (fork bombs).
        _limit(resource.RLIMIT_NPROC, conf.max_processes)
        applied.append(f"unprivileged uid {conf.uid}")
    _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    return applied, skipped


def kill_uid(uid: int) -> None:
    """SIGKILL every process running as ``uid`` (the submission's whole tree, however detached).

    kill(-1) reaches exactly the processes whose real or saved uid matches the caller's real
    or effective uid, and is atomic against fork. So we briefly become ``uid`` (real and
    effective; the saved uid stays 0 to come back) instead of forking a helper: no copy of
    a large process's page tables for every notebook.
    """
    os.setresuid(uid, uid, 0)
    try:
        for _ in range(3):          # belt and braces: kill(-1) already stops forks in flight
            try:
                os.kill(-1, 9)
            except ProcessLookupError:
                break
    finally:
        os.setresuid(0, 0, 0)
