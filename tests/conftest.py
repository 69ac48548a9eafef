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
* ``graded_class``     -- a copy of the template with REPORT_CLASS handed in, graded by
                          `autograder grade`, and ada's feedback generated
* ``jacobians_class``  -- a copy of the template with one student (ben) with a typical mistake
                          in every notebook, and the course's secret (every copy grades alike)
* ``template_course``  -- the small synthetic course of tests/small_course.py, generated; the
                          batch, CLI, report and export tests copy it (test_batch's ``course``)
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

from autograder.course import seeds  # noqa: E402
from autograder.dev import samples, scaffold  # noqa: E402
import jacobians_course  # noqa: E402
import small_course  # noqa: E402

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


@pytest.fixture(scope="session")
def jacobians_class(tmp_path_factory, course_template) -> Path:
    root = tmp_path_factory.mktemp("jac") / "course"
    shutil.copytree(course_template, root)
    samples.write_class(root, {"ben": ["transposed_jacobian", "chain_in_wrong_order", "relu_one_at_zero",
                                       "sigmoid_wrong_sign"]}, assignment=jacobians_course.ASSIGNMENT)
    seeds.course_secret(str(root))
    return root


@pytest.fixture(scope="session")
def template_course(tmp_path_factory) -> Path:
    return small_course.build(tmp_path_factory.mktemp("template") / "course")


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


@pytest.fixture(scope="session")
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


# ----------------------------------------------------------------------------- parallel runs
# `make test` runs the suite on two pytest-xdist workers. A file's tests stay on one worker (its
# module fixtures are built once); these share a worker as well, because one session holds
# what they need: the last hostile test grades what every hostile case handed in
# (hostile_harness.HANDED_IN), and the browser flows run in order on one pair of Lab servers.
SHARED_WORKER = {**dict.fromkeys(
    (f"tests/test_hostile_{name}.py" for name in ("escape", "input", "judge", "paths", "resources", "tampering")),
    "hostile"), **{f"tests/browser/test_{n}_": "lab" for n in (1, 2, 3, 4)}}
# Files whose first parameter is a whole graded class (a module fixture's, or the test's own):
# each parameter's tests may go to a worker of their own.
BY_PARAMETER = ("tests/test_nbgrader_cycle.py", "tests/test_hostile_files.py", "tests/test_assignments.py")
# The units known to take minutes, longest first: started first, they do not end the run alone.
LONGEST = ("hostile", "tests/test_nbgrader_dropin.py", "lab", "tests/test_nbgrader_cycle.py[configured]",
           "tests/test_nbgrader_cycle.py[kernel]", "tests/test_report.py", "tests/test_assignments.py[jacobians]",
           "tests/test_assignments.py[sensitivity]",
           "tests/test_batch.py", "tests/browser/test_hub.py", "tests/test_postgres.py")


def work_unit(nodeid: str) -> str:
    """The unit of tests one worker runs together."""
    path = nodeid.split("::", 1)[0]
    for prefix, unit in SHARED_WORKER.items():
        if path.startswith(prefix):
            return unit
    if path in BY_PARAMETER and "[" in nodeid:
        return f"{path}[{nodeid.split('[', 1)[1].split('-', 1)[0].rstrip(']')}]"
    return path


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items) -> None:
    rank = {unit: i for i, unit in enumerate(LONGEST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(LONGEST)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        """xdist's by-scope scheduling, with ``work_unit`` as the scope, in collection order."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)
