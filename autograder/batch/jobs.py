"""What crosses between the batch scheduler and a grading worker.

Plain, picklable dataclasses: a job names one submitted notebook and carries everything the
worker needs (the instructor's version of the notebook, the student's probe seeds, limits),
so a worker on another machine needs no access to the course directory or its secret.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields


def _limit(default, flag: str, metavar: str, help: str):
    return field(default=default, metadata={"flag": flag, "metavar": metavar, "help": help})


@dataclass(frozen=True)
class Limits:
    """What student code may use: the one table behind `autograder grade`'s flags (cli.py),
    SandboxedExecute's settings and nbgrader's ``Execute.timeout`` (preprocessor.py)."""
    cell_timeout: float = _limit(30.0, "--timeout", "SECONDS",
                                 "Seconds one cell (or one call of a student's function) may run before it is "
                                 "interrupted; the cell then shows a timeout error.")
    notebook_timeout: float = _limit(300.0, "--notebook-timeout", "SECONDS",
                                     "Seconds a whole notebook may run before its process is killed (never less "
                                     "than the cell timeout unless set); cells graded by then keep their credit.")
    memory_mb: int = _limit(2048, "--memory-limit", "MB",
                            "Memory of the process that runs student code, in MB; past it, the student's code "
                            "gets MemoryError.")
    output_bytes: int = _limit(100_000, "--output-limit", "BYTES",
                               "Output kept per cell, in bytes; the rest is cut with a note.")
    # Stock nbgrader's autograded notebook in full: plots drawn, and the cells after the last
    # test cell run. Neither can change a score, and they are most of a notebook's run time.
    complete_notebook: bool = False


LIMIT_FIELDS = tuple(f for f in fields(Limits) if "flag" in f.metadata)


def limits_from(settings: dict, **other) -> Limits:
    """Limits from ``settings`` (limit name -> value, None when not set): the defaults fill in,
    and an unset notebook limit is at least one cell's."""
    given = {name: value for name, value in settings.items() if value is not None}
    if "notebook_timeout" not in given and "cell_timeout" in given:
        given["notebook_timeout"] = max(Limits.notebook_timeout, given["cell_timeout"])
    return Limits(**given, **other)


@dataclass(frozen=True)
class Declarations:
    """An assignment's exercise declarations (autograding/<assignment>/exercises.py), as a job carries them to a worker."""
    path: str       # where the course keeps them, for messages and tracebacks
    source: str


@dataclass(frozen=True)
class NotebookJob:
    assignment: str
    student: str
    notebook: str                 # name without .ipynb
    submitted_path: str           # the student's file; read only, never modified
    instructor_nb_json: str       # the instructor's (source) notebook, with hidden tests
    seeds: dict[str, int]         # exercise name -> hidden-probe seed for this student
    declarations: Declarations | None = None   # the assignment's exercises.py; None: no autograded exercise
    limits: Limits = field(default_factory=Limits)
    hide_paths: tuple[str, ...] = ()  # what student code must not see (the course's private paths)
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
