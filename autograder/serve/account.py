"""The service's own account: root while the grading workers start, then the instructor's.

Each notebook needs root somewhere (its namespaces and a throw-away uid): the fork server and
the workers it forks keep root for that. The service's own process, which reads what students
hand in, writes the gradebook and releases feedback, needs none of it, so it gives root up
once the pool has started and does everything after as the course's instructor would.
"""
from __future__ import annotations

import os
import pwd


def account(user: str) -> pwd.struct_passwd:
    """The account ``user`` names (a login name or a uid); KeyError if there is none."""
    return pwd.getpwuid(int(user)) if user.isdigit() else pwd.getpwnam(user)


def become(user: str) -> None:
    """Continue this process as ``user``, with that account's groups, for good."""
    entry = account(user)
    os.initgroups(entry.pw_name, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    # setuid from root drops every capability; a root that stays reachable would be a bug
    try:
        os.setuid(0)
    except PermissionError:
        pass
    else:
        raise RuntimeError(f"still able to become root after switching to {entry.pw_name}")
    os.environ.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
