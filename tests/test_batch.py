"""Batch scheduling and the single writer, on a small synthetic course with a stand-in grader.

The stand-in grader (`fake_grade`, run in the spawned workers) scores each test cell from a
marker in the student's solution cell (`# score: 0.5` = half the points) and can be told to
misbehave (`# crash-worker`, `# raise`, `# sleep 3`), so these tests exercise scheduling,
resumption and the gradebook writer without depending on the sandbox.
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch, localpool
from autograder.dev import scaffold
import jacobians_course
from autograder.course.directory import load_course
from autograder.batch.jobs import CellResult, Limits, NotebookJob, NotebookResult
from autograder.sandbox.share import orphaned_share_dirs

from both_paths import autograde_meanwhile
from small_course import ASG

FAKE = "test_batch:fake_grade"


# ----------------------------------------------------------------------------- stand-in grader
def fake_grade(job: NotebookJob) -> NotebookResult:
    inst = nbformat.reads(job.instructor_nb_json, as_version=4)
    with open(job.submitted_path, encoding="utf-8") as fh:
        student = nbformat.reads(fh.read(), as_version=4)
    answers = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in student.cells}
    text = "\n".join(s for s in answers.values() if s)
    if "# crash-worker" in text:
        os._exit(3)
    if "# raise" in text:
        raise RuntimeError("grader exploded")
    m = re.search(r"# sleep ([\d.]+)", text)
    if m:
        time.sleep(float(m.group(1)))
    cells = {}
    for cell in inst.cells:
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id")
        if meta.get("solution") and gid in answers:
            cell.source = answers[gid]
        if meta.get("grade") and not meta.get("solution"):
            target = gid[len("test_"):]
            m = re.search(r"# score: ([\d.]+)", answers.get(target, ""))
            frac = float(m.group(1)) if m else 0.0
            pts = float(meta["points"])
            cells[gid] = CellResult(score=round(pts * frac, 2), max_score=pts,
                                    diagnoses=["ok" if frac == 1 else "transpose"],
                                    message="" if frac == 1 else "this is the transpose")
        if cell.cell_type == "code":
            cell.outputs = []
    return NotebookResult(job.assignment, job.student, job.notebook, "graded",
                          nbformat.writes(inst), cells=cells, timings={"fake": 0.001})


def submit(root: Path, student: str, answers: dict[str, str | None], when="2026-01-09 10:00:00 UTC",
           extra: dict[str, str] | None = None):
    """answers: notebook -> text inserted in every solution cell (None = notebook not submitted)."""
    folder = root / "submitted" / student / ASG
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("one", "two"):
        text = answers.get(name, "# score: 1")
        if text is None:
            continue
        nb = nbformat.read(root / "release" / ASG / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and cell.cell_type == "code":
                cell.source = re.sub(r"# YOUR CODE HERE\n\s*raise NotImplementedError\(\)", text, cell.source)
            elif meta.get("solution"):
                cell.source = "Because."
        nbformat.write(nb, folder / f"{name}.ipynb")
    (folder / "timestamp.txt").write_text(when)
    for rel, text in (extra or {}).items():
        (folder / rel).write_text(text)


@pytest.fixture
def course(template_course, tmp_path):
    root = tmp_path / "course"
    shutil.copytree(template_course, root)
    submit(root, "alice", {"one": "# score: 1", "two": "# score: 1"}, extra={"notes.txt": "hi"})
    submit(root, "bob", {"one": "# score: 0.5", "two": "# score: 0"})
    submit(root, "carol", {"one": "# score: 1", "two": None})
    submit(root, "dave", {"one": "# score: 1", "two": "# score: 1"}, when="2026-01-11 12:00:00 UTC")
    return root


def grades(root: Path) -> dict[tuple[str, str, str], tuple]:
    """(student, notebook, grade_id) -> (auto_score, needs_manual_grade) from the gradebook."""
    from nbgrader.api import Gradebook
    course = load_course(str(root))
    out = {}
    with Gradebook(course.db_url, course.course_id) as gb:
        for sub in gb.assignment_submissions(ASG):
            for nb in sub.notebooks:
                for g in nb.grades:
                    out[(sub.student.id, nb.name, g.name)] = (g.auto_score, g.needs_manual_grade)
    return out


def run(root: Path, **kw):
    kw.setdefault("grader", FAKE)
    kw.setdefault("workers", 2)
    kw.setdefault("seeds", lambda s, n: {})
    kw.setdefault("tty", False)
    return batch.grade(load_course(str(root)), ASG, **kw)


# ----------------------------------------------------------------------------- tests
def test_grades_written_like_nbgrader(course):
    s = run(course)
    assert not s.failed, s.failed
    assert s.students_committed == 4
    g = grades(course)
    assert g[("alice", "one", "test_alpha")] == (2.0, False)
    assert g[("alice", "two", "test_beta")] == (3.0, False)
    assert g[("bob", "one", "test_alpha")] == (1.0, False)
    assert g[("bob", "two", "test_beta")] == (0.0, False)
    # a written answer that was changed needs a human; one left blank scores 0
    assert g[("alice", "one", "explain_alpha")] == (None, True)
    # a notebook that was not submitted scores 0 everywhere, nothing to grade by hand
    assert g[("carol", "two", "test_beta")] == (0.0, False)

    from nbgrader.api import Gradebook
    c = load_course(str(course))
    with Gradebook(c.db_url, c.course_id) as gb:
        alice = gb.find_submission(ASG, "alice")
        assert alice.timestamp.year == 2026 and alice.total_seconds_late == 0
        assert alice.score == 5.0 and alice.late_submission_penalty == 0
        dave = gb.find_submission(ASG, "dave")
        assert dave.total_seconds_late > 0
        # penalty_method = "zero": the late submission loses everything it scored
        assert dave.late_submission_penalty == dave.score == 5.0
        comment = gb.find_comment("alpha", "one", ASG, "alice")
        assert comment.auto_comment is None

    out = course / "autograded" / "alice" / ASG
    assert sorted(os.listdir(out)) == ["data.csv", "notes.txt", "one.ipynb", "timestamp.txt", "two.ipynb"]
    assert (out / "timestamp.txt").read_text() == "2026-01-09 10:00:00 UTC"
    assert oct(os.stat(out / "one.ipynb").st_mode & 0o777) == "0o444"
    nb = nbformat.read(out / "one.ipynb", as_version=4)
    assert any("score: 1" in c.source for c in nb.cells)
    assert not (course / "autograded" / "carol" / ASG / "two.ipynb").exists()
    side = json.loads((course / ".autograder" / "graded" / ASG / "bob.json").read_text())
    assert side["notebooks"]["one"]["cells"]["test_alpha"]["diagnoses"] == ["transpose"]


def test_second_run_changes_nothing_and_force_regrades(course):
    run(course)
    before = grades(course)
    mtime = os.stat(course / "autograded" / "alice" / ASG / "one.ipynb").st_mtime_ns
    s = run(course)
    assert s.graded == [] and s.students_committed == 0
    assert {r for _, r in s.skipped} == {"already graded (use --force to regrade)"}
    assert grades(course) == before
    assert os.stat(course / "autograded" / "alice" / ASG / "one.ipynb").st_mtime_ns == mtime
    s = run(course, force=True, students=["bob"])
    assert [x[:2] for x in s.graded] == [("bob", "one"), ("bob", "two")]
    assert grades(course) == before


def test_newer_submission_is_regraded(course):
    run(course)
    submit(course, "bob", {"one": "# score: 1", "two": "# score: 1"}, when="2026-01-09 11:00:00 UTC")
    s = run(course)
    assert {x[0] for x in s.graded} == {"bob"}
    assert grades(course)[("bob", "two", "test_beta")] == (3.0, False)


def test_failures_are_isolated(course):
    submit(course, "eve", {"one": "# crash-worker", "two": "# score: 1"})
    submit(course, "frank", {"one": "# score: 1", "two": "# raise"})
    s = run(course)
    failed = {(st, nb): reason for st, nb, reason in s.failed}
    assert set(failed) == {("eve", "one"), ("frank", "two")}
    assert "worker process died (exit code 3)" in failed[("eve", "one")]
    assert "RuntimeError: grader exploded" in failed[("frank", "two")]
    g = grades(course)
    # the rest of the class and the rest of those students' notebooks are graded
    assert g[("alice", "two", "test_beta")] == (3.0, False)
    assert g[("eve", "two", "test_beta")] == (3.0, False)
    assert g[("frank", "one", "test_alpha")] == (2.0, False)
    # the failed notebook is flagged for a human, not a silent zero
    assert g[("eve", "one", "test_alpha")] == (0.0, True)
    # and a second run retries only the students with failures
    s = run(course)
    assert {x[0] for x in s.failed} == {"eve", "frank"}
    assert {x[0] for x in s.graded} == {"eve", "frank"}


@pytest.fixture
def short_grace(monkeypatch):
    monkeypatch.setattr(localpool, "KILL_GRACE", 1.0)


@pytest.mark.usefixtures("short_grace")
def test_worker_killed_on_wall_limit(course):
    submit(course, "gina", {"one": "# sleep 30", "two": "# score: 1"})
    t = time.monotonic()
    s = run(course, limits=Limits(notebook_timeout=1.0), students=["gina", "alice"])
    assert time.monotonic() - t < 20
    assert [(x[0], x[1]) for x in s.failed] == [("gina", "one")]
    assert "no result after" in s.failed[0][2]
    assert grades(course)[("gina", "two", "test_beta")] == (3.0, False)


def hang(job: NotebookJob) -> NotebookResult:
    """A grader whose worker never answers."""
    time.sleep(3600)


GAVE_UP_ROOT = """
import json, os
from autograder.batch import localpool
from autograder.batch.jobs import Limits, NotebookJob
from autograder.serve.account import become
localpool.KILL_GRACE = 1.0
pool = localpool.LocalPool(1, grader="test_batch:hang").start()
become("nobody")
job = NotebookJob(assignment="a", student="s", notebook="nb", submitted_path="/nonexistent",
                  instructor_nb_json="{}", seeds={}, limits=Limits(notebook_timeout=1.0))
