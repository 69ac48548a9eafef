"""Hostile submissions (issue 5): student code that tries to fool, crash, stall or spy on the grader.

Every case goes through the path real grading takes: a submission is written into
``submitted/<student>/jacobians/`` of a throw-away course made by ``autograder.samples``, a
``NotebookJob`` is built for it exactly as ``batch.build_jobs`` does, and ``grade_notebook``
runs it in the sandbox (one zygote shared by the whole module). Scores, diagnoses, messages,
problems and the autograded notebook's outputs are asserted exactly.

Every submission a case grades is also handed in, as a student of its own, to two copies of
one real course; the module's last test grades one with ``autograder grade`` and the other with
routed ``nbgrader autograde`` (the Formgrader's button) and asserts the two gradebooks are the
same cell by cell.

Most cases use ``jacobian.ipynb`` (three autograded exercises: 3 + 3 + 1 points). A hostile
cell is added to an otherwise perfect submission (it must cost nothing beyond its own cell) or
to a submission whose three answers are wrong (it must gain nothing: the result must equal,
field for field, what the same wrong answers get without the hostile cell).
"""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
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

from autograder import course, samples, scaffold, secrets
import jacobians_course
from autograder.grade_notebook import grade_notebook
from autograder.jobs import CellResult, Limits, NotebookJob
from autograder.sandbox import Sandbox

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
    scaffold.make_course(root)
    secrets.course_secret(root)
    (root / "gradebook.db").write_text("GRADEBOOK-SECRET-CONTENT")
    for name in ("solutions", "autograded", "feedback", "exchange"):
        (root / name).mkdir(exist_ok=True)
    samples.write_class(root, {"victim": "perfect"}, assignment=ASG)
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
        source = json.loads((self.course / "source" / ASG / f"{notebook}.ipynb").read_text())
        return secrets.notebook_seeds(self.secret, student, source)

    def path(self, student: str, notebook: str = NB) -> Path:
        return self.course / "submitted" / student / ASG / f"{notebook}.ipynb"

    def job(self, student: str, notebook: str = NB, limits: Limits = FAST) -> NotebookJob:
        source = (self.course / "source" / ASG / f"{notebook}.ipynb").read_text()
        return NotebookJob(ASG, student, notebook, str(self.path(student, notebook)), source,
                           self.seeds(student, notebook), limits=limits,
                           declarations=course.read_declarations(str(self.course / "autograding"), ASG))

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


def test_autograded_notebook_holds_no_hidden_tests(grader):
    """Hidden probes are graded from the registry; their test code never reaches students."""
    text = grader.grade(grader.nb()).autograded_nb_json
    assert "BEGIN HIDDEN TESTS" not in text and "hidden=True" not in text
    assert 'check(\\"jacobian_by_hand\\", jacobian_by_hand)' in text


def test_wrong_answers_get_zero(wrong_baseline):
    assert {gid: c.diagnoses for gid, c in wrong_baseline.cells.items() if gid in POINTS} == {
        "test_jacobian_by_hand": ["wrong_value"], "test_numerical_jacobian": ["wrong_value"],
        "test_affine_jacobian": ["wrong_value"]}
    assert wrong_baseline.cells["test_affine_jacobian"].message.startswith(
        "affine_jacobian: 0 of ")
    test_outputs_are_the_graders(wrong_baseline)


# ============================================================================ fooling the judge
MONKEYPATCHES = {
    "autograder_package": """
import autograder, autograder.compare, autograder.scoring, autograder.check, autograder.feedback
from autograder.values import Verdict
autograder.compare.judge = lambda *a, **k: Verdict(True, "ok", "passed")
autograder.scoring.score = lambda exercise, *a, **k: float(exercise.points)
autograder.check.check = autograder.check = lambda *a, **k: print("Score: 3/3")
autograder.feedback.render = lambda *a, **k: "All checks passed. Well done!"
""",
    "math_numpy_torch": """
import math, numpy, torch
math.isclose = lambda *a, **k: True
numpy.allclose = numpy.isclose = lambda *a, **k: True
numpy.testing.assert_allclose = numpy.testing.assert_array_equal = lambda *a, **k: None
torch.allclose = torch.equal = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
torch.Tensor.__eq__ = lambda self, other: True
""",
    "sys_modules": """
import sys, types
fake = types.ModuleType("autograder")
fake.check = lambda *a, **k: None
for name in ("autograder", "autograder.compare", "autograder.scoring", "autograder.check"):
    sys.modules[name] = fake
sys.modules["numpy.testing"] = types.ModuleType("numpy.testing")
sys.modules["math"] = types.SimpleNamespace(isclose=lambda *a, **k: True)
""",
}


@pytest.mark.parametrize("kind", sorted(MONKEYPATCHES))
def test_monkeypatching_gains_nothing(grader, wrong_baseline, kind):
    nb = grader.wrong()
    insert_after(nb, None, MONKEYPATCHES[kind])
    result = grader.grade(nb)
    assert scores(result) == ZERO
    if kind == "sys_modules":   # the child's own imports break: it dies, which gains nothing either
        assert [result.cells[gid].diagnoses for gid in TESTS] == [["kernel_died"], ["not_run"], ["not_run"]]
        assert result.problems == [f"the notebook's process {BROKE}; cells after that scored 0"]
        return
    same_as(result, wrong_baseline)
    assert result.problems == []
    test_outputs_are_the_graders(result)


def test_monkeypatching_builtins_breaks_only_the_students_process(grader):
    nb = grader.wrong()
    insert_after(nb, None, "import builtins\nbuiltins.isinstance = lambda obj, cls: True\n"
                           "builtins.float = lambda *a: 1.0\n")
    result = grader.grade(nb)
    assert scores(result) == ZERO
    reason = BROKE
    for gid in POINTS:
        assert result.cells[gid] == CellResult(0.0, POINTS[gid], ["not_run"],
                                               f"not graded: the notebook's process {reason}")
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    assert result.status == "graded"
    died = outputs_of(result, "builtins.isinstance")
    assert [(o.output_type, o.ename) for o in died] == [("error", "KernelDied")]


