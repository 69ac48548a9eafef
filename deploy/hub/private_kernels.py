"""Kernels only their owner can reach: ZeroMQ over Unix sockets in a private runtime directory.

Over TCP (Jupyter's default) a kernel's channels listen on 127.0.0.1, where every user of the
machine can connect; IOPub needs no key to subscribe to, so a classmate could watch the cells
run and their outputs.  Over `ipc` each channel is a Unix socket, and one in a directory only
its owner may enter (0700) cannot be connected to by anyone else, whatever they learn of its
name (/proc/net/unix, the kernel's command line).

The hub's jupyter_config.py selects this for every Jupyter application of every user (the
servers, the Validate button, `nbgrader validate` in a terminal).  Imports jupyter only: it
runs in students' processes.
"""
from __future__ import annotations

import os
import stat
import uuid

from jupyter_client.manager import AsyncKernelManager
from jupyter_core.paths import jupyter_runtime_dir
from traitlets import default

PRIVATE_MODE = stat.S_IRWXU                                                      # 0700


def private_runtime_dir() -> str:
    """The user's runtime directory ($JUPYTER_RUNTIME_DIR), made 0700; refused when it is
    not the user's own (a directory someone else controls could be opened to them later)."""
    path = jupyter_runtime_dir()
    os.makedirs(path, mode=PRIVATE_MODE, exist_ok=True)
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise PermissionError(f"{path}: the Jupyter runtime directory must be a directory of "
                              "your own; kernels' sockets would not be private")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, stat.S_IMODE(info.st_mode) & ~0o077)
    return path


class PrivateKernelManager(AsyncKernelManager):
    """nbclient's kernel manager (Validate, `nbgrader validate`) with its connection file, and
    so its `ipc` sockets, in the private runtime directory: without one nbclient writes the
    file to $TMPDIR and binds the sockets relative to the kernel's working directory."""

    @default("connection_file")
    def _connection_file_in_runtime_dir(self) -> str:
        return os.path.join(private_runtime_dir(), f"kernel-{uuid.uuid4()}.json")
