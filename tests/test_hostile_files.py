"""Hostile files: links and special files in a submission, scratch space that outlives grading,
answers too large to read, links planted in the exchange.

One class, every student handing in ``jacobian.ipynb`` only (3 + 3 + 1 autograded points, and
a written answer graded by hand), each with one attack, is graded on both paths real grading
takes: `autograder grade`'s batch (``batch.grade``, real workers, real sandbox) and routed
`nbgrader autograde` (the real CLI, as the Formgrader's button runs it). ``nbgrader collect``
runs as the real CLI on an exchange with planted links. Scores, and the messages each path
gives (the batch's summary, autograde's log), are asserted exactly.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import socket
import stat
import uuid
from pathlib import Path

import nbformat
import pytest

from autograder.batch import run as batch
from autograder.dev import samples, scaffold
import jacobians_course
from both_paths import UNGRADABLE, autograde_finished
from autograder.course.directory import load_course

ASG = jacobians_course.ASSIGNMENT
NB = "jacobian"
POINTS = {"test_jacobian_by_hand": 3.0, "test_numerical_jacobian": 3.0, "test_affine_jacobian": 1.0}
FULL = {**POINTS, NB: 7.0}
ZERO = {**{gid: 0.0 for gid in POINTS}, NB: 0.0}
MARK = f"hostile-{uuid.uuid4().hex}"          # names the files the scratch student leaves behind
SHM_KEY = uuid.uuid4().int % (1 << 30) + 1     # and its System V shared memory segment
MB = 1 << 20


def refused(kind: str) -> str:
    return f"the submitted jacobian.ipynb is {kind}, not a regular file; it was not opened"


def not_copied(name: str, kind: str) -> str:
    return f"{name} is {kind}; it was not copied"


# ----------------------------------------------------------------------------- the attacks
def _replace(folder: Path, make) -> None:
    (folder / f"{NB}.ipynb").unlink()
    make(folder / f"{NB}.ipynb")


def _socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))


def _add_cell(folder: Path, source: str, *, replace: str | None = None) -> None:
    """A code cell after the setup cell, or the solution cell ``replace`` rewritten."""
    path = folder / f"{NB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    if replace:
        cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == replace)
        cell.source = source
    else:
        at = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
        nb.cells.insert(at + 1, nbformat.v4.new_code_cell(source))
    nbformat.write(nb, path)


LOOK_AROUND = """
import json, os
seen = sorted(os.path.join(d, f)[2:] for d, _, fs in os.walk('.') for f in fs)
print('REPORT:' + json.dumps({'files': seen, 'notes': open('notes.txt').read(),
                              'deep': open('sub/w.txt').read()}))
"""

FILL_SCRATCH = """
import errno, json, os
report = {}
home = os.path.expanduser('~')
for place in ['/tmp', '/var/tmp', '/dev/shm', '/run/lock', home]:
    with open(os.path.join(place, '%(mark)s'), 'wb') as fh:
        fh.write(b'x' * (32 << 20))
    report[place if place != home else 'home'] = os.path.getsize(os.path.join(place, '%(mark)s'))
written = 0
try:
    with open('/tmp/%(mark)s-big', 'wb') as fh:
        for _ in range(200):
            fh.write(b'x' * (1 << 20)); fh.flush(); written += 1 << 20
except OSError as exc:
    report['fill'] = errno.errorcode[exc.errno]
report['written_mb_below_256'] = written < (256 << 20)
import ctypes
report['sysv_shm'] = ctypes.CDLL(None).shmget(%(key)d, 1 << 20, 0o1600) >= 0
shares = [d for d in os.listdir('/dev/shm') if d.startswith('autograder-share-')]
report['shares'] = len(shares)
try:
    open(os.path.join('/dev/shm', shares[0], 'planted'), 'w')
except OSError as exc:
    report['plant'] = errno.errorcode[exc.errno]
