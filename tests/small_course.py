"""A small synthetic nbgrader course for the batch, CLI, report and export tests: assignment
``asg`` with notebooks ``one`` (test_alpha, 2 points, and a written answer worth 1) and ``two``
(test_beta, 3 points), a data file, and a due date of 2026-01-10 12:00 UTC with
``penalty_method = "zero"``. tests/conftest.py builds it once per session (``template_course``).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat

VENV_BIN = Path(sys.executable).parent
ASG = "asg"


def _nb(cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = cells
    return nb


def _code(src, **meta):
    c = nbformat.v4.new_code_cell(src)
    if meta:
        c.metadata["nbgrader"] = dict(meta, schema_version=3)
    return c


def _md(src, **meta):
    c = nbformat.v4.new_markdown_cell(src)
    if meta:
        c.metadata["nbgrader"] = dict(meta, schema_version=3)
    return c


def _source_notebooks():
    sol = "def {f}(x):\n    ### BEGIN SOLUTION\n    # score: 1\n    return x\n    ### END SOLUTION\n"
    one = _nb([
        _md("# One"),
        _code(sol.format(f="alpha"), grade=False, solution=True, locked=False, grade_id="alpha"),
        _code("assert alpha(1) == 1\n### BEGIN HIDDEN TESTS\nassert alpha(2) == 2\n### END HIDDEN TESTS",
              grade=True, solution=False, locked=True, grade_id="test_alpha", points=2),
        _md("YOUR ANSWER HERE", grade=True, solution=True, locked=False, grade_id="explain_alpha",
            points=1),
    ])
    two = _nb([
        _code(sol.format(f="beta"), grade=False, solution=True, locked=False, grade_id="beta"),
        _code("assert beta(3) == 3", grade=True, solution=False, locked=True, grade_id="test_beta",
              points=3),
    ])
    return {"one": one, "two": two}


CONFIG = """c = get_config()
c.CourseDirectory.course_id = "course101"
c.LateSubmissionPlugin.penalty_method = "zero"
"""


def build(root: Path) -> Path:
    """The course at ``root``: source/, its gradebook with the due date, and release/."""
    (root / "source" / ASG).mkdir(parents=True)
    (root / "nbgrader_config.py").write_text(CONFIG)
    for name, nb in _source_notebooks().items():
        nbformat.write(nb, root / "source" / ASG / f"{name}.ipynb")
    (root / "source" / ASG / "data.csv").write_text("x,y\n1,2\n")
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    subprocess.run([str(VENV_BIN / "nbgrader"), "db", "assignment", "add", ASG,
                    "--duedate=2026-01-10 12:00:00 UTC"], cwd=root, check=True, capture_output=True,
                   env=env)
    subprocess.run([str(VENV_BIN / "nbgrader"), "generate_assignment", ASG, "--force"], cwd=root,
                   check=True, capture_output=True, env=env)
    return root
