"""Grade one submitted notebook on the trusted side of the sandbox.

    submitted notebook ──read (submission.py)──▶ cell plan, instructor's cells win
    (cell_plan.py) ──▶ child runs the student's cells ──▶ for each test cell: child returns the
    student's values on the probes (checked: replies.py), we compare them with autograd here
    ──▶ scores, feedback and the autograded notebook.

Test cell code never runs in the student's process: a test cell's ``grade_id``
(``test_<name>``) names the course's declaration that says how to grade it. The child is asked
only "what does your function return for this input?", and its answers are plain data.
"""
from __future__ import annotations

import copy
import logging
import os
import time
from dataclasses import dataclass, field

import nbformat

from autograder.course import declarations
from autograder.judge import feedback
from autograder.judge.diagnoses import cell_diagnoses
from autograder.course.authoring import Exercise
from autograder.intake.cells import grade_id as _grade_id, is_test as _is_test, meta as _meta, points as _points, source as _source
from autograder.intake.cells import tested_exercise
from autograder.judge.grading import run_exercise
from autograder.judge.policy import compile_error
from autograder.batch.jobs import CellResult, Limits, NotebookJob, NotebookResult
from autograder.intake.cell_plan import plan_cells
from autograder.protocol.rules import rules_for
from autograder.notebook.recording import record_decisions, unreadable
from autograder.notebook.replies import sanitise, stream, well_formed
from autograder.sandbox.session import ChildDied, Interrupted, close_shared_sandbox, shared_sandbox
from autograder.protocol.reports import CellReport
from autograder.intake.submission import BadSubmission, read_submission
from autograder.notebook.trusted_tests import CANNOT_CROSS, InstructorSide
from autograder.protocol.values import Outcome, failed_outcome

# Student code runs as in stock nbgrader's autograde (notebooks may check it).
AUTOGRADE_ENVIRONMENT = {"NBGRADER_EXECUTION": "autograde"}
# the diagnosis of an exercise the grader itself failed to grade (its own error, not the student's)
INTERNAL_ERROR = "internal_error"

log = logging.getLogger(__name__)


def _ask_child(session, exercise, timeout: float, deadline: float):
    """``call`` for run_exercise: the student's answer to one probe, fetched from the child."""
    def call(probe, *, max_numbers: int) -> Outcome:
        try:
            outcome = session.call(exercise.name, probe, rules_for(exercise),
                                   min(timeout, max(deadline - time.monotonic(), 0.1)), max_numbers=max_numbers)
        except Interrupted:
            return failed_outcome("TimeoutError", f"the function did not return within {timeout:g} seconds")
        if not well_formed(outcome):
            return failed_outcome("ProtocolError", "the grader received something that is not an answer")
        return outcome
    return call


def grade_notebook(job: NotebookJob, sandbox=None) -> NotebookResult:
    """Grade one submitted notebook file (what a batch worker runs for each job)."""
    result = NotebookResult(job.assignment, job.student, job.notebook, "graded", None)
    try:
        student = read_submission(job.submitted_path)
    except BadSubmission as exc:
        return _unreadable(job, result, str(exc))
    instructor = nbformat.reads(job.instructor_nb_json, as_version=4)
    exercises = declarations.bind(declarations.load(job.declarations), instructor, job.notebook)
    graded = grade_submission(instructor, student, os.path.dirname(job.submitted_path), job.seeds, job.limits,
                              _hide_paths(job), sandbox, job.released_sources, exercises=exercises)
    result.cells, result.problems, result.timings = graded.cells, graded.problems, graded.timings
    result.autograded_nb_json = nbformat.writes(graded.notebook)
    return result


