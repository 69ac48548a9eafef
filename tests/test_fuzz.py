"""Fuzzing the batch with broken submissions: whatever a student hands in, grading goes on.

Hypothesis draws a class of fuzzed ``jacobian.ipynb`` submissions, built from the perfect one
by mutating its nbformat JSON (wrong types in every field, missing keys, huge and deeply
nested values, cell types swapped, duplicate and unicode grade ids, outputs stuffed), or
replaced by random bytes, invalid UTF-8, a link, a pipe or a socket, with links and special
files beside it. One real `autograder grade` batch grades them with two perfect students, and
the invariants are checked:

* the batch finishes and commits every student;
* the perfect students get full marks, as without the fuzzed ones;
* a notebook that could not be read fails with a specific message and scores 0, and only a
  damaged file (not a damaged cell) may fail that way;
* a readable notebook scores full points for every exercise the fuzzing did not touch;
* the submissions, the course's own files and the secret are unchanged.

`make test` runs the short profile (one batch of 14, under a minute). `make fuzz` runs the long
one: ``FUZZ_EXAMPLES`` batches (default 20) of ``FUZZ_BATCH`` fuzzed students (default 24).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from autograder.batch import run as batch
from autograder.dev import samples, scaffold
from autograder.course import seeds as secrets
import jacobians_course
from autograder.course.directory import load_course
from autograder.batch.jobs import Limits

ASG = jacobians_course.ASSIGNMENT
NB = "jacobian"
POINTS = {"jacobian_by_hand": 3.0, "numerical_jacobian": 3.0, "affine_jacobian": 1.0}
EVERYTHING = frozenset(POINTS)
PERFECT = ("perfect_1", "perfect_2")
SPECIFIC = ("the submitted file is not a readable notebook (", "the submitted jacobian.ipynb is ",
            "the submitted notebook is an empty (0-byte) file", "the notebook has no cells",
            "the notebook uses nbformat ")

LONG = os.environ.get("FUZZ_LONG") == "1"
BATCH = int(os.environ.get("FUZZ_BATCH", "24" if LONG else "14"))
# A batch takes seconds: no shrinking (a failure names the student and every step that built it).
settings.register_profile("fuzz-short", max_examples=1, deadline=None, phases=[Phase.reuse, Phase.generate],
                          suppress_health_check=list(HealthCheck))
settings.register_profile("fuzz-long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "20")), deadline=None,
                          phases=[Phase.reuse, Phase.generate], suppress_health_check=list(HealthCheck))
PROFILE = settings.get_profile("fuzz-long" if LONG else "fuzz-short")


# ----------------------------------------------------------------------------- JSON values
class Deep(int):
    """A list nested this deep, spliced into the JSON text (json.dumps would recurse)."""


LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**64, max_value=10**400),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0x80), max_size=20),
    st.integers(min_value=10**5, max_value=3 * 10**6).map(lambda n: "x" * n),
    st.integers(min_value=50, max_value=20_000).map(Deep))
VALUES = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=8)
CELL_KEYS = ("cell_type", "source", "metadata", "outputs", "execution_count", "id", "attachments")
NBGRADER_KEYS = ("grade", "grade_id", "locked", "points", "solution", "schema_version", "checksum")


def dumps(value) -> bytes:
    deep: list[int] = []

    def mark(v):
        if isinstance(v, Deep):
            deep.append(int(v))
            return f"\u0000deep{len(deep) - 1}\u0000"
        if isinstance(v, list):
            return [mark(x) for x in v]
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        return v
    text = json.dumps(mark(value))
    for i, depth in enumerate(deep):
        text = text.replace(json.dumps(f"\u0000deep{i}\u0000"), "[" * depth + "]" * depth)
    return text.encode()


def has_deep(value) -> bool:
    if isinstance(value, Deep):
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(has_deep(v) for v in items)


# ----------------------------------------------------------------------------- submissions
@dataclass
class Fuzzed:
    """One fuzzed jacobian.ipynb: its bytes or what it is instead, and what the fuzzing touched."""
    content: bytes | None = None
    special: str | None = None                   # "link_to_source", "link_to_zero", "fifo", "socket"
    touched: frozenset = frozenset()              # exercises whose answer the fuzzing may have broken
    cell_level: bool = True                       # only cells were damaged, not the file
    extras: list = field(default_factory=list)    # links and special files beside the notebook
    steps: list = field(default_factory=list)     # what was done, for Hypothesis' report


def _exercise_of(cell) -> frozenset:
    """What damaging this cell may cost: its exercise for a solution cell, else nothing (the
    instructor's locked cells are restored, and the other cells define nothing graded)."""
    meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
    gid = meta.get("grade_id") if isinstance(meta, dict) else None
    return frozenset({gid}) & EVERYTHING if isinstance(meta, dict) and meta.get("solution") else frozenset()


def _set_or_delete(draw, target: dict, key: str) -> tuple:
    """Delete ``target[key]`` or set it to a drawn value; return the value and whether it is deep."""
    if draw(st.booleans()):
        target.pop(key, None)
        return "<deleted>", False
    target[key] = value = draw(VALUES)
    return value, has_deep(value)


@st.composite
def mutated(draw, perfect: dict) -> Fuzzed:
    nb = json.loads(json.dumps(perfect))
    touched, cell_level, steps, deep = set(), True, [], False
    for _ in range(draw(st.integers(1, 4))):
        cells = nb.get("cells") if isinstance(nb.get("cells"), list) else None
        kind = draw(st.sampled_from(["top", "cell", "nbgrader", "delete", "retype", "duplicate", "grade_id",
                                     "stuff"] if cells else ["top"]))
        if kind == "top":
            key = draw(st.sampled_from(["cells", "metadata", "nbformat", "nbformat_minor", "extra"]))
            value, nested = _set_or_delete(draw, nb, key)
            deep |= nested
            steps.append(("top", key, repr(value)[:80]))
            if key != "metadata" and key != "extra":
                touched |= EVERYTHING
                cell_level = False
            continue
        i = draw(st.integers(0, len(cells) - 1))
        touched |= _exercise_of(cells[i])
        if kind in ("cell", "nbgrader") and isinstance(cells[i], dict):
            if kind == "cell":
                target, key = cells[i], draw(st.sampled_from(CELL_KEYS))
            else:
                meta = cells[i].setdefault("metadata", {}) if isinstance(cells[i].get("metadata"), dict) else {}
                target = meta.setdefault("nbgrader", {}) if isinstance(meta.get("nbgrader"), dict) else {}
                key = draw(st.sampled_from(NBGRADER_KEYS))
            value, nested = _set_or_delete(draw, target, key)
            deep |= nested
            steps.append((kind, i, key, repr(value)[:80]))
        elif kind == "delete":
            cells.pop(i)
            steps.append(("delete", i))
        elif kind == "retype" and isinstance(cells[i], dict):
            cells[i]["cell_type"] = new = draw(st.sampled_from(["code", "markdown", "raw", "alien", ""]))
            steps.append(("retype", i, new))
        elif kind == "duplicate":
            at = draw(st.integers(0, len(cells)))
            cells.insert(at, json.loads(json.dumps(cells[i])))
            steps.append(("duplicate", i, at))
        elif kind == "grade_id" and isinstance(cells[i], dict) and isinstance(cells[i].get("metadata"), dict):
            ids = [c["metadata"]["nbgrader"]["grade_id"] for c in cells if isinstance(c, dict)
                   and isinstance(c.get("metadata"), dict) and isinstance(c["metadata"].get("nbgrader"), dict)
                   and isinstance(c["metadata"]["nbgrader"].get("grade_id"), str)]
            new = draw(st.sampled_from(ids) | st.text(min_size=1, max_size=12)) if ids else draw(st.text(max_size=12))
            for c in cells:
                if isinstance(c, dict) and isinstance(c.get("metadata"), dict) and \
                        isinstance(c["metadata"].get("nbgrader"), dict) and c["metadata"]["nbgrader"].get("grade_id") == new:
                    touched |= _exercise_of(c)
            meta = cells[i]["metadata"]
            if isinstance(meta.get("nbgrader"), dict):
                meta["nbgrader"]["grade_id"] = new
            steps.append(("grade_id", i, new))
        elif kind == "stuff" and isinstance(cells[i], dict):
            if cells[i].get("cell_type") == "code":
                count, size = draw(st.integers(1, 500)), draw(st.integers(1, 50_000))
                cells[i]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "y" * size}] * count
                steps.append(("stuff", i, count, size))
            else:                                  # outputs where none belong
                value, nested = _set_or_delete(draw, cells[i], "outputs")
                deep |= nested
                steps.append(("stuff", i, repr(value)[:80]))
    content = dumps(nb)
    if draw(st.integers(0, 9)) == 0:         # invalid UTF-8 somewhere in the file
        at = draw(st.integers(0, len(content)))
        content = content[:at] + draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"])) + content[at:]
        steps.append(("invalid utf-8", at))
        cell_level = False
    return Fuzzed(content=content, touched=frozenset(touched), cell_level=cell_level and not deep, steps=steps)


