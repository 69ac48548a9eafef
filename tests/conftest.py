"""Shared fixtures for the whole suite.

Session-scoped and read-only unless said otherwise; copy before modifying.

* ``repo_root``        -- the repository (= the course root of the real course)
* ``course_template``  -- a temp course built from the repo (config + source/) on which
                          `nbgrader generate_assignment jacobians` has run: release/ and a
                          gradebook that knows the assignment. Never modify it.
* ``course``           -- (function scope) a private, writable copy of ``course_template``
* ``make_class``       -- (function scope) ``make_class({"ada": "perfect", ...})`` writes
                          submitted/ into a fresh copy of the template and returns its root
* ``regenerate``       -- the scripts/regenerate.py module (build_release, build_solutions)
* ``graded_class``     -- (module scope) a copy of the template with REPORT_CLASS handed in,
                          graded by `autograder grade`, and ada's feedback generated
* ``postgres``         -- a throw-away PostgreSQL server on 127.0.0.1 (tests/pgcluster.py);
                          ``postgres.create_database(name)`` returns a fresh database's URL
* ``grader``, ``wrong_baseline`` -- the hostile-submission tests' course, sandbox and baseline
                          (tests/hostile_harness.py, loaded as a plugin below)
"""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from autograder.dev import samples, scaffold# noqa: E402
import jacobians_course

pytest_plugins = ["hostile_harness"]


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def regenerate():
    spec = importlib.util.spec_from_file_location("regenerate", REPO / "scripts" / "regenerate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def course_template(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("course-template") / "course"
    scaffold.make_course(root, release=False)
    scaffold.nbgrader("generate_assignment", jacobians_course.ASSIGNMENT, "--force", cwd=root)
    return root


@pytest.fixture
def course(course_template, tmp_path) -> Path:
    dest = tmp_path / "course"
    shutil.copytree(course_template, dest)
    return dest


@pytest.fixture
def make_class(course_template, tmp_path):
    counter = {"n": 0}

    def build(roster) -> Path:
        counter["n"] += 1
        dest = tmp_path / f"class{counter['n']}"
        shutil.copytree(course_template, dest)
        samples.write_class(dest, roster, assignment=jacobians_course.ASSIGNMENT)
        return dest

    return build


@pytest.fixture(scope="session")
def postgres():
    from pgcluster import PostgresCluster, why_unavailable

    reason = why_unavailable()
    if reason:
        pytest.skip(reason)
    cluster = PostgresCluster.start()
    yield cluster
    cluster.stop()


# perfect, blank, a mistake two students share, and mistakes of one student each
REPORT_CLASS = {"ada": "perfect", "finn": "blank", "ben": ["transposed_jacobian", "relu_one_at_zero"],
                "bo": ["transposed_jacobian"], "cy": ["forgot_return"]}


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory, course_template) -> Path:
    from autograder.batch import run as batch
    from autograder.course.directory import load_course

    root = tmp_path_factory.mktemp("graded-class") / "course"
    shutil.copytree(course_template, root)
    samples.write_class(root, REPORT_CLASS, assignment=jacobians_course.ASSIGNMENT)
    summary = batch.grade(load_course(str(root)), jacobians_course.ASSIGNMENT, workers=2, tty=False)
    assert not summary.failed, summary.failed
    scaffold.nbgrader("generate_feedback", jacobians_course.ASSIGNMENT, "--student", "ada", "--force", cwd=root)
    return root