@dataclass
class GradedNotebook:
    notebook: nbformat.NotebookNode       # the student's notebook, instructor cells restored, with outputs
    cells: dict = field(default_factory=dict)       # grade_id -> CellResult
    problems: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def grade_submission(instructor, student, files_dir: str | None, seeds: dict, limits: Limits,
                     hide_paths: tuple = (), sandbox=None, released: dict[str, str] | None = None,
                     files_out: str | None = None, *, exercises: dict[str, Exercise]) -> GradedNotebook:
    """Run the student's cells in a confined child and grade every test cell on this side:
    ``exercises`` (``declarations.bind``) from their declarations, the others by running the
    instructor's code on the student's values. ``files_out``: where the files the notebook
    creates go (nbgrader's autograded folder)."""
    started = time.monotonic()
    plan, problems = plan_cells(instructor, student, released, declared=exercises)
    graded = GradedNotebook(copy.copy(student), problems=problems)
    # the code cells in the order they run, as In [1], In [2] ...: a test cell is the instructor's
    sources = ["" if _is_test(c) else _source(c) for c in plan if c.cell_type == "code"]
    deadline = started + limits.notebook_timeout
    dead: str | None = None
    instructor_tests = any(_is_test(c) and tested_exercise(c) not in exercises for c in plan)
    with (sandbox or shared_sandbox()).session(files_dir, hide_paths, limits.memory_mb, limits.output_bytes,
                                               limits.complete_notebook, environment=AUTOGRADE_ENVIRONMENT,
                                               files_out=files_out) as session:
        graded.timings["start"] = time.monotonic() - started
        trusted = InstructorSide(session) if instructor_tests else None
        graded.problems += session.skipped
        count = 0
        last_test = max((i for i, c in enumerate(plan) if _is_test(c)), default=len(plan))
        for index, cell in enumerate(plan):
            gid = _grade_id(cell)
            if cell.cell_type != "code":
                if gid and _meta(cell).get("grade"):
                    graded.cells[gid] = _manual_cell(cell)
                continue
            count += 1
            cell.execution_count = count
            cell.outputs = []
            if dead is None and time.monotonic() > deadline:
                dead = f"ran past the notebook's {limits.notebook_timeout:g} s limit"
                session.kill(dead)
            name = tested_exercise(cell)
            if name in exercises:
                # what ran before this test cell is all that its calls can meet
                graded.cells[gid] = _grade_test_cell(session, cell, exercises[name], seeds, sources[:count - 1],
                                                     limits, deadline, dead)
                if INTERNAL_ERROR in graded.cells[gid].diagnoses:
                    graded.problems.append(f"test cell '{gid}' scored 0: {graded.cells[gid].message}")
                dead = dead or session.dead
            elif index > last_test and not limits.complete_notebook:
                cell.outputs = [stream("[not run by the fast grader: a cell after the last test cannot "
                                        "change a score]\n")]
            elif dead:
                cell.outputs = [stream(f"Not run: the notebook's process {dead}.\n", "stderr")]
                if _is_test(cell):
                    graded.cells[gid] = CellResult(0.0, _points(cell), ["not_run"], dead)
            elif _is_test(cell):   # the instructor's code, run here on the student's values
                graded.cells[gid] = trusted.run(cell, limits, deadline)
                if CANNOT_CROSS in graded.cells[gid].diagnoses:
                    graded.problems.append(f"test cell '{gid}' scored 0: {graded.cells[gid].message}")
                dead = dead or session.dead
            else:
                dead = _run_code_cell(session, cell, limits)
                refused = compile_error(_source(cell))
                if refused:
                    cell.outputs.append(stream(f"Cell In [{count}] could not be compiled ({refused}); it did not run, "
                                               "and the notebook was graded without it.\n", "stderr"))
                    graded.problems.append(f"code cell In [{count}] could not be compiled ({refused}); "
                                           "the notebook was graded without it")
                if trusted and _meta(cell).get("locked"):
                    trusted.keep_imports(cell)
        graded.timings["isolation"] = session.isolation
    graded.problems += [f"a file the notebook wrote was not kept: {why}" for why in session.files_skipped]
    if dead:
        graded.problems.append(f"the notebook's process {dead}; cells after that scored 0")
    graded.problems += record_decisions(plan, graded.cells)
    graded.notebook.cells = plan
    graded.timings["total"] = time.monotonic() - started
    return graded


