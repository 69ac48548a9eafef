"""`autograder extend STUDENT ASSIGNMENT`: one student's own due date, and its penalty at once.

nbgrader's gradebook keeps the assignment's due date and, per student, an `extension` (a
duration) on the submission; a new extension replaces the old one, `--days 0` or `--remove`
revokes it. A student already graded has their late penalty worked out again from the new
due date straight away (the gradebook writer's rule, no regrade of the notebooks), so the
gradebook, the report and the export agree; one not graded yet gets it when graded.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass


@dataclass
class Extended:
    due: dt.datetime                     # the assignment's due date (UTC)
    extension: dt.timedelta | None       # the student's, None when revoked
    before: dt.timedelta | None          # the extension it replaced
    penalty: tuple[float, float] | None  # (before, after) when the student was graded again
    total: float | None = None           # the student's score after the new penalty
    next_step: str | None = None         # what to run when the penalty could not follow here


def extend(course, student: str, assignment: str, *, until: dt.datetime | None = None,
           days: float | None = None, remove: bool = False) -> Extended:
    """Record STUDENT's own due date for ASSIGNMENT (or revoke it) in nbgrader's gradebook: the
    submission's `extension`; the student and the submission record are created when they have
    handed in but are not graded yet, or the submission record alone for a known student. Then
    the late penalty of a graded student follows."""
    from nbgrader.api import Gradebook, MissingEntry

    if days is not None and days < 0:
        raise SystemExit(f"--days {days:g}: an extension cannot be negative (--remove revokes one)")
    revoke = remove or days == 0
    with Gradebook(course.db_url, course.course_id) as gb:
        try:
            asg = gb.find_assignment(assignment)
        except MissingEntry:
            raise SystemExit(f"No assignment '{assignment}' in the gradebook {course.db_url}")
        if asg.duedate is None:
            raise SystemExit(f"'{assignment}' has no due date to extend: set one with "
                             f"`nbgrader db assignment add {assignment} --duedate DATE`")
        try:
            gb.find_student(student)
        except MissingEntry:
            if not os.path.isdir(course.submitted(student, assignment)):
                raise SystemExit(f"No student '{student}' in the gradebook and no submission from "
                                 f"them: check the id, or add them with `nbgrader db student add {student}`")
            if revoke:
                return Extended(asg.duedate, None, None, None)
            gb.add_student(student)
        due = asg.duedate
        if revoke:
            extension = None
        elif until is not None:
            extension = until - due
            if extension <= dt.timedelta(0):
                raise SystemExit(f"{until:%Y-%m-%d %H:%M} UTC is not after the due date "
                                 f"{due:%Y-%m-%d %H:%M} UTC (--remove revokes an extension)")
        else:
            extension = dt.timedelta(days=days)
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            if revoke:
                return Extended(due, None, None, None)
            submission = gb.add_submission(assignment, student)
        before = submission.extension
        submission.extension = extension
        gb.db.commit()
    done = Extended(due, extension, before, None)
    if extension == before:
        return done
    from autograder.gradebook.writer import GradebookWriter
    writer = GradebookWriter(course, assignment)
    try:
        again = writer.reassess_lateness(student)
    finally:
        writer.close()
    if again:
        done.penalty, done.total = again[:2], again[2]
    elif os.path.isdir(course.autograded(student, assignment)):     # graded by stock nbgrader
        done.next_step = f"`autograder grade {assignment} --student {student} --force` regrades them with it"
    else:
        done.next_step = f"not graded yet: `autograder grade {assignment}` applies it"
    return done
