"""How the grader's own processes start: the environment workers inherit, and start-up costs skipped."""
from __future__ import annotations

import os
import sys

# What a process that will fork student code may inherit from the instructor's environment:
# enough to find Python, the packages and matplotlib's caches, nothing else (a database URL
# with a password, tokens). Student code can read its process's initial environment.
_WORKER_ENV_KEPT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV",
                    "MPLCONFIGDIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME")


def worker_environment(**extra: str) -> dict[str, str]:
    """The environment for grading workers and sandbox zygotes (see _WORKER_ENV_KEPT)."""
    env = {k: v for k, v in os.environ.items() if k in _WORKER_ENV_KEPT}
    # Transparent huge pages for torch's large tensors: an n = 10**7 probe's buffers then cost
    # a few page faults instead of ~20,000 each (numpy does this by itself). Read at torch's start.
    env["THP_MEM_ALLOC_ENABLE"] = "1"
    # Keep freed memory in the process for the next notebook instead of returning it: a VM
    # hands memory freed to the kernel back to its host after a second or two, and touching it
    # again then costs several times more (measured: ~75 ms instead of ~9 ms per 80 MB array).
    env["GLIBC_TUNABLES"] = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184"
    return {**env, **extra}


def skip_unused_grammar() -> None:
    """Call before nbformat is imported: jsonschema (which nbformat imports) compiles an
    RFC 3987 grammar at import, about a second, only to check the "iri" string format, which
    no notebook schema uses. Without the module jsonschema simply has no "iri" checker."""
    sys.modules.setdefault("rfc3987_syntax", None)


def close_fds_except(fd: int) -> None:
    """In a freshly forked process: close every descriptor but stdio and ``fd``, so nothing
    of the parent's (its sockets to the pool, other workers' pidfds) reaches the new process."""
    os.closerange(3, fd)
    os.closerange(fd + 1, os.sysconf("SC_OPEN_MAX"))
