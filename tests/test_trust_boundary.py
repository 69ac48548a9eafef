"""The folders show the trust boundary: what runs inside the student's process lives in
`autograder/inside/` and imports only `autograder.inside.*` and `autograder.protocol.*` (plain
data both sides share), directly or through another module of the package. Scoring,
references, the course's declarations and secret are all elsewhere, so they are out of reach."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "autograder"
INSIDE = PACKAGE / "inside"
# The package face runs first on any import; it loads the judge only when `check` is used.
ALLOWED = ("autograder.inside", "autograder.protocol")


def allowed(module: str) -> bool:
    return module == "autograder" or any(module == p or module.startswith(p + ".") for p in ALLOWED)


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
    of ``inside/`` and ``protocol/`` import, even in a function body (they run in the child),
    and what the other modules they reach import when they are imported."""
    seen, todo = set(), [_module(start)]
    while todo:
        module = todo.pop()
        path = _file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        todo += sorted(_imports(path, lazy=allowed(module) and module != "autograder"))
    return seen


def test_the_inside_folder_exists_and_holds_the_child():
    names = {p.name for p in INSIDE.glob("*.py")}
    assert {"child.py", "calling.py", "tracer.py", "remote.py"} <= names


def test_code_inside_the_students_process_imports_only_inside_and_protocol():
    for path in sorted(INSIDE.glob("*.py")) + sorted((PACKAGE / "protocol").glob("*.py")):
        bad = {m for m in reached_from(path) if not allowed(m)}
        assert not bad, f"{path.relative_to(PACKAGE)} reaches {sorted(bad)}"


def test_the_check_sees_an_import_it_should_refuse():
    """The check itself can fail: a module importing scoring lazily, or the sandbox (which
    reaches beyond the boundary), is caught."""
    probe = INSIDE / "_probe_for_test.py"
    probe.write_text("def f():\n    from autograder.judge.scoring import score\n    return score\n\n"
                     "def g():\n    from autograder.sandbox import session\n")
    try:
        reached = reached_from(probe)
        assert "autograder.judge.scoring" in reached and "autograder.sandbox.session" in reached
        assert not all(allowed(m) for m in reached)
    finally:
        probe.unlink()


def test_the_child_really_imports_nothing_beyond_the_boundary():
    """What the static reading says, checked in a real interpreter: importing the child and
    unpickling a shared tensor load no module outside inside/ and protocol/."""
    import subprocess
    import sys
    code = ("import sys, autograder.inside.child, autograder.inside.calling, autograder.inside.shared, "
            "autograder.inside.remote\n"
            "print('\\n'.join(m for m in sys.modules if m.startswith('autograder')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert loaded and all(allowed(m) for m in loaded), sorted(m for m in loaded if not allowed(m))
