"""Both grading paths under attack: stock `nbgrader autograde`, routed through the sandbox by
nbgrader_config.py, and `autograder grade`.

The attack that earns full marks in stock nbgrader earns nothing routed, and the feedback gives
nothing away; a broken notebook costs only itself on both paths; the fast path leaves unrun only
what cannot change a score. Last of all, every submission the hostile cases handed in
(``hostile_harness.HANDED_IN``) is graded on both paths and the gradebooks compared cell by cell.
"""
from __future__ import annotations

import dataclasses
import io
import shutil

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.dev import samples, scaffold
from autograder.course import seeds as secrets
import jacobians_course
from autograder.course.directory import load_course
from autograder.batch.jobs import Limits

from both_paths import autograde_meanwhile
from hostile_harness import (ASG, FAST, FULL, HANDED_IN, NB, TESTS, WRONG, HandedIn, cell_by_id, insert_after,
                             outputs_of, scores, set_source, student_code, text_of)


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
    insert_after(nb, None, student_code("fool_stock_nbgrader"))
    nbformat.write(nb, folder / f"{NB}.ipynb")
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    env = scaffold.course_env(root, {"AUTOGRADER_STOCK_EXECUTE": "0"})
    scaffold.nbgrader("autograde", ASG, "--student", "mallory", "--force", cwd=root, env=env, timeout=600)
    got = scaffold.gradebook_scores(root, ASG)["mallory"]
    assert {gid: got[gid] for gid in TESTS} == {gid: 0.0 for gid in TESTS}
    assert got[NB] == 0.0
    graded = nbformat.read(root / "autograded" / "mallory" / ASG / f"{NB}.ipynb", as_version=4)
    assert text_of(cell_by_id(graded, "test_affine_jacobian").outputs).endswith("0.0")

    scaffold.nbgrader("generate_feedback", ASG, "--student", "mallory", "--force", cwd=root, env=env)
    html = (root / "feedback" / "mallory" / ASG / f"{NB}.html").read_text()
    assert "affine_jacobian: 0 of " in html                  # the diagnosis is there ...
    assert "HIDDEN TESTS" not in html and "hidden=True" not in html   # ... the hidden tests are not
    secret = secrets.course_secret(root)
    seeds = [secrets.student_seed(secret, "mallory", name) for name in jacobians_course.EXERCISES]
    for seed in seeds:
        assert str(seed) not in html and hex(seed)[2:] not in html
    assert secret.hex() not in html
    solution = cell_by_id(nbformat.read(root / "source" / ASG / f"{NB}.ipynb", as_version=4), "jacobian_by_hand").source
    for line in solution.splitlines():
        if "#" in line and "BEGIN" not in line and "END" not in line:   # the instructor's commented lines
            assert line.strip() not in html


def test_cells_after_the_last_test_run_only_for_a_complete_notebook(grader):
    """They cannot change a score, so the fast path leaves them unrun; the full path runs them
    and draws figures as stock nbgrader would."""
    nb = grader.nb()
    nb.cells.append(nbformat.v4.new_code_cell(student_code("plot_after_the_last_test")))
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
    fast, routed = tmp_path / "grade", tmp_path / "routed"
    shutil.copytree(course_template, fast)
    secrets.course_secret(fast)
    samples.write_class(fast, {"ada": "perfect", "mallory": "perfect"}, assignment=ASG)
    folder = fast / "submitted" / "mallory" / ASG
    (folder / "chain_rule.ipynb").write_text('{"cells": [')
    (folder / "dead_neurons.ipynb").write_bytes(b"")
    shutil.copytree(fast, routed)
    with autograde_meanwhile(routed, ASG):
        batch.grade(load_course(str(fast)), ASG, workers=2, progress_stream=io.StringIO())

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
@pytest.mark.compares_handed_in
def test_routed_nbgrader_autograde_scores_like_autograder_grade(course_template, tmp_path):
    """Every submission the hostile cases handed in, graded by `autograder grade` and by routed
    `nbgrader autograde`: the two gradebooks hold the same scores and flags, cell by cell."""
    if not HANDED_IN:
        pytest.skip("no hostile case graded a submission")
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
        with autograde_meanwhile(routed, ASG, *_routed_limits(limits)):
            batch.grade(load_course(str(fast)), ASG, workers=2, limits=limits, progress_stream=io.StringIO())
        want, got = scaffold.gradebook_cells(fast, ASG), scaffold.gradebook_cells(routed, ASG)
        compared += len(want)
        differences += [(students[key[0]].case, key[1:], want.get(key), got.get(key))
                        for key in sorted(want.keys() | got.keys(), key=str) if want.get(key) != got.get(key)]
    assert compared and not differences, "\n".join(map(str, differences))
