"""Sample student submissions for the `jacobians` assignment.

Built from the notebooks nbgrader releases, so they look exactly like what students hand in:

* ``"perfect"`` -- every solution cell filled with the instructor's solution code;
* ``"blank"``   -- the released notebooks, untouched;
* a mistake name (see :data:`MISTAKES`) or a list of them -- the perfect submission with those
  exercises' solution cells replaced by a typical wrong (or right-but-noisy) answer.

Used by ``make demo``, the test suite, the benchmark and the browser tests::

    from autograder import samples
    course = samples.make_course(tmp_path / "course")          # source/, release/, config
    samples.write_class(course, {"ada": "perfect", "bob": ["transposed_jacobian"],
                                 "cy": "blank"})               # -> submitted/<id>/jacobians/
    samples.write_submission(folder, "relu_one_at_zero")        # fill notebooks in any folder

Nothing here runs student code; it only edits notebook JSON.
"""
from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence, Union

import nbformat

ASSIGNMENT = "jacobians"
NOTEBOOKS = ("jacobian", "chain_rule", "dead_neurons", "sigmoid_saturation")
REPO_ROOT = Path(__file__).resolve().parent.parent

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"

Spec = Union[str, Sequence[str]]


# ---------------------------------------------------------------------------------------------
# Typical mistakes. Each is the full text of a solution cell a student might plausibly write.
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mistake:
    name: str
    exercise: str           # grade_id of the solution cell it replaces
    notebook: str           # notebook (without .ipynb) holding that cell
    description: str        # what the student got wrong, in one line
    source: str             # the replacement cell source
    # what it earns on its own exercise (see scoring): "none" when it is wrong in general,
    # "partial" when it is right on some general probes or wrong only at special cases,
    # "full" when it is a right answer
    credit: str = "none"
    # other exercises whose score may drop too because their solution calls this function
    affects: tuple[str, ...] = field(default=())


def _mistake(name, exercise, notebook, description, source, credit="none", affects=()):
    return Mistake(name, exercise, notebook, description, source.strip("\n") + "\n",
                   credit, tuple(affects))


OWN_NUMERICAL_JACOBIAN = """
import torch

def numerical_jacobian(f, x, h=1e-5):
    # nudge one input at a time, both ways, and see how every output moves
    n_inputs = x.shape[0]
    nudges = torch.eye(n_inputs, dtype=x.dtype) * h
    columns = []
    for k in range(n_inputs):
        ahead = torch.as_tensor(f(x + nudges[k])).reshape(-1)
        behind = torch.as_tensor(f(x - nudges[k])).reshape(-1)
        columns.append((ahead - behind) / (2 * h))
    jac = torch.stack(columns, dim=-1)
    return jac.to(x.dtype)
"""


def renamed(source: str, renames: dict[str, str]) -> str:
    """source with each key replaced by its value: a copy made to look like one's own work."""
    for old, new in renames.items():
        source = source.replace(old, new)
    return source


