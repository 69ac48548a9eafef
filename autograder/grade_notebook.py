"""Grade one submitted notebook on the trusted side of the sandbox.

    submitted notebook ──read──▶ cell plan (instructor's test cells win) ──▶ child runs the
    student's cells ──▶ for each test cell: child returns the student's values on the probes,
    we compare them with autograd here ──▶ scores, feedback and the autograded notebook.

Test cell code never runs in the student's process: a test cell's ``grade_id``
(``test_<name>``) names the registry entry that says how to grade it. The child is asked
only "what does your function return for this input?", and its answers are plain data.
"""
from __future__ import annotations

import copy
import os
import time
from dataclasses import dataclass, field
from typing import Collection

import nbformat
import numpy as np

from autograder import course, feedback
from autograder.cells import TEST_PREFIX, released_sources, tested_exercise
from autograder.cells import grade_id as _grade_id, is_test as _is_test, meta as _meta, source as _source
from autograder.authoring import Exercise
from autograder.files import NotRegularFile, read_regular
from autograder.grading import run_exercise
from autograder.jobs import CellResult, Limits, NotebookJob, NotebookResult
from autograder.recording import record_decisions
from autograder.sandbox import ChildDied, Interrupted, shared_sandbox
from autograder.sandbox.reports import CellReport
from autograder.trusted_tests import CANNOT_CROSS, InstructorSide
from autograder.values import Outcome, StudentError, Unconvertible, failed_outcome

# What in a course root student code must never see while it runs.
COURSE_SECRETS = ("source", "solutions", "submitted", "autograded", "feedback", "exchange", "release",
                  "gradebook.db", ".autograder", "nbgrader_config.py", ".git", "tests", "bench", "autograding")


# Student code runs as in stock nbgrader's autograde (notebooks may check it).
AUTOGRADE_ENVIRONMENT = {"NBGRADER_EXECUTION": "autograde"}


# ---- reading ------------------------------------------------------------------------

class BadSubmission(Exception):
    """The submitted file cannot be read as a notebook; the message says why, for the student."""


def read_submission(path: str) -> nbformat.NotebookNode:
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise BadSubmission("the notebook was not submitted") from None
    except NotRegularFile as exc:
        raise BadSubmission(str(exc)) from None
    if not raw:
        raise BadSubmission("the submitted notebook is an empty (0-byte) file")
    try:
        return _parse(raw)
    except RecursionError:
        raise BadSubmission("the submitted file is not a readable notebook (its JSON is nested too deeply)") from None


def _parse(raw: bytes) -> nbformat.NotebookNode:
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=nbformat.NO_CONVERT)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the student's file, said in words
        nb = _lenient_read(raw)
        if nb is None:
            raise BadSubmission(f"the submitted file is not a readable notebook ({type(exc).__name__}: "
                                f"{str(exc)[:200]})") from None
    if nb.get("nbformat", 0) < 4:
        try:
            nb = nbformat.convert(nb, 4)
        except Exception:  # noqa: BLE001
            raise BadSubmission(f"the notebook uses nbformat {nb.get('nbformat')}, which cannot be upgraded") from None
    if not isinstance(nb.get("cells"), list):
        raise BadSubmission("the notebook has no cells")
    # nbformat lets some malformed cells through (one without a source, say)
    nb.cells = [nbformat.from_dict(_well_typed(cell)) if isinstance(cell, dict) else cell for cell in nb.cells]
    return nb


def _lenient_read(raw: bytes):
    """A version-4 notebook JSON that nbformat rejects only for some malformed cells: keep it,
    so that planning drops those cells (and says so) instead of failing the whole notebook.
    Of the notebook's own fields only the ones nbformat needs are kept, well typed."""
    import json
    try:
        data = json.loads(raw.decode("utf-8"))
    except Exception:  # noqa: BLE001
        return None
    if not isinstance(data, dict) or data.get("nbformat") != 4 or not isinstance(data.get("cells"), list):
        return None
    minor = data.get("nbformat_minor")
    data = {"nbformat": 4, "nbformat_minor": minor if type(minor) is int else nbformat.v4.nbformat_minor,
            "metadata": data["metadata"] if isinstance(data.get("metadata"), dict) else {},
            "cells": data["cells"]}
    return nbformat.from_dict(data)


