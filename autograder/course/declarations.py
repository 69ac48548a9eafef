"""Loading a course's exercise declarations.

A course is notebooks plus declarations: ``<directory>/<assignment>/exercises.py`` defines
``EXERCISES`` with the words of ``authoring.py``. ``directory`` is the ``CourseExercises``
setting of the course's nbgrader_config.py (``coursedir.exercises_directory``; default
``autograding`` in the course root), outside ``source/<assignment>/`` because nbgrader hands
out everything in there. Points and notebooks are read from the notebooks' test cells
(``bind``); the declarations never repeat them. A grading job carries the declarations' text (``Declarations``), so workers load a new
exercise without a reinstall and without access to the course directory.
"""
from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import sys
import types
from typing import TYPE_CHECKING

from autograder.intake.cells import points, tested_exercise
from autograder.course.directory import (COURSE_ENV, EXERCISES_ENV, VISIBLE_CHECKS, course_roots,
                                        exercises_directory, find_course_root)
from autograder.batch.jobs import Declarations

DECLARATIONS = "exercises.py"

if TYPE_CHECKING:   # the writer process reads where declarations are without importing torch
    from autograder.course.authoring import Exercise


class DeclarationError(Exception):
    """The course's declarations are missing or broken; the message says where."""


def read_declarations(directory: str, assignment: str) -> Declarations | None:
    """The assignment's declarations, or None when it has no autograded exercises."""
    path = os.path.join(directory, assignment, DECLARATIONS)
    try:
        with open(path, encoding="utf-8") as fh:
            return Declarations(path=path, source=fh.read())
    except FileNotFoundError:
        return None


_MODULES: dict[str, types.ModuleType] = {}


def declarations_module(declarations: Declarations) -> types.ModuleType:
    """The declarations run as a module (once per process for a given text). It is registered
    with cloudpickle by value: a probe argument defined in it (a function, a class, a
    ``torch.nn.Module``) reaches the student's process as written, without it importing
    the declarations."""
    key = hashlib.sha256(f"{declarations.path}\0{declarations.source}".encode()).hexdigest()
    if key not in _MODULES:
        import cloudpickle
        module = types.ModuleType(f"_course_exercises_{key[:16]}")
        module.__file__ = declarations.path
        sys.modules[module.__name__] = module
        try:
            exec(compile(declarations.source, declarations.path, "exec"), module.__dict__)
        except Exception as exc:
            del sys.modules[module.__name__]
            raise DeclarationError(f"{declarations.path}: {type(exc).__name__}: {exc}") from exc
        cloudpickle.register_pickle_by_value(module)
        _MODULES[key] = module
    return _MODULES[key]


def load(declarations: Declarations | None) -> list[Exercise]:
    """The exercises declared (``EXERCISES``), checked: a list of distinct ``exercise(...)``."""
    if declarations is None:
        return []
    from autograder.course.authoring import Exercise
    declared = getattr(declarations_module(declarations), "EXERCISES", None)
    if not isinstance(declared, (list, tuple)) or not all(isinstance(e, Exercise) for e in declared):
        raise DeclarationError(f"{declarations.path} must define EXERCISES, a list of exercise(...)")
    names = [e.name for e in declared]
    if len(set(names)) != len(names):
        raise DeclarationError(f"{declarations.path} declares an exercise twice: "
                               f"{sorted({n for n in names if names.count(n) > 1})}")
    return list(declared)


def bind(declared: list[Exercise], notebook, notebook_name: str) -> dict[str, Exercise]:
    """The exercises ``notebook`` grades: one per test cell ``test_<name>`` whose name is
    declared, with that cell's points and the notebook's name."""
    by_name = {e.name: e for e in declared}
    bound = {}
    for cell in notebook.cells:
        name = tested_exercise(cell)
        if name in by_name:
            bound[name] = dataclasses.replace(by_name[name], points=points(cell),
                                              notebook=notebook_name)
    return bound


def notebooks_exercises(declared: list[Exercise], folder: str) -> dict[str, Exercise]:
    """The declared exercises bound to the notebooks of ``folder``, in declaration order."""
    import nbformat
    bound: dict[str, Exercise] = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.ipynb"))):
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception:  # noqa: BLE001 - a notebook we cannot read binds nothing
            continue
        bound.update(bind(declared, nb, os.path.splitext(os.path.basename(path))[0]))
    return {e.name: bound[e.name] for e in declared if e.name in bound}


def assignment_exercises(root: str, assignment: str) -> dict[str, Exercise]:
    """name -> exercise for an assignment of the course at ``root``, points and notebooks
    from its source notebooks, in declaration order."""
    declared = load(read_declarations(exercises_directory(root), assignment))
    return notebooks_exercises(declared, os.path.join(root, "source", assignment))


def find_exercise(name: str, cwd: str | None = None, *, released: bool = True) -> Exercise:
    """The exercise ``name`` for a notebook running in ``cwd`` (a student's ``check``).

    First an assignment of the nearest course that declares it (``directory.course_roots``),
    its points read from the notebooks beside ``cwd`` (else the assignment's source). With
    ``released`` (a self-check, visible probes only) and ``cwd`` in no course, the visible
    checks released beside the notebook (``course.visible``), which travel with it to wherever
    the student works; inside a course they may be a student's submitted copy, never run. The
    LookupError says what to do."""
    cwd = cwd or os.getcwd()
    roots = course_roots(cwd)
    if os.environ.get(EXERCISES_ENV):
        roots = roots[:1] or [""]
    searched = []
    for root in roots:
        directory = exercises_directory(root)
        searched.append(directory)
        for path in sorted(glob.glob(os.path.join(directory, "*", DECLARATIONS))):
            assignment = os.path.basename(os.path.dirname(path))
            declared = {e.name: e for e in load(read_declarations(directory, assignment))}
            if name in declared:
                here = notebooks_exercises([declared[name]], cwd)
                if name not in here and root:
                    here = notebooks_exercises([declared[name]], os.path.join(root, "source", assignment))
                return here.get(name, declared[name])
    above = [os.environ.get(COURSE_ENV), find_course_root(cwd)]
    if released and not any(root and os.path.isdir(exercises_directory(root)) for root in above):
        from autograder.course.visible import read_record
        found = read_record(cwd).get(name)
        if found is not None:
            return found
        beside = os.path.join(cwd, VISIBLE_CHECKS)
        if os.path.isfile(beside):
            raise LookupError(f"{beside} has no exercise called {name!r}: fetch the assignment again for the "
                              f"visible checks this notebook was released with")
        raise LookupError(f"{VISIBLE_CHECKS}, released with this notebook, is not beside it in {cwd}: copy it "
                          f"there from the assignment's folder (or fetch the assignment again)")
    courses = " or ".join(dict.fromkeys(searched)) or "no course"
    raise LookupError(f"no exercise called {name!r} is declared in {courses}: run it in the course folder (the "
                      f"one with nbgrader_config.py) or set {COURSE_ENV} to it")
