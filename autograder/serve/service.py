"""`autograder serve`: the loop that grades each new submission as it arrives.

It keeps one warm pool of grading workers for its whole life. Each round it looks at the
inbound, records new submissions in the journal, and serves the queue in arrival order: a
submission the rules refuse gets a notice; the others are collected and graded together, under
the course's grading lock (so `autograder grade` and the service never write one course at
once), by the batch grader on the hardened path; each student's feedback is released the moment
their gradebook commit is done. `stop()` (a signal) lets the round in flight finish; a service
killed outright finds its queue in the journal when it starts again. Started as root with
``run_as``, it gives root up as soon as the pool has started (``account.become``): the workers
keep root for the full sandbox, and everything the service itself reads and writes is the
instructor's.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import sys
import time
import traceback
from typing import TextIO

from autograder.batch import run as batch
from autograder.batch.jobs import Limits
from autograder.batch.lock import CourseBusy, hold
from autograder.batch.worker import DEFAULT_GRADER
from autograder.course.directory import private_path
from autograder.serve import deliver, inbound
from autograder.serve.journal import FAILED, GRADED, REFUSED, SUPERSEDED, Entry, Journal
from autograder.serve.rules import SCORES, GradeOnSubmit

log = logging.getLogger("autograder.serve")
ROUND_STUDENTS_PER_WORKER = 2    # students graded per round: a stop request waits for one round only
BUSY_RETRY = 2.0                 # seconds before trying again when `autograder grade` holds the course


def journal_path(course) -> str:
    return private_path(course.root, "serve", "journal.sqlite")


class Service:
    def __init__(self, course, assignments: list[str], *, rules: GradeOnSubmit | None = None,
                 limits: Limits | None = None, workers: int | None = None,
                 grader: str = DEFAULT_GRADER, out: TextIO | None = None, run_as: str | None = None):
        self.course = course
        self.assignments = list(assignments)
        self.rules = rules or GradeOnSubmit(config=course.config)
        self.limits = limits or Limits()
        self.workers = workers
        self.grader = grader
        self.out = out or sys.stdout
        self.run_as = run_as
        self.journal: Journal | None = None        # opened by run(), as the account that keeps it
        self.pool = None
        self.stopping = False
        self._listing: frozenset[str] | None = None
        self._busy_said = False

    def stop(self) -> None:
        """Finish the round in flight, then return from run()."""
        self.stopping = True

    def run(self) -> None:
        self.pool = batch.make_pool(self.workers, None, self.grader).start()
        try:
            if self.run_as:
                from autograder.serve.account import become
                become(self.run_as)
            self.journal = Journal(journal_path(self.course))
            self._say(f"serving {', '.join(self.assignments)} from {inbound.inbound_path(self.course)} "
                      f"({self.pool.describe()}); {len(self.journal.queued())} submissions queued")
            while not self.stopping:
                if not self.round():
                    time.sleep(self.rules.poll_seconds)
        finally:
            self.pool.close()
            if self.journal is not None:
                self.journal.close()
            self._say("stopped")

    def round(self) -> bool:
        """Look at the inbound, then serve one round of the queue; False when it was empty."""
        self.look()
        queued = self.journal.queued()
        if not queued:
            return False
        assignment = queued[0].assignment          # the oldest first; the others next round
        self.serve(assignment, [e for e in queued if e.assignment == assignment])
        return True

    def look(self) -> None:
        listing = inbound.listing(self.course)
        if listing == self._listing:
            return
        complete = True
        new = []
        for assignment in self.assignments:
            known = self.journal.known(assignment)
            for a in inbound.arrivals(self.course, assignment):
                if a.name not in known:
                    complete &= a.complete
                    if a.complete:
                        new.append(a)
        # a crowd seen in one look is queued in the order its submissions were finished
        for a in sorted(new, key=lambda a: (a.arrived, a.name)):
            self.journal.note(assignment=a.assignment, name=a.name, student=a.student,
                              timestamp=a.timestamp)
        # a submission still being written changes no listing when it is done: look again
        self._listing = listing if complete else None

    def serve(self, assignment: str, entries: list[Entry]) -> None:
        newest: dict[str, Entry] = {}
        for e in entries:
            if e.student in newest:
                self.journal.finish(newest.pop(e.student), SUPERSEDED, f"superseded by {e.name}")
            newest[e.student] = e      # in the queue where the submission graded arrived
        chosen = list(newest.values())[:ROUND_STUDENTS_PER_WORKER * self.pool.n]
        to_grade = []
        for e in chosen:
            why = self.rules.refusal(self.journal.graded_at(assignment, e.student), e.seen_at)
            if why:
                deliver.release_notice(self.course, _arrival(e), why)
                self.journal.finish(e, REFUSED, why)
                self._say(f"not graded {e.student}/{assignment} ({e.timestamp}): {why}")
            else:
                to_grade.append(e)
        if to_grade:
            self.grade(assignment, to_grade)

    def grade(self, assignment: str, entries: list[Entry]) -> None:
        try:
            lock = hold(course_root=self.course.root, db_url=self.course.db_url,
                        course_id=self.course.course_id)
        except CourseBusy as busy:
            if not self._busy_said:
                self._say(f"waiting: {busy}")
                self._busy_said = True
            time.sleep(BUSY_RETRY)
            return
        self._busy_said = False
        by_student = {e.student: e for e in entries}
        t0 = time.monotonic()
        self._say(f"grading {assignment}: {', '.join(by_student)}")
        try:
            problems = inbound.collect(self.course, assignment, [_arrival(e) for e in entries])
            for student, why in problems.items():
                if why:
                    e = by_student.pop(student)
                    self.journal.finish(e, SUPERSEDED if why == inbound.SUPERSEDED else FAILED, why)
                    self._say(f"not graded {student}/{assignment} ({e.timestamp}): {why}")
            if not by_student:
                return

            def committed(student: str, record) -> None:
                score = sum(o.score for o in record.notebooks.values())
                top = sum(o.max_score for o in record.notebooks.values())
                self._delivered(assignment, by_student[student], f"{score:g}/{top:g}", t0)

            summary = batch.grade(self.course, assignment, students=list(by_student), force=False,
                                  limits=self.limits, pool=self.pool, progress_stream=io.StringIO(),
                                  tty=False, on_commit=committed)
        finally:
            lock.close()
        if summary.interrupted:
            return                 # what was in flight stays queued
        still_queued = {e.name for e in self.journal.queued()}
        for student, e in by_student.items():
            if e.name not in still_queued:
                continue
            if any(s == student and "already graded" in why for s, why in summary.skipped):
                # graded before the service was stopped between the commit and the journal
                self._delivered(assignment, e, "graded earlier", t0)
            else:
                why = "; ".join(r for s, _, r in summary.failed if s == student) or "not graded"
                self.journal.finish(e, FAILED, why)
                self._say(f"FAILED {student}/{assignment} ({e.timestamp}): {why}")

    def _delivered(self, assignment: str, e: Entry, score: str, t0: float) -> None:
        t_graded = time.monotonic()
        try:
            deliver.release_feedback(self.course, assignment, e.student,
                                     scores_only=self._scores_only(assignment, e.student))
        except Exception as exc:  # noqa: BLE001 - one student's feedback must not stop the service
            log.debug("feedback failed\n%s", traceback.format_exc())
            self.journal.finish(e, GRADED, f"{score}; feedback not released: {type(exc).__name__}: {exc}")
            self._say(f"graded {e.student}/{assignment} ({e.timestamp}): {score}; FEEDBACK NOT RELEASED: {exc}")
            return
        self.journal.finish(e, GRADED, score)
        self._say(f"graded {e.student}/{assignment} ({e.timestamp}): {score}; collected and graded in "
                  f"{t_graded - t0:.1f} s, feedback released in {time.monotonic() - t_graded:.1f} s")

    def _scores_only(self, assignment: str, student: str) -> bool:
        if self.rules.before_due != SCORES:
            return False
        from nbgrader.api import Gradebook
        with Gradebook(self.course.db_url, self.course.course_id) as gb:
            due = gb.find_submission(assignment, student).duedate
        return due is None or dt.datetime.utcnow() <= due

    def _say(self, line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=self.out, flush=True)


def _arrival(e: Entry) -> inbound.Arrival:
    return inbound.Arrival(e.assignment, e.student, e.name, e.timestamp)