def fuzzed(perfect: dict):
    return st.one_of(
        mutated(perfect), mutated(perfect), mutated(perfect), mutated(perfect),
        st.binary(max_size=2000).map(lambda b: Fuzzed(content=b, touched=EVERYTHING, cell_level=False,
                                                      steps=[("bytes", len(b))])),
        st.sampled_from(["link_to_source", "link_to_zero", "fifo", "socket"]).map(
            lambda s: Fuzzed(special=s, touched=EVERYTHING, cell_level=False, steps=[(s,)])),
    ).flatmap(lambda f: st.lists(st.sampled_from(["fifo", "socket", "link_to_secret", "link_to_folder", "file"]),
                                 max_size=3).map(lambda extras: _with_extras(f, extras)))


def _with_extras(f: Fuzzed, extras: list) -> Fuzzed:
    f.extras = list(dict.fromkeys(extras))
    return f


def hand_in(root: Path, folder: Path, f: Fuzzed) -> None:
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text("2026-11-20 12:00:00.000000 UTC")
    path = folder / f"{NB}.ipynb"
    if f.content is not None:
        path.write_bytes(f.content)
    elif f.special == "link_to_source":
        path.symlink_to(root / "source" / ASG / f"{NB}.ipynb")
    elif f.special == "link_to_zero":
        path.symlink_to("/dev/zero")
    elif f.special == "fifo":
        os.mkfifo(path)
    else:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(path))
    for extra in f.extras:
        target = folder / f"extra-{extra}"
        if extra == "fifo":
            os.mkfifo(target)
        elif extra == "socket":
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(str(target))
        elif extra == "link_to_secret":
            target.symlink_to(root / ".autograder" / "secret")
        elif extra == "link_to_folder":
            target.symlink_to(root / "source")
        else:
            target.write_text("data")


