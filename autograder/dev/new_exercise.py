"""`autograder new ASSIGNMENT EXERCISE`: one autograded exercise written into a course.

From a solution function (a Python file defining ``def EXERCISE(...)``) and a keyword
declaration (a Python file binding ``EXERCISE = exercise(name="EXERCISE", ...)``), it writes

* three cells of ``source/ASSIGNMENT/NOTEBOOK.ipynb`` with the metadata nbgrader's Create
  Assignment toolbar sets: the prompt (markdown, locked, grade_id ``EXERCISE_prompt``), the
  solution (grade_id ``EXERCISE``, its body between the solution markers) and the test
  (grade_id ``test_EXERCISE``, locked, with the exercise's points and a hidden block);
* the declaration into ``autograding/ASSIGNMENT/exercises.py``, between two marker lines.

Running it again replaces those cells and that block in place (cell ids are the grade_ids),
so it never duplicates. What is not given again is kept: the points, the prompt, the solution,
and a declaration you have edited since. Without ``--declaration`` a new exercise gets a stub
declaration (your solution as the reference, no probes yet) for you to fill in.
"""
from __future__ import annotations

import ast
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.course.declarations import DECLARATIONS
from autograder.course.directory import exercises_directory
from autograder.intake.cells import TEST_PREFIX, grade_id, meta
from autograder.intake.notebook_text import (BEGIN_HIDDEN, BEGIN_SOLUTION, END_HIDDEN, END_SOLUTION,
                                             notebook_names, strip_solution_markers)
from autograder.protocol.rules import KINDS

PROMPT_SUFFIX = "_prompt"
BLOCK_BEGIN = "# >>> {name}"
BLOCK_NOTE = " (written by `autograder new`; edit freely, `--declaration` replaces this block)"
BLOCK_END = "# <<< {name}"
HEADER = '''"""The autograded exercises of the assignment {assignment} (docs/authoring.md).

Never handed out: nbgrader releases only source/{assignment}/.
"""
import numpy as np
import torch

from autograder.course.authoring import exercise, jacobian, probe, satisfies, value
from autograder.course.builders import T, signed

EXERCISES = []
'''


class NewExerciseError(Exception):
    """The inputs cannot make the exercise; the message says what to change."""


@dataclass(frozen=True)
class Written:
    notebook: Path
    declarations: Path
    declaration: str        # "written", "replaced", "stub" or "kept"


def cell_metadata(*, gid: str, kind: str, points: float | None = None) -> dict:
    """The ``nbgrader`` metadata of a prompt, solution or test cell (schema 3), as nbgrader's
    Create Assignment toolbar writes it."""
    return {"nbgrader": {
        "grade": kind == "test",
        "grade_id": gid,
        "locked": kind != "solution",
        **({"points": points} if kind == "test" else {}),
        "schema_version": 3,
        "solution": kind == "solution",
        "task": False,
    }}


def _function(tree: ast.Module, name: str, path: str) -> ast.FunctionDef:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    raise NewExerciseError(f"{path} defines no function `{name}`: the solution cell must define the "
                           f"function the exercise is named after, `def {name}(...)`")


def solution_source(text: str, *, name: str, path: str = "the solution") -> str:
    """The solution cell: ``text`` with the body of ``def name`` (after its docstring) between
    the solution markers, so nbgrader releases the signature and docstring with a stub."""
    if BEGIN_SOLUTION in text:
        return text.strip("\n")
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise NewExerciseError(f"{path} is not valid Python ({exc.msg}, line {exc.lineno})") from exc
    fn = _function(tree, name, path)
    body = fn.body
    if ast.get_docstring(fn) is not None:
        body = body[1:]
    if not body:
        raise NewExerciseError(f"{path}: `{name}` has no body after its docstring: write the solution there")
    lines = text.strip("\n").split("\n")
    first, last = body[0].lineno - 1, fn.end_lineno        # 0-based first line, 1-based last line
    indent = " " * body[0].col_offset
    return "\n".join(lines[:first] + [indent + BEGIN_SOLUTION] + lines[first:last]
                     + [indent + END_SOLUTION] + lines[last:])


def test_source(name: str) -> str:
    """The test cell: the visible check students run, and the hidden one nbgrader removes."""
    return (f"# Checks `{name}` on the visible inputs; grading adds hidden ones drawn per student.\n"
            f"from autograder import check\n"
            f'check("{name}", {name})\n'
            f"{BEGIN_HIDDEN}\n"
            f'check("{name}", {name}, hidden=True)\n'
            f"{END_HIDDEN}")


