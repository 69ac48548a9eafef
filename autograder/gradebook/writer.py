"""The single writer: puts worker results where `nbgrader autograde` would have put them.

Only the main process of `autograder grade` writes. For each student it writes, in this order:

1. the autograded folder, built in a hidden temporary sibling
   (`autograded/<student>/.<assignment>.partial-<pid>`): the student's non-notebook files and
   `timestamp.txt` (copied as nbgrader's `BaseConverter.init_assignment` does), the
   instructor's non-notebook files from `source/` (as `Autograde.init_assignment` does,
   honouring `Autograde.exclude_overwriting`), and the autograded notebooks;
2. the gradebook, in ONE transaction: student, submission + timestamp, per-cell
   `auto_score`/`needs_manual_grade` (as `SaveAutoGrades`), solution-cell comments
   ("No response."), late penalties (through the configured `AssignLatePenalties` plugin), and
   0 for every cell of a notebook that was not submitted (as `Autograde.init_assignment`);
3. a sidecar JSON under `<course>/.autograder/graded/<assignment>/<student>.json` with what
   nbgrader has no column for (diagnoses, messages, problems, failures), read by the report;
4. the rename of the temporary folder into `autograded/<student>/<assignment>`.

The rename is the commit point: a student counts as graded once the folder exists (the same
test stock nbgrader uses to skip a submission), so a run killed anywhere before it regrades that
student from scratch and rewrites the same values; nothing half-written is ever taken as done.
"""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import shutil
import time
from dataclasses import dataclass, field
from typing import Any

from autograder.hooks import lateness
from autograder.course.directory import Course
from autograder.intake.files import copy_beside_notebooks
from autograder.batch.jobs import CellResult, NotebookResult

PARTIAL_PREFIX = "."
PARTIAL_MARK = ".partial-"
NO_RESPONSE = "No response."      # nbgrader's auto comment on a solution cell left as released


@dataclass
class NotebookOutcome:
    """What the writer records for one notebook of one student."""
    notebook: str
    status: str                               # graded | failed | missing
    cells: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    score: float = 0.0
    max_score: float = 0.0


@dataclass
class StudentRecord:
    """What the writer recorded for one student: per-notebook outcomes, and what the
    instructor should hear about the submission as a whole."""
    notebooks: dict[str, NotebookOutcome]
    lateness: str | None = None               # how much was deducted for lateness, and why
    timestamp_problem: str | None = None      # timestamp.txt missing or unreadable


