"""The part of a course's exercise declarations that students' own checks need, and no more.

A student's test cell calls `autograder.check(name, fn)` in their kernel, which finds the
exercise through `autograder.course.declarations` ($AUTOGRADER_EXERCISES names the folder on the
hub) and runs its visible probes against its reference.  The instructor's `exercises.py` also
holds the hidden-probe generators, which stay with the course: `visible_only` is the same module
with every `exercise(..., hidden=...)` drawing no hidden probes and without the top-level
functions and classes that nothing left refers to (the generators and their helpers).
`course.py setup` writes the result where students can read it.  Imports the standard library
only.
"""
from __future__ import annotations

import ast

NO_HIDDEN_PROBES = "lambda rng: []"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_exercise_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "exercise") or (
        isinstance(func, ast.Attribute) and func.attr == "exercise")


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def visible_only(source: str, path: str) -> str:
    """`source` (an exercises.py read from `path`) without its hidden probes."""
    tree = ast.parse(source, filename=path)
    for call in filter(_is_exercise_call, ast.walk(tree)):
        for keyword in call.keywords:
            if keyword.arg == "hidden":
                keyword.value = ast.parse(NO_HIDDEN_PROBES, mode="eval").body
    definitions: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        if isinstance(stmt, _DEFINITIONS):
            definitions.setdefault(stmt.name, []).append(stmt)
    needed: set[str] = set()
    todo = [stmt for stmt in tree.body if not isinstance(stmt, _DEFINITIONS)]
    while todo:
        for name in _names_used(todo.pop()) & definitions.keys() - needed:
            needed.add(name)
            todo += definitions[name]
    tree.body = [stmt for stmt in tree.body
                 if not isinstance(stmt, _DEFINITIONS) or stmt.name in needed]
    return (f"# The visible checks of {path}, written by deploy/hub/course.py setup: the hidden\n"
            f"# probes stay with the course.\n{ast.unparse(tree)}\n")