def test_monkeypatching_costs_nothing_with_right_answers(grader):
    nb = grader.nb()
    insert_after(nb, None, MONKEYPATCHES["autograder_package"]
                 + "import math, torch\nmath.isclose = torch.allclose = lambda *a, **k: False\n")
    assert scores(grader.grade(nb)) == FULL


LIARS = {
    "torch_function_subclass": """
import torch

class Liar(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("allclose", "equal", "__eq__", "isclose"):
            return True
        if name in ("numpy", "tolist"):
            import numpy
            return numpy.full((3, 2), 42.0)
        return super().__torch_function__(func, types, args, kwargs or {})

def _liar(shape):
    return torch.zeros(*shape, dtype=torch.float64).as_subclass(Liar)

def jacobian_by_hand(p):
    return _liar((3, 2))

def numerical_jacobian(f, x, h=1e-5):
    return _liar((f(x).shape[0], x.shape[0]))

def affine_jacobian(W, b, x):
    return _liar(tuple(W.shape))
""",
    "fake_array_eq_float": """
import numpy

class Fake:
    shape = (3, 2)
    dtype = numpy.float64
    def __array__(self, *a, **k):
        raise RuntimeError("no numbers here")
    def __eq__(self, other):
        return True
    __ne__ = lambda self, other: False
    def __float__(self):
        return 1.0
    def __len__(self):
        return 3
    def __iter__(self):
        return iter([self, self, self])
    def __getattr__(self, name):
        return lambda *a, **k: self

def jacobian_by_hand(p):
    return Fake()

def numerical_jacobian(f, x, h=1e-5):
    return [Fake(), Fake()]

def affine_jacobian(W, b, x):
    class Everything(float):
        def __eq__(self, other):
            return True
    return Everything(1.0)
""",
}


@pytest.mark.parametrize("kind", sorted(LIARS))
def test_lying_return_values_score_zero(grader, kind):
    nb = grader.nb()
    for gid in WRONG:
        set_source(nb, gid, LIARS[kind])
    result = grader.grade(nb)
    assert scores(result) == ZERO
    for gid in POINTS:
        assert result.cells[gid].diagnoses, gid
        assert "ok" not in result.cells[gid].diagnoses
    test_outputs_are_the_graders(result)


def test_input_transformer_blanking_later_cells(grader):
    nb = grader.wrong()
    insert_after(nb, None, "ip = get_ipython()\n"
                           "ip.input_transformers_cleanup.append(lambda lines: ['pass\\n'])\n"
                           "ip.input_transformers_post.append(lambda lines: ['pass\\n'])\n"
                           "ip.ast_transformers.clear()\n")
    result = grader.grade(nb)
    assert scores(result) == ZERO
    for gid in POINTS:
        assert result.cells[gid].diagnoses == ["exception"], gid
        assert "never defined a function called" in result.cells[gid].message
    test_outputs_are_the_graders(result)


def test_input_transformer_after_right_answers_costs_nothing(grader):
    nb = grader.nb()
    insert_after(nb, "affine_jacobian", "get_ipython().input_transformers_cleanup.append("
                                        "lambda lines: ['print(\"Score: 3/3\")\\n'])\n")
    result = grader.grade(nb)
    assert scores(result) == FULL
    test_outputs_are_the_graders(result)


def test_showtraceback_and_excepthook_overrides(grader):
    nb = grader.nb()
    insert_after(nb, None, """
import sys
ip = get_ipython()
ip.showtraceback = lambda *a, **k: print("Score: 3.0")
ip._showtraceback = lambda *a, **k: print("Score: 3.0")
ip.showsyntaxerror = lambda *a, **k: None
sys.excepthook = lambda *a: print("all tests passed")
ip.set_custom_exc((BaseException,), lambda *a, **k: print("all tests passed"))
""")
    for gid in WRONG:
        set_source(nb, gid, f"def {gid}(*args, **kwargs):\n    raise ValueError('nope')\n")
    result = grader.grade(nb)
    assert scores(result) == ZERO
    for gid in POINTS:
        assert result.cells[gid].diagnoses == ["exception"], gid
        assert "ValueError" in result.cells[gid].message and "nope" in result.cells[gid].message
    test_outputs_are_the_graders(result)


def test_printed_and_displayed_fake_scores(grader, wrong_baseline):
    nb = grader.wrong()
    for gid, src in WRONG.items():
        set_source(nb, gid, src + "\nprint('Score: 3/3')\nfrom IPython.display import display\n"
                                  "display(3.0)\n3.0\n")
    result = grader.grade(nb)
    same_as(result, wrong_baseline)
    solution = outputs_of(result, "def affine_jacobian")
    assert text_of(solution) == "Score: 3/3\n3.03.0"
    assert [o.output_type for o in solution] == ["stream", "display_data", "execute_result"]
    test_outputs_are_the_graders(result)


def test_mutating_probe_inputs_leaves_the_reference_alone(grader):
    nb = grader.nb()
    # right answers computed first, then every input trashed in place
    set_source(nb, "affine_jacobian", "def affine_jacobian(W, b, x):\n    J = W.clone()\n"
                                      "    W.zero_(); b.zero_(); x.zero_()\n    return J\n")
    set_source(nb, "jacobian_by_hand", grader.nb().cells[cell_index(grader.nb(), "jacobian_by_hand")].source
               .replace("def jacobian_by_hand(p):", "def jacobian_by_hand(p):\n    p0 = p.clone(); p.fill_(1e6); p = p0"))
    result = grader.grade(nb)
    assert scores(result) == FULL
    # returning the trashed input: wrong, since the reference was not computed from it
    set_source(nb, "affine_jacobian", "def affine_jacobian(W, b, x):\n    W.zero_()\n    return W\n")
    result = grader.grade(nb)
    assert scores(result)["test_affine_jacobian"] == (0.0, 1.0)
    assert result.cells["test_affine_jacobian"].diagnoses and "ok" not in result.cells["test_affine_jacobian"].diagnoses
    assert scores(result)["test_jacobian_by_hand"] == (3.0, 3.0)


