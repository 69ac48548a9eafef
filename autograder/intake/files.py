"""Reading files a student controls: regular files only, never through a link.

A submitted notebook, or any file beside it, may be a symbolic link (to the instructor's
solutions, to /dev/zero), a named pipe, a socket or a device. Each is refused from its
``lstat`` before anything opens it: following a link reads someone else's file, opening a
pipe blocks, reading a device never ends. Files are then opened with ``O_NOFOLLOW`` and
``O_NONBLOCK`` and checked to be the file that was looked at, so a swap in between is
caught too. No torch here: the writer process and ``nbgrader collect`` use it.
"""
from __future__ import annotations

import os
import stat

_KINDS = ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
          (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"))


class NotRegularFile(Exception):
    """A submitted path that is not a plain file; the message names what it is, for the student."""

    def __init__(self, name: str, kind: str):
        super().__init__(f"the submitted {name} is {kind}, not a regular file; it was not opened")
        self.name, self.kind = name, kind


def kind(mode: int) -> str | None:
    """What a non-regular file is, in words ("a named pipe"); None for a regular file."""
    return None if stat.S_ISREG(mode) else next((k for test, k in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str, *, dir_fd: int | None = None) -> int:
    """A read-only descriptor on the regular file ``path``; raises NotRegularFile otherwise."""
    name = os.path.basename(path)
    looked = os.lstat(path, dir_fd=dir_fd)
    found = kind(looked.st_mode)
    if found:
        raise NotRegularFile(name, found)
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (looked.st_dev, looked.st_ino) or not stat.S_ISREG(opened.st_mode):
        os.close(fd)
        raise NotRegularFile(name, kind(opened.st_mode) or "a file swapped while it was opened")
    os.set_blocking(fd, True)
    return fd


def read_regular(path: str) -> bytes:
    """The bytes of the regular file ``path`` (never through a link); raises NotRegularFile."""
    with os.fdopen(open_regular(path), "rb") as fh:
        return fh.read()


def open_folder(path: str) -> int:
    """A descriptor on the folder ``path`` itself (not through a link), for copy_regular_tree."""
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)


def copy_regular_tree(src_fd: int, dst: str, *, owner: int | None = None) -> list[str]:
    """Copy the folders and regular files under the folder ``src_fd`` into the existing folder ``dst``.

    Links, pipes, sockets and devices are skipped, never followed or opened; so is a file
    that does not fit (a full scratch). Returns one line per skipped entry, relative to the
    folder. ``owner``: the uid (and gid) the copies belong to.
    """
    skipped: list[str] = []
    _copy_folder(src_fd, dst, "", owner, skipped)
    return skipped


def _copy_folder(src_fd: int, dst: str, rel: str, owner: int | None, skipped: list[str]) -> None:
    with os.scandir(src_fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        mode = os.lstat(name, dir_fd=src_fd).st_mode
        target = os.path.join(dst, name)
        if stat.S_ISDIR(mode):
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
            try:
                os.mkdir(target, 0o700)
                if owner is not None:
                    os.chown(target, owner, owner)
                _copy_folder(fd, target, rel + name + "/", owner, skipped)
            finally:
                os.close(fd)
        else:
            try:
                why = copy_regular_file(name, target, dir_fd=src_fd, owner=owner, shown_as=rel + name)
            except OSError as exc:
                why = f"{rel}{name} could not be copied ({exc.strerror or exc})"
            if why:
                skipped.append(why)


def copy_beside_notebooks(src: str, dst: str, ignore: list[str]) -> list[str]:
    """Copy a submission's files other than notebooks from ``src`` to ``dst``, as nbgrader copies
    them beside the autograded notebooks (its ``ignore`` globs hold, a file already there is
    replaced), but regular files only. Returns one line per file left out, and why; an OSError
    (a full disk) is raised, as nbgrader's own copy raises it."""
    # Imported here: the sandbox's zygote imports this module and has no use for nbgrader.
    from nbgrader.utils import find_all_files

    skipped = []
    for path in find_all_files(src, ignore + ["*.ipynb"]):
        rel = os.path.relpath(path, src)
        target = os.path.join(dst, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if os.path.lexists(target):
            os.remove(target)
        why = copy_regular_file(path, target, shown_as=rel)
        if why:
            skipped.append(why)
    return skipped


def copy_regular_file(path: str, target: str, *, dir_fd: int | None = None, owner: int | None = None,
                      shown_as: str | None = None) -> str | None:
    """Copy the regular file ``path`` into the new file ``target``; or, for anything else (a
    link, a pipe, a socket, a device), leave it unopened and say so in one line that names it
    ``shown_as``. An OSError (a full disk) is raised."""
    try:
        _copy_file(path, dir_fd, target, owner)
    except NotRegularFile as exc:
        return f"{shown_as or os.path.basename(path)} is {exc.kind}; it was not copied"
    return None


def _copy_file(name: str, src_fd: int | None, target: str, owner: int | None) -> None:
    with os.fdopen(open_regular(name, dir_fd=src_fd), "rb") as source:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            if owner is not None:
                os.fchown(out, owner, owner)
            size = os.fstat(source.fileno()).st_size
            copied = 0
            while copied < size:
                sent = os.sendfile(out, source.fileno(), copied, size - copied)
                if not sent:
                    break
                copied += sent
        except OSError:
            os.close(out)
            os.unlink(target)
            raise
        os.close(out)
