"""Hostile submissions (issue 5): student code that tries to fool, crash, stall or spy on the grader.

Every case goes through the path real grading takes: a submission is written into
``submitted/<student>/jacobians/`` of a throw-away course made by ``autograder.samples``, a
``NotebookJob`` is built for it exactly as ``batch.build_jobs`` does, and ``grade_notebook``
runs it in the sandbox (one zygote shared by the whole module). Scores, diagnoses, messages,
problems and the autograded notebook's outputs are asserted exactly.

Most cases use ``jacobian.ipynb`` (three autograded exercises: 3 + 3 + 1 points). A hostile
cell is added to an otherwise perfect submission (it must cost nothing beyond its own cell) or
to a submission whose three answers are wrong (it must gain nothing: the result must equal,
field for field, what the same wrong answers get without the hostile cell).
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder import exercises, samples, secrets
from autograder.grade_notebook import grade_notebook
from autograder.jobs import CellResult, Limits, NotebookJob
from autograder.sandbox import Sandbox

ASG = samples.ASSIGNMENT
NB = "jacobian"
TESTS = ("test_jacobian_by_hand", "test_numerical_jacobian", "test_affine_jacobian")
POINTS = {"test_jacobian_by_hand": 3.0, "test_numerical_jacobian": 3.0, "test_affine_jacobian": 1.0}
FULL = {gid: (p, p) for gid, p in POINTS.items()}
ZERO = {gid: (0.0, p) for gid, p in POINTS.items()}
FAST = Limits(cell_timeout=3.0, notebook_timeout=120.0)
SECRET_ENV = "HOSTILE_TEST_DB_URL"
SECRET_ENV_VALUE = "postgresql://grader:TOPSECRET-PASSWORD@db.example.org/jacobians"

# Wrong answers for the three exercises of jacobian.ipynb: every probe fails.
WRONG = {
    "jacobian_by_hand": "import torch\n\ndef jacobian_by_hand(p):\n"
                        "    return torch.ones(3, 2, dtype=torch.float64)\n",
    "numerical_jacobian": "import torch\n\ndef numerical_jacobian(f, x, h=1e-5):\n"
                          "    return torch.ones(f(x).shape[0], x.shape[0], dtype=torch.float64)\n",
    "affine_jacobian": "import torch\n\ndef affine_jacobian(W, b, x):\n"
                       "    return 2 * W + 1\n",
}


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "course"
    samples.make_course(root)
    secrets.course_secret(root)
    (root / "gradebook.db").write_text("GRADEBOOK-SECRET-CONTENT")
    for name in ("solutions", "autograded", "feedback", "exchange"):
        (root / name).mkdir(exist_ok=True)
    samples.write_class(root, {"victim": "perfect"})
    return root


@pytest.fixture(scope="module")
def sandbox():
    """One zygote for the module, started with a secret in the environment it must not pass on."""
    saved = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = SECRET_ENV_VALUE
    box = Sandbox()
    try:
        box.reap()           # starts the zygote now, while the secret is in our environment
    finally:
        if saved is None:
            os.environ.pop(SECRET_ENV)
        else:
            os.environ[SECRET_ENV] = saved
    yield box
    box.close()


@pytest.fixture(scope="module")
def perfect(course):
    return samples.submission("perfect", release_dir=course / "release" / ASG, source_dir=course / "source" / ASG)


@pytest.fixture(scope="module")
def grader(course, sandbox, perfect):
    return Grader(course, sandbox, perfect)


@pytest.fixture(scope="module")
def wrong_baseline(grader):
    """What the three wrong answers score with no hostile cell (0 everywhere)."""
    result = grader.grade(grader.wrong())
    assert scores(result) == ZERO
    return result


# ----------------------------------------------------------------------------- helpers
class Grader:
    def __init__(self, course: Path, sandbox: Sandbox, perfect: dict):
        self.course, self.sandbox, self._perfect = course, sandbox, perfect
        self.secret = secrets.course_secret(course)

    def nb(self, notebook: str = NB):
        return copy.deepcopy(self._perfect[notebook])

    def wrong(self):
        nb = self.nb()
        for gid, src in WRONG.items():
            set_source(nb, gid, src)
        return nb

    def seeds(self, student: str, notebook: str = NB) -> dict[str, int]:
        return {name: secrets.student_seed(self.secret, student, name)
                for name, ex in exercises.EXERCISES.items() if ex.notebook == notebook}

    def path(self, student: str, notebook: str = NB) -> Path:
        return self.course / "submitted" / student / ASG / f"{notebook}.ipynb"

    def job(self, student: str, notebook: str = NB, limits: Limits = FAST) -> NotebookJob:
        source = (self.course / "source" / ASG / f"{notebook}.ipynb").read_text()
        return NotebookJob(ASG, student, notebook, str(self.path(student, notebook)), source,
                           self.seeds(student, notebook), limits)

    def grade(self, nb=None, *, raw: bytes | None = None, student: str = "mallory", notebook: str = NB,
              limits: Limits = FAST):
        path = self.path(student, notebook)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        if raw is not None:
            path.write_bytes(raw)
        elif nb is not None:
            nbformat.write(nb, path)
        return grade_notebook(self.job(student, notebook, limits), self.sandbox)


def cell_index(nb, gid: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == gid:
            return i
    raise KeyError(gid)


def set_source(nb, gid: str, source: str) -> None:
    nb.cells[cell_index(nb, gid)].source = source


def insert_after(nb, gid: str | None, source: str) -> None:
    """A plain code cell right after the cell ``gid`` (None: after the setup cell)."""
    at = cell_index(nb, gid or "setup") + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell(source))


def scores(result) -> dict:
    return {gid: (c.score, c.max_score) for gid, c in result.cells.items() if gid in POINTS}


def autograded(result):
    return nbformat.reads(result.autograded_nb_json, as_version=4)


def outputs_of(result, source_fragment: str) -> list:
    """The outputs of the autograded notebook's code cell whose source holds the fragment."""
    cells = [c for c in autograded(result).cells if c.cell_type == "code" and source_fragment in c.source]
    assert len(cells) == 1, f"{len(cells)} cells hold {source_fragment!r}"
    return cells[0].outputs


