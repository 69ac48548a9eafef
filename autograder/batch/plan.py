"""What `autograder grade` has left to grade, as notebook jobs: which students handed in which
notebooks, the instructor's notebooks (read once per run), each student's seeds, and one
`NotebookJob` per submitted notebook the gradebook knows."""
from __future__ import annotations

import functools
import glob
import json
import os
import re
from dataclasses import dataclass, field
from typing import Callable

from autograder.intake.cells import released_sources
from autograder.course.directory import exercises_directory
from autograder.course.declarations import read_declarations
from autograder.batch.jobs import Limits, NotebookJob
from autograder.batch.summary import Summary


@dataclass
class StudentPlan:
    student: str
    notebooks: list[str]                 # submitted and known to the gradebook
    unknown: list[str] = field(default_factory=list)   # submitted, not in the gradebook


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
        # in the caller's order: the service passes its students in arrival order
        present = set(found)
        found = [s for s in dict.fromkeys(students) if s in present]
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
    from autograder.course import seeds as secrets
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
    hidden = tuple(course.private_paths())
    jobs = []
    for p in plans:
        for nb in p.notebooks:
            jobs.append(NotebookJob(
                assignment=assignment, student=p.student, notebook=nb,
                submitted_path=os.path.join(course.submitted(p.student, assignment), nb + ".ipynb"),
                instructor_nb_json=instructor(nb), released_sources=released(nb),
                seeds=seeds(p.student, nb), declarations=declarations, limits=limits, hide_paths=hidden))
    return jobs