TAMPER_SHARED_PROBES = r"""
import glob, os, torch

def relu_vjp(z, v):
    answer = torch.where(z > 0, v, torch.zeros_like(v))
    for path in glob.glob("/dev/shm/autograder-share-*/*.bin"):
        for attempt in (lambda: open(path, "r+b").write(b"\0" * 4096), lambda: os.unlink(path),
                        lambda: os.rename(path, path + ".old"), lambda: os.chmod(path, 0o666),
                        lambda: os.symlink("/etc/hostname", path + ".new")):
            try:
                attempt()
            except OSError:
                pass
    z.fill_(-1.0)                     # its own copy-on-write pages, not the grader's
    v.zero_()
    return answer
"""


def test_big_probe_files_cannot_be_tampered_with(grader, sandbox):
    """The 10**7 relu_vjp probe reaches the child through files kept for the sandbox's life;
    a submission that attacks them harms neither its own grade nor the next student's."""
    nb = grader.nb("dead_neurons")
    set_source(nb, "relu_vjp", TAMPER_SHARED_PROBES)
    result = grader.grade(nb, student="mallory", notebook="dead_neurons")
    assert result.cells["test_relu_vjp"].score == 2.0, result.cells["test_relu_vjp"].message
    files = sandbox.share_files()
    assert len(files.fds) == 2 and sorted(os.listdir(files.dir)) == ["0.bin", "1.bin"]
    for slot, fd in enumerate(files.fds):
        path = os.path.join(files.dir, f"{slot}.bin")
        assert os.lstat(path).st_ino == os.fstat(fd).st_ino
        assert oct(os.stat(path).st_mode & 0o777) == oct(0o440 if sandbox.uid else 0o400)
    honest = grader.grade(grader.nb("dead_neurons"), student="victim2", notebook="dead_neurons")
    assert honest.cells["test_relu_vjp"].score == 2.0, honest.cells["test_relu_vjp"].message


# ============================================================================ secrets and reach
SPY = r'''
import json, os, socket
ROOT = {root!r}
found = {{}}
def attempt(label, fn):
    try:
        value = fn()
        found[label] = "OK " + (value if isinstance(value, str) else repr(value))[:80]
    except BaseException as exc:
        found[label] = "FAILED " + type(exc).__name__
def read(path):
    with open(path, "rb") as fh:
        return fh.read().decode("latin-1")
for rel in ["source/jacobians/jacobian.ipynb", "release/jacobians/jacobian.ipynb", "gradebook.db",
            ".autograder/secret", "nbgrader_config.py", "submitted/victim/jacobians/jacobian.ipynb"]:
    attempt("read " + rel, lambda rel=rel: read(os.path.join(ROOT, rel)))
for rel in ["source", "submitted", "submitted/victim/jacobians", ".autograder", "solutions", "autograded"]:
    attempt("list " + rel, lambda rel=rel: os.listdir(os.path.join(ROOT, rel)))
def write(path):
    with open(path, "w") as fh:
        fh.write("pwned")
    return "written"
for rel in ["source/jacobians/jacobian.ipynb", "submitted/victim/jacobians/jacobian.ipynb",
            "submitted/mallory/jacobians/jacobian.ipynb", "source/jacobians/new.ipynb", "gradebook.db"]:
    attempt("write " + rel, lambda rel=rel: write(os.path.join(ROOT, rel)))
attempt("remove source", lambda: os.remove(os.path.join(ROOT, "source/jacobians/jacobian.ipynb")))
attempt("parent root", lambda: os.listdir(f"/proc/{{os.getppid()}}/root" + ROOT))
attempt("parent cwd", lambda: os.listdir(f"/proc/{{os.getppid()}}/cwd"))
attempt("parent environ", lambda: read(f"/proc/{{os.getppid()}}/environ"))
attempt("init root", lambda: os.listdir("/proc/1/root" + ROOT))
found["environ"] = sorted(os.environ)
found["secret in environ"] = any("TOPSECRET" in v for v in os.environ.values())
attempt("read /proc/self/environ", lambda: "TOPSECRET" in read("/proc/self/environ") and "secret seen")
found["uid"] = os.getuid()
found["cwd is course"] = os.getcwd().startswith(ROOT)
def connect():
    s = socket.create_connection(("127.0.0.1", {port}), timeout=2)
    s.sendall(b"hello")
    return "connected"
attempt("connect", connect)
attempt("connect outside", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2) and "connected")
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {port})))
print("REPORT:" + json.dumps(found))
'''


ENV_SPY = r"""
import json, os
def readable(path):
    try:
        with open(path, "rb") as fh:
            return "TOPSECRET" in fh.read().decode("latin-1") and "secret seen" or "read, no secret"
    except OSError as exc:
        return type(exc).__name__
print("ENV:" + json.dumps({"self": readable("/proc/self/environ"), "parent": readable(f"/proc/{os.getppid()}/environ")}))
"""


