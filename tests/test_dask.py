"""`autograder grade --scheduler tcp://…`: the same jobs on a real dask.distributed cluster.

Starts `dask scheduler` and two `dask worker` processes (--nthreads 1) on 127.0.0.1, grades
the same class with the real sandboxed grader once on the cluster and once with the local pool,
and compares the gradebooks cell by cell. The workers run in a directory of their own: the
submitted notebooks travel with the jobs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.batch import run as batch
from autograder.dev import scaffold
import jacobians_course
from autograder.course.directory import load_course

from ports import free_port
from test_batch import ASG as SMALL_ASG, FAKE, course, grades, submit  # noqa: F401  (fixture)

DASK = str(Path(sys.executable).parent / "dask")
TESTS = str(Path(__file__).parent)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    workdir = tmp_path_factory.mktemp("dask-workers")
    env = dict(os.environ, PYTHONPATH=TESTS, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], cwd=workdir, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    for i in range(2):
        procs.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--nworkers", "1",
                                       "--no-dashboard", "--name", f"w{i}", "--local-directory", str(workdir)],
                                      cwd=workdir, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
    try:
        from distributed import Client
        deadline = time.monotonic() + 90
        while True:
            try:
                with Client(address, timeout=5) as c:
                    c.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()


def test_dask_scores_equal_local(cluster, jacobians_class, tmp_path):
    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(jacobians_class, local)
    shutil.copytree(jacobians_class, remote)
    s_remote = batch.grade(load_course(str(remote)), jacobians_course.ASSIGNMENT, scheduler=cluster, tty=False)
    assert not s_remote.failed, s_remote.failed
    assert s_remote.scheduler == f"dask cluster at {cluster} (2 workers)"
    s_local = batch.grade(load_course(str(local)), jacobians_course.ASSIGNMENT, workers=2, tty=False)
    assert not s_local.failed, s_local.failed
    assert len(s_remote.graded) == len(s_local.graded) == 4

    a = scaffold.gradebook_scores(remote, jacobians_course.ASSIGNMENT)
    b = scaffold.gradebook_scores(local, jacobians_course.ASSIGNMENT)
    assert a == b
    assert a["ben"]["test_jacobian_by_hand"] < 3.0 and a["ben"]["test_affine_jacobian"] == 1.0
    # the autograded notebooks are written by the one writer, as in the local mode
    for root in (local, remote):
        assert sorted(p.name for p in (root / "autograded" / "ben" / jacobians_course.ASSIGNMENT).glob("*.ipynb")) == \
            sorted(f"{n}.ipynb" for n in jacobians_course.NOTEBOOKS)


def test_dask_failed_task_is_isolated(cluster, course):  # noqa: F811
    submit(course, "frank", {"one": "# score: 1", "two": "# raise"})
    s = batch.grade(load_course(str(course)), SMALL_ASG, scheduler=cluster, grader=FAKE,
                    seeds=lambda st, nb: {}, tty=False)
    assert [(x[0], x[1]) for x in s.failed] == [("frank", "two")]
    assert "grader exploded" in s.failed[0][2]
    g = grades(course)
    assert g[("frank", "one", "test_alpha")] == (2.0, False)
    assert g[("alice", "two", "test_beta")] == (3.0, False)


def test_a_new_assignment_needs_nothing_installed_on_running_workers(cluster, tmp_path):
    """The workers started before this assignment existed: its declarations travel with the jobs."""
    from test_authoring import ASSIGNMENT as NEW, build_course
    root = build_course(tmp_path / "course")
    summary = batch.grade(load_course(str(root)), NEW, scheduler=cluster, tty=False)
    assert not summary.failed, summary.failed
    scores = {student: row["test_softmax_jacobian"] for student, row in scaffold.gradebook_scores(root, NEW).items()}
    assert scores == {"ada": 2.0, "bo": 0.0, "cy": 0.0, "dee": 0.0}
