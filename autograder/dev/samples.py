"""Sample submissions for any assignment of a course, built from the notebooks nbgrader
releases, so they look exactly like what students hand in:

* ``"perfect"`` -- every solution cell filled with the instructor's solution code;
* ``"blank"``   -- the released notebooks, untouched;
* a mistake name or a list of them -- the perfect submission with those exercises' solution
  cells replaced by a typical wrong (or right-but-noisy) answer from the course's catalogue,
  ``<exercises directory>/<assignment>/mistakes.py`` (``MISTAKES``, ``DEMO_CLASS``, ``DEMO_LATE``).

Used by ``make demo``, the test suite, the benchmark and the browser tests::

    from autograder import samples, scaffold
    course = scaffold.make_course(tmp_path / "course")
    samples.write_class(course, {"ada": "perfect", "bob": ["a_mistake_name"], "cy": "blank"},
                        assignment="hw1")                     # -> submitted/<id>/hw1/

Nothing here runs student code; it only edits notebook JSON.
"""
from __future__ import annotations

import datetime as _dt
import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence, Union

import nbformat

from autograder.course.directory import exercises_directory
from autograder.intake.cells import grade_id, is_solution
from autograder.intake.notebook_text import notebook_names, solution_cells, test_points

Spec = Union[str, Sequence[str]]
SUBMITTED_AT = _dt.datetime(2026, 11, 20, 12, 0, tzinfo=_dt.timezone.utc)
DUE_DATE = _dt.datetime(2026, 11, 21, 12, 0, tzinfo=_dt.timezone.utc)   # `make demo` sets it
CATALOGUE = "mistakes.py"


@dataclass(frozen=True)
class Mistake:
    name: str
    exercise: str           # grade_id of the solution cell it replaces
    description: str        # what the student got wrong, in one line
    source: str             # the replacement cell source
    # what it earns on its own exercise (see scoring): "none" when it is wrong in general,
    # "partial" when it is right on some general probes or wrong only at special cases,
    # "full" when it is a right answer
    credit: str = "none"
    # other exercises whose score may drop too because their solution calls this function
    affects: tuple[str, ...] = field(default=())
    demo: bool = False      # a student of DEMO_CLASS must have it (`make demo` shows it)


def mistake(*, name: str, exercise: str, description: str, source: str, credit: str = "none",
            affects: Sequence[str] = (), demo: bool = False) -> Mistake:
    """One entry of a course's catalogue of typical mistakes. The tests grade every mistake,
    whether the demo class has it or not; ``demo=True`` requires it there."""
    if credit not in ("none", "partial", "full"):
        raise ValueError(f"mistake {name!r}: credit must be 'none', 'partial' or 'full', not {credit!r}")
    return Mistake(name=name, exercise=exercise, description=description, source=source.strip("\n") + "\n",
                   credit=credit, affects=tuple(affects), demo=demo)


def renamed(source: str, renames: dict[str, str]) -> str:
    """source with each key replaced by its value: a copy made to look like one's own work."""
    for old, new in renames.items():
        source = source.replace(old, new)
    return source


@dataclass(frozen=True)
class Catalogue:
    mistakes: dict[str, Mistake]
    demo_class: dict[str, Spec]                  # student -> spec, for `make demo`
    demo_late: dict[str, _dt.timedelta]          # student -> how long after DUE_DATE they handed in


@functools.lru_cache(maxsize=None)
def catalogue(course_root: str, assignment: str) -> Catalogue:
    """The course's typical mistakes for one assignment (empty when it keeps none)."""
    path = os.path.join(exercises_directory(course_root), assignment, CATALOGUE)
    if not os.path.isfile(path):
        return Catalogue({}, {}, {})
    with open(path, encoding="utf-8") as fh:
        namespace = {"__file__": path, "__name__": f"_course_mistakes_{assignment}"}
        exec(compile(fh.read(), path, "exec"), namespace)
    return Catalogue(mistakes={m.name: m for m in namespace.get("MISTAKES", [])},
                     demo_class=dict(namespace.get("DEMO_CLASS", {})), demo_late=dict(namespace.get("DEMO_LATE", {})))


def _catalogue_of(source_dir: Path) -> Catalogue:
    """The catalogue of the assignment whose source folder is ``<course>/source/<assignment>``."""
    source_dir = Path(source_dir).resolve()
    return catalogue(str(source_dir.parent.parent), source_dir.name)


def kinds(source_dir: Path) -> list[str]:
    """Every single-word submission spec: 'perfect', 'blank' and each mistake's name."""
    return ["perfect", "blank", *_catalogue_of(source_dir).mistakes]