def test_local_pool_passes_no_secret_to_student_code(grader, monkeypatch):
    """The local pool's fork server, and so every worker, zygote and child forked from it,
    starts from a scrubbed environment; student code cannot read any initial environment."""
    from autograder.localpool import LocalPool
    monkeypatch.setenv(SECRET_ENV, SECRET_ENV_VALUE)
    nb = grader.nb()
    insert_after(nb, None, ENV_SPY)
    path = grader.path("pooled")
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    pool = LocalPool(1).start()
    pool.server.read()             # its first message, {"ready": true}: it runs our code by now
    with open(f"/proc/{pool.server.proc.pid}/environ", "rb") as fh:
        raw = fh.read()
    names = {item.split(b"=", 1)[0].decode() for item in raw.split(b"\0") if item[:1].isupper()}
    assert b"TOPSECRET" not in raw and "PATH" in names and names <= {
        "PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "MPLCONFIGDIR",
        "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "THP_MEM_ALLOC_ENABLE", "GLIBC_TUNABLES"}
    [(_, result)] = list(pool.run([grader.job("pooled")]))
    assert scores(result) == FULL, result.problems
    # the child runs as its own uid, so its process is not dumpable: no /proc environ at all
    assert report(result, "ENV:") == {"self": "PermissionError", "parent": "PermissionError"}


def test_secrets_stay_secret_and_the_course_unchanged(grader, course, sandbox):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    nb = grader.nb()
    insert_after(nb, None, SPY.format(root=str(course), port=port))
    raw = nbformat.writes(nb).encode()
    grader.path("mallory").parent.mkdir(parents=True, exist_ok=True)
    grader.path("mallory").write_bytes(raw)
    before = digest_tree(course)
    try:
        result = grader.grade(raw=raw)
        with pytest.raises(socket.timeout):
            listener.accept()          # nothing from the sandbox ever reached us
    finally:
        listener.close()
    found = report(result)
    assert scores(result) == FULL
    attempts = {k: v for k, v in found.items() if k.split()[0] in
                ("read", "list", "write", "remove", "parent", "init", "connect", "udp")}
    assert attempts and all(v.startswith("FAILED") for v in attempts.values()), attempts
    assert found["environ"] == ["HOME", "LANG", "NBGRADER_EXECUTION", "PATH", "TMPDIR"]
    assert found["secret in environ"] is False
    assert found["uid"] == sandbox.uid and found["cwd is course"] is False
    # grading wrote nothing into the course (the submission it graded is the one we wrote)
    after = digest_tree(course)
    assert before == after
    assert result.timings["isolation"] == ["mount namespace (course secrets hidden)", "no network",
                                           "private /tmp, /var/tmp, /dev/shm, /run/lock and home (256 MB in all)",
                                           "private IPC", "memory limit 2048 MB", f"unprivileged uid {sandbox.uid}"]


# ============================================================================ limits and deaths
def test_hung_cell_is_interrupted_and_the_rest_graded(grader):
    nb = grader.nb()
    insert_after(nb, None, "while True:\n    pass\n")
    result = grader.grade(nb, limits=Limits(cell_timeout=1.0, notebook_timeout=120.0))
    assert scores(result) == FULL and result.problems == []
    hung = outputs_of(result, "while True:\n    pass")
    assert hung[-1].output_type == "error" and hung[-1].ename == "CellTimeoutError"
    assert hung[-1].evalue == "did not finish within 1 s and was interrupted"
    assert "KeyboardInterrupt" in text_of(hung)
    test_outputs_are_the_graders(result)


def test_hung_function_fails_only_its_own_probes(grader):
    nb = grader.nb()
    set_source(nb, "affine_jacobian", "def affine_jacobian(W, b, x):\n    while True:\n        pass\n")
    result = grader.grade(nb, limits=Limits(cell_timeout=0.5, notebook_timeout=120.0))
    assert scores(result) == {**FULL, "test_affine_jacobian": (0.0, 1.0)}
    assert result.cells["test_affine_jacobian"].diagnoses == ["exception"]
    assert "TimeoutError" in result.cells["test_affine_jacobian"].message
    assert "did not return within 0.5 seconds" in result.cells["test_affine_jacobian"].message
    assert result.problems == []


@pytest.mark.parametrize("loop", ["import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass\n",
                                  "while True:\n    try:\n        while True:\n            pass\n"
                                  "    except KeyboardInterrupt:\n        pass\n"],
                         ids=["sig_ign", "catch_keyboardinterrupt"])
def test_loop_ignoring_sigint_keeps_earlier_credit(grader, loop):
    nb = grader.nb()
    insert_after(nb, "test_jacobian_by_hand", loop)
    result = grader.grade(nb, limits=Limits(cell_timeout=1.0, notebook_timeout=120.0))
    reason = "did not finish within 1 s and ignored the interrupt"
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    for gid in ("test_numerical_jacobian", "test_affine_jacobian"):
        assert result.cells[gid] == CellResult(0.0, POINTS[gid], ["not_run"],
                                               f"not graded: the notebook's process {reason}")
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    died = outputs_of(result, "while True")
    assert [(o.output_type, o.ename, o.evalue) for o in died] == [("error", "KernelDied", reason)]
    assert text_of(outputs_of(result, "def numerical_jacobian")) == f"Not run: the notebook's process {reason}.\n"


def test_notebook_wall_limit(grader):
    nb = grader.nb()
    insert_after(nb, "test_jacobian_by_hand", "import time\ntime.sleep(2.5)\n")
    limits = Limits(cell_timeout=10.0, notebook_timeout=2.0)
    result = grader.grade(nb, limits=limits)
    reason = "ran past the notebook's 2 s limit"
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    assert result.cells["test_affine_jacobian"].message == f"not graded: the notebook's process {reason}"


@pytest.mark.parametrize("bomb", ["x = bytearray(10 * 1024 ** 3)\n",
                                  "import torch\nx = torch.ones(10 * 1024 ** 3 // 8, dtype=torch.float64)\n",
                                  "chunks = []\nwhile True:\n    chunks.append(bytearray(256 * 1024 ** 2))\n"],
                         ids=["bytearray", "torch", "grow"])
def test_memory_bomb_fails_only_its_cell(grader, bomb):
    nb = grader.nb()
    insert_after(nb, None, bomb + "del chunks\n" if "chunks" in bomb else bomb)
    # Zero-filling 2 GiB takes seconds on a slow VM: give the cell time to reach the limit.
    result = grader.grade(nb, limits=dataclasses.replace(FAST, cell_timeout=30.0))
    assert scores(result) == FULL and result.problems == []
    error = outputs_of(result, bomb.splitlines()[-1])[-1]
    assert error.output_type == "error"
    assert error.ename in ("MemoryError", "RuntimeError")


def test_memory_bomb_in_a_function_fails_only_its_probes(grader):
    nb = grader.nb()
    set_source(nb, "jacobian_by_hand", "def jacobian_by_hand(p):\n    return bytearray(10 * 1024 ** 3)\n")
    result = grader.grade(nb)
    assert scores(result) == {**FULL, "test_jacobian_by_hand": (0.0, 3.0)}
    assert result.cells["test_jacobian_by_hand"].diagnoses == ["exception"]
    assert "MemoryError" in result.cells["test_jacobian_by_hand"].message


@pytest.mark.parametrize("death,reason", [
    ("import os\nos._exit(0)\n", "stopped unexpectedly (exit 0)"),
    ("import ctypes\nctypes.string_at(0)\n", "crashed (SIGSEGV)"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
     "was killed (SIGKILL), most likely for using more memory than allowed"),
    ("raise SystemExit(0)\n", None),
    ("exit()\n", None),
], ids=["os_exit", "segfault", "sigkill", "systemexit", "exit"])
def test_kernel_death_keeps_earlier_credit(grader, death, reason):
    nb = grader.nb()
    insert_after(nb, "test_jacobian_by_hand", death)
    result = grader.grade(nb)
    if reason is None:                 # SystemExit is an ordinary exception in a cell
        assert scores(result) == FULL and result.problems == []
        return
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    assert result.cells["test_jacobian_by_hand"].diagnoses == []
    for gid in ("test_numerical_jacobian", "test_affine_jacobian"):
        assert result.cells[gid] == CellResult(0.0, POINTS[gid], ["not_run"],
                                               f"not graded: the notebook's process {reason}")
    died = outputs_of(result, death.splitlines()[-1])
    assert [(o.output_type, o.ename, o.evalue) for o in died] == [("error", "KernelDied", reason)]
    # the autograded notebook still says what happened, where the student will look
    test_cell = autograded(result).cells[cell_index(autograded(result), "test_affine_jacobian")]
    assert text_of(test_cell.outputs) == f"Not graded: the notebook's process {reason}.\nScore: 0/1\n0.0"
    assert test_cell.outputs[-1].output_type == "execute_result"    # what nbgrader records: 0


def test_kernel_death_inside_a_function(grader):
    nb = grader.nb()
    set_source(nb, "numerical_jacobian", "def numerical_jacobian(f, x, h=1e-5):\n"
                                         "    import ctypes\n    return ctypes.string_at(0)\n")
    result = grader.grade(nb)
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    assert result.cells["test_numerical_jacobian"] == CellResult(
        0.0, 3.0, ["kernel_died"], "the notebook's process crashed (SIGSEGV)")
    assert result.cells["test_affine_jacobian"].diagnoses == ["not_run"]


SPAWNER = r'''
import os, subprocess, time
started = []
started.append(subprocess.Popen(["sleep", "300"]).pid)
started.append(subprocess.Popen(["sleep", "301"], start_new_session=True).pid)
started.append(subprocess.Popen("nohup sleep 302 >/dev/null 2>&1 &", shell=True).pid)
pid = os.fork()
if pid == 0:                       # double fork: the grandchild is orphaned, in its own session
    os.setsid()
    if os.fork() == 0:
        time.sleep(303)
    os._exit(0)
os.waitpid(pid, 0)
refused = None
for i in range(200):               # a (bounded) fork bomb: RLIMIT_NPROC stops it
    try:
        child = os.fork()
    except OSError as exc:
        refused = exc.errno
        break
    if child == 0:
        time.sleep(304)
        os._exit(0)
print("SPAWNED:", len(started), "refused:", refused)
'''


def test_background_processes_and_fork_bombs_are_gone(grader, sandbox):
    nb = grader.nb()
    insert_after(nb, None, SPAWNER)
    result = grader.grade(nb)
    assert scores(result) == FULL and result.problems == []
    assert text_of(outputs_of(result, "SPAWNED")) == "SPAWNED: 3 refused: 11\n"
    assert sandbox_processes(sandbox.uid) == []
    # An escaped process would hang under the zygote (its subreaper) or init; other people's
    # `sleep`s on this machine are not ours to count.
    stray = subprocess.run(["pgrep", "-f", "-P", f"1,{sandbox._zygote_pid}", "sleep 30[0-4]"],
                           capture_output=True, text=True).stdout.split()
    assert stray == []


def test_huge_print_is_capped(grader):
    nb = grader.nb()
    insert_after(nb, None, "print('x' * 50_000_000)\nimport sys\nfor i in range(100_000):\n"
                           "    sys.stderr.write('y' * 100)\n")
    result = grader.grade(nb, limits=Limits(cell_timeout=30.0, output_bytes=100_000))
    assert scores(result) == FULL and result.problems == []
    outs = outputs_of(result, "print('x' * 50_000_000)")
    assert [o.output_type for o in outs] == ["stream", "stream"]
    assert outs[0].text == "x" * 100_000
    assert outs[1].text == "[output cut at 100000 bytes]\n"
    assert len(result.autograded_nb_json) < 300_000


# ============================================================================ tampering
def _cell(nb, gid):
    return nb.cells[cell_index(nb, gid)]


def _released_cell(course, gid):
    """The instructor's cell as released (hidden tests removed): what an autograded notebook holds."""
    released = nbformat.read(course / "release" / ASG / f"{NB}.ipynb", as_version=4)
    return _cell(released, gid)


def _edit(nb):
    _cell(nb, "test_jacobian_by_hand").source = "print('Score: 3/3')\n3.0\n"
    return ["locked cell 'test_jacobian_by_hand' was edited; the instructor's version was used"]


def _delete(nb):
    del nb.cells[cell_index(nb, "test_numerical_jacobian")]
    return ["test cell 'test_numerical_jacobian' was missing; the instructor's version was restored"]


def _retype(nb):
    at = cell_index(nb, "test_affine_jacobian")
    old = nb.cells[at]
    nb.cells[at] = nbformat.v4.new_markdown_cell("3.0", metadata=old.metadata)
    return ["cell 'test_affine_jacobian' was changed from code to markdown"]


def _points(nb):
    _cell(nb, "test_jacobian_by_hand").metadata.nbgrader["points"] = 30
    return ["the grading metadata of cell 'test_jacobian_by_hand' was changed; the instructor's was used"]


def _unlock(nb):
    _cell(nb, "test_affine_jacobian").metadata.nbgrader["locked"] = False
    return ["the grading metadata of cell 'test_affine_jacobian' was changed; the instructor's was used"]


def _rename(nb):
    _cell(nb, "test_affine_jacobian").metadata.nbgrader["grade_id"] = "test_affine_jacobian_v2"
    return ["a cell claims to be graded ('test_affine_jacobian_v2') but is not in the assignment; ignored",
            "test cell 'test_affine_jacobian' was missing; the instructor's version was restored"]


def _solution_claims_points(nb):
    _cell(nb, "affine_jacobian").metadata.nbgrader.update(grade=True, points=100)
    return ["the grading metadata of cell 'affine_jacobian' was changed; the instructor's was used"]


def _bonus_cell(nb):
    cell = nbformat.v4.new_code_cell("print('Score: 100/100')\n100.0\n")
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                 "grade_id": "test_bonus", "schema_version": 3}
    nb.cells.insert(cell_index(nb, "test_affine_jacobian") + 1, cell)
    return ["a cell claims to be graded ('test_bonus') but is not in the assignment; ignored"]


