"""The Formgrader's autograde button scores a hostile submission exactly as `autograder grade`.

The button calls the Formgrader's API (`POST /formgrader/api/submission/<assignment>/<student>/
autograde`), which runs nbgrader's Autograde inside the instructor's Jupyter server, routed
through the hardened path by the course's nbgrader_config.py. The same submission is then
graded by `autograder grade` in a copy of the course; the two gradebooks must agree cell by
cell.
"""

from __future__ import annotations

import json
import shutil
import urllib.request

import nbformat
import pytest

from answers import ASSIGNMENT
from conftest import VENV_BIN

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MALLORY = "mallory"
# A right first answer, then a function that kills its own process group: the cells after it
# cannot be graded and must score 0 (nbgrader's default would give them full points).
KILLER = "import os, signal\n\ndef numerical_jacobian(f, x, h=1e-5):\n    os.killpg(0, signal.SIGKILL)\n"


def _hand_in(c) -> None:
    from autograder.dev import samples, scaffold

    nb = samples.submission("perfect", release_dir=c.root / "release" / ASSIGNMENT,
                            source_dir=c.root / "source" / ASSIGNMENT)["jacobian"]
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "numerical_jacobian":
            cell.source = KILLER
    folder = c.root / "submitted" / MALLORY / ASSIGNMENT
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "jacobian.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")


def _press_autograde(server, student: str) -> dict:
    request = urllib.request.Request(f"{server.base}/formgrader/api/submission/{ASSIGNMENT}/{student}/autograde",
                                     method="POST", data=b"", headers={"Authorization": f"token {server.token}"})
    with urllib.request.urlopen(request, timeout=600) as reply:
        return json.loads(reply.read())


def test_formgrader_button_scores_like_autograder_grade(lab_course, tmp_path):
    from autograder.dev import scaffold

    c = lab_course
    _hand_in(c)
    copy = tmp_path / "course"
    shutil.copytree(c.root, copy)

    reply = _press_autograde(c.instructor, MALLORY)
    assert reply["success"], reply.get("error") or reply.get("log")
    c.run(VENV_BIN / "autograder", "grade", ASSIGNMENT, "--student", MALLORY, cwd=copy, timeout=600)

    button = {k: v for k, v in scaffold.gradebook_cells(c.root, ASSIGNMENT).items() if k[0] == MALLORY}
    fast = {k: v for k, v in scaffold.gradebook_cells(copy, ASSIGNMENT).items() if k[0] == MALLORY}
    assert button == fast
    assert button[(MALLORY, "jacobian", "test_jacobian_by_hand")] == 3.0
    assert button[(MALLORY, "jacobian", "test_numerical_jacobian")] == 0.0
    assert button[(MALLORY, "jacobian", "test_affine_jacobian")] == 0.0
