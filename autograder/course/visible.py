"""What of an assignment's declarations travels with its release: the visible checks.

A student's test cell calls ``check(name, fn)`` in their own kernel, wherever the notebook is
(a laptop, the hub), so what that check needs is written beside the released notebooks
(``VISIBLE_CHECKS``, by ``hooks.release`` during ``nbgrader generate_assignment``). It is the
instructor's ``exercises.py`` with every ``hidden=`` drawing nothing, every ``shared=`` gone,
and the top-level names nothing left refers to removed (the generators, their helpers,
``MISREADINGS``). The course secret is never in ``exercises.py``, so never in it either.

Imports the standard library only.
"""
from __future__ import annotations

import ast

VISIBLE_CHECKS = "visible_checks.py"
NO_HIDDEN_PROBES = "lambda rng: []"
_BINDINGS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def _is_exercise_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "exercise") or (
        isinstance(func, ast.Attribute) and func.attr == "exercise")


def _bound_names(stmt: ast.stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def visible_only(source: str, path: str) -> str:
    """``source`` (an exercises.py read from ``path``) with nothing of its hidden or shared probes."""
    tree = ast.parse(source, filename=path)
    for call in filter(_is_exercise_call, ast.walk(tree)):
        call.keywords = [k for k in call.keywords if k.arg != "shared"]
        for keyword in call.keywords:
            if keyword.arg == "hidden":
                keyword.value = ast.parse(NO_HIDDEN_PROBES, mode="eval").body
    binders: dict[str, list[ast.stmt]] = {}
    for stmt in tree.body:
        if isinstance(stmt, _BINDINGS):
            for name in _bound_names(stmt):
                binders.setdefault(name, []).append(stmt)
    # what the engine reads of the module, and whatever runs at import anyway (imports, calls)
    kept = [stmt for stmt in tree.body if not isinstance(stmt, _BINDINGS) or "EXERCISES" in _bound_names(stmt)]
    todo, seen = list(kept), {id(stmt) for stmt in kept}
    while todo:
        for name in _names_used(todo.pop()):
            for stmt in binders.get(name, ()):
                if id(stmt) not in seen:
                    seen.add(id(stmt))
                    todo.append(stmt)
    tree.body = [stmt for stmt in tree.body if id(stmt) in seen]
    return ("# The visible checks for `check(...)` in this assignment's notebooks: keep this file beside them.\n"
            f"# nbgrader generate_assignment wrote it from {path}; the hidden probes stay with the course.\n"
            f"{ast.unparse(tree)}\n")