def _duplicate(nb):
    nb.cells.append(copy.deepcopy(_cell(nb, "test_jacobian_by_hand")))
    nb.cells.insert(0, copy.deepcopy(_cell(nb, "test_affine_jacobian")))
    return ["cell 'test_affine_jacobian' appears more than once; only its first copy counts",
            "cell 'test_jacobian_by_hand' appears more than once; only its first copy counts",
            "test cell 'test_affine_jacobian' was moved; it was graded after its solution cell"]


def _move(nb):
    cell = nb.cells.pop(cell_index(nb, "test_jacobian_by_hand"))
    nb.cells.insert(cell_index(nb, "setup") + 1, cell)
    return ["test cell 'test_jacobian_by_hand' was moved; it was graded after its solution cell"]


TAMPERING = {f.__name__.strip("_"): f for f in (_edit, _delete, _retype, _points, _unlock, _rename,
                                                  _solution_claims_points, _bonus_cell, _duplicate, _move)}


@pytest.mark.parametrize("kind", sorted(TAMPERING))
def test_tampering_instructors_cells_count(grader, course, wrong_baseline, kind):
    for answers in ("perfect", "wrong"):
        nb = grader.nb() if answers == "perfect" else grader.wrong()
        problems = TAMPERING[kind](nb)
        result = grader.grade(nb)
        assert result.problems == problems
        assert result.status == "graded"
        assert set(result.cells) == {*TESTS, "explain_jacobian_entry"}
        if answers == "perfect":
            assert scores(result) == FULL
        else:
            same_as(result, wrong_baseline)
        test_outputs_are_the_graders(result)
        graded_nb = autograded(result)
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in graded_nb.cells]
        for gid in TESTS:
            assert ids.count(gid) == 1, gid
            assert ids.index(gid) == ids.index(gid[len("test_"):]) + 1, gid
            cell = _cell(graded_nb, gid)
            original = _released_cell(course, gid)
            assert cell.cell_type == "code" and cell.source == original.source
            assert {k: cell.metadata.nbgrader.get(k) for k in ("points", "grade", "locked", "grade_id")} == \
                {k: original.metadata.nbgrader.get(k) for k in ("points", "grade", "locked", "grade_id")}
        assert "test_bonus" not in ids and "test_affine_jacobian_v2" not in ids