def text_of(outputs) -> str:
    parts = []
    for out in outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
    return "".join(parts)


def report(result, marker: str = "REPORT:") -> dict:
    """The JSON a hostile cell printed after ``marker`` (what it could see and do)."""
    text = text_of(outputs_of(result, marker))
    match = re.search(re.escape(marker) + r"(\{.*\})", text)
    assert match, text[:2000]
    return json.loads(match.group(1))


def same_as(result, baseline) -> None:
    """Field for field the same test-cell results (score, diagnoses, message) as the baseline."""
    for gid in POINTS:
        assert result.cells[gid] == baseline.cells[gid], gid


def test_outputs_are_the_graders(result) -> None:
    """Each test cell's outputs in the autograded notebook: our feedback and our score."""
    nb = autograded(result)
    for gid in POINTS:
        cell = nb.cells[cell_index(nb, gid)]
        assert [o.output_type for o in cell.outputs] == ["stream", "execute_result"], gid
        assert cell.outputs[0].text == result.cells[gid].message
        assert cell.outputs[1].data == {"text/plain": repr(result.cells[gid].score)}


test_outputs_are_the_graders.__test__ = False


def sandbox_processes(uid: int) -> list[str]:
    """Every process on the machine running as the sandbox's uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
        if uids and uid in (int(uids.group(1)), int(uids.group(2))):
            found.append(f"{entry}: {status.splitlines()[0]}")
    return found


def digest_tree(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


# ============================================================================ the baseline
def test_perfect_submission_gets_full_marks(grader):
    result = grader.grade(grader.nb())
    assert result.status == "graded" and result.problems == []
    assert scores(result) == FULL
    test_outputs_are_the_graders(result)


def test_wrong_answers_get_zero(wrong_baseline):
    assert {gid: c.diagnoses for gid, c in wrong_baseline.cells.items() if gid in POINTS} == {
        "test_jacobian_by_hand": ["wrong_value"], "test_numerical_jacobian": ["wrong_value"],
        "test_affine_jacobian": ["wrong_value"]}
    assert wrong_baseline.cells["test_affine_jacobian"].message.startswith(
        "affine_jacobian: 0 of ")
    test_outputs_are_the_graders(wrong_baseline)