def _well_typed(cell: dict) -> dict:
    """The fields of a cell that grading and writing the notebook use, each of the right type
    (outputs that are not dicts, attachments and ids that are not well formed are dropped,
    and so is grading metadata without a string grade_id: the cell is then an ordinary one)."""
    source = cell.get("source", "")
    metadata = cell["metadata"] if isinstance(cell.get("metadata"), dict) else {}
    grading = metadata.get("nbgrader", {})
    if not isinstance(grading, dict) or not isinstance(grading.get("grade_id", ""), str):
        metadata = {k: v for k, v in metadata.items() if k != "nbgrader"}
    kept = {"cell_type": cell.get("cell_type"),
            "source": "".join(map(str, source)) if isinstance(source, list) else str(source),
            "metadata": metadata}
    if isinstance(cell.get("id"), str):
        kept["id"] = cell["id"]
    attachments = cell.get("attachments")
    if isinstance(attachments, dict) and all(isinstance(a, dict) for a in attachments.values()):
        kept["attachments"] = attachments
    if kept["cell_type"] == "code":
        # grading replaces them with the child's; only `nbgrader autograde --no-execute` reads them
        outputs, count = cell.get("outputs"), cell.get("execution_count")
        kept["outputs"] = [o for o in outputs if isinstance(o, dict)] if isinstance(outputs, list) else []
        kept["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return kept


def is_cell(cell) -> bool:
    """A cell grading can use; any other entry of a notebook's cell list is dropped."""
    return isinstance(cell, dict) and cell.get("cell_type") in ("code", "markdown", "raw")


_GRADING_KEYS = ("grade", "grade_id", "locked", "points", "solution", "task")


def _grading_meta(cell) -> dict:
    """The metadata that decides grading (nbgrader adds checksums and more on release)."""
    meta = _meta(cell)
    return {k: meta.get(k) for k in _GRADING_KEYS}


# ---- planning: the instructor's cells win --------------------------------------------

def plan_cells(instructor: nbformat.NotebookNode, student: nbformat.NotebookNode,
               released: dict[str, str] | None = None, *, declared: Collection[str] = ()) -> tuple[list, list[str]]:
    """The student's cells with every locked instructor cell restored, and what was tampered with.

    Like nbgrader's OverwriteCells, but also restores deleted, duplicated, retyped or moved
    test cells: each instructor test cell stands right after the student's last cell that
    precedes it in the instructor's order (normally its solution cell). ``declared``: the
    exercises graded from their declarations, whose hidden tests are never shown.
    """
    locked = {gid: c for c in instructor.cells
              if (gid := _grade_id(c)) and (_meta(c).get("locked") or _is_test(c))}
    released = released_sources(instructor) if released is None else released
    graded_meta = {gid: _meta(c) for c in instructor.cells if (gid := _grade_id(c))}
    problems, plan, seen = [], [], set()
    for cell in student.cells:
        if not is_cell(cell):
            problems.append("a malformed cell was dropped")
            continue
        gid = _grade_id(cell)
        if gid in seen and gid in graded_meta:
            problems.append(f"cell '{gid}' appears more than once; only its first copy counts")
            continue
        if gid in locked:
            seen.add(gid)
            original = locked[gid]
            if cell.get("cell_type") != original.cell_type:
                problems.append(f"cell '{gid}' was changed from {original.cell_type} to {cell.get('cell_type')}")
            elif _source(cell).strip() not in (released[gid].strip(), _source(original).strip()):
                problems.append(f"locked cell '{gid}' was edited; the instructor's version was used")
            elif _grading_meta(cell) != _grading_meta(original):
                problems.append(f"the grading metadata of cell '{gid}' was changed; the instructor's was used")
            plan.append(_restored(original, released[gid], declared, cell))
            continue
        cell = copy.deepcopy(nbformat.from_dict(cell))
        if gid in graded_meta:
            seen.add(gid)
            if _grading_meta(cell) != {k: graded_meta[gid].get(k) for k in _GRADING_KEYS}:
                problems.append(f"the grading metadata of cell '{gid}' was changed; the instructor's was used")
                cell.metadata["nbgrader"] = {**graded_meta[gid], "checksum": _meta(cell).get("checksum")}
        elif _meta(cell).get("grade") or _meta(cell).get("locked"):
            problems.append(f"a cell claims to be graded ('{gid}') but is not in the assignment; ignored")
            cell.metadata.pop("nbgrader", None)
        plan.append(cell)
    _restore_missing(instructor, plan, locked, released, declared, seen, problems)
    for gid in _keep_tests_after_solutions(plan):
        problems.append(f"test cell '{gid}' was moved; it was graded after its solution cell")
    return plan, problems


def _restored(original, released_source: str, declared: Collection[str], student_cell=None):
    """The instructor's cell as released: the hidden tests of a declared exercise never reach
    the autograded notebook (they are graded from the declaration, not run), and it keeps
    the release checksum."""
    cell = copy.deepcopy(original)
    if tested_exercise(original) in declared:
        cell.source = released_source
    checksum = _meta(student_cell or {}).get("checksum") if student_cell else None
    if isinstance(checksum, str):
        cell.metadata.setdefault("nbgrader", {})["checksum"] = checksum
    if isinstance((student_cell or {}).get("id"), str):   # it takes the student's cell's place
        cell["id"] = student_cell["id"]
    if cell.cell_type == "code":    # never the instructor's outputs; the student's, for --no-execute
        cell.outputs = copy.deepcopy((student_cell or {}).get("outputs", []))
        cell.execution_count = (student_cell or {}).get("execution_count")
    return cell


def _restore_missing(instructor, plan, locked, released, declared, seen, problems) -> None:
    order = [_grade_id(c) for c in instructor.cells]
    for gid, original in locked.items():
        if gid in seen:
            continue
        if _is_test(original):
            problems.append(f"test cell '{gid}' was missing; the instructor's version was restored")
        # after the student's copy of the nearest preceding graded cell, else at the start
        before = {g for g in order[:order.index(gid)] if g}
        at = 0
        for i, cell in enumerate(plan):
            if _grade_id(cell) in before:
                at = i + 1
        plan.insert(at, _restored(original, released[gid], declared))


def _keep_tests_after_solutions(plan: list) -> list[str]:
    """A test cell ``test_<name>`` moved above the solution cell ``<name>`` goes back below it;
    return those moved."""
    moved = []
    for name in [tested_exercise(c) for c in plan if tested_exercise(c)]:
        ids = [_grade_id(c) for c in plan]
        if name in ids and ids.index(TEST_PREFIX + name) < ids.index(name):
            plan.insert(ids.index(name), plan.pop(ids.index(TEST_PREFIX + name)))
            moved.append(TEST_PREFIX + name)
    return moved


# ---- grading ------------------------------------------------------------------------

def _stream(text: str, name: str = "stdout"):
    return nbformat.v4.new_output("stream", name=name, text=text)


def _sanitise(outputs: list, execution_count: int | None) -> list:
    """Rebuild the child's outputs from their plain fields only (nothing it sends is kept as-is)."""
    clean = []
    for out in outputs if isinstance(outputs, list) else []:
        try:
            clean += _sanitise_one(out, execution_count)
        except (TypeError, ValueError, AttributeError, KeyError):
            clean.append(_stream("[an output the grader could not read was dropped]\n", "stderr"))
    return clean


def _sanitise_one(out, execution_count: int | None) -> list:
    kind = out.get("output_type") if isinstance(out, dict) else None
    if kind == "stream" and out.get("name") in ("stdout", "stderr"):
        return [_stream(str(out.get("text", "")), out["name"])]
    if kind in ("display_data", "execute_result") and isinstance(out.get("data"), dict):
        data = {str(k): str(v) for k, v in out["data"].items()}
        extra = {"execution_count": execution_count} if kind == "execute_result" else {}
        return [nbformat.v4.new_output(kind, data=data, **extra)]
    if kind == "error":
        return [nbformat.v4.new_output("error", ename=str(out.get("ename", "Error")), evalue=str(out.get("evalue", "")),
                                       traceback=[str(t) for t in out.get("traceback", [])])]
    return []


def _ask_child(session, exercise, timeout: float, deadline: float):
    """``call`` for run_exercise: the student's answer to one probe, fetched from the child."""
    def call(probe) -> Outcome:
        try:
            outcome = session.call(exercise.name, probe, exercise.by_hand,
                                   min(timeout, max(deadline - time.monotonic(), 0.1)))
        except Interrupted:
            return failed_outcome("TimeoutError", f"the function did not return within {timeout:g} seconds")
        if not _well_formed(outcome):
            return failed_outcome("ProtocolError", "the grader received something that is not an answer")
        return outcome
    return call


def _well_formed(outcome) -> bool:
    """The child decides every field of what it sends: check their types before use."""
    def plain(v, depth=0):
        if v is None or isinstance(v, (bool, int, float, str, np.ndarray, Unconvertible)):
            return not isinstance(v, Unconvertible) or (isinstance(v.type_name, str) and isinstance(v.text, str)
                                                        and isinstance(v.too_large, bool))
        return isinstance(v, tuple) and depth < 32 and all(plain(x, depth + 1) for x in v)

    error = getattr(outcome, "error", None)
    return (isinstance(outcome, Outcome) and plain(outcome.value) and isinstance(outcome.type_name, str)
            and isinstance(outcome.autograd_calls, (tuple, list)) and all(isinstance(c, str) for c in outcome.autograd_calls)
            and isinstance(outcome.stderr, str) and isinstance(outcome.stdout, str)
            and isinstance(outcome.seconds, (int, float))
            and (error is None or (isinstance(error, StudentError) and isinstance(error.exc_type, str)
                                   and isinstance(error.message, str) and isinstance(error.line, str)
                                   and isinstance(error.function, str)
                                   and (error.lineno is None or isinstance(error.lineno, int)))))


def grade_notebook(job: NotebookJob, sandbox=None) -> NotebookResult:
    """Grade one submitted notebook file (what a batch worker runs for each job)."""
    result = NotebookResult(job.assignment, job.student, job.notebook, "graded", None)
    try:
        student = read_submission(job.submitted_path)
    except BadSubmission as exc:
        return _unreadable(job, result, str(exc))
    instructor = nbformat.reads(job.instructor_nb_json, as_version=4)
    exercises = course.bind(course.load(job.declarations), instructor, job.notebook)
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
    ``exercises`` (``course.bind``) from their declarations, the others by running the
    instructor's code on the student's values. ``files_out``: where the files the notebook
    creates go (nbgrader's autograded folder)."""
    started = time.monotonic()
    plan, problems = plan_cells(instructor, student, released, declared=exercises)
    graded = GradedNotebook(copy.copy(student), problems=problems)
    sources = [_source(c) for c in plan if c.cell_type == "code" and not _is_test(c)]
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
                graded.cells[gid] = _grade_test_cell(session, cell, exercises[name], seeds, sources,
                                                     limits, deadline, dead)
                dead = dead or session.dead
            elif index > last_test and not limits.complete_notebook:
                cell.outputs = [_stream("[not run by the fast grader: a cell after the last test cannot "
                                        "change a score]\n")]
            elif dead:
                cell.outputs = [_stream(f"Not run: the notebook's process {dead}.\n", "stderr")]
                if _is_test(cell):
                    graded.cells[gid] = CellResult(0.0, float(_meta(cell).get("points", 0)), ["not_run"], dead)
            elif _is_test(cell):   # the instructor's code, run here on the student's values
                graded.cells[gid] = trusted.run(cell, limits, deadline)
                if CANNOT_CROSS in graded.cells[gid].diagnoses:
                    graded.problems.append(f"test cell '{gid}' scored 0: {graded.cells[gid].message}")
                dead = dead or session.dead
            else:
                dead = _run_code_cell(session, cell, limits)
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
        cell.outputs = [_stream(f"Not graded: the notebook's process {dead}.\nScore: 0/{points:g}\n")]
        return CellResult(0.0, points, ["not_run"], f"not graded: the notebook's process {dead}")
    try:
        verdicts, violation, score = run_exercise(exercise, _ask_child(session, exercise, limits.cell_timeout, deadline),
                                                  seeds[exercise.name], sources)
    except ChildDied as exc:
        cell.outputs = [_stream(f"Not graded: the notebook's process {exc}.\nScore: 0/{points:g}\n")]
        return CellResult(0.0, points, ["kernel_died"], f"the notebook's process {exc}")
    text = feedback.render(exercise, verdicts, violation, score)
    cell.outputs = [_stream(text)]
    diagnoses = ["autograd_used"] if violation else sorted({v.diagnosis for v in verdicts if not v.passed})
    return CellResult(round(score, 2), points, diagnoses, text)


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
    cell.outputs = _sanitise(report.outputs, cell.execution_count)
    if report.truncated:
        cell.outputs.append(_stream(f"[output cut at {limits.output_bytes} bytes]\n"))
    return None


def _manual_cell(cell) -> CellResult:
    """A human grades it; the writer applies nbgrader's rule that an untouched answer scores 0."""
    return CellResult(None, float(_meta(cell).get("points", 0)))


def _unreadable(job: NotebookJob, result: NotebookResult, reason: str) -> NotebookResult:
    """Nothing to run: every graded cell of this notebook scores 0, with the reason."""
    instructor = nbformat.reads(job.instructor_nb_json, as_version=4)
    for cell in instructor.cells:
        gid = _grade_id(cell)
        if gid and _meta(cell).get("grade"):
            result.cells[gid] = CellResult(0.0, float(_meta(cell).get("points", 0)), ["unreadable"], reason)
    result.status = "failed"
    result.problems.append(reason)
    return result


# ---- worker hooks (autograder.worker) -----------------------------------------------

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


def course_secret_paths(course_root: str) -> list[str]:
    """What student code must not see in a course root."""
    return [os.path.join(course_root, name) for name in COURSE_SECRETS]


def _hide_paths(job: NotebookJob) -> tuple[str, ...]:
    """The course root's secrets (found above the submission), and whatever the job adds."""
    paths = list(job.hide_paths)
    if job.declarations is not None:    # the course's exercises folder, wherever it is configured
        paths.append(os.path.dirname(os.path.dirname(os.path.abspath(job.declarations.path))))
    folder = os.path.dirname(os.path.abspath(job.submitted_path))
    while folder != os.path.dirname(folder):
        if os.path.exists(os.path.join(folder, "nbgrader_config.py")):
            paths += course_secret_paths(folder)
            break
        folder = os.path.dirname(folder)
    return tuple(paths)
