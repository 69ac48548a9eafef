"""The course secret and the per-student seeds of hidden probes.

The secret is 32 random bytes in ``<course_root>/.autograder/secret`` (mode 0600, created on
first use, never committed). A student's seed for an exercise is an HMAC of the student id
and the exercise name, so the instructor can reproduce every hidden probe a student saw; the
probes every student shares (``exercise(shared=...)``) have a seed of the course's, an HMAC
of the exercise name alone.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass

from autograder.course.directory import private_path
from autograder.intake.cells import tested_exercise


def course_secret(course_root: str | os.PathLike) -> bytes:
    """The course's secret, created (32 random bytes, mode 0600) on first use."""
    path = private_path(course_root, "secret")
    directory = os.path.dirname(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if len(data) >= 16:
            return data
    except FileNotFoundError:
        pass
    os.makedirs(directory, mode=0o700, exist_ok=True)
    data = os.urandom(32)
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # atomic and first-writer-wins: two graders starting at once agree on one secret
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    with open(path, "rb") as fh:
        return fh.read()


def student_seed(secret: bytes, student_id: str, exercise_name: str) -> int:
    """A reproducible 63-bit seed: HMAC-SHA256(secret, "<student>\\0<exercise>")."""
    msg = f"{student_id}\0{exercise_name}".encode("utf-8")
    digest = hmac.new(secret, msg, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Seed:
    """What draws one student's hidden probes of one exercise: ``student`` their own, and
    ``shared`` the course's, for the probes every student gets."""
    student: int
    shared: int


def shared_seed(secret: bytes, exercise_name: str) -> int:
    """The course's seed for an exercise's shared probes: HMAC-SHA256(secret, "\\0shared\\0<exercise>")
    (no student id holds a NUL, so it is no student's seed)."""
    digest = hmac.new(secret, f"\0shared\0{exercise_name}".encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def exercise_seed(secret: bytes, student_id: str, exercise_name: str) -> Seed:
    return Seed(student=student_seed(secret, student_id, exercise_name), shared=shared_seed(secret, exercise_name))


def notebook_seeds(secret: bytes, student_id: str, notebook) -> dict[str, Seed]:
    """exercise -> seed for every autograded test cell ``test_<name>`` of the instructor's
    ``notebook`` (a NotebookNode or its JSON as a dict): the exercises it can grade."""
    names = {tested_exercise(cell) for cell in notebook["cells"]} - {None}
    return {name: exercise_seed(secret, student_id, name) for name in sorted(names)}
