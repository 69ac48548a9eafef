"""Batch grading: find what is left to grade, run the notebook jobs, stream results to the writer.

Two schedulers deliver the same `NotebookJob`s to `grade_notebook` and hand the results back to
the one writer (`gradebook.GradebookWriter`, in this process):

* `LocalPool` (default, localpool.py): N worker processes forked from one fork server that
  imported torch and the grader once; they grade job after job. A worker that dies or
  overruns its job's wall limit is killed and replaced; only that job is recorded as failed.
* `DaskPool` (`--scheduler tcp://host:port`): the jobs go to an existing dask.distributed
  cluster. The submitted notebook's bytes travel with the job, so a worker needs the package
  installed but not the course directory.

A student is committed (files, gradebook, sidecar) as soon as all of their notebooks are back,
so an interrupted run loses at most the students in flight.
"""
from __future__ import annotations

import dataclasses
import functools
import glob
import json
import logging
import os
import re
import sys
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .cells import released_sources
from .course import exercises_directory, read_declarations
from .files import NotRegularFile, read_regular
from .jobs import Limits, NotebookJob, NotebookResult
from .localpool import LocalPool
from .worker import DEFAULT_GRADER, failed_result, run_job

log = logging.getLogger("autograder.batch")

# --------------------------------------------------------------------------- dask
def run_shipped_job(job: NotebookJob, content: bytes, grader: str = DEFAULT_GRADER) -> NotebookResult:
    """Runs on a Dask worker: the submitted notebook arrives as bytes, not as a path."""
    import tempfile
    with tempfile.TemporaryDirectory(prefix="autograder-job-") as tmp:
        path = os.path.join(tmp, job.notebook + ".ipynb")
        with open(path, "wb") as fh:
            fh.write(content)
        return run_job(dataclasses.replace(job, submitted_path=path), grader)


class DaskPool:
    def __init__(self, address: str, grader: str = DEFAULT_GRADER, connect_timeout: float = 30):
        self.address = address
        self.grader = grader
        self.connect_timeout = connect_timeout
        self.n_workers = 0

    def describe(self) -> str:
        return f"dask cluster at {self.address} ({self.n_workers} workers)"

    def start(self) -> "DaskPool":
        return self

    def close(self) -> None:
        pass

    def run(self, jobs: Iterable[NotebookJob]) -> Iterator[tuple[NotebookJob, NotebookResult]]:
        from distributed import Client, as_completed

        jobs = list(jobs)
        if not jobs:
            return
        with Client(self.address, timeout=self.connect_timeout, set_as_default=False) as client:
            self.n_workers = len(client.scheduler_info().get("workers", {}))
            futures = {}
            for job in jobs:
                try:
                    content = read_regular(job.submitted_path)
                except (NotRegularFile, OSError) as exc:
                    yield job, failed_result(job, str(exc))
                    continue
                fut = client.submit(run_shipped_job, job, content, self.grader, pure=False,
                                    key=f"grade-{job.assignment}-{job.student}-{job.notebook}-{time.time_ns()}")
                futures[fut] = job
            try:
                for fut in as_completed(list(futures), loop=client.loop):
                    job = futures.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker
                        res = failed_result(job, f"dask task failed: {type(exc).__name__}: {exc}")
                    yield job, res
            finally:
                if futures:
                    client.cancel(list(futures))


# --------------------------------------------------------------------------- planning
@dataclass
class StudentPlan:
    student: str
    notebooks: list[str]                 # submitted and known to the gradebook
    unknown: list[str] = field(default_factory=list)   # submitted, not in the gradebook


@dataclass
class Summary:
    graded: list[tuple[str, str, str]] = field(default_factory=list)    # student, notebook, score
    failed: list[tuple[str, str, str]] = field(default_factory=list)    # student, notebook, reason
    skipped: list[tuple[str, str]] = field(default_factory=list)        # student, reason
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # student, notebook, problem
    late: list[tuple[str, str]] = field(default_factory=list)            # student, deduction and why
    students_committed: int = 0
    elapsed: float = 0.0
    interrupted: bool = False
    scheduler: str = ""
    timings: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    @property
    def ok(self) -> bool:
        return not self.failed and not self.interrupted


def submitted_students(course, assignment: str) -> list[str]:
    cd = course.coursedir
    pattern = course.submitted("*", assignment)
    regexp = cd.format_path(cd.submitted_directory, "(?P<student_id>[^/]+)", assignment, escape=True)
    excluded = set(filter(None, (cd.student_id_exclude or "").split(",")))
    students = []
    for path in glob.glob(pattern):
        m = re.fullmatch(regexp, path)
        if m and os.path.isdir(path) and m.group("student_id") not in excluded:
            students.append(m.group("student_id"))
    return sorted(students)


