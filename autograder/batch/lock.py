"""One `autograder grade` per course at a time.

Two graders writing one class would race on `autograded/` and on each student's gradebook
rows, so the second one refuses, naming the first.  The lock has two parts:

* an advisory `flock` on `<course>/.autograder/grade.lock`: it guards the course folder
  (`autograded/`, the sidecars) and, for SQLite, the gradebook next to it;
* with a PostgreSQL gradebook, also a session advisory lock in that database, keyed on the
  course id: copies of the course on two machines share the gradebook but not the file.

Both are released by the kernel or the server when the process dies, so a killed run never
leaves a stale lock behind.  The Formgrader and other nbgrader writers are not blocked: they
change other columns (manual scores, comments) in their own short transactions.
"""
from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import socket
import time
from contextlib import ExitStack
from typing import Any

from autograder.course.directory import private_path



class CourseBusy(RuntimeError):
    """Another `autograder grade` holds the course."""


def hold(*, course_root: str, db_url: str, course_id: str) -> ExitStack:
    """Take the course's grading lock or raise CourseBusy; close the stack to release it."""
    stack = ExitStack()
    try:
        stack.enter_context(_file_lock(private_path(course_root, "grade.lock")))
        if db_url.startswith("postgresql"):
            stack.enter_context(_postgres_lock(db_url, course_id))
    except BaseException:
        stack.close()
        raise
    return stack


def _holder() -> dict[str, Any]:
    return {"pid": os.getpid(), "user": getpass.getuser(), "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another `autograder grade`"
    return (f"another `autograder grade` (pid {holder.get('pid')} on {holder.get('host')}, "
            f"user {holder.get('user')}, since {holder.get('since')})")


def _busy(where: str, holder: dict[str, Any] | None) -> CourseBusy:
    return CourseBusy(f"{_describe(holder)} is grading this course ({where}); "
                      "wait for it to finish and run this command again: it grades only "
                      "what is left.")


class _file_lock:
    def __init__(self, path: str):
        self.path = path

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            try:
                holder = json.loads(self.fh.read() or "null")
            except ValueError:
                holder = None
            self.fh.close()
            raise _busy(self.path, holder) from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(json.dumps(_holder()))
        self.fh.flush()
        return self

    def __exit__(self, *exc):
        self.fh.close()      # closing the descriptor releases the flock


class _postgres_lock:
    def __init__(self, db_url: str, course_id: str):
        self.db_url = db_url
        digest = hashlib.sha256(f"autograder grade {course_id}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)   # pg advisory keys are bigint

    def __enter__(self):
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(self.db_url, poolclass=NullPool)
        self.conn = self.engine.connect()
        got = self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key}).scalar()
        self.conn.commit()
        if not got:
            self.conn.close()
            self.engine.dispose()
            raise _busy(f"advisory lock {self.key} in the gradebook database", None)
        return self

    def __exit__(self, *exc):
        self.conn.close()    # ends the session, which releases its advisory locks
        self.engine.dispose()