_MISTAKE_LIST = [
    # --- jacobian.ipynb ----------------------------------------------------------------------
    _mistake("transposed_jacobian", "jacobian_by_hand", "jacobian",
             "one row per input instead of one per output: the (2, 3) transpose", """
import torch

def jacobian_by_hand(p):
    x, y = p[0], p[1]
    # columns are outputs here -- the transpose of the Jacobian
    return torch.stack([
        torch.stack([2 * x, y, torch.exp(x)]),
        torch.stack([torch.ones_like(x), x, torch.zeros_like(x)]),
    ])
"""),
    _mistake("autograd_in_by_hand", "jacobian_by_hand", "jacobian",
             "right numbers, but computed with torch.autograd in a by-hand exercise", """
import torch

def jacobian_by_hand(p):
    def f(q):
        return torch.stack([q[0] ** 2 + q[1], q[0] * q[1], torch.exp(q[0])])
    return torch.autograd.functional.jacobian(f, p)
"""),
    _mistake("central_difference_without_2", "numerical_jacobian", "jacobian",
             "central difference divided by h instead of 2h: every entry twice too big", """
import torch

def numerical_jacobian(f, x, h=1e-5):
    cols = []
    for j in range(x.shape[0]):
        e = torch.zeros_like(x)
        e[j] = h
        cols.append((f(x + e) - f(x - e)) / h)
    return torch.stack(cols, dim=1)
"""),
    _mistake("own_numerical_jacobian", "numerical_jacobian", "jacobian",
             "correct, in the student's own style (one student of a copied pair)", OWN_NUMERICAL_JACOBIAN,
             credit="full"),
    _mistake("own_numerical_jacobian_renamed", "numerical_jacobian", "jacobian",
             "the answer above with its names and comments changed (the other one of the pair)",
             renamed(OWN_NUMERICAL_JACOBIAN, {
                 "# nudge one input at a time, both ways, and see how every output moves":
                     "# central differences, see lecture 2",
                 "n_inputs": "n", "nudges": "E", "columns": "cols", "ahead": "fp", "behind": "fm",
                 "jac = ": "J = ", "return jac": "return J", "[k]": "[i]", " k ": " i "}),
             credit="full"),
    _mistake("warning_but_correct", "affine_jacobian", "jacobian",
             "correct, but torch.tensor(W) on a tensor emits a UserWarning (must not lose points)",
             """
import torch

def affine_jacobian(W, b, x):
    return torch.tensor(W)
""", credit="full"),
    _mistake("forgot_return", "affine_jacobian", "jacobian",
             "computes the Jacobian but never returns it (returns None)", """
import torch

def affine_jacobian(W, b, x):
    J = W.clone()
"""),
    # --- chain_rule.ipynb --------------------------------------------------------------------
    _mistake("shape_inputs_first", "network_jacobian_shape", "chain_rule",
             "shape written as (inputs, outputs)", """
def network_jacobian_shape(layer_sizes):
    return (layer_sizes[0], layer_sizes[-1])
"""),
    _mistake("missing_activation_derivative", "layer_jacobian", "chain_rule",
             "returns W: the a'(Wx + b) factor of the chain rule is missing", """
import torch

def layer_jacobian(W, b, x, activation):
    return W.clone()
""", affects=("mlp_jacobian",)),
    _mistake("chain_in_wrong_order", "mlp_jacobian", "chain_rule",
             "multiplies the layer Jacobians first-to-last (J1 J2 ... instead of ... J2 J1)", """
import torch

def mlp_jacobian(weights, biases, x, activation="tanh"):
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}
    J = None
    h = x
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = W @ h + b
        last = k == len(weights) - 1
        if last:
            Jk = W
            h = z
        else:
            h = acts[activation](z)
            if activation == "tanh":
                d = 1 - h ** 2
            elif activation == "sigmoid":
                d = h * (1 - h)
            else:
                d = (z > 0).to(z.dtype)
            Jk = d[:, None] * W
        J = Jk if J is None else J @ Jk
    return J
"""),
    # --- dead_neurons.ipynb ------------------------------------------------------------------
    _mistake("relu_one_at_zero", "relu_jacobian", "dead_neurons",
             "takes the ReLU derivative at 0 to be 1 (z >= 0 instead of z > 0)", """
import torch

def relu_jacobian(z):
    return torch.diag((z >= 0).to(z.dtype))
""", credit="partial"),  # wrong only where z is exactly 0, a special case
    _mistake("origin_is_not_dead", "dead_input", "dead_neurons",
             "returns x = 0, where the pre-activations are just b (not all negative)", """
import torch

def dead_input(W, b):
    return torch.zeros(W.shape[1], dtype=W.dtype)
"""),
    _mistake("full_matrix_vjp", "relu_vjp", "dead_neurons",
             "forms the (n, n) Jacobian matrix: right for small n, impossible for n = 10**7", """
import torch

def relu_vjp(z, v):
    J = torch.diag((z > 0).to(z.dtype))
    return J.T @ v
""", credit="partial"),  # right on the small general probes, fails the one with n = 10**7
    # --- sigmoid_saturation.ipynb ------------------------------------------------------------
    _mistake("sigmoid_wrong_sign", "sigmoid_jacobian", "sigmoid_saturation",
             "sigma(z) (sigma(z) - 1) on the diagonal: the sign is flipped", """
import torch

def sigmoid_jacobian(z):
    s = torch.sigmoid(z)
    return torch.diag(s * (s - 1))
""", affects=("sigmoid_layer_jacobian",)),
    _mistake("missing_sigmoid_derivative", "sigmoid_layer_jacobian", "sigmoid_saturation",
             "uses sigma(Wx + b) where sigma'(Wx + b) belongs: the sigma' factor is missing", """
import torch

def sigmoid_layer_jacobian(W, b, x):
    s = torch.sigmoid(W @ x + b)
    return s[:, None] * W
"""),
    _mistake("counts_unsaturated", "saturated_fraction", "sigmoid_saturation",
             "counts the units whose derivative is ABOVE the threshold", """
import torch

def saturated_fraction(W, b, X, threshold=1e-3):
    s = torch.sigmoid(X @ W.T + b)
    return float(((s * (1 - s)) >= threshold).double().mean())
"""),
]

MISTAKES: dict[str, Mistake] = {m.name: m for m in _MISTAKE_LIST}

