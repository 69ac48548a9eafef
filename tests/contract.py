"""What every assignment of a course must satisfy, derived from its declarations
(``autograding/<assignment>/exercises.py``) and its catalogue of typical mistakes
(``mistakes.py``), for any course root: the repository's (tests/test_release.py,
tests/test_samples.py) or one a test builds (tests/test_authoring.py).

Each function returns the problems it found, as sentences that say what to change and why;
an empty list is a pass.
"""
from __future__ import annotations

import contextlib
import functools
import io
import os
from pathlib import Path
from typing import Mapping

import nbformat

from autograder.course import declarations
from autograder.course.directory import exercises_directory
from autograder.dev import samples
from autograder.intake import cells, notebook_text


def _declared(root: Path, assignment: str) -> dict:
    """name -> exercise, bound to the source notebooks (points and notebook read there)."""
    return declarations.assignment_exercises(str(root), assignment)


def _where(root: Path, assignment: str) -> str:
    return os.path.join(os.path.relpath(exercises_directory(str(root)), root), assignment, declarations.DECLARATIONS)


def notebook_problems(root: Path, assignment: str, notebook: str) -> list[str]:
    """The released notebook against the declarations: every solution cell is a declared
    exercise with a locked test cell ``test_<name>`` of positive points, and every declared
    exercise bound here has both. Written answers (markdown answer cells) are optional."""
    root = Path(root)
    where = _where(root, assignment)
    path = root / "release" / assignment / f"{notebook}.ipynb"
    nb = nbformat.read(path, as_version=4)
    here = {name for name, ex in _declared(root, assignment).items() if ex.notebook == notebook}
    problems, solutions, tests = [], set(), {}
    for cell in nb.cells:
        meta = cells.meta(cell)
        if not meta:
            continue
        gid = meta.get("grade_id")
        if meta.get("schema_version") != 3:
            problems.append(f"{notebook}: cell {gid} has nbgrader schema_version {meta.get('schema_version')!r}: "
                            f"set 3, the version nbgrader 0.9 reads (docs/authoring.md, the metadata)")
        if cell.cell_type == "code" and cells.is_solution(cell):
            solutions.add(gid)
        if cells.is_test(cell):
            tests[gid] = cell
            if not meta.get("locked"):
                problems.append(f"{notebook}: test cell {gid} is not locked: set \"locked\": true, or a student "
                                f"can edit the check that grades them")
        if cell.cell_type == "markdown" and cells.is_graded(cell) and not cells.is_solution(cell):
            problems.append(f"{notebook}: markdown cell {gid} is graded but is not an answer cell: set "
                            f"\"solution\": true so students can write in it (a written answer), or \"grade\": false")
    for name in sorted(solutions - here):
        problems.append(f"{notebook}: solution cell {name} is graded by nothing: declare exercise(name=\"{name}\", "
                        f"...) in {where} and give it a test cell test_{name} (autograder new does both)")
    for name in sorted(here):
        if name not in solutions:
            problems.append(f"{notebook}: {name} is declared in {where} and has test_{name} here, but no solution "
                            f"cell with grade_id {name}: students need one to write the function in")
    for gid, cell in sorted(tests.items()):
        name = gid[len(cells.TEST_PREFIX):] if gid.startswith(cells.TEST_PREFIX) else None
        if name not in here:
            problems.append(f"{notebook}: test cell {gid} grades no declared exercise: name it test_<exercise> "
                            f"after a solution cell declared in {where}")
        elif not cells.points(cell) > 0:
            problems.append(f"{notebook}: test cell {gid} has no points: its points are {name}'s, set \"points\"")
    return problems


def declaration_problems(root: Path, assignment: str) -> list[str]:
    """Every declared exercise has a test cell in some notebook of source/, and probes in
    general position to earn credit on (a student's seed drawn at random: any will do)."""
    from autograder.course.authoring import probes
    root = Path(root)
    where = _where(root, assignment)
    declared = declarations.load(declarations.read_declarations(exercises_directory(str(root)), assignment))
    bound = _declared(root, assignment)
    problems = [f"{e.name} is declared in {where} but no notebook of source/{assignment} has a test cell "
                f"test_{e.name}: add it (autograder new {assignment} {e.name}), or drop the declaration"
                for e in declared if e.name not in bound]
    for e in declared:
        if not [p for p in e.visible() if not p.edge]:
            problems.append(f"{e.name} in {where} has no visible probe in general position: students' own check "
                            f"would score 0 of 0; add probe(...) to visible= (special cases, edge=True, do not count)")
        if not [p for p in probes(e, seed=0) if p.hidden and not p.edge]:
            problems.append(f"{e.name} in {where} draws no hidden probe in general position: grading would use the "
                            f"visible ones only, which students can hard-code; return probes from hidden=")
    return problems


