"""Grade one course twice: with `autograder grade`, and a copy of it with routed `nbgrader
autograde` (the Formgrader's path), for tests that need both gradebooks to agree."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from autograder.dev import scaffold


def grade_on_both_paths(course: Path, assignment: str, routed: Path) -> tuple[dict, dict]:
    """``routed`` becomes a copy of ``course`` before grading; returns both gradebooks as
    ``scaffold.gradebook_cells`` reads them (autograder grade's first)."""
    shutil.copytree(course, routed)
    proc = subprocess.run([sys.executable, "-m", "autograder", "grade", assignment], cwd=course,
                          env=scaffold.course_env(course), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=1800)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    scaffold.nbgrader("autograde", assignment, "--force", cwd=routed, env=scaffold.course_env(routed), timeout=1800)
    return scaffold.gradebook_cells(course, assignment), scaffold.gradebook_cells(routed, assignment)
