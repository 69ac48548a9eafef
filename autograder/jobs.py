"""What crosses between the batch scheduler and a grading worker.

Plain, picklable dataclasses: a job names one submitted notebook and carries everything the
worker needs (the instructor's version of the notebook, the student's probe seeds, limits),
so a worker on another machine needs no access to the course directory or its secret.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    cell_timeout: float = 30.0       # seconds one cell (or one probe call) may run
    notebook_timeout: float = 300.0  # seconds for the whole notebook
    memory_mb: int = 2048            # memory of the child that runs student code
    output_bytes: int = 100_000      # stored output per cell; the rest is cut with a note
    # Stock nbgrader's autograded notebook in full: plots drawn, and the cells after the last
    # test cell run. Neither can change a score, and they are most of a notebook's run time.
    complete_notebook: bool = False


@dataclass(frozen=True)
class NotebookJob:
    assignment: str
    student: str
    notebook: str                 # name without .ipynb
    submitted_path: str           # the student's file; read only, never modified
    instructor_nb_json: str       # the instructor's (source) notebook, with hidden tests
    seeds: dict[str, int]         # exercise name -> hidden-probe seed for this student
    limits: Limits = field(default_factory=Limits)
    hide_paths: tuple[str, ...] = ()  # more paths student code must not see (besides the course's secrets)
    # grade_id -> source as released (hidden tests removed) of the locked and test cells;
    # None: the worker derives it from instructor_nb_json with nbgrader
    released_sources: dict[str, str] | None = None


@dataclass
class CellResult:
    score: float | None           # None: a manually graded answer waiting for the instructor
    max_score: float
    diagnoses: list[str] = field(default_factory=list)  # compare.py codes, for the report
    message: str = ""                                     # what the student reads


@dataclass
class NotebookResult:
    assignment: str
    student: str
    notebook: str
    status: str                   # "graded" | "failed" (reason in problems)
    autograded_nb_json: str | None
    cells: dict[str, CellResult] = field(default_factory=dict)  # grade_id -> result
    problems: list[str] = field(default_factory=list)           # tampering, kernel death, bad input
    timings: dict[str, float] = field(default_factory=dict)