def mistakes_of(spec: Spec, source_dir: Path) -> list[Mistake]:
    """The mistakes a spec stands for ([] for 'perfect' and 'blank')."""
    names = [spec] if isinstance(spec, str) else list(spec)
    if names in (["perfect"], ["blank"], []):
        return []
    known = _catalogue_of(source_dir).mistakes
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KeyError(f"unknown submission kind(s) {unknown}; choose from {kinds(source_dir)}")
    chosen = [known[n] for n in names]
    exercises = [m.exercise for m in chosen]
    clash = {e for e in exercises if exercises.count(e) > 1}
    if clash:
        raise ValueError(f"two mistakes replace the same solution cell: {sorted(clash)}")
    return chosen


def expected_scores(spec: Spec, source_dir: Path) -> dict[str, tuple[float, float]]:
    """test grade_id -> (lowest, highest) score the spec should get from a correct grader.

    perfect: full marks everywhere; blank: 0 everywhere; a mistake, on its own exercise: 0
    when it is wrong in general, strictly between 0 and full for partial credit, full for a
    right answer (e.g. one that warns); anything on the exercises it `affects`, full marks on
    every other exercise.
    """
    points = test_points(source_dir)
    if spec == "blank":
        return {gid: (0.0, 0.0) for gid in points}
    out = {gid: (p, p) for gid, p in points.items()}
    for m in mistakes_of(spec, source_dir):
        for other in m.affects:
            gid = f"test_{other}"
            if gid in out:
                out[gid] = (0.0, points[gid])
        gid = f"test_{m.exercise}"
        if gid in out and m.credit != "full":
            # partial: the grader must find the mistake on at least one probe, and credit the rest
            out[gid] = (0.01, points[gid] - 0.01) if m.credit == "partial" else (0.0, 0.0)
    return out


def unexpected_scores(scores: Mapping[str, float], spec: Spec, source_dir: Path) -> dict:
    """test grade_id -> (score, (lowest, highest)) for each score outside what ``spec`` should get."""
    return {gid: (scores.get(gid), lo_hi) for gid, lo_hi in expected_scores(spec, source_dir).items()
            if not lo_hi[0] <= scores.get(gid, -1) <= lo_hi[1]}


# ---------------------------------------------------------------------------------------------
# Building submissions
# ---------------------------------------------------------------------------------------------
def submission(spec: Spec = "perfect", *, release_dir: Path, source_dir: Path) -> dict[str, nbformat.NotebookNode]:
    """notebook name -> notebook, as a student with this spec would hand it in."""
    notebooks = {name: nbformat.read(Path(release_dir) / f"{name}.ipynb", as_version=4)
                 for name in notebook_names(release_dir)}
    if not notebooks:
        raise FileNotFoundError(f"no released notebooks in {release_dir} (run `make release`)")
    if spec == "blank":
        return notebooks

    answers = solution_cells(source_dir)
    for m in mistakes_of(spec, source_dir):
        answers[m.exercise] = m.source
    for nb in notebooks.values():
        for cell in nb.cells:
            if is_solution(cell) and grade_id(cell) in answers:
                cell.source = answers[grade_id(cell)]
    return notebooks


def write_submission(dest_dir: Path, spec: Spec = "perfect", *, release_dir: Path, source_dir: Path,
                     timestamp: str | None = None) -> list[Path]:
    """Write the spec's notebooks into dest_dir (which may be a fetched copy to fill in place).

    With a timestamp (nbgrader's format, e.g. '2026-11-20 12:00:00.000000 UTC') also writes
    timestamp.txt as `nbgrader collect` would.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, nb in submission(spec, release_dir=release_dir, source_dir=source_dir).items():
        path = dest_dir / f"{name}.ipynb"
        nbformat.write(nb, path)
        written.append(path)
    if timestamp:
        (dest_dir / "timestamp.txt").write_text(timestamp)
    return written


def write_class(course_root: Path, roster: Mapping[str, Spec], *, assignment: str,
                release_root: Path | None = None, late: Mapping[str, _dt.timedelta] | None = None) -> dict[str, Path]:
    """Write submitted/<student>/<assignment>/ for every student of the roster.

    The notebooks are built from the course's own release/ and source/ (the release from
    ``release_root`` when the course has none yet). Everyone hands in at SUBMITTED_AT, except
    the students in ``late``: that long after DUE_DATE. Returns student -> folder.
    """
    course_root = Path(course_root)
    release_dir = course_root / "release" / assignment
    source_dir = course_root / "source" / assignment
    if not release_dir.exists() and release_root is not None:
        release_dir = Path(release_root) / "release" / assignment
    late = late or {}
    folders = {}
    for student, spec in roster.items():
        folder = course_root / "submitted" / student / assignment
        stamp = DUE_DATE + late[student] if student in late else SUBMITTED_AT
        write_submission(folder, spec, release_dir=release_dir, source_dir=source_dir,
                         timestamp=stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
        folders[student] = folder
    return folders