def digest(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if rel.startswith(skip):
            continue
        st_ = path.lstat()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() and not path.is_symlink() \
            else oct(st_.st_mode)
    return out


# ----------------------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def perfect(course_template) -> dict:
    nb = samples.submission("perfect", release_dir=course_template / "release" / ASG,
                            source_dir=course_template / "source" / ASG)[NB]
    return json.loads(nbformat.writes(nb))


def test_fuzzed_class_is_graded_and_nobody_else_pays(course_template, perfect):
    @settings(PROFILE)
    @given(st.lists(fuzzed(perfect), min_size=BATCH, max_size=BATCH))
    def run(cases):
        with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
            check_batch(Path(tmp) / "course", course_template, perfect, cases)
    run()


def check_batch(root: Path, template: Path, perfect: dict, cases: list[Fuzzed]) -> None:
    shutil.copytree(template, root)
    samples.write_class(root, {s: "perfect" for s in PERFECT}, assignment=ASG)
    students = {f"fuzz{i:02d}": case for i, case in enumerate(cases)}
    for student, case in students.items():
        hand_in(root, root / "submitted" / student / ASG, case)
    for s in PERFECT:
        for other in set(jacobians_course.NOTEBOOKS) - {NB}:
            (root / "submitted" / s / ASG / f"{other}.ipynb").unlink()
    secrets.course_secret(root)
    kept = ("autograded", "gradebook.db", ".autograder/graded", ".autograder/reports", "feedback")
    before = digest(root, kept)

    summary = batch.grade(load_course(str(root)), ASG, workers=2, progress_stream=io.StringIO(), tty=False,
                          limits=Limits(cell_timeout=10.0, notebook_timeout=60.0))
    unreadable = sum(1 for s, nb, _ in summary.failed if s in students)
    print(f"fuzz batch: {len(students)} fuzzed students, {unreadable} notebooks refused, "
          f"{len(students) - unreadable} graded, in {summary.elapsed:.1f} s")    # `make fuzz` shows it

    assert not summary.interrupted
    assert summary.students_committed == len(students) + len(PERFECT), (summary.skipped, [
        (s, n, r, students[s].steps) for s, n, r in summary.failed if not r.startswith(SPECIFIC)])
    scores = scaffold.gradebook_scores(root, ASG)
    for s in PERFECT:
        assert {e: scores[s]["test_" + e] for e in POINTS} == POINTS
    failed = {s: reason for s, nb, reason in summary.failed if nb == NB}
    assert not [f for f in summary.failed if f[1] != NB], summary.failed
    for student, case in students.items():
        got = {e: scores[student]["test_" + e] for e in POINTS}
        where = f"{student}: {case.steps} extras={case.extras}"
        if student in failed:
            assert failed[student].startswith(SPECIFIC), (where, failed[student])
            assert not case.cell_level, (where, failed[student])
            assert got == {e: 0.0 for e in POINTS}, where
        else:
            assert all(0.0 <= got[e] <= POINTS[e] for e in POINTS), (where, got)
            assert {e: got[e] for e in POINTS if e not in case.touched} == \
                {e: POINTS[e] for e in POINTS if e not in case.touched}, (where, got)
    assert digest(root, kept) == before
