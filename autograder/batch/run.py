"""Batch grading: find what is left to grade, run the notebook jobs, stream results to the writer.

Two schedulers deliver the same `NotebookJob`s (job_plan.py) to `grade_notebook` and hand the
results back to the one writer (`gradebook.GradebookWriter`, in this process):

* `LocalPool` (default, localpool.py): N worker processes forked from one fork server that
  imported torch and the grader once; they grade job after job. A worker that dies or
  overruns its job's wall limit is killed and replaced; only that job is recorded as failed.
* `DaskPool` (`--scheduler tcp://host:port`, daskpool.py): the jobs go to an existing
  dask.distributed cluster.

A student is committed (files, gradebook, sidecar) as soon as all of their notebooks are back,
so an interrupted run loses at most the students in flight. `Progress` (progress.py) shows the
run as it goes; `Summary` (summary.py) is what it did.
"""
from __future__ import annotations

import logging
import time
import traceback
from collections import defaultdict
from typing import TYPE_CHECKING, Callable

from autograder.batch.daskpool import DaskPool
from autograder.batch.jobs import Limits, NotebookResult
from autograder.batch.localpool import LocalPool
from autograder.batch.plan import build_jobs, exercise_seeds, instructor_reader, plan
from autograder.batch.progress import Progress
from autograder.batch.summary import Summary
from autograder.batch.worker import DEFAULT_GRADER

if TYPE_CHECKING:
    from autograder.gradebook.writer import StudentRecord

log = logging.getLogger("autograder.batch.run")


def grade(course, assignment: str, *, workers: int | None = None, scheduler: str | None = None,
          students: list[str] | None = None, force: bool = False, limits: Limits | None = None,
          grader: str = DEFAULT_GRADER, progress_stream=None, tty: bool | None = None,
          seeds: Callable[[str, str], dict[str, int]] | None = None,
          pool: LocalPool | DaskPool | None = None, t0: float | None = None,
          on_commit: Callable[[str, StudentRecord], None] | None = None) -> Summary:
    """Grade what is left of ASSIGNMENT. `pool` may be started by the caller before the
    course is loaded, so that worker start-up overlaps the writer's own start-up; the caller
    then closes it (a pool made here is closed here). `on_commit(student, record)` runs as
    each student is committed."""
    from autograder.gradebook.writer import GradebookWriter

    t0 = time.monotonic() if t0 is None else t0
    summary = Summary()
    limits = limits or Limits()
    own_pool = pool is None
    if own_pool:
        pool = make_pool(workers, scheduler, grader)
    pool.start()
    try:
        writer = GradebookWriter(course, assignment)
    except BaseException:
        if own_pool:
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
            summary.add_committed(student, record, by_student[student].unknown)
            if on_commit is not None:
                on_commit(student, record)

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
        if own_pool:
            pool.close()
        writer.close()
        summary.elapsed = time.monotonic() - t0
    return summary


def make_pool(workers: int | None = None, scheduler: str | None = None,
              grader: str = DEFAULT_GRADER) -> LocalPool | DaskPool:
    return DaskPool(scheduler, grader) if scheduler else LocalPool(workers, grader)


