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
from autograder.course.directory import COURSE_ENV, EXERCISES_ENV, course_roots, exercises_directory
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


def find_exercise(name: str, cwd: str | None = None) -> Exercise:
    """The exercise ``name`` for a notebook running in ``cwd`` (a student's ``check``): declared
    by an assignment of the nearest course that declares it (``coursedir.course_roots``), its
    points read from the notebooks beside ``cwd`` (else the assignment's source)."""
    cwd = cwd or os.getcwd()
    roots = course_roots(cwd)
    if os.environ.get(EXERCISES_ENV):
        roots = roots[:1] or [""]
    if not roots:
        raise LookupError(f"no course found for exercise {name!r}: set {COURSE_ENV} to the course root "
                          f"(or {EXERCISES_ENV} to its exercise declarations)")
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
    raise LookupError(f"no autograded exercise called {name!r} in {' or '.join(dict.fromkeys(searched))}")