def default_prompt(name: str, solution: str, points: float) -> str:
    """A prompt from the solution's signature and docstring, for the instructor to reword."""
    fn = _function(ast.parse(solution), name, "the solution")
    args = ast.unparse(fn.args)
    doc = ast.get_docstring(fn) or "TODO: say what the function returns, its shape, and what it may use."
    return f"## Exercise - `{name}` ({_points(points)})\n\nWrite `{name}({args})`: {doc}"


def _points(points: float) -> str:
    return f"{points:g} point{'s' if points != 1 else ''}"


def _new_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata.language_info = {"name": "python"}
    return nb


def _find(folder: Path, gid: str) -> str | None:
    """The notebook of ``folder`` holding a cell with this grade_id."""
    for name in notebook_names(folder):
        nb = nbformat.read(folder / f"{name}.ipynb", as_version=4)
        if any(grade_id(c) == gid for c in nb.cells):
            return name
    return None


def write_cells(path: Path, *, name: str, solution: str | None, prompt: str | None, points: float | None) -> None:
    """Put the exercise's three cells into the notebook at ``path``: replaced where their
    grade_ids already are, else appended in order; what is None is kept as it is."""
    nb = nbformat.read(path, as_version=4) if path.exists() else _new_notebook()
    at = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
    test_id, prompt_id = TEST_PREFIX + name, name + PROMPT_SUFFIX
    if name not in at and solution is None:
        raise NewExerciseError(f"`{name}` is not in {path} yet: give its solution with --solution FILE")
    old_points = meta(nb.cells[at[test_id]]).get("points") if test_id in at else None
    points = points if points is not None else (old_points if old_points is not None else 1)
    points = int(points) if float(points).is_integer() else points     # 2, as the toolbar writes it, not 2.0
    if prompt is None and prompt_id not in at:
        prompt = default_prompt(name, solution or nb.cells[at[name]].source, points)
    elif prompt is None and old_points is not None and points != old_points:
        said = nb.cells[at[prompt_id]].source      # a prompt that states the old points states the new ones
        prompt = re.sub(rf"\({old_points:g} points?\)", f"({_points(points)})", said, count=1)
    wanted = [(prompt_id, "prompt", prompt, nbformat.v4.new_markdown_cell),
              (name, "solution", solution, nbformat.v4.new_code_cell),
              (test_id, "test", test_source(name), nbformat.v4.new_code_cell)]
    for order, (gid, kind, text, new) in enumerate(wanted):
        index = {grade_id(c): i for i, c in enumerate(nb.cells) if grade_id(c)}
        if gid in index:
            cell = nb.cells[index[gid]]
            if text is not None:
                cell.source = text
            cell.metadata.update(cell_metadata(gid=gid, kind=kind, points=points))
            continue
        # in the exercise's order: after the cell before it, else before the cell after it, else at the end
        before = [index[g] for g, *_ in wanted[:order] if g in index]
        after = [index[g] for g, *_ in wanted[order + 1:] if g in index]
        at_index = max(before) + 1 if before else (min(after) if after else len(nb.cells))
        nb.cells.insert(at_index, new(text, metadata=cell_metadata(gid=gid, kind=kind, points=points), id=gid))
    nbformat.validate(nb)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


def stub_declaration(*, name: str, solution: str, kind: str, answer: str) -> str:
    """A declaration that loads and grades: the instructor's solution, run on the grading side
    in float64, is the reference until one written from the maths replaces it; no probes yet."""
    fn = _function(ast.parse(solution), name, "the solution")
    reference = solution.strip("\n").split("\n")[fn.lineno - 1 - len(fn.decorator_list):fn.end_lineno]
    reference = textwrap.dedent("\n".join(reference)).replace(f"def {name}(", f"def {name}_reference(", 1)
    return (f"# TODO the reference: your solution for now. For a Jacobian graded against autograd, write the\n"
            f"# function itself and use reference=jacobian(f, wrt=\"x\") instead.\n"
            f"{reference}\n\n\n"
            f"{name} = exercise(\n"
            f'    name="{name}",\n'
            f'    kind="{kind}",\n'
            f'    answer="{answer}",\n'
            f"    reference=value({name}_reference),\n"
            f"    visible=[],          # TODO probe(...) students see, e.g. probe(T([1.0, 2.0]), label=\"x = (1, 2)\")\n"
            f"    hidden=lambda rng: [],   # TODO probes drawn per student from rng (docs/authoring.md, section 3)\n"
            f")")


def _block(text: str, name: str) -> tuple[int, int] | None:
    """(start, end) character offsets of the exercise's marked block in exercises.py."""
    begin = re.search(r"^" + re.escape(BLOCK_BEGIN.format(name=name)) + r"\b.*$", text, re.M)
    end = re.search(r"^" + re.escape(BLOCK_END.format(name=name)) + r"\s*$", text, re.M)
    if begin and end and end.start() > begin.start():
        return begin.start(), end.end()
    return None