# ============================================================================ bad input
def _unreadable(result, reason):
    assert result.status == "failed"
    assert result.problems == [reason]
    assert result.cells == {gid: CellResult(0.0, p, ["unreadable"], reason)
                            for gid, p in {**POINTS, "explain_jacobian_entry": 1.0}.items()}


@pytest.mark.parametrize("raw,reason", [
    (b"", "the submitted notebook is an empty (0-byte) file"),
    (b'{"cells": [', "the submitted file is not a readable notebook (NotJSONError: Notebook does not appear to be JSON: '{\"cells\": [')"),
    (b"\xff\xfe\x00garbage", None),
    (b"[1, 2, 3]", None),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": "none"}',
     "the submitted file is not a readable notebook (ValidationError: The notebook is invalid and is missing an "
     "expected key: 'str' object has no attribute 'get')"),
    (None, "the notebook was not submitted"),
], ids=["empty", "invalid_json", "binary", "json_list", "cells_not_list", "missing"])
def test_unreadable_submissions(grader, raw, reason):
    result = grader.grade(raw=raw)
    if reason is None:
        assert result.problems and result.problems[0].startswith("the submitted file is not a readable notebook (")
        reason = result.problems[0]
    _unreadable(result, reason)


def test_old_nbformat_is_upgraded_and_graded(grader):
    nb = grader.nb()
    v3 = nbformat.convert(nb, 3)
    result = grader.grade(raw=nbformat.writes(v3, version=3).encode())
    assert result.status == "graded"
    assert scores(result) == FULL