# A small class for the demo (and tests): one perfect student, one blank, four whose
# mistakes together cover every entry of MISTAKES, a pair who handed in the same answer with
# the names changed, and one who handed in late (DEMO_LATE).
DEMO_CLASS: dict[str, Spec] = {
    "ada": "perfect",
    "ben": ["transposed_jacobian", "missing_activation_derivative",
            "missing_sigmoid_derivative"],
    "chloe": ["relu_one_at_zero", "full_matrix_vjp", "warning_but_correct",
              "shape_inputs_first"],
    "dev": ["sigmoid_wrong_sign", "autograd_in_by_hand", "forgot_return"],
    "eve": ["central_difference_without_2", "chain_in_wrong_order", "counts_unsaturated",
            "origin_is_not_dead"],
    "finn": "blank",
    "gwen": ["own_numerical_jacobian"],
    "hugo": ["own_numerical_jacobian_renamed"],
    "ivy": "perfect",
}
SUBMITTED_AT = _dt.datetime(2026, 11, 20, 12, 0, tzinfo=_dt.timezone.utc)
DUE_DATE = _dt.datetime(2026, 11, 21, 12, 0, tzinfo=_dt.timezone.utc)   # `make demo` sets it
DEMO_LATE: dict[str, _dt.timedelta] = {"ivy": _dt.timedelta(days=1, hours=3)}


def kinds() -> list[str]:
    """Every single-word submission spec: 'perfect', 'blank' and each mistake's name."""
    return ["perfect", "blank", *MISTAKES]


def mistakes_of(spec: Spec) -> list[Mistake]:
    """The mistakes a spec stands for ([] for 'perfect' and 'blank')."""
    names = [spec] if isinstance(spec, str) else list(spec)
    if names in (["perfect"], ["blank"], []):
        return []
    unknown = [n for n in names if n not in MISTAKES]
    if unknown:
        raise KeyError(f"unknown submission kind(s) {unknown}; choose from {kinds()}")
    chosen = [MISTAKES[n] for n in names]
    exercises = [m.exercise for m in chosen]
    clash = {e for e in exercises if exercises.count(e) > 1}
    if clash:
        raise ValueError(f"two mistakes replace the same solution cell: {sorted(clash)}")
    return chosen


# ---------------------------------------------------------------------------------------------
# Notebook text helpers (shared with scripts/regenerate.py)
# ---------------------------------------------------------------------------------------------
def strip_solution_markers(text: str) -> str:
    """The solution as the instructor wrote it, without the BEGIN/END SOLUTION lines."""
    lines = text.split("\n")
    keep = [ln for ln in lines if ln.strip() not in (BEGIN_SOLUTION, END_SOLUTION)]
    return "\n".join(keep)


def remove_block(text: str, begin: str, end: str) -> str:
    """``text`` without the lines from ``begin`` to ``end`` (markers included), trailing blanks trimmed."""
    out, inside = [], False
    for line in text.split("\n"):
        if line.strip() == begin:
            inside = True
        elif line.strip() == end:
            inside = False
        elif not inside:
            out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


def remove_hidden_tests(text: str) -> str:
    """The test cell without its BEGIN/END HIDDEN TESTS block (markers included)."""
    return remove_block(text, BEGIN_HIDDEN, END_HIDDEN)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def solution_cells(source_dir: Path) -> dict[str, str]:
    """grade_id -> the instructor's solution (markers stripped) for every solution cell."""
    out = {}
    for name in NOTEBOOKS:
        path = Path(source_dir) / f"{name}.ipynb"
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            if meta.get("solution"):
                out[meta["grade_id"]] = strip_solution_markers(cell.source)
    return out


def test_points(source_dir: Path | None = None) -> dict[str, float]:
    """grade_id -> points of every autograded test cell (``test_<exercise>``)."""
    source_dir = Path(source_dir or REPO_ROOT / "source" / ASSIGNMENT)
    out = {}
    for name in NOTEBOOKS:
        path = source_dir / f"{name}.ipynb"
        if not path.exists():
            continue
        for cell in nbformat.read(path, as_version=4).cells:
            meta = nbgrader_meta(cell)
            if meta.get("grade") and cell.cell_type == "code":
                out[meta["grade_id"]] = float(meta.get("points", 0))
    return out


def expected_scores(spec: Spec, source_dir: Path | None = None) -> dict[str, tuple[float, float]]:
    """test grade_id -> (lowest, highest) score the spec should get from a correct grader.

    perfect: full marks everywhere; blank: 0 everywhere; a mistake, on its own exercise: 0
    when it is wrong in general, strictly between 0 and full for partial credit, full for a
    right answer (e.g. one that warns); anything on the exercises it `affects`, full marks on
    every other exercise.
    """
    points = test_points(source_dir)
    if spec == "blank":
        return {gid: (0.0, 0.0) for gid in points}
    out = {gid: (p, p) for gid, p in points.items()}
    for m in mistakes_of(spec):
        for other in m.affects:
            gid = f"test_{other}"
            if gid in out:
                out[gid] = (0.0, points[gid])
        gid = f"test_{m.exercise}"
        if gid in out and m.credit != "full":
            # partial: the grader must find the mistake on at least one probe, and credit the rest
            out[gid] = (0.01, points[gid] - 0.01) if m.credit == "partial" else (0.0, 0.0)
    return out