def _declared_by_hand(text: str, name: str) -> bool:
    return re.search(rf"""name\s*=\s*["']{re.escape(name)}["']""", text) is not None


def write_declaration(path: Path, *, assignment: str, name: str, declaration: str | None, stub: str) -> str:
    """Put the exercise's declaration into exercises.py; returns what happened."""
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER.format(assignment=assignment)
    found = _block(text, name)
    if found and declaration is None:
        return "kept"
    if not found and _declared_by_hand(text, name):
        if declaration is None:
            return "kept"
        raise NewExerciseError(f"{path} already declares `{name}` outside a block written by `autograder new`: "
                               f"edit it there, or delete it so that --declaration can write it")
    body = (declaration if declaration is not None else stub).strip("\n")
    block = f"{BLOCK_BEGIN.format(name=name)}{BLOCK_NOTE}\n{body}\nEXERCISES.append({name})\n{BLOCK_END.format(name=name)}"
    if found:
        text = text[:found[0]] + block + text[found[1]:]
    else:
        text = text.rstrip("\n") + "\n\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return "replaced" if found else ("written" if declaration is not None else "stub")


def _check_declaration(text: str, name: str, path: str) -> None:
    """The declaration binds ``name`` to an exercise of that name (checked on the text: loading
    it would import torch and run the instructor's code before anything is written)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        raise NewExerciseError(f"{path} is not valid Python ({exc.msg}, line {exc.lineno})") from exc
    bound = [n for n in tree.body if isinstance(n, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    if not bound or not _declared_by_hand(text, name):
        raise NewExerciseError(f"{path} must bind `{name} = exercise(name=\"{name}\", kind=..., answer=..., "
                               f"reference=..., visible=[...], hidden=...)`: that is the exercise written "
                               f"into EXERCISES")


def new_exercise(course_root: str, assignment: str, name: str, *, notebook: str | None = None,
                 solution: str | None = None, declaration: str | None = None, prompt: str | None = None,
                 points: float | None = None, kind: str = "by hand", answer: str = "matrix") -> Written:
    """Write (or update) exercise ``name`` of ``assignment`` in the course at ``course_root``.
    ``solution``, ``declaration`` and ``prompt`` are texts (None: keep what is there)."""
    if not name.isidentifier():
        raise NewExerciseError(f"{name!r} is not a Python name: the exercise is named after the student's function")
    if kind not in KINDS:
        raise NewExerciseError(f"--kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    if points is not None and points <= 0:
        raise NewExerciseError(f"--points must be positive, not {points:g}: they are the test cell's points")
    folder = Path(course_root) / "source" / assignment
    elsewhere = _find(folder, name) if folder.exists() else None
    notebook = notebook or elsewhere or assignment
    if elsewhere and elsewhere != notebook:
        raise NewExerciseError(f"`{name}` is already in {folder / elsewhere}.ipynb: pass --notebook {elsewhere} "
                               f"to update it there (or delete its cells there first to move it)")
    if solution is not None:
        solution = solution_source(solution, name=name)
    decl_path = Path(exercises_directory(course_root)) / assignment / DECLARATIONS
    if declaration is not None:
        _check_declaration(declaration, name, "the declaration")
    nb_path = folder / f"{notebook}.ipynb"
    write_cells(nb_path, name=name, solution=solution, prompt=prompt, points=points)
    current = nbformat.read(nb_path, as_version=4)
    written_solution = next(c.source for c in current.cells if grade_id(c) == name)
    stub = stub_declaration(name=name, solution=strip_solution_markers(written_solution), kind=kind, answer=answer)
    done = write_declaration(decl_path, assignment=assignment, name=name, declaration=declaration, stub=stub)
    from autograder.course.declarations import DeclarationError, load, read_declarations
    try:
        load(read_declarations(str(decl_path.parent.parent), assignment))
    except DeclarationError as exc:
        raise NewExerciseError(f"the cells are written, but the declarations do not load: {exc}. Fix it in "
                               f"{decl_path} (or run this again with a corrected --declaration)") from exc
    return Written(notebook=nb_path, declarations=decl_path, declaration=done)


def read_file(path: str | None) -> str | None:
    return Path(path).read_text(encoding="utf-8") if path is not None else None


def read_text_or_file(value: str | None) -> str | None:
    """A command-line value that names a file is that file's text."""
    if value is not None and os.path.isfile(value):
        return Path(value).read_text(encoding="utf-8")
    return value