def test_malformed_cells_and_metadata(grader):
    nb = json.loads(nbformat.writes(grader.nb()))
    nb["cells"].insert(2, {"cell_type": "alien", "source": "x", "metadata": {}})
    nb["cells"].insert(2, "not even a dict")
    nb["cells"].insert(2, {"cell_type": "code", "source": 42, "metadata": {"nbgrader": "nonsense"},
                           "outputs": [], "execution_count": None})
    nb["cells"].insert(2, {"cell_type": "code", "source": ["x = ", "1\n"], "metadata": None,
                           "outputs": None, "execution_count": "seven"})
    nb["metadata"] = {"kernelspec": {"name": "evil"}, "nbgrader": {"grade": True}}
    result = grader.grade(raw=json.dumps(nb).encode())
    assert result.status == "graded"
    assert result.problems == ["a malformed cell was dropped", "a malformed cell was dropped"]
    assert scores(result) == FULL


def test_huge_stored_outputs_are_dropped(grader):
    nb = grader.nb()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="z" * 5_000_000)]
    cell = _cell(nb, "test_jacobian_by_hand")
    cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "3.0"}, execution_count=1)]
    result = grader.grade(nb)
    assert scores(result) == FULL and result.problems == []
    assert len(result.autograded_nb_json) < 200_000
    test_outputs_are_the_graders(result)


@pytest.mark.parametrize("student", ["zoë.ünïcødé", "a.b..c", "..", "-rf", "名前 with space"])
def test_unusual_student_ids(grader, student):
    result = grader.grade(grader.nb(), student=student)
    assert result.status == "graded" and result.student == student
    assert scores(result) == FULL


def test_extra_files_and_folders_stay_the_students_own(grader, course):
    folder = grader.path("extra").parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "data" / "deep").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "deep" / "w.txt").write_text("1 2 3")
    (folder / "extra.ipynb").write_text("{}")
    (folder / "link-to-source").symlink_to(course / "source")
    (folder / "link-to-secret").symlink_to(course / ".autograder" / "secret")
    nb = grader.nb()
    insert_after(nb, None, "import json, os\nfound = {}\n"
                 "for p in ['notes.txt', 'data/deep/w.txt', 'link-to-source/jacobians/jacobian.ipynb', "
                 "'link-to-secret']:\n"
                 "    try:\n        found[p] = open(p).read()[:20]\n"
                 "    except OSError as e:\n        found[p] = type(e).__name__\n"
                 "open('notes.txt', 'w').write('changed')\n"
                 "print('REPORT:' + json.dumps(found))\n")
    before = digest_tree(folder.parent)
    result = grader.grade(nb, student="extra")
    assert scores(result) == FULL
    assert report(result) == {"notes.txt": "my notes", "data/deep/w.txt": "1 2 3",
                              "link-to-source/jacobians/jacobian.ipynb": "FileNotFoundError",
                              "link-to-secret": "FileNotFoundError"}   # links are not copied in
    after = digest_tree(folder.parent)
    assert {k: v for k, v in after.items() if not k.endswith("jacobian.ipynb")} == \
        {k: v for k, v in before.items() if not k.endswith("jacobian.ipynb")}


# ============================================================================ stock nbgrader, routed
STOCK_ATTACK = """
import math, torch, numpy
math.isclose = lambda *a, **k: True
torch.allclose = numpy.allclose = lambda *a, **k: True
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
"""


@pytest.mark.slow
def test_stock_nbgrader_autograde_and_feedback(course_template, tmp_path):
    """`nbgrader autograde` goes through SandboxedExecute (nbgrader_config.py): the attack that earns
    full marks in stock nbgrader earns nothing, and the feedback HTML holds no hidden test or seed."""
    root = tmp_path / "course"
    shutil.copytree(course_template, root)
    folder = root / "submitted" / "mallory" / ASG
    folder.mkdir(parents=True)
    nb = samples.submission("perfect", release_dir=root / "release" / ASG, source_dir=root / "source" / ASG)[NB]
    for gid, src in WRONG.items():
        set_source(nb, gid, src)
    insert_after(nb, None, STOCK_ATTACK)
    nbformat.write(nb, folder / f"{NB}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    env = scaffold.course_env(root, {"AUTOGRADER_STOCK_EXECUTE": "0"})
    scaffold.nbgrader("autograde", ASG, "--student", "mallory", "--force", cwd=root, env=env, timeout=600)
    got = scaffold.gradebook_scores(root, ASG)["mallory"]
    assert {gid: got[gid] for gid in TESTS} == {gid: 0.0 for gid in TESTS}
    assert got[NB] == 0.0
    graded = nbformat.read(root / "autograded" / "mallory" / ASG / f"{NB}.ipynb", as_version=4)
    assert text_of(_cell(graded, "test_affine_jacobian").outputs).endswith("0.0")

    scaffold.nbgrader("generate_feedback", ASG, "--student", "mallory", "--force", cwd=root, env=env)
    html = (root / "feedback" / "mallory" / ASG / f"{NB}.html").read_text()
    assert "affine_jacobian: 0 of " in html                  # the diagnosis is there ...
    assert "HIDDEN TESTS" not in html and "hidden=True" not in html   # ... the hidden tests are not
    secret = secrets.course_secret(root)
    seeds = [secrets.student_seed(secret, "mallory", name) for name in jacobians_course.EXERCISES]
    for seed in seeds:
        assert str(seed) not in html and hex(seed)[2:] not in html
    assert secret.hex() not in html
    solution = _cell(nbformat.read(root / "source" / ASG / f"{NB}.ipynb", as_version=4), "jacobian_by_hand").source
    for line in solution.splitlines():
        if "#" in line and "BEGIN" not in line and "END" not in line:   # the instructor's commented lines
            assert line.strip() not in html


def test_disabling_the_autograd_tracer_in_the_child_gains_nothing(grader):
    """The child's tracer can be switched off by student code; the trusted static check remains."""
    nb = grader.nb()
    insert_after(nb, None, "import autograder.policy\n"
                           "class Blind:\n    calls = ()\n    def __enter__(self):\n        return self\n"
                           "    def __exit__(self, *a):\n        return False\n"
                           "autograder.policy.AutogradTracer = Blind\n")
    set_source(nb, "jacobian_by_hand", "import torch\nag = getattr(torch, 'auto' + 'grad')\n\n"
                                       "def jacobian_by_hand(p):\n"
                                       "    f = lambda q: torch.stack([q[0] ** 2 + q[1], q[0] * q[1], torch.exp(q[0])])\n"
                                       "    return ag.functional.jacobian(f, p)\n")
    result = grader.grade(nb)
    assert scores(result) == {**FULL, "test_jacobian_by_hand": (0.0, 3.0)}
    assert result.cells["test_jacobian_by_hand"].diagnoses == ["autograd_used"]
    assert "Score 0: this exercise must be done by hand, without autograd" in result.cells["test_jacobian_by_hand"].message


def test_cells_after_the_last_test_run_only_for_a_complete_notebook(grader):
    """They cannot change a score, so the fast path leaves them unrun; the full path runs them
    and draws figures as stock nbgrader would."""
    nb = grader.nb()
    nb.cells.append(nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nplt.plot([0, 1])\n"
                                              "plt.show()\nprint('TRAILING')\n"))
    fast = grader.grade(nb)
    full = grader.grade(nb, limits=dataclasses.replace(FAST, complete_notebook=True))
    assert scores(fast) == scores(full) == FULL
    assert "not run by the fast grader" in text_of(outputs_of(fast, "TRAILING"))
    trailing = outputs_of(full, "TRAILING")
    assert "TRAILING" in text_of(trailing)
    assert any("image/png" in out.get("data", {}) for out in trailing)


