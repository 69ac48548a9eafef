"""Hostile submissions that reach beyond their own process: the course's files and secrets, the
grader's environment, the network, the probe files other students' notebooks read, links handed
in beside the notebook.

The child sees none of it and changes none of it, and grading writes nothing into the course.
Harness: tests/hostile_harness.py.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
from pathlib import Path

import nbformat
import pytest

from autograder.batch.localpool import LocalPool
from autograder.sandbox.session import Sandbox
from autograder.sandbox.share import SHARE_PREFIX, SHARE_ROOT

from hostile_harness import (FULL, SECRET_ENV, SECRET_ENV_VALUE, insert_after, report, scores, set_source,
                             student_code)


def digest_tree(root: Path) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_local_pool_passes_no_secret_to_student_code(grader, monkeypatch):
    """The local pool's fork server, and so every worker, zygote and child forked from it,
    starts from a scrubbed environment; student code cannot read any initial environment."""
    monkeypatch.setenv(SECRET_ENV, SECRET_ENV_VALUE)
    nb = grader.nb()
    insert_after(nb, None, student_code("read_initial_environments"))
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


def test_secrets_stay_secret_and_the_course_unchanged(grader):
    course, sandbox = grader.course, grader.sandbox
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    nb = grader.nb()
    insert_after(nb, None, student_code("spy_on_the_course", ROOT=str(course), PORT=port))
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


def test_big_probe_files_cannot_be_tampered_with(grader):
    """The 10**7 relu_vjp probe reaches the child through files kept for the sandbox's life;
    a submission that attacks them harms neither its own grade nor the next student's."""
    sandbox = grader.sandbox
    nb = grader.nb("dead_neurons")
    set_source(nb, "relu_vjp", student_code("tamper_with_shared_probe_files"))
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


def test_share_files_of_a_dead_grader_are_freed():
    """The probe files live in memory: a new sandbox removes those of processes that died
    without closing theirs, and leaves a living one's alone."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    dead = os.path.join(SHARE_ROOT, f"{SHARE_PREFIX}{gone.pid}-left")
    living = os.path.join(SHARE_ROOT, f"{SHARE_PREFIX}{os.getpid()}-kept")
    for folder in (dead, living):
        os.mkdir(folder)
        Path(folder, "0.bin").write_bytes(b"\0" * 4096)
    sandbox = Sandbox()
    try:
        sandbox.share_files()
        assert not os.path.exists(dead) and os.path.exists(living)
    finally:
        sandbox.close()
        shutil.rmtree(living, ignore_errors=True)


def test_extra_files_and_folders_stay_the_students_own(grader):
    course = grader.course
    folder = grader.path("extra").parent
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "data" / "deep").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "deep" / "w.txt").write_text("1 2 3")
    (folder / "extra.ipynb").write_text("{}")
    (folder / "link-to-source").symlink_to(course / "source")
    (folder / "link-to-secret").symlink_to(course / ".autograder" / "secret")
    nb = grader.nb()
    insert_after(nb, None, student_code("read_extra_files_and_links"))
    before = digest_tree(folder.parent)
    result = grader.grade(nb, student="extra")
    assert scores(result) == FULL
    assert report(result) == {"notes.txt": "my notes", "data/deep/w.txt": "1 2 3",
                              "link-to-source/jacobians/jacobian.ipynb": "FileNotFoundError",
                              "link-to-secret": "FileNotFoundError"}   # links are not copied in
    after = digest_tree(folder.parent)
    assert {k: v for k, v in after.items() if not k.endswith("jacobian.ipynb")} == \
        {k: v for k, v in before.items() if not k.endswith("jacobian.ipynb")}
