"""Throw-away courses for the demo, the tests and the benchmark: a course directory copied
from the repository, the real nbgrader CLI run in it, and its gradebook read back."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Mapping

from autograder.course.directory import CHECKOUT

REPO_ROOT = Path(CHECKOUT)


def make_course(dest: Path, *, source_root: Path | None = None, release: bool = True) -> Path:
    """A fresh course directory built from the repository: nbgrader_config.py, the exercise
    declarations (autograding/), source/ and (with release=True) the committed release/.
    Grading state (gradebook, submissions, exchange, the course secret) is NOT copied."""
    src = Path(source_root or REPO_ROOT)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src / "nbgrader_config.py", dest / "nbgrader_config.py")
    for sub in (["autograding", "source", "release"] if release else ["autograding", "source"]):
        if (src / sub).exists():
            if (dest / sub).exists():
                shutil.rmtree(dest / sub)
            shutil.copytree(src / sub, dest / sub,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return dest


def venv_bin(name: str) -> str:
    """Path of a console script installed beside the running interpreter (e.g. nbgrader)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def course_env(course_root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment in which nbgrader reads the course's own config with none of its
    environment overrides (gradebook, exchange, stock execution) unless given in extra."""
    env = dict(os.environ)
    for key in ("NBGRADER_DB_URL", "NBGRADER_EXCHANGE_ROOT", "AUTOGRADER_STOCK_EXECUTE"):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    # nbgrader shells out to `alembic` (and kernels to `python`): use this environment's.
    bindir = str(Path(sys.executable).parent)
    if env.get("PATH", "").split(os.pathsep)[0] != bindir:
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    if extra:
        env.update(extra)
    return env


def nbgrader(*args: str, cwd: Path, env: Mapping[str, str] | None = None,
             check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run the real nbgrader CLI (from this interpreter's environment) in cwd."""
    proc = subprocess.run([venv_bin("nbgrader"), *args], cwd=str(cwd),
                          env=dict(env) if env is not None else course_env(Path(cwd)),
                          capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and proc.returncode != 0:
        raise RuntimeError(f"nbgrader {' '.join(args)} failed ({proc.returncode}) in {cwd}:\n"
                           f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def gradebook_scores(course_root: Path, assignment: str,
                     db_url: str | None = None) -> dict[str, dict[str, float]]:
    """student -> {test grade_id -> score} for every autograded test cell in the gradebook,
    plus '<notebook>' -> notebook total for each notebook."""
    from nbgrader.api import Gradebook

    db_url = db_url or "sqlite:///" + str(Path(course_root).resolve() / "gradebook.db")
    out: dict[str, dict[str, float]] = {}
    with Gradebook(db_url) as gb:
        for sub in gb.assignment_submissions(assignment):
            row = out.setdefault(sub.student_id, {})
            for nb in sub.notebooks:
                row[nb.name] = float(nb.score)
                for grade in nb.grades:
                    if grade.cell_type == "code":
                        row[grade.name] = float(grade.score)
    return out


def gradebook_cells(course_root: Path, assignment: str) -> dict[tuple, float | bool | None]:
    """Everything grading writes to the gradebook: (student, notebook, grade_id) -> auto_score,
    (student, notebook, grade_id + ' needs_manual_grade') -> flag, and (student, notebook,
    '<total>') -> the notebook's score. Two gradebooks that agree here agree for nbgrader."""
    from nbgrader.api import Gradebook
    from autograder.course.directory import load_course

    course = load_course(str(course_root))
    out: dict[tuple, float | bool | None] = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in gb.assignment_submissions(assignment):
            for nb in sub.notebooks:
                out[(sub.student.id, nb.name, "<total>")] = float(nb.score)
                for grade in nb.grades:
                    out[(sub.student.id, nb.name, grade.name)] = grade.auto_score
                    out[(sub.student.id, nb.name, grade.name + " needs_manual_grade")] = grade.needs_manual_grade
    return out
