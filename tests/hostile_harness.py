"""What the hostile-submission tests (tests/test_hostile_*.py) share: one course, one sandbox, a
grader that takes the path real grading takes, and the record of every submission it graded.

A case writes a submission into ``submitted/<student>/jacobians/`` of a throw-away course made by
``autograder.dev.samples``, builds a ``NotebookJob`` for it exactly as ``job_plan.build_jobs`` does,
and ``grade_notebook`` runs it in the sandbox (one zygote for the whole session). Scores,
diagnoses, messages, problems and the autograded notebook's outputs are asserted exactly.

Every submission a case grades is recorded in ``HANDED_IN``; the test marked
``compares_handed_in`` (test_hostile_paths.py) runs after every other test, hands them all in,
each as a student of its own, to two copies of one real course, grades one with
``autograder grade`` and the other with routed ``nbgrader autograde`` (the Formgrader's button)
and asserts the two gradebooks are the same cell by cell. Run the hostile files together
(``pytest tests/test_hostile_*.py``) for that comparison to see every case.

Most cases use ``jacobian.ipynb`` (three autograded exercises: 3 + 3 + 1 points). A hostile
cell is added to an otherwise perfect submission (it must cost nothing beyond its own cell) or
to a submission whose three answers are wrong (it must gain nothing: the result must equal,
field for field, what the same wrong answers get without the hostile cell). The student code
of each attack is a file of its own in tests/fixtures/hostile/, read with ``student_code``.

tests/conftest.py loads this module as a pytest plugin, so its fixtures are shared by every
hostile file.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
from pathlib import Path

import nbformat
import pytest

from autograder.course import declarations, seeds as secrets
from autograder.course.directory import load_course
from autograder.dev import samples, scaffold
import jacobians_course
from autograder.intake.cells import grade_id
from autograder.notebook.grade import grade_notebook
from autograder.batch.jobs import Limits, NotebookJob
from autograder.sandbox.session import Sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "hostile"
ASG = jacobians_course.ASSIGNMENT
NB = "jacobian"
TESTS = ("test_jacobian_by_hand", "test_numerical_jacobian", "test_affine_jacobian")
POINTS = {"test_jacobian_by_hand": 3.0, "test_numerical_jacobian": 3.0, "test_affine_jacobian": 1.0}
FULL = {gid: (p, p) for gid, p in POINTS.items()}
ZERO = {gid: (0.0, p) for gid, p in POINTS.items()}
FAST = Limits(cell_timeout=3.0, notebook_timeout=120.0)
BROKE = ("broke down: student code changed something the notebook's process needs to answer "
         "the grader (exit 70)")
SECRET_ENV = "HOSTILE_TEST_DB_URL"
SECRET_ENV_VALUE = "postgresql://grader:TOPSECRET-PASSWORD@db.example.org/jacobians"
COMPARES_HANDED_IN = "compares_handed_in"


def student_code(name: str, **given) -> str:
    """The student code in tests/fixtures/hostile/<name>.py, after an assignment of each value
    in ``given`` (what the code needs from the test, such as the course root it tries to reach)."""
    assigned = "".join(f"{key} = {value!r}\n" for key, value in given.items())
    return assigned + (FIXTURES / f"{name}.py").read_text()


# Wrong answers for the three exercises of jacobian.ipynb: every probe fails.
WRONG = {name: student_code(f"wrong_{name}")
         for name in ("jacobian_by_hand", "numerical_jacobian", "affine_jacobian")}


# ----------------------------------------------------------------------------- the plugin
def pytest_configure(config) -> None:
    config.addinivalue_line("markers", f"{COMPARES_HANDED_IN}: grades every submission the hostile "
                                       "cases handed in on both paths; runs after every other test")


def pytest_collection_modifyitems(items) -> None:
    items.sort(key=lambda item: item.get_closest_marker(COMPARES_HANDED_IN) is not None)


@pytest.fixture(scope="session")
def grader(tmp_path_factory) -> Grader:
    """A course with a victim's submission and grading secrets to protect, and one zygote,
    started with a secret in the environment it must not pass on."""
    root = tmp_path_factory.mktemp("hostile") / "course"
    scaffold.make_course(root)
    secrets.course_secret(root)
    (root / "gradebook.db").write_text("GRADEBOOK-SECRET-CONTENT")
    for name in ("solutions", "autograded", "feedback", "exchange"):
        (root / name).mkdir(exist_ok=True)
    samples.write_class(root, {"victim": "perfect"}, assignment=ASG)
    perfect = samples.submission("perfect", release_dir=root / "release" / ASG, source_dir=root / "source" / ASG)

    saved = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = SECRET_ENV_VALUE
    sandbox = Sandbox()
    try:
        sandbox.reap()           # starts the zygote now, while the secret is in our environment
    finally:
        if saved is None:
            os.environ.pop(SECRET_ENV)
        else:
            os.environ[SECRET_ENV] = saved
    yield Grader(root, sandbox, perfect)
    sandbox.close()


@pytest.fixture(scope="session")
def wrong_baseline(grader):
    """What the three wrong answers score with no hostile cell (0 everywhere)."""
    result = grader.grade(grader.wrong())
    assert scores(result) == ZERO
    return result


# ----------------------------------------------------------------------------- grading
class Grader:
    def __init__(self, course: Path, sandbox: Sandbox, perfect: dict):
        self.course, self.sandbox, self._perfect = course, sandbox, perfect
        self.secret = secrets.course_secret(course)
        self.private_paths = tuple(load_course(str(course)).private_paths())

    def nb(self, notebook: str = NB):
        return copy.deepcopy(self._perfect[notebook])

    def wrong(self):
        nb = self.nb()
        for gid, src in WRONG.items():
            set_source(nb, gid, src)
        return nb

    def seeds(self, student: str, notebook: str = NB) -> dict[str, int]:
        source = json.loads((self.course / "source" / ASG / f"{notebook}.ipynb").read_text())
        return secrets.notebook_seeds(self.secret, student, source)

    def path(self, student: str, notebook: str = NB) -> Path:
        return self.course / "submitted" / student / ASG / f"{notebook}.ipynb"

    def job(self, student: str, notebook: str = NB, limits: Limits = FAST) -> NotebookJob:
        source = (self.course / "source" / ASG / f"{notebook}.ipynb").read_text()
        return NotebookJob(ASG, student, notebook, str(self.path(student, notebook)), source,
                           self.seeds(student, notebook), limits=limits, hide_paths=self.private_paths,
                           declarations=declarations.read_declarations(str(self.course / "autograding"), ASG))

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
        HANDED_IN.append(HandedIn(os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0], notebook,
                                  path.read_bytes() if path.exists() else None, limits))
        return grade_notebook(self.job(student, notebook, limits), self.sandbox)


@dataclasses.dataclass(frozen=True)
class HandedIn:
    case: str           # the test that graded it
    notebook: str
    content: bytes | None    # None: the notebook was not handed in
    limits: Limits


HANDED_IN: list[HandedIn] = []


# ----------------------------------------------------------------------------- notebooks
def cell_index(nb, gid: str) -> int:
    for i, cell in enumerate(nb.cells):
        if grade_id(cell) == gid:
            return i
    raise KeyError(gid)


def cell_by_id(nb, gid: str):
    return nb.cells[cell_index(nb, gid)]


def set_source(nb, gid: str, source: str) -> None:
    cell_by_id(nb, gid).source = source


def insert_after(nb, gid: str | None, source: str) -> None:
    """A plain code cell right after the cell ``gid`` (None: after the setup cell)."""
    at = cell_index(nb, gid or "setup") + 1
    nb.cells.insert(at, nbformat.v4.new_code_cell(source))


# ----------------------------------------------------------------------------- results
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


def assert_outputs_are_the_graders(result) -> None:
    """Each test cell's outputs in the autograded notebook: our feedback and our score."""
    nb = autograded(result)
    for gid in POINTS:
        graded = cell_by_id(nb, gid)
        assert [o.output_type for o in graded.outputs] == ["stream", "execute_result"], gid
        assert graded.outputs[0].text == result.cells[gid].message
        assert graded.outputs[1].data == {"text/plain": repr(result.cells[gid].score)}


def by_hand_refused(result, found: str, tests=tuple(POINTS)) -> None:
    """Each of ``tests`` scores 0 under the by-hand rule, its feedback naming ``found`` (a
    notebook-wide finding, such as "`ctypes` (cell 2"): every exercise of jacobian.ipynb is by
    hand, and what escapes the tracer in any cell before a test cell voids that rule."""
    for gid in tests:
        cell = result.cells[gid]
        assert (cell.score, cell.diagnoses) == (0.0, ["autograd_used"]), gid
        assert found in cell.message, (gid, cell.message)