# ----------------------------------------------------------------------------- sample class

def catalogue_problems(root: Path, assignment: str) -> list[str]:
    """The catalogue of typical mistakes fits the notebooks: each replaces a solution cell with
    code defining that function; the demo class names known mistakes only, and holds every
    mistake declared ``demo=True``."""
    root = Path(root)
    cat = samples.catalogue(str(root), assignment)
    where = os.path.join(os.path.relpath(exercises_directory(str(root)), root), assignment, samples.CATALOGUE)
    cells_of = notebook_text.solution_notebooks(root / "source" / assignment)
    problems = []
    for m in cat.mistakes.values():
        if m.exercise not in cells_of:
            problems.append(f"mistake {m.name} in {where} replaces {m.exercise!r}, which is no solution cell of "
                            f"source/{assignment}: set exercise= to one of {sorted(cells_of)}")
        if f"def {m.exercise}(" not in m.source:
            problems.append(f"mistake {m.name} in {where} does not define `def {m.exercise}(`: it replaces the "
                            f"whole solution cell, so it must define the function")
        try:
            compile(m.source, m.name, "exec")
        except SyntaxError as exc:
            problems.append(f"mistake {m.name} in {where} is not valid Python ({exc.msg}, line {exc.lineno})")
    in_demo = {n for spec in cat.demo_class.values() if not isinstance(spec, str) for n in spec}
    for name in sorted(in_demo - set(cat.mistakes)):
        problems.append(f"DEMO_CLASS in {where} names {name!r}, which MISTAKES does not define")
    for m in cat.mistakes.values():
        if m.demo and m.name not in in_demo:
            problems.append(f"mistake {m.name} is declared demo=True in {where} but no student of DEMO_CLASS has "
                            f"it: add it to a student's list, or drop demo=True")
    return problems


def graded_roster(root: Path, assignment: str) -> dict[str, samples.Spec]:
    """The class that shows every catalogued mistake costs points: the demo class, plus one
    student for each mistake it leaves out."""
    cat = samples.catalogue(str(root), assignment)
    roster = dict(cat.demo_class)
    in_demo = {n for spec in roster.values() if not isinstance(spec, str) for n in spec}
    roster.update({f"only_{name}": [name] for name in cat.mistakes if name not in in_demo})
    return roster


def _student_function(root: Path, assignment: str, student: str, exercise):
    """The student's function as their notebook defines it: its code cells up to the
    exercise's test cell run here (the sample class is the instructor's own code)."""
    folder = root / "submitted" / student / assignment
    nb = nbformat.read(folder / f"{exercise.notebook}.ipynb", as_version=4)
    namespace: dict = {"__name__": "__main__"}
    with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
        os.environ.setdefault("MPLBACKEND", "Agg")
        for cell in nb.cells:
            if cells.tested_exercise(cell) == exercise.name:
                break
            if cell.cell_type == "code" and not cells.is_test(cell):
                code = "\n".join(ln for ln in cell.source.split("\n") if not ln.lstrip().startswith(("%", "!")))
                exec(compile(code, f"{exercise.notebook}:{cells.grade_id(cell) or 'cell'}", "exec"), namespace)
    return namespace[exercise.name]


def probe_verdicts(root: Path, assignment: str, student: str, name: str):
    """The verdicts on every probe (the student's own hidden ones included) of one graded
    exercise, judged again here, to say which probes a mistake passed or failed."""
    from autograder.course.seeds import course_secret, exercise_seed
    from autograder.inside.calling import call_student
    from autograder.judge.grading import run_exercise
    from autograder.protocol.rules import rules_for
    root = Path(root)
    exercise = _declared(root, assignment)[name]
    fn = _student_function(root, assignment, student, exercise)
    seed = exercise_seed(course_secret(str(root)), student, name)
    verdicts, _, _ = run_exercise(exercise, functools.partial(call_student, fn, rules=rules_for(exercise)),
                                  seed, [])
    return verdicts


