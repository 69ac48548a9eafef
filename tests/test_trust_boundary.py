"""The folders show the trust boundary: what runs inside the student's process lives in
`autograder/inside/` and never imports scoring, references, the course's declarations or
secrets, directly or through another module of the package."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autograder"
INSIDE = PACKAGE / "inside"
# what decides or could leak a score: comparison, scoring, references and probes, the course's
# declarations and secret, the gradebook. (The package's ``__init__`` exposes ``check`` to
# notebooks; that module imports the engine only when a notebook calls it.)
FORBIDDEN = {"autograder.compare", "autograder.scoring", "autograder.grading", "autograder.authoring",
             "autograder.builders", "autograder.products", "autograder.declarations", "autograder.secrets",
             "autograder.feedback", "autograder.gradebook", "autograder.coursedir",
             "autograder.policy", "autograder.grade_notebook", "autograder.trusted_tests"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_nodes(tree: ast.AST, lazy: bool):
    """The import statements of a module: all of them (``lazy``), or only those that run when
    it is imported (not inside a function body)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if lazy or not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _import_nodes(node, lazy)


def _imports(path: Path, lazy: bool) -> set[str]:
    """The package modules ``path`` imports, with their parent packages (which run first)."""
    here = _module(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()
    for node in _import_nodes(ast.parse(path.read_text()), lazy):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        else:
            base = node.module or ""
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found |= {base} | {f"{base}.{a.name}" for a in node.names}
    with_parents = {".".join(m.split(".")[:i + 1]) for m in found for i in range(m.count(".") + 1)}
    return {m for m in with_parents if m == "autograder" or m.startswith("autograder.")}


def _file(module: str) -> Path | None:
    relative = Path(*module.split("."))
    for candidate in (PACKAGE.parent / relative.with_suffix(".py"), PACKAGE.parent / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def reached_from(start: Path) -> set[str]:
    """Every package module that running the code in ``start`` imports: everything the modules
    of ``inside/`` import, even in a function body (they run in the child), and what the other
    modules they reach import when they are imported."""
    seen, todo = set(), [_module(start)]
    while todo:
        module = todo.pop()
        path = _file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo += sorted(_imports(path, lazy=module.startswith("autograder.inside")))
    return seen


def test_the_inside_folder_exists_and_holds_the_child():
    names = {p.name for p in INSIDE.glob("*.py")}
    assert {"child.py", "calling.py", "tracer.py", "remote.py"} <= names


def test_code_inside_the_students_process_never_imports_scoring_references_or_secrets():
    for path in sorted(INSIDE.glob("*.py")):
        bad = reached_from(path) & FORBIDDEN
        assert not bad, f"{path.name} reaches {sorted(bad)}"


def test_the_check_sees_an_import_it_should_refuse(tmp_path):
    """The check itself can fail: a module importing scoring lazily is caught."""
    probe = INSIDE / "_probe_for_test.py"
    probe.write_text("def f():\n    from autograder.scoring import score\n    return score\n")
    try:
        assert "autograder.scoring" in reached_from(probe)
    finally:
        probe.unlink()