def _grade_test_cell(session, cell, exercise, seeds, sources, limits, deadline, dead) -> CellResult:
    points = exercise.points        # bound from this instructor notebook's test cell
    if dead:
        cell.outputs = [stream(f"Not graded: the notebook's process {dead}.\nScore: 0/{points:g}\n")]
        return CellResult(0.0, points, ["not_run"], f"not graded: the notebook's process {dead}")
    try:
        verdicts, violation, score = run_exercise(exercise, _ask_child(session, exercise, limits.cell_timeout, deadline),
                                                  seeds[exercise.name], sources)
    except ChildDied as exc:
        cell.outputs = [stream(f"Not graded: the notebook's process {exc}.\nScore: 0/{points:g}\n")]
        return CellResult(0.0, points, ["kernel_died"], f"the notebook's process {exc}")
    except Exception as exc:  # noqa: BLE001 - the grader's own failure costs this exercise alone
        log.exception("grading %s failed in the grader", exercise.name)
        text = (f"{exercise.name}: not graded, because the grader itself failed ({type(exc).__name__}: {exc}). "
                "This is an error in the grader, not in your code; your instructor will regrade it.")
        cell.outputs = [stream(f"{text}\nScore: 0/{points:g}\n")]
        return CellResult(0.0, points, [INTERNAL_ERROR], text)
    text = feedback.render(exercise, verdicts, violation, score)
    cell.outputs = [stream(text)]
    return CellResult(round(score, 2), points, cell_diagnoses(rules_for(exercise), verdicts, violation), text)


def _run_code_cell(session, cell, limits) -> str | None:
    """Run one ordinary cell in the child; return why the child died, if it did."""
    try:
        report = session.run_cell(_source(cell), limits.cell_timeout)
    except Interrupted as exc:
        report = exc.reply if isinstance(exc.reply, CellReport) else CellReport()
        report.outputs = list(report.outputs) + [{
            "output_type": "error", "ename": "CellTimeoutError", "evalue": str(exc),
            "traceback": [f"CellTimeoutError: this cell {exc}"]}]
    except ChildDied as exc:
        cell.outputs = [nbformat.v4.new_output("error", ename="KernelDied", evalue=str(exc),
                                               traceback=[f"The notebook's process {exc}."])]
        return str(exc)
    if not isinstance(report, CellReport):
        session.kill("sent something that is not a cell report")
        return session.dead
    cell.outputs = sanitise(report.outputs, cell.execution_count)
    if report.truncated:
        cell.outputs.append(stream(f"[output cut at {limits.output_bytes} bytes]\n"))
    return None


def _manual_cell(cell) -> CellResult:
    """A human grades it; the writer applies nbgrader's rule that an untouched answer scores 0."""
    return CellResult(None, _points(cell))


def _unreadable(job: NotebookJob, result: NotebookResult, reason: str) -> NotebookResult:
    """Nothing to run: every graded cell of this notebook scores 0, with the reason."""
    result.cells.update(unreadable(nbformat.reads(job.instructor_nb_json, as_version=4).cells, reason))
    result.status = "failed"
    result.problems.append(reason)
    return result


# ---- worker hooks (autograder.batch.worker) -----------------------------------------------

def warm_up() -> None:
    """Once, in the local pool's fork server: every import and first-call cost of grading
    (the sandbox's torch and matplotlib, the first call of each torch.func transform that
    references use), so that each worker forked from it starts warm. nbgrader is not among
    them: jobs arrive with the released cell sources, and the writer judges blank written
    answers."""
    import torch

    from autograder.sandbox import zygote
    zygote.prepare()
    x = torch.ones(2, dtype=torch.float64)
    torch.func.jacrev(torch.tanh)(x)
    torch.func.jvp(torch.tanh, (x,), (x,))
    torch.func.vjp(torch.tanh, x)[1](x)
    torch.func.vmap(torch.func.grad(torch.sigmoid))(x)


def after_fork() -> None:
    """In a newborn worker, before its first job: fork its sandbox's zygote while this
    process is still as clean as the fork server."""
    shared_sandbox().start(fork=True)


def before_exit() -> None:
    """As a worker leaves: end its zygote and free the memory its sandbox's share files hold."""
    close_shared_sandbox()


def _hide_paths(job: NotebookJob) -> tuple[str, ...]:
    """What the job says student code must not see, and the exercise declarations' folder
    (wherever it is configured)."""
    paths = list(job.hide_paths)
    if job.declarations is not None:
        paths.append(os.path.dirname(os.path.dirname(os.path.abspath(job.declarations.path))))
    return tuple(paths)

