"""release/<assignment>, for every assignment of the course, is exactly what `nbgrader
generate_assignment` writes, follows the exercise contract its declarations imply
(tests/contract.py), and gives nothing away (no solutions, no hidden tests)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.course.directory import VISIBLE_CHECKS
from autograder.course.visible import read_record
from autograder.intake import cells, notebook_text
import contract
from course_layout import ASSIGNMENTS, NOTEBOOKS, REPO_ROOT
from test_visible_checks import fingerprint

# What the course's specifications (shared/spec/<assignment>-assignment.md) fix beyond the
# contract: notebook -> exercise -> points, and notebook -> its manually graded answer. A new
# assignment needs no entry here.
AUTOGRADED = {
    "jacobians": {
        "jacobian": {"jacobian_by_hand": 3, "numerical_jacobian": 3, "affine_jacobian": 1},
        "chain_rule": {"network_jacobian_shape": 1, "layer_jacobian": 3, "mlp_jacobian": 4},
        "dead_neurons": {"relu_jacobian": 2, "dead_input": 3, "relu_vjp": 2},
        "sigmoid_saturation": {"sigmoid_jacobian": 2, "sigmoid_layer_jacobian": 3, "saturated_fraction": 2},
    },
    "sensitivity": {
        "linearization": {"tiny_net_jacobian": 3, "linear_prediction": 2, "most_sensitive_input": 2},
        "volume": {"polar_jacobian": 2, "coupling_log_det": 3},
        "robustness": {"spectral_norm": 3, "fgsm": 2, "saliency": 2, "lipschitz_bound": 2},
        "residual": {"residual_jacobian": 3, "depth_sensitivity": 3},
    },
}
MANUAL = {
    "jacobians": {
        "jacobian": "explain_jacobian_entry",
        "chain_rule": "explain_chain_rule",
        "dead_neurons": "explain_dead_neurons",
        "sigmoid_saturation": "explain_saturation",
    },
    "sensitivity": {
        "linearization": "explain_linearization",
        "volume": "explain_volume",
        "robustness": "explain_robustness",
        "residual": "explain_residual",
    },
}


def release(assignment: str) -> Path:
    return REPO_ROOT / "release" / assignment


def source(assignment: str) -> Path:
    return REPO_ROOT / "source" / assignment


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()
            and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_notebook_is_released(assignment):
    assert notebook_text.notebook_names(release(assignment)) == notebook_text.notebook_names(source(assignment))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_committed_release_is_what_generate_assignment_writes(regenerate, tmp_path, assignment):
    built = regenerate.build_release(tmp_path, assignment)
    committed, fresh = _files(release(assignment)), _files(built)
    assert sorted(committed) == sorted(fresh), "file lists differ: run `make release`"
    # the visible checks' record pickles differently each time: compare what it says
    stale = [name for name in fresh if name != VISIBLE_CHECKS and committed[name] != fresh[name]]
    if fingerprint(read_record(str(release(assignment)))) != fingerprint(read_record(str(built))):
        stale.append(VISIBLE_CHECKS)
    assert not stale, f"release/ is out of date for {stale}: run `make release`"


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS)
def test_release_follows_the_contract(assignment, notebook):
    problems = contract.notebook_problems(REPO_ROOT, assignment, notebook)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_declared_exercise_has_its_cells(assignment):
    problems = contract.declaration_problems(REPO_ROOT, assignment)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("assignment, notebook", [(a, nb) for a, nb in NOTEBOOKS if a in AUTOGRADED])
def test_release_has_the_points_and_written_answers_the_spec_fixes(assignment, notebook):
    nb = nbformat.read(release(assignment) / f"{notebook}.ipynb", as_version=4)
    points = {cells.grade_id(c): cells.points(c) for c in nb.cells if cells.is_test(c)}
    written = {cells.grade_id(c) for c in nb.cells if cells.is_graded(c) and c.cell_type == "markdown"}
    assert points == {f"test_{name}": pts for name, pts in AUTOGRADED[assignment][notebook].items()}, \
        f"{notebook}: the points differ from shared/spec/{assignment}-assignment.md: change the test cells' points"
    assert written == {MANUAL[assignment][notebook]}, \
        f"{notebook}: the spec asks for the written answer {MANUAL[assignment][notebook]} here"


@pytest.mark.parametrize("assignment", sorted(AUTOGRADED))
def test_the_spec_covers_its_assignment(assignment):
    assert set(AUTOGRADED[assignment]) == set(MANUAL[assignment]) == set(notebook_text.notebook_names(source(assignment)))
    autograded = sum(sum(ex.values()) for ex in AUTOGRADED[assignment].values())
    assert sum(notebook_text.test_points(source(assignment)).values()) == autograded


def _solution_lines(source_nb: Path) -> set[str]:
    """Distinctive lines that occur only inside solution regions or hidden-test blocks."""
    nb = nbformat.read(source_nb, as_version=4)
    secret, public = set(), set()
    for cell in nb.cells:
        meta = cells.meta(cell)
        region = None
        whole_cell_answer = cell.cell_type == "markdown" and meta.get("solution")
        for line in cell.source.split("\n"):
            text = line.strip()
            if text in (notebook_text.BEGIN_SOLUTION, notebook_text.BEGIN_HIDDEN):
                region = text
                continue
            if text in (notebook_text.END_SOLUTION, notebook_text.END_HIDDEN):
                region = None
                continue
            if len(text) < 12:
                continue
            (secret if region or whole_cell_answer else public).add(text)
    return secret - public


@pytest.mark.parametrize("assignment, notebook", NOTEBOOKS)
def test_release_contains_no_solution_or_hidden_test(assignment, notebook):
    raw = (release(assignment) / f"{notebook}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                   "hidden=True", "MARK SCHEME"):
        assert marker not in raw, f"{notebook}: released notebook contains {marker!r}"
    nb = nbformat.read(release(assignment) / f"{notebook}.ipynb", as_version=4)
    released_lines = {ln.strip() for cell in nb.cells for ln in cell.source.split("\n")}
    leaked = _solution_lines(source(assignment) / f"{notebook}.ipynb") & released_lines
    assert not leaked, f"{notebook}: solution text in the release: {sorted(leaked)[:5]}"
    for cell in nb.cells:
        meta = cells.meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            assert "raise NotImplementedError()" in cell.source
        if cell.cell_type == "code":
            assert not cell.outputs, f"{notebook}: released with stored outputs"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_no_grading_state(assignment):
    names = {p.name for p in release(assignment).rglob("*")}
    assert not names & {"gradebook.db", ".autograder", "secret", "timestamp.txt"}
    assert not json.dumps(sorted(names)).count("checkpoint")


def test_the_contract_says_what_to_change(tmp_path):
    """An assignment written by `autograder new`, then broken by hand three ways."""
    from test_new_exercise import DECLARATION, SOLUTION
    from autograder.dev.new_exercise import cell_metadata, new_exercise
    (tmp_path / "nbgrader_config.py").write_text("")
    new_exercise(str(tmp_path), "hw", "double", solution=SOLUTION, declaration=DECLARATION)
    (tmp_path / "release").mkdir()
    shutil.copytree(tmp_path / "source" / "hw", tmp_path / "release" / "hw")
    assert contract.notebook_problems(tmp_path, "hw", "hw") == []
    path = tmp_path / "release" / "hw" / "hw.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells[2].metadata.nbgrader.update(locked=False, points=0)
    nb.cells.append(nbformat.v4.new_code_cell("def halve(x):\n    return x / 2",
                                              metadata=cell_metadata(gid="halve", kind="solution")))
    nbformat.write(nb, path)
    assert contract.notebook_problems(tmp_path, "hw", "hw") == [
        'hw: test cell test_double is not locked: set "locked": true, or a student can edit the check that grades them',
        'hw: solution cell halve is graded by nothing: declare exercise(name="halve", ...) in '
        'autograding/hw/exercises.py and give it a test cell test_halve (autograder new does both)',
        'hw: test cell test_double has no points: its points are double\'s, set "points"']