@pytest.mark.slow
def test_one_broken_notebook_costs_only_itself_on_both_paths(course_template, tmp_path):
    """Invalid JSON in one notebook and a 0-byte file in another: the student's other notebooks
    are graded as usual by `autograder grade` and by routed `nbgrader autograde` alike."""
    from autograder import batch
    from autograder.gradebook import load_course

    fast, routed = tmp_path / "grade", tmp_path / "routed"
    shutil.copytree(course_template, fast)
    secrets.course_secret(fast)
    samples.write_class(fast, {"ada": "perfect", "mallory": "perfect"}, assignment=ASG)
    folder = fast / "submitted" / "mallory" / ASG
    (folder / "chain_rule.ipynb").write_text('{"cells": [')
    (folder / "dead_neurons.ipynb").write_bytes(b"")
    shutil.copytree(fast, routed)
    batch.grade(load_course(str(fast)), ASG, workers=2, progress_stream=io.StringIO())
    scaffold.nbgrader("autograde", ASG, "--force", cwd=routed, env=scaffold.course_env(routed), timeout=1800)

    want, got = scaffold.gradebook_cells(fast, ASG), scaffold.gradebook_cells(routed, ASG)
    assert want == got
    for notebook in ("jacobian", "sigmoid_saturation"):
        assert got[("mallory", notebook, "<total>")] == got[("ada", notebook, "<total>")] > 0
    for notebook in ("chain_rule", "dead_neurons"):
        assert got[("mallory", notebook, "<total>")] == 0.0 < got[("ada", notebook, "<total>")]


# ============================================================================ both paths agree
def _routed_limits(limits: Limits) -> list[str]:
    return [f"--SandboxedExecute.timeout={limits.cell_timeout}",
            f"--SandboxedExecute.notebook_timeout={limits.notebook_timeout}",
            f"--SandboxedExecute.memory_mb={limits.memory_mb}",
            f"--SandboxedExecute.output_bytes={limits.output_bytes}"]


@pytest.mark.slow
def test_routed_nbgrader_autograde_scores_like_autograder_grade(course_template, tmp_path):
    """Every submission of this module, graded by `autograder grade` and by routed `nbgrader
    autograde`: the two gradebooks hold the same scores and flags, cell by cell."""
    if not HANDED_IN:
        pytest.skip("no case of this module graded a submission")
    from autograder import batch
    from autograder.gradebook import load_course

    groups: dict[Limits, list[HandedIn]] = {}
    for handed in HANDED_IN:
        # limits of a few seconds make either path's result depend on the machine's load (and the
        # routed path draws figures), not on the path
        limits = dataclasses.replace(handed.limits, cell_timeout=max(handed.limits.cell_timeout, FAST.cell_timeout),
                                     notebook_timeout=max(handed.limits.notebook_timeout, FAST.notebook_timeout))
        groups.setdefault(limits, []).append(handed)
    differences, compared = [], 0
    for n, (limits, cases) in enumerate(groups.items()):
        fast, routed = tmp_path / f"grade{n}", tmp_path / f"routed{n}"
        shutil.copytree(course_template, fast)
        secrets.course_secret(fast)          # one secret for both copies: the same hidden probes
        students = {}
        for i, handed in enumerate(cases):
            student = f"case{i:03d}"
            students[student] = handed
            folder = fast / "submitted" / student / ASG
            folder.mkdir(parents=True)
            if handed.content is not None:
                (folder / f"{handed.notebook}.ipynb").write_bytes(handed.content)
            (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
        shutil.copytree(fast, routed)
        batch.grade(load_course(str(fast)), ASG, workers=2, limits=limits, progress_stream=io.StringIO())
        scaffold.nbgrader("autograde", ASG, "--force", *_routed_limits(limits), cwd=routed,
                         env=scaffold.course_env(routed), timeout=1800)
        want, got = scaffold.gradebook_cells(fast, ASG), scaffold.gradebook_cells(routed, ASG)
        compared += len(want)
        differences += [(students[key[0]].case, key[1:], want.get(key), got.get(key))
                        for key in sorted(want.keys() | got.keys(), key=str) if want.get(key) != got.get(key)]
    assert compared and not differences, "\n".join(map(str, differences))
