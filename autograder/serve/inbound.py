"""New submissions in nbgrader's file-system exchange, found and collected by the course's own
collect (``ExchangeFactory.collect`` in ``nbgrader_config.py``: regular files only, and, where
configured, a submission counts only for the user who owns it).

A submission is the folder `<inbound>/<student>+<assignment>+<timestamp>[+<random>]` that
`nbgrader submit` writes; it is complete once ``submission_secret.txt``, which submit writes
last, is there. Of a student's submissions, the one collect would take (the newest of theirs)
is the one graded.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from autograder.intake import files

SECRET_FILE = "submission_secret.txt"     # written last by `nbgrader submit`
SUPERSEDED = "a newer submission came in while it waited"

_quiet = logging.getLogger("autograder.serve.inbound.scan")
_quiet.setLevel(logging.ERROR)    # a poll repeats collect's warnings; the collect itself says them once


@dataclass(frozen=True)
class Arrival:
    assignment: str
    student: str
    name: str          # the inbound folder's name
    timestamp: str     # as the folder's name says it
    complete: bool = True
    arrived: float = 0.0   # the ctime of its last file: a student can move it later, never earlier


def course_directory(course, assignment: str, student: str = ""):
    """nbgrader's CourseDirectory of the course, narrowed to one assignment (and student): a
    fresh one, so that work on one submission never changes what another sees."""
    from nbgrader.coursedir import CourseDirectory

    cd = CourseDirectory(config=course.config, root=course.root)
    cd.assignment_id = assignment
    cd.student_id = student or "*"
    return cd


def inbound_path(course) -> str:
    return os.path.join(course.exchange_root, course.course_id, "inbound")


def listing(course) -> frozenset[str]:
    """The inbound's entry names (cheap: tells whether anything changed since the last look)."""
    try:
        return frozenset(os.listdir(inbound_path(course)))
    except FileNotFoundError:
        return frozenset()


def _collector(course, assignment: str, *, log: logging.Logger | None = None):
    from nbgrader.auth import Authenticator
    from nbgrader.exchange import ExchangeFactory

    extra = {"log": log} if log is not None else {}
    collect = ExchangeFactory(config=course.config).Collect(
        coursedir=course_directory(course, assignment), config=course.config,
        authenticator=Authenticator(config=course.config), **extra)
    collect.update = True          # a resubmission replaces the collected one
    return collect


def arrivals(course, assignment: str) -> list[Arrival]:
    """For each student, the submission of ASSIGNMENT that collect would take (``complete``
    once `nbgrader submit` has finished writing it)."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    if not os.path.isdir(inbound_path(course)):
        return []
    collect = _collector(course, assignment, log=_quiet)
    try:
        collect.init_src()
    except ExchangeError:
        return []
    found = []
    for rec in collect.src_records:
        folder = os.path.join(collect.inbound_path, rec["filename"])
        if os.path.islink(folder):
            continue            # collect takes folders only, never through a link
        stamp = rec["filename"][len(f"{rec['username']}+{assignment}+"):].split("+")[0]
        secret = _regular(os.path.join(folder, SECRET_FILE))
        found.append(Arrival(assignment, rec["username"], rec["filename"], stamp,
                             complete=secret is not None, arrived=secret or 0.0))
    return found


def _regular(path: str) -> float | None:
    """The ctime of PATH when it is a regular file, else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ctime if files.kind(st.st_mode) is None else None


def collect(course, assignment: str, chosen: list[Arrival]) -> dict[str, str | None]:
    """Collect these submissions into ``submitted/`` with the course's collect; student ->
    None when collected, else why not."""
    from nbgrader.exchange.abc.exchange import ExchangeError

    collector = _collector(course, assignment)
    try:
        collector.init_src()
    except ExchangeError as exc:
        return {a.student: f"the exchange could not be read: {exc}" for a in chosen}
    names = {a.name for a in chosen}
    collector.src_records = [rec for rec in collector.src_records if rec["filename"] in names]
    collector.copy_files()
    outcome = {}
    for a in chosen:
        if a.name not in {rec["filename"] for rec in collector.src_records}:
            outcome[a.student] = SUPERSEDED
            continue
        stamp = os.path.join(course.submitted(a.student, assignment), "timestamp.txt")
        try:
            with open(stamp, encoding="utf-8", errors="replace") as fh:
                same = fh.read(200).strip() == a.timestamp
        except OSError:
            same = False
        outcome[a.student] = None if same else "collect did not take it (see the service's log)"
    return outcome