[(_, result)] = pool.run([job])
print(json.dumps({"uid": os.getuid(), "status": result.status, "problems": result.problems,
                  "restarts": pool.restarts}))
pool.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="gives up root: run as root (CI does)")
def test_a_pool_that_gave_up_root_still_kills_a_worker_that_overruns():
    """`autograder serve --as USER`: the workers keep root (the full sandbox), the pool's own
    process does not, and it still ends a worker past its job's wall limit, through the fork
    server (it may not signal root's processes itself)."""
    proc = subprocess.run([sys.executable, "-c", GAVE_UP_ROOT], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(Path(__file__).parent)), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout)
    assert out["uid"] == pwd.getpwnam("nobody").pw_uid
    assert out["status"] == "failed" and "worker killed" in out["problems"][0] and out["restarts"] == 1


def test_bad_timestamp_is_a_finding_not_a_failure(course):
    submit(course, "hank", {}, when="not a date")
    s = run(course)
    assert not s.failed
    assert s.students_committed == 5
    assert grades(course)[("hank", "two", "test_beta")] == (3.0, False)
    assert [(x[0], x[1]) for x in s.problems if x[0] == "hank"] == [("hank", "timestamp.txt")]


def test_resume_after_kill_9(course):
    """A run killed mid-way leaves no partial state; the next run finishes the rest."""
    for i in range(6):
        submit(course, f"s{i}", {"one": "# score: 1\n# sleep 0.4", "two": "# score: 0.5"})
    code = (
        "import sys; sys.path.insert(0, %r)\n"
        "from autograder.batch import run as batch; from autograder.course.directory import load_course\n"
        "batch.grade(load_course(%r), %r, workers=2, grader=%r, seeds=lambda s, n: {}, tty=False)\n"
    ) % (str(Path(__file__).parent), str(course), ASG, FAKE)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    # wait until a few notebooks are done, then kill -9 the writer and its workers
    seen = 0
    for line in proc.stderr:
        seen += line.startswith("[")
        if seen >= 5:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # committed = the assignment folder was renamed into place (a kill mid-commit leaves only
    # the student's parent folder and a partial sibling)
    committed = ({p.name for p in (course / "autograded").iterdir() if (p / ASG).is_dir()}
                 if (course / "autograded").exists() else set())
    assert 0 < len(committed) < 10
    s = run(course)
    assert not s.failed
    assert {x[0] for x in s.graded}.isdisjoint(committed)
    assert {x[0] for x in s.skipped} == committed
    g = grades(course)
    students = {"alice", "bob", "carol", "dave"} | {f"s{i}" for i in range(6)}
    assert {k[0] for k in g} == students
    for i in range(6):
        assert g[(f"s{i}", "one", "test_alpha")] == (2.0, False)
        assert g[(f"s{i}", "two", "test_beta")] == (1.5, False)
    # no partial folders survive
    assert not list((course / "autograded").glob("*/.*"))


