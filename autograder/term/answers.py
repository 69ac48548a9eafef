"""A student's answer to one exercise, as text the instructor can read: the function the
exercise asks for, taken from the student's (autograded) notebook, trimmed and anonymised.

Trusted side only: the code is parsed, never run.
"""
from __future__ import annotations

import ast
import json

from autograder.intake import cells

MAX_LINES = 25


def cell_source(notebook_path: str, grade_id: str) -> str | None:
    """The source of the cell whose grade_id is ``grade_id`` in a student's notebook file, or
    None when the file or the cell is missing or unreadable."""
    try:
        with open(notebook_path, encoding="utf-8") as fh:
            nb = json.load(fh)
    except (OSError, ValueError):
        return None
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        if cells.grade_id(cell) == grade_id:
            return cells.source(cell)
    return None


def function_excerpt(source: str, function: str, *, student: str = "",
                     max_lines: int = MAX_LINES) -> str:
    """The ``def function`` block of source (the whole cell when it has none or does not
    parse), at most max_lines lines, with the student's id replaced by 'student'."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function:
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            lines = lines[first - 1:node.end_lineno]
            break
    text = trim("\n".join(lines), max_lines=max_lines, more="# ...")
    return text.replace(student, "student") if student else text


def trim(text: str, *, max_lines: int = MAX_LINES, more: str = "...") -> str:
    """At most max_lines lines of text, saying how many were left out."""
    lines = text.strip("\n").splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"{more} {len(lines) - max_lines} more lines"]
    return "\n".join(lines)