def unexpected_scores(scores: Mapping[str, float], spec: Spec, source_dir: Path | None = None) -> dict:
    """test grade_id -> (score, (lowest, highest)) for each score outside what ``spec`` should get."""
    return {gid: (scores.get(gid), lo_hi) for gid, lo_hi in expected_scores(spec, source_dir).items()
            if not lo_hi[0] <= scores.get(gid, -1) <= lo_hi[1]}


# ---------------------------------------------------------------------------------------------
# Building submissions
# ---------------------------------------------------------------------------------------------
def submission(spec: Spec = "perfect", *, release_dir: Path | None = None,
               source_dir: Path | None = None) -> dict[str, nbformat.NotebookNode]:
    """notebook name -> notebook, as a student with this spec would hand it in."""
    release_dir = Path(release_dir or REPO_ROOT / "release" / ASSIGNMENT)
    source_dir = Path(source_dir or REPO_ROOT / "source" / ASSIGNMENT)
    notebooks = {}
    for name in NOTEBOOKS:
        path = release_dir / f"{name}.ipynb"
        if path.exists():
            notebooks[name] = nbformat.read(path, as_version=4)
    if not notebooks:
        raise FileNotFoundError(f"no released notebooks in {release_dir} (run `make release`)")
    if spec == "blank":
        return notebooks

    answers = solution_cells(source_dir)
    for m in mistakes_of(spec):
        answers[m.exercise] = m.source
    for nb in notebooks.values():
        for cell in nb.cells:
            meta = nbgrader_meta(cell)
            if meta.get("solution") and meta.get("grade_id") in answers:
                cell.source = answers[meta["grade_id"]]
    return notebooks


def write_submission(dest_dir: Path, spec: Spec = "perfect", *,
                     release_dir: Path | None = None, source_dir: Path | None = None,
                     timestamp: str | None = None) -> list[Path]:
    """Write the spec's notebooks into dest_dir (which may be a fetched copy to fill in place).

    With a timestamp (nbgrader's format, e.g. '2026-11-20 12:00:00.000000 UTC') also writes
    timestamp.txt as `nbgrader collect` would.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in submission(spec, release_dir=release_dir, source_dir=source_dir).items():
        path = dest_dir / f"{name}.ipynb"
        nbformat.write(nb, path)
        written.append(path)
    if timestamp:
        (dest_dir / "timestamp.txt").write_text(timestamp)
    return written


def write_class(course_root: Path, roster: Mapping[str, Spec], *,
                assignment: str = ASSIGNMENT, source_root: Path | None = None,
                late: Mapping[str, _dt.timedelta] | None = None) -> dict[str, Path]:
    """Write submitted/<student>/<assignment>/ for every student of the roster.

    The notebooks are built from the course's own release/ and source/ (falling back to the
    repository's when the course has no release/ yet). Everyone hands in at SUBMITTED_AT,
    except the students in ``late``: that long after DUE_DATE. Returns student -> folder.
    """
    course_root = Path(course_root)
    release_dir = course_root / "release" / assignment
    source_dir = course_root / "source" / assignment
    if not release_dir.exists():
        release_dir = Path(source_root or REPO_ROOT) / "release" / assignment
    late = late or {}
    folders = {}
    for student, spec in roster.items():
        folder = course_root / "submitted" / student / assignment
        stamp = DUE_DATE + late[student] if student in late else SUBMITTED_AT
        write_submission(folder, spec, release_dir=release_dir, source_dir=source_dir,
                         timestamp=stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
        folders[student] = folder
    return folders


# ---------------------------------------------------------------------------------------------
# Throw-away courses
# ---------------------------------------------------------------------------------------------
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


def gradebook_scores(course_root: Path, assignment: str = ASSIGNMENT,
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


def gradebook_cells(course_root: Path, assignment: str = ASSIGNMENT) -> dict[tuple, float | bool | None]:
    """Everything grading writes to the gradebook: (student, notebook, grade_id) -> auto_score,
    (student, notebook, grade_id + ' needs_manual_grade') -> flag, and (student, notebook,
    '<total>') -> the notebook's score. Two gradebooks that agree here agree for nbgrader."""
    from nbgrader.api import Gradebook
    from autograder.gradebook import load_course

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