# ----------------------------------------------------------------------------- stock fidelity
STOCK_ARGS = [f"--Autograde.autograde_preprocessors={p}" for p in (
    "nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata")]


def _everything(root: Path):
    """All that autograde writes: grades, comments, submission timestamps, penalties, files."""
    from nbgrader.api import Gradebook
    c = load_course(str(root))
    out = {}
    with Gradebook(c.db_url, c.course_id) as gb:
        for sub in gb.assignment_submissions(jacobians_course.ASSIGNMENT):
            out[(sub.student.id, "timestamp")] = str(sub.timestamp)
            for nb in sub.notebooks:
                out[(sub.student.id, nb.name, "penalty")] = nb.late_submission_penalty
                for g in nb.grades:
                    out[(sub.student.id, nb.name, g.name)] = (g.auto_score, g.needs_manual_grade)
                for cm in nb.comments:
                    out[(sub.student.id, nb.name, "comment", cm.name)] = cm.auto_comment
    files = {}
    for d, _, names in os.walk(root / "autograded"):
        for n in names:
            files[os.path.relpath(os.path.join(d, n), root)] = oct(os.stat(os.path.join(d, n)).st_mode & 0o777)
    return out, files


@pytest.mark.slow
def test_same_as_stock_nbgrader_autograde(jacobians_class, tmp_path):
    """Stock nbgrader (its own kernel per notebook) and `autograder grade` write the same
    gradebook -- every grade, comment, timestamp and penalty -- and the same files."""
    stock, ours = tmp_path / "stock", tmp_path / "ours"
    shutil.copytree(jacobians_class, stock)
    shutil.copytree(jacobians_class, ours)
    orphans = set(orphaned_share_dirs())
    with autograde_meanwhile(stock, jacobians_course.ASSIGNMENT, *STOCK_ARGS,
                             env=scaffold.course_env(stock, {"AUTOGRADER_STOCK_EXECUTE": "1"})):
        s = batch.grade(load_course(str(ours)), jacobians_course.ASSIGNMENT, workers=2, tty=False)
    assert not s.failed and len(s.graded) == 4
    assert set(orphaned_share_dirs()) <= orphans, "a worker left its probe files in memory"
    stock_db, stock_files = _everything(stock)
    our_db, our_files = _everything(ours)
    assert our_db == stock_db
    assert our_files == stock_files
    # and the class is not trivially all-or-nothing
    scores = [v[0] for k, v in our_db.items() if len(k) == 3 and isinstance(v, tuple) and k[2].startswith("test_")]
    assert 0 < sum(scores) < 29
