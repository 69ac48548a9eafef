"""Grade one course twice: with `autograder grade`, and a copy of it with routed `nbgrader
autograde` (the Formgrader's path), for tests that need both gradebooks to agree.

The two copies share nothing once copied, so both are graded at the same time: routed
`nbgrader autograde` grades one notebook after another, and runs beside the other grading.
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.dev import scaffold


# What the routed command logs for a submission with a notebook it could not grade (that
# notebook scores 0, the rest is graded); it then exits 1 at the end, as stock nbgrader does.
UNGRADABLE = ": could not be graded, scored 0: "


def autograde_finished(returncode: int, log: str) -> bool:
    """Whether `nbgrader autograde` went through the class: 0, or 1 for ungradable notebooks only."""
    return returncode == 0 or (returncode == 1 and UNGRADABLE in log)


@contextlib.contextmanager
def autograde_meanwhile(root: Path, assignment: str, *args: str, env: dict | None = None, timeout: float = 1800):
    """`nbgrader autograde --force` of the course ``root`` (routed, as its nbgrader_config.py says,
    unless ``env`` says otherwise), running while the block runs; on leaving the block it has
    finished, and went through the class (``autograde_finished``)."""
    log = root.parent / f"{root.name}-autograde.log"
    with open(log, "w+") as out:
        proc = subprocess.Popen([scaffold.venv_bin("nbgrader"), "autograde", assignment, "--force", *args],
                                cwd=root, env=env or scaffold.course_env(root), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True)
        try:
            yield
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        out.seek(0)
        log = out.read()
        assert autograde_finished(proc.returncode, log), \
            f"nbgrader autograde failed ({proc.returncode}) in {root}:\n{log[-4000:]}"


def grade_on_both_paths(course: Path, assignment: str, routed: Path) -> tuple[dict, dict]:
    """``routed`` becomes a copy of ``course`` before grading; returns both gradebooks as
    ``scaffold.gradebook_cells`` reads them (autograder grade's first)."""
    shutil.copytree(course, routed)
    with autograde_meanwhile(routed, assignment):
        proc = subprocess.run([sys.executable, "-m", "autograder", "grade", assignment], cwd=course,
                              env=scaffold.course_env(course), capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=1800)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return scaffold.gradebook_cells(course, assignment), scaffold.gradebook_cells(routed, assignment)
