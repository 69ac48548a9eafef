"""release/jacobians is exactly what `nbgrader generate_assignment` writes, follows the
exercise contract, and gives nothing away (no solutions, no hidden tests)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder import samples

# The fixed contract (shared/spec/jacobians-assignment.md): notebook -> exercise -> points.
AUTOGRADED = {
    "jacobian": {"jacobian_by_hand": 3, "numerical_jacobian": 3, "affine_jacobian": 1},
    "chain_rule": {"network_jacobian_shape": 1, "layer_jacobian": 3, "mlp_jacobian": 4},
    "dead_neurons": {"relu_jacobian": 2, "dead_input": 3, "relu_vjp": 2},
    "sigmoid_saturation": {"sigmoid_jacobian": 2, "sigmoid_layer_jacobian": 3,
                           "saturated_fraction": 2},
}
MANUAL = {
    "jacobian": "explain_jacobian_entry",
    "chain_rule": "explain_chain_rule",
    "dead_neurons": "explain_dead_neurons",
    "sigmoid_saturation": "explain_saturation",
}

RELEASE = samples.REPO_ROOT / "release" / samples.ASSIGNMENT
SOURCE = samples.REPO_ROOT / "source" / samples.ASSIGNMENT


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()
            and ".ipynb_checkpoints" not in p.parts and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def regenerated(regenerate, tmp_path_factory) -> Path:
    return regenerate.build_release(tmp_path_factory.mktemp("release"))


def test_every_notebook_is_released():
    assert sorted(p.stem for p in RELEASE.glob("*.ipynb")) == sorted(samples.NOTEBOOKS)


def test_committed_release_is_what_generate_assignment_writes(regenerated):
    committed, fresh = _files(RELEASE), _files(regenerated)
    assert sorted(committed) == sorted(fresh), "file lists differ: run `make release`"
    stale = [name for name in fresh if committed[name] != fresh[name]]
    assert not stale, f"release/ is out of date for {stale}: run `make release`"


@pytest.mark.parametrize("notebook", samples.NOTEBOOKS)
def test_release_follows_the_contract(notebook):
    nb = nbformat.read(RELEASE / f"{notebook}.ipynb", as_version=4)
    solutions, tests, manual = set(), {}, set()
    for cell in nb.cells:
        meta = samples.nbgrader_meta(cell)
        if not meta:
            continue
        assert meta.get("schema_version") == 3
        gid = meta["grade_id"]
        if meta.get("solution") and cell.cell_type == "code":
            solutions.add(gid)
        if meta.get("grade") and cell.cell_type == "code":
            assert meta.get("locked"), f"test cell {gid} must be locked"
            tests[gid] = meta["points"]
        if meta.get("grade") and cell.cell_type == "markdown":
            assert meta.get("solution"), f"{gid} must be an answer cell"
            manual.add(gid)
    assert solutions == set(AUTOGRADED[notebook])
    assert tests == {f"test_{name}": pts for name, pts in AUTOGRADED[notebook].items()}
    assert manual == {MANUAL[notebook]}


def test_points_add_up():
    assert sum(sum(ex.values()) for ex in AUTOGRADED.values()) == 29
    assert sum(samples.test_points(SOURCE).values()) == 29


def _solution_lines(source_nb: Path) -> set[str]:
    """Distinctive lines that occur only inside solution regions or hidden-test blocks."""
    nb = nbformat.read(source_nb, as_version=4)
    secret, public = set(), set()
    for cell in nb.cells:
        meta = samples.nbgrader_meta(cell)
        region = None
        whole_cell_answer = cell.cell_type == "markdown" and meta.get("solution")
        for line in cell.source.split("\n"):
            text = line.strip()
            if text in (samples.BEGIN_SOLUTION, samples.BEGIN_HIDDEN):
                region = text
                continue
            if text in (samples.END_SOLUTION, samples.END_HIDDEN):
                region = None
                continue
            if len(text) < 12:
                continue
            (secret if region or whole_cell_answer else public).add(text)
    return secret - public


@pytest.mark.parametrize("notebook", samples.NOTEBOOKS)
def test_release_contains_no_solution_or_hidden_test(notebook):
    raw = (RELEASE / f"{notebook}.ipynb").read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS",
                   "hidden=True", "MARK SCHEME"):
        assert marker not in raw, f"{notebook}: released notebook contains {marker!r}"
    nb = nbformat.read(RELEASE / f"{notebook}.ipynb", as_version=4)
    released_lines = {ln.strip() for cell in nb.cells for ln in cell.source.split("\n")}
    leaked = _solution_lines(SOURCE / f"{notebook}.ipynb") & released_lines
    assert not leaked, f"{notebook}: solution text in the release: {sorted(leaked)[:5]}"
    for cell in nb.cells:
        meta = samples.nbgrader_meta(cell)
        if meta.get("solution") and cell.cell_type == "code":
            assert "raise NotImplementedError()" in cell.source
        if cell.cell_type == "code":
            assert not cell.outputs, f"{notebook}: released with stored outputs"


def test_release_has_no_grading_state():
    names = {p.name for p in RELEASE.rglob("*")}
    assert not names & {"gradebook.db", ".autograder", "secret", "timestamp.txt"}
    assert not json.dumps(sorted(names)).count("checkpoint")