print('REPORT:' + json.dumps(report))
"""

HUGE = {
    "jacobian_by_hand": "import torch\n\ndef jacobian_by_hand(p):\n"
                        "    return torch.zeros(()).expand(10**6, 10**6)\n",
    "numerical_jacobian": "import numpy as np\n\ndef numerical_jacobian(f, x, h=1e-5):\n"
                          "    return np.broadcast_to(np.zeros(()), (10**6, 10**6))\n",
}
# the first probe of each: the expected shape is the visible one's
TOO_LARGE = {"jacobian_by_hand": (3, 2), "numerical_jacobian": (2, 2)}


def too_large(expected: tuple) -> str:
    return (f"your answer would hold 1,000,000,000,000 numbers (shape (1000000, 1000000)); expected shape "
            f"{expected}, so it was not read")


def _edit_json(folder: Path, grade_id: str, edit) -> None:
    """Change the cell ``grade_id`` of the raw notebook JSON (nbformat would refuse to write it)."""
    path = folder / f"{NB}.ipynb"
    nb = json.loads(path.read_text())
    edit(next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id))
    path.write_text(json.dumps(nb))


# Broken cells the fuzzer found costing more than themselves (tests/test_fuzz.py)
BROKEN_CELLS = {
    "setup_retyped": ("setup", lambda cell: cell.update(cell_type="alien")),
    "no_source": ("jacobian_by_hand", lambda cell: cell.pop("source")),
    "dict_grade_id": ("jacobian_by_hand", lambda cell: cell["metadata"]["nbgrader"].update(grade_id={"a": 1})),
}


def _char_device(path: Path) -> None:
    os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 5))     # what /dev/zero is


ATTACKS = {
    "link_to_source": lambda root, folder: _replace(
        folder, lambda p: p.symlink_to(root / "source" / ASG / f"{NB}.ipynb")),
    "link_to_zero": lambda root, folder: _replace(folder, lambda p: p.symlink_to("/dev/zero")),
    "fifo": lambda root, folder: _replace(folder, os.mkfifo),
    "socket": lambda root, folder: _replace(folder, _socket),
    "device": lambda root, folder: _replace(folder, _char_device),
}


GRADE, ROUTED = "autograder grade", "nbgrader autograde"
# autograde's log: "[AutogradeApp | WARNING] mallory/jacobian: <problem>", per notebook or,
# for the files copied beside the notebooks, per assignment
WARNING = re.compile(r"^\[AutogradeApp \| WARNING\] ([^/\s]+)/([^:\s]+): (.*)$", re.MULTILINE)
STANDS_IN = "; every graded cell of it scores 0"       # routed: the release stands in for a refused notebook


@dataclasses.dataclass
class Graded:
    path: str                           # GRADE or ROUTED
    root: Path
    finished: bool                      # every student was graded and recorded
    scores: dict[str, dict[str, float]]
    failed: dict[str, list[str]]        # student -> why their notebook was not graded
    problems: dict[str, list[str]]      # student -> what was reported about their notebook
    files: dict[str, list[str]]         # student -> what was reported about the files beside it


def _grade(root: Path, students: list[str]) -> Graded:
    summary = batch.grade(load_course(str(root)), ASG, workers=2, tty=False)
    failed, problems = {}, {}
    for student, notebook, reason in summary.failed:
        if notebook == NB:
            failed.setdefault(student, []).append(reason)
    for student, notebook, problem in summary.problems:
        if notebook == NB:
            problems.setdefault(student, []).append(problem)
    finished = not summary.interrupted and summary.students_committed == len(students)
    return Graded(GRADE, root, finished, _scores(root), failed, problems, {})


def _autograde(root: Path, students: list[str]) -> Graded:
    proc = scaffold.nbgrader("autograde", ASG, "--force", cwd=root, env=scaffold.course_env(root), timeout=1800,
                             check=False)
    log = proc.stdout + proc.stderr
    assert autograde_finished(proc.returncode, log), log[-4000:]
    failed, problems, files = {}, {}, {}
    for student, where, text in WARNING.findall(log):
        if where == ASG:
            files.setdefault(student, []).append(text)
        elif where == NB and text.endswith(STANDS_IN):
            failed.setdefault(student, []).append(text.removesuffix(STANDS_IN))
        elif where == NB:
            problems.setdefault(student, []).append(text)
    # every submission nbgrader reports as failed is one with a notebook that could not be graded
    failed_submissions = set(re.findall(r"There was an error processing assignment: \S+/submitted/([^/\s]+)/", log))
    ungradable = set(re.findall(rf"(\S+)/{ASG}{UNGRADABLE}", log))
    finished = failed_submissions <= ungradable and sorted(_scores(root)) == sorted(students)
    return Graded(ROUTED, root, finished, _scores(root), failed, problems, files)


def _scores(root: Path) -> dict[str, dict[str, float]]:
    return {student: {k: v for k, v in row.items() if k in FULL}
            for student, row in scaffold.gradebook_scores(root, ASG).items()}


@pytest.fixture(scope="module", params=[GRADE, ROUTED])
def graded(request, course_template, tmp_path_factory) -> Graded:
    root = tmp_path_factory.mktemp("hostile-files") / "course"
    shutil.copytree(course_template, root)
    students = ["ada", "extras", "scratch", "huge", *ATTACKS, *BROKEN_CELLS]
    folders = samples.write_class(root, {s: "perfect" for s in students}, assignment=ASG)
    for folder in folders.values():
        for other in set(jacobians_course.NOTEBOOKS) - {NB}:
            (folder / f"{other}.ipynb").unlink()
    for name, attack in ATTACKS.items():
        attack(root, folders[name])

    extras = folders["extras"]
    (extras / "notes.txt").write_text("my notes")
    (extras / "sub").mkdir()
    (extras / "sub" / "w.txt").write_text("1 2 3")
    os.mkfifo(extras / "sub" / "pipe")
    _socket(extras / "sock")
    (extras / "zero").symlink_to("/dev/zero")
    _char_device(extras / "dev")
    (extras / "secret").symlink_to(root / ".autograder" / "secret")
    (extras / "source").symlink_to(root / "source")
    _add_cell(extras, LOOK_AROUND)
    _add_cell(folders["scratch"], FILL_SCRATCH % {"mark": MARK, "key": SHM_KEY})
    for gid, source in HUGE.items():
        _add_cell(folders["huge"], source, replace=gid)
    for student, (grade_id, edit) in BROKEN_CELLS.items():
        _edit_json(folders[student], grade_id, edit)

    return (_grade if request.param == GRADE else _autograde)(root, students)


def autograded_text(root: Path, student: str, fragment: str) -> str:
    nb = nbformat.read(root / "autograded" / student / ASG / f"{NB}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and fragment in c.source]
    assert len(cells) == 1
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cells[0].outputs)


def report(root: Path, student: str) -> dict:
    match = re.search(r"REPORT:(\{.*\})", autograded_text(root, student, "REPORT:"))
    assert match
    return json.loads(match.group(1))


# ----------------------------------------------------------------------------- tests
def test_the_batch_finishes_and_the_others_keep_full_marks(graded):
    assert graded.finished
    for student in ("ada", "extras"):
        assert graded.scores[student] == FULL
    # the scratch student probes System V memory through ctypes: that voids the by-hand rule
    # for every exercise of the notebook (docs/security.md, "The by-hand rule")
    assert graded.scores["scratch"] == {key: 0.0 for key in FULL}


@pytest.mark.parametrize("student,kind", [
    ("link_to_source", "a symbolic link"),
    ("link_to_zero", "a symbolic link"),
    ("fifo", "a named pipe"),
    ("socket", "a socket"),
    ("device", "a device"),
])
def test_a_notebook_that_is_not_a_file_is_refused_unread(graded, student, kind):
    assert graded.failed.get(student) == [refused(kind)]
    assert graded.scores[student] == ZERO
    # on both paths the submission is reported as failed, so it has no autograded copy (nbgrader
    # removes a failed submission's); its gradebook entries say 0 and why (graded.failed)
    assert not (graded.root / "autograded" / student / ASG / f"{NB}.ipynb").exists()


def test_links_and_special_files_beside_a_notebook_are_left_out(graded):
    root = graded.root
    assert report(root, "extras") == {"files": ["jacobian.ipynb", "notes.txt", "sub/w.txt", "timestamp.txt"],
                                      "notes": "my notes", "deep": "1 2 3"}
    left_out = [not_copied("dev", "a device"), not_copied("secret", "a symbolic link"), not_copied("sock", "a socket"),
                not_copied("source", "a symbolic link"), not_copied("sub/pipe", "a named pipe"),
                not_copied("zero", "a symbolic link")]
    if graded.path == GRADE:     # the child's working folder is copied from submitted/
        assert graded.problems.get("extras") == left_out
    else:   # nbgrader copies the folder into autograded/ first (links to folders it never follows)
        assert sorted(graded.files.get("extras", [])) == [line for line in left_out if not line.startswith("source")]
        assert graded.problems.get("extras") is None
    kept = sorted(str(p.relative_to(root / "autograded" / "extras" / ASG))
                  for p in (root / "autograded" / "extras" / ASG).rglob("*"))
    assert kept == ["jacobian.ipynb", "notes.txt", "sub", "sub/w.txt", "timestamp.txt"]


def test_private_scratch_is_bounded_and_gone_with_the_child(graded):
    assert report(graded.root, "scratch") == {
        "/tmp": 32 * MB, "/var/tmp": 32 * MB, "/dev/shm": 32 * MB, "/run/lock": 32 * MB, "home": 32 * MB,
        "fill": "ENOSPC", "written_mb_below_256": True, "sysv_shm": True, "shares": 1, "plant": "EROFS"}
    for place in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock"):
        # os.walk, not glob: other tests' folders come and go under /tmp while this one looks
        assert not [name for _, dirs, files in os.walk(place) for name in dirs + files if name.startswith(MARK)], place
    keys = [line.split()[0] for line in Path("/proc/sysvipc/shm").read_text().splitlines()[1:]]
    assert str(SHM_KEY) not in keys


def test_huge_answers_fail_their_probes_and_the_process_lives_on(graded):
    assert graded.scores["huge"] == {"test_jacobian_by_hand": 0.0, "test_numerical_jacobian": 0.0,
                                     "test_affine_jacobian": 1.0, NB: 1.0}
    for test, expected in TOO_LARGE.items():
        assert too_large(expected) in autograded_text(graded.root, "huge", f'check("{test}"')
    assert graded.problems.get("huge") is None and graded.failed.get("huge") is None


# ----------------------------------------------------------------------------- nbgrader collect
def test_collect_refuses_links_and_special_files(course):
    inbound = course / "exchange" / "jacobians-dl" / "inbound"
    stamp = "2026-11-20 12:00:00.000000 UTC"

    def hand_in(student: str) -> Path:
        folder = inbound / f"{student}+{ASG}+{stamp}+{uuid.uuid4().hex}"
        samples.write_submission(folder, "perfect", release_dir=course / "release" / ASG,
                                 source_dir=course / "source" / ASG, timestamp=stamp)
        return folder

    hand_in("ada")
    eve = hand_in("eve")
    (eve / f"{NB}.ipynb").unlink()
    (eve / f"{NB}.ipynb").symlink_to(course / "source" / ASG / f"{NB}.ipynb")
    (eve / "source").symlink_to(course / "source")
    (eve / "zero").symlink_to("/dev/zero")
    os.mkfifo(eve / "pipe")
    (eve / "notes.txt").write_text("mine")
    (inbound / f"mal+{ASG}+{stamp}+{uuid.uuid4().hex}").symlink_to(course / "source" / ASG)

    proc = scaffold.nbgrader("collect", ASG, cwd=course)
    submitted = course / "submitted"
    assert sorted(p.parent.name for p in submitted.glob(f"*/{ASG}")) == ["ada", "eve"]
    assert sorted(p.name for p in (submitted / "ada" / ASG).iterdir()) == sorted(
        [f"{n}.ipynb" for n in jacobians_course.NOTEBOOKS] + ["timestamp.txt"])
    got = {p.name: p for p in (submitted / "eve" / ASG).iterdir()}
    assert sorted(got) == sorted([f"{n}.ipynb" for n in set(jacobians_course.NOTEBOOKS) - {NB}] + ["notes.txt", "timestamp.txt"])
    assert all(stat.S_ISREG(p.lstat().st_mode) for p in got.values())
    log = proc.stdout + proc.stderr
    for line in (not_copied("jacobian.ipynb", "a symbolic link"), not_copied("pipe", "a named pipe"),
                 not_copied("source", "a symbolic link"), not_copied("zero", "a symbolic link")):
        assert line in log
    assert re.search(r"Not collected: \S*mal\+jacobians\+.* is not a submission folder \(a symbolic link\)", log)


def test_a_broken_cell_costs_at_most_its_own_exercise(graded):
    scores, problems = graded.scores, graded.problems
    assert scores["setup_retyped"] == FULL
    assert problems.get("setup_retyped") == ["a malformed cell was dropped"]
    assert scores["no_source"] == {**FULL, "test_jacobian_by_hand": 0.0, NB: 4.0}
    assert scores["dict_grade_id"] == FULL
    assert not graded.failed.keys() & BROKEN_CELLS.keys()