def _labels(verdicts) -> str:
    return "; ".join(f"{v.label!r}" + "".join(t for t, on in ((" (hidden)", v.hidden), (" (special case)", v.edge)) if on)
                     for v in verdicts) or "none"


def _why(root: Path, assignment: str, student: str, spec, gid: str, score: float | None, low: float, mistake) -> str:
    """Why a score fell outside what the sample's spec should get, from the probes."""
    name = gid[len(cells.TEST_PREFIX):]
    where = _where(root, assignment)
    if score is None:
        return (f"the gradebook has no score for {gid}: the notebook was not graded; `autograder grade` "
                f"says why in its summary")
    if spec == "blank":
        return (f"the released stub of {name} earned points: its solution cell must be released as a stub that "
                f"fails (BEGIN/END SOLUTION around the whole body), and the probes must reject a None answer")
    if spec == "perfect":
        return (f"the worked solution of {name} fails its own probes: run `python scripts/regenerate.py solutions` "
                f"to see which, then fix the solution in source/{assignment} or the reference in {where}")
    if mistake is None:
        return (f"{name}'s cell holds the worked solution, yet lost points: a mistake in another cell reaches it "
                f"(its solution calls that function): declare affects=(\"{name}\",) on that mistake in mistakes.py")
    try:
        verdicts = probe_verdicts(root, assignment, student, name)
    except Exception as exc:  # noqa: BLE001 - the explanation is extra; the failure stands without it
        return f"(could not rerun {name} here to name the probes: {type(exc).__name__}: {exc})"
    passed = [v for v in verdicts if v.passed]
    failed = [v for v in verdicts if not v.passed]
    general = [v for v in passed if not v.edge]
    if score > low and mistake.credit == "none" and not general:
        return (f"mistake {mistake.name} passes no general probe when judged again here, yet scored: regrade with "
                f"`autograder grade {assignment} --student {student} --force` and compare")
    if score > low and mistake.credit == "none":
        return (f"mistake {mistake.name} is declared credit=\"none\" but passed the general probes {_labels(general)}: "
                f"there its answer equals the right one (a zero, a tie or a symmetric matrix where the mistake would "
                f"show hides it). Change those probes in {where} so they tell it apart, mark them edge=True if they "
                f"are special cases, or declare the mistake credit=\"partial\"")
    if mistake.credit == "partial" and not failed:
        return (f"mistake {mistake.name} is declared credit=\"partial\" but passed every probe ({_labels(passed)}): "
                f"none of them tells it from the right answer; add one in {where} where it differs")
    if mistake.credit == "partial":
        return (f"mistake {mistake.name} is declared credit=\"partial\" but passed no general probe (failed: "
                f"{_labels(failed)}): declare it credit=\"none\", or add a general probe where it is right")
    return (f"mistake {mistake.name} is declared credit=\"full\" but failed {_labels(failed)}: "
            + "; ".join(f"{v.label}: {v.message}" for v in failed[:3])
            + f". Fix the mistake's source in mistakes.py, or widen rtol/atol in {where} if it is right")


def score_problems(root: Path, assignment: str, roster: Mapping[str, samples.Spec],
                   scores: Mapping[str, Mapping[str, float]]) -> list[str]:
    """Each sample's scores (``scaffold.gradebook_scores``) within what its spec should get,
    with the probes that explain each one outside."""
    root = Path(root)
    source = root / "source" / assignment
    problems = []
    for student, spec in roster.items():
        chosen = {m.exercise: m for m in samples.mistakes_of(spec, source)}
        for gid, (score, (low, high)) in samples.unexpected_scores(scores.get(student, {}), spec, source).items():
            mistake = chosen.get(gid[len(cells.TEST_PREFIX):])
            problems.append(f"{student} ({spec if isinstance(spec, str) else ', '.join(spec)}): {gid} scored {score}, "
                            f"expected {low:g} to {high:g}. "
                            + _why(root, assignment, student, spec, gid, score, low, mistake))
    return problems