def plan(course, writer, assignment: str, students: list[str] | None, force: bool,
         summary: Summary) -> list[StudentPlan]:
    known = set(writer.notebooks)
    found = submitted_students(course, assignment)
    if students:
        missing = sorted(set(students) - set(found))
        for s in missing:
            summary.skipped.append((s, f"no submission in {course.submitted(s, assignment)}"))
        found = [s for s in found if s in set(students)]
    plans = []
    for student in found:
        if not force and writer.is_graded(student):
            summary.skipped.append((student, "already graded (use --force to regrade)"))
            continue
        folder = course.submitted(student, assignment)
        nbs = sorted(os.path.splitext(os.path.basename(p))[0]
                     for p in glob.glob(os.path.join(glob.escape(folder), "*.ipynb")))
        if not nbs:
            summary.skipped.append((student, "no notebooks submitted"))
            continue
        plans.append(StudentPlan(student, [n for n in nbs if n in known],
                                 [n for n in nbs if n not in known]))
    return plans


def instructor_reader(course, assignment: str) -> Callable[[str], str]:
    """notebook -> the instructor's notebook JSON (source/ASSIGNMENT/<nb>.ipynb, hidden tests
    included), each file read once per run."""
    @functools.lru_cache(maxsize=None)
    def read(notebook: str) -> str:
        with open(os.path.join(course.source(assignment), notebook + ".ipynb"), encoding="utf-8") as fh:
            return fh.read()
    return read


def exercise_seeds(course, assignment: str,
                   instructor: Callable[[str], str] | None = None) -> Callable[[str, str], dict[str, int]]:
    """student, notebook -> {exercise: seed} for the exercises that notebook's test cells grade
    (read from the notebook, so the writer process never imports torch)."""
    from . import secrets
    secret = secrets.course_secret(course.root)
    instructor = instructor or instructor_reader(course, assignment)
    parsed = functools.lru_cache(maxsize=None)(lambda notebook: json.loads(instructor(notebook)))

    def seeds(student: str, notebook: str) -> dict[str, int]:
        return secrets.notebook_seeds(secret, student, parsed(notebook))
    return seeds


def build_jobs(course, assignment: str, plans: list[StudentPlan], limits: Limits,
               seeds: Callable[[str, str], dict[str, int]],
               instructor: Callable[[str], str]) -> list[NotebookJob]:
    @functools.lru_cache(maxsize=None)
    def released(notebook: str) -> dict[str, str]:
        # here, where nbgrader is loaded anyway: the workers then never need to import it
        import nbformat
        return released_sources(nbformat.reads(instructor(notebook), as_version=4))

    declarations = read_declarations(exercises_directory(course.root), assignment)
    jobs = []
    for p in plans:
        for nb in p.notebooks:
            jobs.append(NotebookJob(
                assignment=assignment, student=p.student, notebook=nb,
                submitted_path=os.path.join(course.submitted(p.student, assignment), nb + ".ipynb"),
                instructor_nb_json=instructor(nb), released_sources=released(nb),
                seeds=seeds(p.student, nb), declarations=declarations, limits=limits))
    return jobs