class GradebookWriter:
    """Holds one gradebook connection for the whole batch; commits one student at a time."""

    def __init__(self, course: Course, assignment: str):
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.converters.autograde import Autograde
        from nbgrader.preprocessors import AssignLatePenalties

        self.course = course
        self.assignment_id = assignment
        # the Autograde converter is built only to read its configured traits
        conv = Autograde(coursedir=course.coursedir, config=course.config)
        self.create_student = conv.create_student
        self.exclude_overwriting = list(conv.exclude_overwriting.get(assignment, []))
        self.permissions = int(str(conv.permissions), 8)
        late = AssignLatePenalties(config=course.config)
        late.init_plugin()
        self._late = late
        self.late_rule = lateness.describe_rule(late.plugin_inst)

        self.gb = Gradebook(course.db_url, course.course_id)
        try:
            self.assignment = self.gb.find_assignment(assignment)
        except MissingEntry:
            self.gb.close()
            raise SystemExit(
                f"No assignment '{assignment}' in the gradebook {course.db_url}: "
                f"run `nbgrader generate_assignment {assignment}` first.")
        self.notebooks = sorted(nb.name for nb in self.assignment.notebooks)
        # The assignment's structure does not change while we grade: keep it loaded across
        # commits (no re-select of every cell after each student) and hold the cells so that
        # grade.cell / comment.cell resolve from the session's identity map without SQL.
        self.gb.db().expire_on_commit = False
        self._cells = [cell for nb in self.assignment.notebooks for cell in nb._base_cells]
        self._source_files = self._list_source_files()

    # ------------------------------------------------------------------ state
    def close(self) -> None:
        self.gb.close()

    def is_graded(self, student: str) -> bool:
        """Graded = the autograded folder exists, is not older than the submission, and no
        notebook of it is recorded as failed (those are retried)."""
        dest = self.course.autograded(student, self.assignment_id)
        if not os.path.isdir(dest):
            return False
        new, _ = lateness.read_timestamp(self.course.submitted(student, self.assignment_id))
        old, _ = lateness.read_timestamp(dest)
        if new is not None and old is not None and new > old:
            return False
        side = self.read_sidecar(student)
        if side and any(nb.get("status") == "failed" for nb in side.get("notebooks", {}).values()):
            return False
        return True

    def read_sidecar(self, student: str) -> dict | None:
        try:
            with open(self.course.sidecar(self.assignment_id, student)) as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def clean_partials(self) -> list[str]:
        """Remove temporary folders left by a killed run."""
        removed = []
        parent = os.path.dirname(self.course.autograded("*", self.assignment_id))
        for path in glob.glob(os.path.join(parent, PARTIAL_PREFIX + self.assignment_id + PARTIAL_MARK + "*")):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        return removed

    # ----------------------------------------------------------------- commit
    def commit_student(self, student: str, results: dict[str, NotebookResult],
                       unknown: list[str] = ()) -> StudentRecord:
        """Write one student's results (files, gradebook, sidecar) atomically enough that a
        crash at any point leaves the student either fully graded or not graded at all."""
        from nbgrader import utils as nbu

        src = self.course.submitted(student, self.assignment_id)
        dest = self.course.autograded(student, self.assignment_id)
        timestamp, timestamp_problem = lateness.read_timestamp(src)
        parent = os.path.dirname(dest)
        made_parent = not os.path.isdir(parent)
        os.makedirs(parent, exist_ok=True)
        tmp = os.path.join(parent, PARTIAL_PREFIX + os.path.basename(dest) + PARTIAL_MARK + str(os.getpid()))
        try:
            outcomes, late = self._write(student, results, src, tmp, timestamp, nbu)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            if made_parent:
                try:
                    os.rmdir(parent)
                except OSError:
                    pass
            raise

        # 3. sidecar ---------------------------------------------------------------
        graded_at = time.time()
        total = sum(o.score for o in outcomes.values()) - late["late_penalty"]
        history = (self.read_sidecar(student) or {}).get("history", [])     # regrades keep it
        side = {
            "student": student,
            "assignment": self.assignment_id,
            "graded_at": graded_at,
            "history": [*history, {"graded_at": graded_at, "score": round(total, 2)}],
            "timestamp": timestamp.isoformat() if timestamp else None,
            "timestamp_problem": timestamp_problem,
            **late,
            "unknown_notebooks": list(unknown),
            "notebooks": {n: dataclasses.asdict(o) for n, o in outcomes.items()},
        }
        _atomic_write(self.course.sidecar(self.assignment_id, student), json.dumps(side, indent=1))

        # 4. commit point: swap the folder in ---------------------------------------
        if os.path.exists(dest):
            old = tmp + ".old"
            os.rename(dest, old)
            os.rename(tmp, dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dest)
        return StudentRecord(outcomes, late["lateness"], timestamp_problem)

    def _write(self, student, results, src, tmp, timestamp, nbu):
        """Files into tmp, then the gradebook transaction (rolled back on any error)."""
        cd = self.course.coursedir
        if os.path.exists(tmp):
            shutil.rmtree(tmp)
        os.makedirs(tmp)

        # 1. files -------------------------------------------------------------
        copy_beside_notebooks(src, tmp, cd.ignore)    # the child's copy of the folder lists what it leaves out
        source_root = self.course.source(self.assignment_id)
        for rel in self._source_files:
            _copy(os.path.join(source_root, rel), os.path.join(tmp, rel))
        parsed: dict[str, Any] = {}
        for name, res in results.items():
            if res.autograded_nb_json is None:
                continue
            with open(os.path.join(tmp, name + ".ipynb"), "w", encoding="utf-8") as fh:
                fh.write(res.autograded_nb_json)
            parsed[name] = _graded_cells(res.autograded_nb_json)
        for dirname, _, filenames in os.walk(tmp):
            for filename in filenames:
                os.chmod(os.path.join(dirname, filename), self.permissions)

        # 2. gradebook, one transaction ------------------------------------------
        outcomes: dict[str, NotebookOutcome] = {}
        db = self.gb.db
        try:
            submission = self._submission(student, timestamp)
            seconds_late = submission.total_seconds_late
            for snb in submission.notebooks:
                name = snb.notebook.name
                if name in results:
                    outcomes[name] = self._apply_notebook(snb, results[name], parsed.get(name), nbu)
                else:
                    # not submitted: every grade 0, nothing to grade by hand (stock behaviour)
                    out = NotebookOutcome(name, "missing", problems=[f"{name}.ipynb was not submitted"])
                    for grade in snb.grades:
                        grade.auto_score = 0
                        grade.needs_manual_grade = False
                        out.max_score += float(grade.cell.max_score or 0)
                    outcomes[name] = out
            db.flush()
            for snb in submission.notebooks:
                name = snb.notebook.name
                db.expire(snb, ["score"])
                score = float(snb.score)
                outcomes[name].score = score
                if name in results:       # stock assigns penalties only to converted notebooks
                    snb.late_submission_penalty = self._penalty(student, score, seconds_late)
            late = self._late_fields(submission, seconds_late)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        return outcomes, late

    def reassess_lateness(self, student: str) -> tuple[float, float, float] | None:
        """A graded student's late penalty worked out again from the gradebook's due date and
        extension as grading does, without regrading: the gradebook and the sidecar (with a
        history entry when the score changes). (penalty before, after, total after), or None
        when the student is not graded by this writer yet."""
        from nbgrader.api import MissingEntry

        side = self.read_sidecar(student)
        if side is None or not os.path.isdir(self.course.autograded(student, self.assignment_id)):
            return None
        try:
            submission = self.gb.find_submission(self.assignment_id, student)
        except MissingEntry:
            return None
        handed_in = {n for n, nb in side.get("notebooks", {}).items() if nb.get("status") != "missing"}
        db = self.gb.db
        try:
            before = sum(float(snb.late_submission_penalty or 0) for snb in submission.notebooks)
            seconds_late = submission.total_seconds_late
            for snb in submission.notebooks:
                if snb.notebook.name in handed_in:
                    snb.late_submission_penalty = self._penalty(student, float(snb.score), seconds_late)
            late = self._late_fields(submission, seconds_late)
            total = float(submission.score) - late["late_penalty"]
            db.commit()
        except BaseException:
            db.rollback()
            raise
        history = side.get("history", [])
        if late["late_penalty"] != before:
            history = [*history, {"graded_at": time.time(), "score": round(total, 2)}]
        _atomic_write(self.course.sidecar(self.assignment_id, student),
                      json.dumps({**side, **late, "history": history}, indent=1))
        return before, late["late_penalty"], total

    # ---------------------------------------------------------------- helpers
    def _late_fields(self, submission, seconds_late: float) -> dict[str, Any]:
        """What the sidecar says about lateness, from the penalties just set."""
        penalty = sum(float(snb.late_submission_penalty or 0) for snb in submission.notebooks)
        return {"seconds_late": seconds_late, "late_penalty": penalty,
                "due": submission.duedate.isoformat() if submission.duedate else None,
                "lateness": lateness.describe_lateness(
                    seconds_late, submission.duedate, submission.extension, penalty, self.late_rule)
                if seconds_late > 0 else None}

    def _list_source_files(self) -> list[str]:
        from nbgrader import utils as nbu
        root = self.course.source(self.assignment_id)
        cd = self.course.coursedir
        files = nbu.find_all_files(root, cd.ignore + ["*.ipynb"])
        exclude = {os.path.join(root, x) for x in self.exclude_overwriting}
        return sorted(os.path.relpath(f, root) for f in files if f not in exclude)

    def _submission(self, student: str, timestamp):
        from nbgrader.api import (MissingEntry, Student, SubmittedAssignment, SubmittedNotebook,
                                  Grade, Comment)
        db = self.gb.db
        stu = db.get(Student, student)
        if stu is None:
            if not self.create_student:
                raise RuntimeError(f"No student with ID '{student}' exists in the database")
            stu = Student(id=student)
            db.add(stu)
        try:
            sub = self.gb.find_submission(self.assignment_id, student)
        except MissingEntry:
            # mirrors Gradebook.add_submission, but inside our transaction
            with db.no_autoflush:
                sub = SubmittedAssignment(assignment=self.assignment, student=stu)
                for notebook in self.assignment.notebooks:
                    snb = SubmittedNotebook(notebook=notebook, assignment=sub)
                    for cell in notebook.grade_cells:
                        Grade(cell=cell, notebook=snb)
                    for cell in notebook.solution_cells:
                        Comment(cell=cell, notebook=snb)
                    for cell in notebook.task_cells:
                        Comment(cell=cell, notebook=snb)
                        Grade(cell=cell, notebook=snb)
                db.add(sub)       # cascades to the notebooks, grades and comments built above
            db.flush()
        if timestamp is not None:
            sub.timestamp = timestamp
        return sub

    def _apply_notebook(self, snb, res: NotebookResult, cells_by_id: dict | None, nbu) -> NotebookOutcome:
        """SaveAutoGrades, with the trusted per-cell scores from the worker."""
        out = NotebookOutcome(res.notebook, res.status, problems=list(res.problems))
        cells_by_id = cells_by_id or {}
        for grade in snb.grades:
            cell_meta = grade.cell
            gid = cell_meta.name
            if cell_meta.type == "TaskCell":
                continue      # SaveAutoGrades leaves task grades alone
            max_score = float(cell_meta.max_score)
            out.max_score += max_score
            cell = cells_by_id.get(gid)
            trusted: CellResult | None = res.cells.get(gid)
            manual = cell is not None and nbu.is_solution(cell) and nbu.is_grade(cell)
            if res.status == "failed" and trusted is None and not manual:
                auto = 0.0        # the notebook could not be graded: flag for a human
                needs = True
            elif manual:
                auto, _ = nbu.determine_grade(cell)
                needs = grade.manual_score is not None or auto is None
            elif trusted is not None and trusted.score is None:
                auto = None       # the grader leaves this cell to a human
                needs = True
            elif trusted is not None:
                auto = float(trusted.score)
                needs = grade.manual_score is not None
            else:
                auto = 0.0
                needs = True
                out.problems.append(f"{gid}: no score from the grader")
            grade.auto_score = auto
            grade.needs_manual_grade = needs
            entry = {"score": auto, "max_score": max_score, "manual": manual}
            if trusted is not None:
                entry.update(diagnoses=list(trusted.diagnoses), message=trusted.message)
            if manual and auto == 0:
                entry["diagnoses"] = ["blank"]      # nbgrader's rule: an untouched answer scores 0
            out.cells[gid] = entry
        for comment in snb.comments:
            cell = cells_by_id.get(comment.cell.name)
            if cell is None:
                continue
            if (cell.metadata.nbgrader.get("checksum") == nbu.compute_checksum(cell)
                    and not nbu.is_task(cell)):
                comment.auto_comment = NO_RESPONSE
            else:
                comment.auto_comment = None
        return out

    def _penalty(self, student: str, score: float, seconds_late: float):
        if seconds_late <= 0:
            return None
        penalty = self._late.plugin_inst.late_submission_penalty(student, score, seconds_late)
        if penalty is None:
            return None
        return min(max(penalty, 0), score)      # AssignLatePenalties._check_late_penalty


def _graded_cells(text: str) -> dict[str, Any]:
    """grade_id -> cell (a NotebookNode, source lines joined) of the worker's notebook; only
    the cells nbgrader tracks are built, and nbformat's slow schema validation is skipped (the
    grader wrote this JSON; only metadata, sources and outputs are read)."""
    import nbformat
    out: dict[str, Any] = {}
    for cell in json.loads(text).get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
        if not isinstance(meta, dict) or "grade_id" not in meta or meta["grade_id"] in out:
            continue
        if isinstance(cell.get("source"), list):
            cell["source"] = "".join(cell["source"])
        out[meta["grade_id"]] = nbformat.from_dict(cell)
    return out


def _copy(src: str, dst: str) -> None:
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if os.path.lexists(dst):
        os.remove(dst)
    shutil.copy(src, dst)


def _atomic_write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
