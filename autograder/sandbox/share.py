"""Memory-backed files that carry big probe tensors from a trusted worker to its children.

The child maps them copy-on-write (``autograder.inside.shared.load_shared``), so a 10**7-entry
probe costs neither a pickle nor a copy.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref

from autograder.inside.shared import load_shared


class _Shared:
    """Pickles as a call to ``load_shared`` in the child."""

    def __init__(self, path: str, tensor):
        self.path, self.dtype, self.shape = path, str(tensor.dtype).removeprefix("torch."), tuple(tensor.shape)

    def __reduce__(self):
        return load_shared, (self.path, self.dtype, self.shape)


SHARE_PREFIX = "autograder-share-"
SHARE_ROOT = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def orphaned_share_dirs() -> list[str]:
    """The share folders whose process died without closing its sandbox."""
    orphans = []
    for name in os.listdir(SHARE_ROOT):
        owner = name.removeprefix(SHARE_PREFIX).split("-", 1)[0]
        if name.startswith(SHARE_PREFIX) and owner.isdigit() and not _alive(int(owner)):
            orphans.append(os.path.join(SHARE_ROOT, name))
    return orphans


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _signature(fd: int) -> tuple[int, int, int]:
    st = os.fstat(fd)
    return st.st_ino, st.st_ctime_ns, st.st_size


class ShareFiles:
    """Memory-backed files that carry big probe tensors to the children, one per argument slot.

    They live as long as the sandbox and are rewritten in place, so their pages stay warm: a
    VM hands freed memory back to its host, and touching 80 MB of it again costs several times
    more than reusing it. We write through our own descriptors and the children may only read
    (root-owned folder; files readable by the sandbox's group), so no student can plant a file
    for the next one; we still check each file is the one we made before it is used.
    """

    def __init__(self, gid: int | None):
        self.gid = gid
        # They live in memory: a worker killed by a timeout or by Dask never cleans up, and
        # over a term of grading runs the leftovers would fill the machine's RAM.
        for orphan in orphaned_share_dirs():
            shutil.rmtree(orphan, ignore_errors=True)
        self.dir = tempfile.mkdtemp(prefix=f"{SHARE_PREFIX}{os.getpid()}-", dir=SHARE_ROOT)
        os.chmod(self.dir, 0o711)
        self.fds: list[int] = []
        # slot -> (the tensor last written, its version then, the file's signature, shared)
        self.held: dict[int, tuple] = {}

    def _path(self, slot: int) -> str:
        return os.path.join(self.dir, f"{slot}.bin")

    def _fd(self, slot: int) -> int:
        if slot < len(self.fds):
            try:
                if os.lstat(self._path(slot)).st_ino == os.fstat(self.fds[slot]).st_ino:
                    return self.fds[slot]
            except FileNotFoundError:
                pass
            os.close(self.fds[slot])
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(slot))
        fd = os.open(self._path(slot), os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o400)
        if self.gid is not None:
            os.fchown(fd, 0, self.gid)
            os.fchmod(fd, 0o440)
        if slot < len(self.fds):
            self.fds[slot] = fd
        else:
            self.fds.append(fd)
        return fd

    def put(self, slot: int, tensor, *, shared: bool = False) -> _Shared:
        """``shared``: the tensor is part of a probe every student gets, so its file may stay
        for the next students' children (``clear_from`` leaves it)."""
        fd = self._fd(slot)
        if self._holds(slot, fd, tensor):
            ref, version, signature, _ = self.held[slot]
        else:
            data = memoryview(tensor.detach().contiguous().numpy()).cast("B")
            written = 0
            while written < len(data):
                written += os.pwrite(fd, data[written:], written)
            os.ftruncate(fd, len(data))
            ref, version, signature = weakref.ref(tensor), tensor._version, _signature(fd)
        self.held[slot] = (ref, version, signature, shared)
        return _Shared(self._path(slot), tensor)

    def _holds(self, slot: int, fd: int, tensor) -> bool:
        """Whether the slot's file still holds exactly this tensor as we wrote it: the same
        object, unchanged since, and a file nobody touched (a write, a chmod or a truncate
        moves its ctime). A probe every student shares is then written once, not per call."""
        ref, version, signature, _ = self.held.get(slot, (None, None, None, False))
        return ref is not None and ref() is tensor and tensor._version == version and _signature(fd) == signature

    def clear_from(self, slot: int) -> None:
        """Empty the slots a call did not use, but those holding a shared probe: no child reads
        an earlier student's own probe."""
        for index, fd in enumerate(self.fds[slot:], start=slot):
            if not self.held.get(index, (None, None, None, False))[3]:
                os.ftruncate(fd, 0)
                self.held.pop(index, None)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []
        self.held = {}
        shutil.rmtree(self.dir, ignore_errors=True)