# --------------------------------------------------------------------------- progress
class Progress:
    """tqdm bar (rate, ETA) on a terminal; one plain line per notebook otherwise."""

    def __init__(self, total: int, stream=None, tty: bool | None = None):
        self.stream = stream or sys.stderr
        self.total = total
        self.done = 0
        self.t0 = time.monotonic()
        tty = self.stream.isatty() if tty is None else tty
        self.bar = None
        if tty and total:
            from tqdm import tqdm
            self.bar = tqdm(total=total, unit="nb", file=self.stream, dynamic_ncols=True,
                            desc="grading", smoothing=0.1)

    def update(self, job: NotebookJob, res: NotebookResult, score: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{job.student}/{job.notebook}", refresh=False)
            self.bar.update(1)
            if res.status == "failed":
                self.bar.write(f"FAILED {job.student}/{job.notebook}: {'; '.join(res.problems)}")
            return
        el = time.monotonic() - self.t0
        rate = self.done / el if el > 0 else 0.0
        eta = (self.total - self.done) / rate if rate else 0.0
        state = score if res.status != "failed" else "FAILED: " + "; ".join(res.problems)
        print(f"[{self.done}/{self.total}] {job.student}/{job.notebook}: {state} "
              f"({rate:.2f} nb/s, ETA {eta:.0f} s)", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def print_summary(summary: Summary, stream=None) -> None:
    out = stream or sys.stdout
    rows = [("graded", f"{s}/{n}", sc) for s, n, sc in summary.graded]
    rows += [("FAILED", f"{s}/{n}", r) for s, n, r in summary.failed]
    rows += [("skipped", s, r) for s, r in summary.skipped]
    rows += [("problem", f"{s}/{n}", p) for s, n, p in summary.problems]
    rows += [("late", s, why) for s, why in summary.late]
    if rows:
        w0 = max(len(r[0]) for r in rows)
        w1 = max(len(r[1]) for r in rows)
        print(f"{'status':<{w0}}  {'submission':<{w1}}  detail", file=out)
        for r in rows:
            print(f"{r[0]:<{w0}}  {r[1]:<{w1}}  {r[2]}", file=out)
    n_graded = len(summary.graded)
    rate = n_graded / summary.elapsed if summary.elapsed > 0 else 0.0
    print(f"\n{n_graded} notebooks graded ({summary.students_committed} students committed), "
          f"{len(summary.failed)} failed, {len(summary.skipped)} skipped "
          f"in {summary.elapsed:.1f} s ({rate:.2f} nb/s) on {summary.scheduler}."
          + ("  INTERRUPTED: run again to finish." if summary.interrupted else ""), file=out)


# --------------------------------------------------------------------------- driver
def grade(course, assignment: str, *, workers: int | None = None, scheduler: str | None = None,
          students: list[str] | None = None, force: bool = False, limits: Limits | None = None,
          grader: str = DEFAULT_GRADER, progress_stream=None, tty: bool | None = None,
          seeds: Callable[[str, str], dict[str, int]] | None = None,
          pool: LocalPool | DaskPool | None = None, t0: float | None = None) -> Summary:
    """Grade what is left of ASSIGNMENT. `pool` may be started by the caller before the
    course is loaded, so that worker start-up overlaps the writer's own start-up."""
    from .gradebook import GradebookWriter

    t0 = time.monotonic() if t0 is None else t0
    summary = Summary()
    limits = limits or Limits()
    if pool is None:
        pool = make_pool(workers, scheduler, grader)
    pool.start()
    try:
        writer = GradebookWriter(course, assignment)
    except BaseException:
        pool.close()
        raise
    try:
        for path in writer.clean_partials():
            log.info("removed a partial folder left by an interrupted run: %s", path)
        plans = plan(course, writer, assignment, students, force, summary)
        instructor = instructor_reader(course, assignment)
        seeds = seeds or exercise_seeds(course, assignment, instructor)
        jobs = build_jobs(course, assignment, plans, limits, seeds, instructor)

        remaining = {p.student: set(p.notebooks) for p in plans}
        buffered: dict[str, dict[str, NotebookResult]] = defaultdict(dict)
        by_student = {p.student: p for p in plans}
        progress = Progress(len(jobs), progress_stream, tty)
        t_write = 0.0

        def commit(student: str) -> None:
            nonlocal t_write
            tw = time.perf_counter()
            results = buffered.pop(student, {})
            try:
                record = writer.commit_student(student, results, by_student[student].unknown)
            except Exception as exc:  # noqa: BLE001 - one student's bad data must not stop the batch
                log.debug("commit failed\n%s", traceback.format_exc())
                for nb in by_student[student].notebooks or ["*"]:
                    summary.failed.append((student, nb, f"could not record: {type(exc).__name__}: {exc}"))
                return
            finally:
                t_write += time.perf_counter() - tw
            summary.students_committed += 1
            if record.timestamp_problem:
                summary.problems.append((student, "timestamp.txt", record.timestamp_problem))
            if record.lateness:
                summary.late.append((student, record.lateness))
            for nb, o in sorted(record.notebooks.items()):
                if o.status == "failed":
                    summary.failed.append((student, nb, "; ".join(o.problems) or "failed"))
                elif o.status == "graded":
                    summary.graded.append((student, nb, f"{o.score:g}/{o.max_score:g}"))
                    for prob in o.problems:
                        summary.problems.append((student, nb, prob))
                elif o.status == "missing":
                    summary.problems.append((student, nb, "not submitted: scored 0"))
            for nb in by_student[student].unknown:
                summary.problems.append((student, nb, "not part of the assignment: ignored"))

        for p in plans:                      # nothing to run (e.g. only unknown notebooks)
            if not p.notebooks:
                commit(p.student)
        try:
            for job, res in pool.run(jobs):
                for k, v in res.timings.items():
                    if isinstance(v, (int, float)):
                        summary.timings[k] += v
                summary.timings[f"worker_total {job.notebook}"] += res.timings.get("worker_total", 0.0)
                buffered[job.student][job.notebook] = res
                remaining[job.student].discard(job.notebook)
                auto = [c for c in res.cells.values() if c.score is not None]
                score = f"{sum(c.score for c in auto):g}/{sum(c.max_score for c in auto):g}" if auto else ""
                progress.update(job, res, score or res.status)
                if not remaining[job.student]:
                    commit(job.student)
        except KeyboardInterrupt:
            summary.interrupted = True
        finally:
            progress.close()
            summary.scheduler = pool.describe()
        summary.timings["writer"] = t_write
    finally:
        pool.close()
        writer.close()
        summary.elapsed = time.monotonic() - t0
    return summary


def make_pool(workers: int | None = None, scheduler: str | None = None,
              grader: str = DEFAULT_GRADER) -> LocalPool | DaskPool:
    return DaskPool(scheduler, grader) if scheduler else LocalPool(workers, grader)


