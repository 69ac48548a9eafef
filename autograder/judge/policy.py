"""What a student's function may call: an exercise's ``kind`` and its ``forbid`` list.

* **by hand** -- no derivative from autograd: ``torch.autograd.grad``, ``.backward()``,
  reading ``.grad``, a ``torch.func`` / ``functorch`` transform, ``torch.autograd.functional``,
  driving the graph through ``grad_fn``, however disguised. Tensors that require grad, a graph
  that nothing differentiates, the grad modes (``torch.no_grad``, ``inference_mode``,
  ``set_grad_enabled``), ``detach`` and ``requires_grad_(False)`` are not.
* **matrix-free** -- autograd products are allowed (``torch.func.jvp``/``vjp``/``linearize``/
  ``grad``, ``torch.autograd.grad``, ``forward_ad``, ``.backward()``); what builds a whole
  Jacobian or Hessian is not (``jacrev``, ``jacfwd``, ``hessian``,
  ``torch.autograd.functional.jacobian``/``hessian``, ``vmap`` over products,
  ``is_grads_batched``, autograd's private internals).
* **free** -- anything.
* ``forbid`` -- qualified names (``torch.linalg.det``, ``numpy.linalg.slogdet`` ...) that are
  not allowed whatever the kind, each with the reason the student is told.

Two layers, both driven by ``Rules``:

* ``static_violations(sources, function_name, rules=...)`` reads the student's code cells
  (AST, after IPython's own transformations), in two ways:

  - from the graded name: whatever it is bound to (a ``def``, a ``lambda``, an instance of a
    class with ``__call__``, a ``functools.partial``, a bound method, a callable built in
    another cell), following every global name that code reaches (aliases, imports, helpers,
    classes, and every module-level line that puts a value into a name it reaches), and flags
    what the rules do not allow however it was imported or aliased;
  - the whole notebook, every line of every cell: what would let code run where the tracer
    cannot follow it or change the tracer itself (threads and processes, frame and object
    introspection, code built from strings, the grader's own modules, IPython's machinery and
    magics other than a few harmless ones, modules the grader cannot read). Autograd itself
    is fine outside the graded function (checking an answer in a scratch cell).

  A cell that Python cannot compile (``SyntaxError``, ``RecursionError``, ``MemoryError``,
  null bytes ...) is read as absent, as it is in the student's process.
* ``inside/tracer.py``'s ``AutogradTracer(rules=...)`` records, in the student's process, what actually ran during a
  call: Python frames in torch's autograd / functorch code, the C entry points that start the
  engine, backward nodes unpacking their saved tensors (a hand-driven ``y.grad_fn(v)``),
  products run inside ``vmap``, the forbidden functions themselves (by identity, so an
  alias or a ``getattr`` changes nothing), other threads and processes, and the student's
  code reaching for the tracer. Its cost is per Python-level call, never per tensor element.
"""
from __future__ import annotations

import ast
import functools
import importlib.util
import re
import sys
from dataclasses import dataclass
from typing import Iterable

from autograder.protocol.rules import MATERIALISING, Rules, tensor_methods

# --------------------------------------------------------------------------------------
# Names

# dotted prefixes that are autograd, whatever they are called in the student's code
BANNED_MODULES = (
    "torch.autograd",
    "torch.func",
    "torch._functorch",
    "functorch",
    "torch.nn.utils.stateless",
    "torch._C._autograd",
    "torch._C._functorch",
    "torch._C._functions",
    "torch.vmap",  # not autograd by itself, but torch.vmap(grad(...)) is how it is smuggled
)
# grad modes live in torch.autograd but compute no derivative: switching gradients off is fine
ALLOWED_MODULES = (
    "torch.autograd.grad_mode",
    "torch.autograd.no_grad",
    "torch.autograd.enable_grad",
    "torch.autograd.set_grad_enabled",
    "torch.autograd.inference_mode",
)
# exact dotted names (after alias resolution) that compute derivatives
BANNED_NAMES = {"torch.Tensor.backward", "torch.Tensor.grad"}
# attribute names that only exist to get derivatives from autograd (on any object)
BANNED_ATTRIBUTES = {
    "backward": ".backward()",
    "grad": ".grad",
    "grad_fn": ".grad_fn (the autograd graph)",
    "next_functions": ".grad_fn.next_functions (the autograd graph)",
    "_execution_engine": "the autograd engine",
    "run_backward": "the autograd engine",
}
# autograd's private internals: nothing a matrix-free answer needs, everything a disguise does
PRIVATE_AUTOGRAD = ("torch._functorch", "torch._C._functorch", "torch._C._autograd", "torch._C._functions",
                    "torch._vmap_internals")
# names of autograd functions that are suspicious whatever they are bound to, when they come
# from an import we cannot see (for example a star import)
AUTOGRAD_FUNCTION_NAMES = {"jacrev", "jacfwd", "vjp", "jvp", "hessian", "grad_and_value", "linearize"}

# names a star import from an autograd module brings in (only flagged when the student's
# cells do not define the name themselves)
_STAR_NAMES = {"grad", "jacobian", "functional", "vmap", "backward", "forward_ad", "Function"}

# --------------------------------------------------------------------------------------
# What no cell of a notebook with a policed exercise may do, anywhere: each a reason

_ELSEWHERE = "code in another thread or process runs where the grader cannot follow it"
_INTROSPECTION = "introspection can reach and change the grader's own checks"
_STRINGS = "code built from strings or bytes cannot be read by the grader"
_GRADER = "it reaches the grader's own checks"
_UNREADABLE = "the grader can only vouch for code written in the notebook"
_PATCHING = "changing a library changes what the grader's own code in your process does"

# modules (and everything under them), whatever they are imported as
NOTEBOOK_MODULES = {
    "threading": _ELSEWHERE, "_thread": _ELSEWHERE, "concurrent": _ELSEWHERE, "multiprocessing": _ELSEWHERE,
    "torch.multiprocessing": _ELSEWHERE, "subprocess": _ELSEWHERE, "_posixsubprocess": _ELSEWHERE,
    "pty": _ELSEWHERE, "asyncio": _ELSEWHERE,
    "os.fork": _ELSEWHERE, "os.forkpty": _ELSEWHERE, "os.system": _ELSEWHERE, "os.popen": _ELSEWHERE,
    "os.posix_spawn": _ELSEWHERE, "os.posix_spawnp": _ELSEWHERE, "os.register_at_fork": _ELSEWHERE,
    "gc": _INTROSPECTION, "ctypes": _INTROSPECTION, "inspect": _INTROSPECTION, "sys._getframe": _INTROSPECTION,
    "sys._current_frames": _INTROSPECTION, "sys.settrace": _GRADER, "sys.setprofile": _GRADER,
    "sys.gettrace": _GRADER, "sys.getprofile": _GRADER, "sys.monitoring": _GRADER, "sys.modules": _INTROSPECTION,
    "sys.addaudithook": _INTROSPECTION, "traceback": _INTROSPECTION, "builtins": _INTROSPECTION,
    "__main__": _INTROSPECTION, "operator.attrgetter": _INTROSPECTION, "operator.methodcaller": _INTROSPECTION,
    "importlib": _STRINGS, "pkgutil": _STRINGS, "runpy": _STRINGS, "code": _STRINGS, "codeop": _STRINGS,
    "marshal": _STRINGS, "pickle": _STRINGS, "_pickle": _STRINGS, "copyreg": _STRINGS,
    "shelve": _STRINGS, "dill": _STRINGS, "cloudpickle": _STRINGS, "joblib": _STRINGS, "zipimport": _STRINGS,
    "torch.load": _STRINGS, "torch.jit": _STRINGS, "torch.compile": _STRINGS, "torch.package": _STRINGS,
    "torch.library": _STRINGS, "torch.overrides": _INTROSPECTION, "torch.utils": _ELSEWHERE,
    "torch._C": _INTROSPECTION, "torch._dynamo": _STRINGS,
    "IPython": _GRADER, "ipykernel": _GRADER, "autograder": _GRADER,
}
NOTEBOOK_MODULES.update({f"os.{name}": _ELSEWHERE for name in (
    "execv", "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe",
    "spawnv", "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe")})
NOTEBOOK_MODULES.update({name: _ELSEWHERE for name in ("posix", "_interpreters", "_xxsubinterpreters")})
NOTEBOOK_MODULES.update({f"types.{name}": _STRINGS for name in (
    "FunctionType", "LambdaType", "CodeType", "ModuleType", "MethodType", "new_class")})
NOTEBOOK_MODULES.update({name: _INTROSPECTION for name in ("_ctypes", "_testcapi", "_testinternalcapi")})
# ... except the self-check a student may run in a scratch cell, and IPython's display helpers
NOTEBOOK_ALLOWED = ("autograder.check", "IPython.display", "IPython.core.display")
# names that are builtins unless the student's cells define them
NOTEBOOK_BUILTINS = {
    "exec": _STRINGS, "eval": _STRINGS, "compile": _STRINGS, "__import__": _STRINGS, "globals": _INTROSPECTION,
    "vars": _INTROSPECTION, "breakpoint": _INTROSPECTION, "__builtins__": _INTROSPECTION,
    "__loader__": _STRINGS, "__spec__": _STRINGS, "get_ipython": _GRADER,
}
_NOT_CALLED = {"__builtins__", "__loader__", "__spec__"}
# attributes that only introspection reads, on any object
NOTEBOOK_ATTRIBUTES = {
    "__dict__", "__builtins__", "__getattribute__", "__globals__", "__code__", "__closure__", "cell_contents",
    "__subclasses__", "__bases__", "__base__", "__mro__", "__self__", "__func__", "__wrapped__", "__reduce__",
    "__reduce_ex__", "__setstate__", "__init_subclass__", "__class_getitem__", "f_globals",
    "f_builtins", "f_locals", "f_back", "f_code", "f_trace", "tb_frame", "tb_next", "gi_frame", "cr_frame",
    "ag_frame", "gi_code", "__traceback__", "_getframe", "setprofile", "settrace", "getprofile", "gettrace",
}
# IPython magics whose effect is known and harmless; the Python a time magic runs is read too
LINE_MAGICS = {"matplotlib", "precision", "pinfo", "pinfo2", "pdoc", "pdef", "who", "whos", "time", "timeit"}
CELL_MAGICS = {"time", "timeit", "capture", "html", "markdown", "latex", "svg"}
_PYTHON_MAGICS = {"time", "timeit", "capture"}
_MAGIC_OPTIONS = re.compile(r"^\s*((-\w+(\s+[\w.]+)?)\s+)*")

_MAGIC = re.compile(r"^\s*[%!]")


# --------------------------------------------------------------------------------------
# Reading cells

@dataclass(frozen=True)
class Cell:
    """One code cell as the grader reads it: ``number`` (its place among the notebook's code
    cells, what IPython calls ``In [number]``) and its tree, or None when Python cannot compile it."""
    number: int
    tree: ast.Module | None


@functools.lru_cache(maxsize=1)
def _transformer():
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:
        return None
    return TransformerManager()


def _ipython_text(source: str) -> str | None:
    """The Python IPython would compile for a cell (magics become calls), or None without IPython."""
    transformer = _transformer()
    if transformer is None:
        return None
    try:
        return transformer.transform_cell(source)
    except Exception:  # noqa: BLE001 - IPython itself could not read it either
        return None


@functools.lru_cache(maxsize=1024)   # every exercise of a notebook reads the cells before it
def _compiled(source: str) -> tuple[ast.Module | None, str]:
    """(the cell's tree, "") or (None, why Python refuses it). A cell that is Python already
    is what IPython runs (what IPython rewrites -- magics, shell escapes, help, prompts -- is
    never valid Python), so IPython's transformations are asked only for the others."""
    try:
        return ast.parse(source), ""
    except SyntaxError:
        pass     # perhaps IPython's syntax: see below
    except Exception as exc:  # noqa: BLE001 - RecursionError, MemoryError ...: no rewriting helps
        return None, f"{type(exc).__name__}: {exc}"[:300]
    text = _ipython_text(source)
    if text is None:  # IPython magics and shell escapes are not Python: blank them out
        text = "\n".join("" if _MAGIC.match(line) else line for line in source.splitlines())
    try:
        return ast.parse(text), ""
    except Exception as exc:  # noqa: BLE001 - whatever the compiler raises, the cell does not run
        return None, f"{type(exc).__name__}: {exc}"[:300]


def parse_cell(source: str) -> ast.Module | None:
    """The cell's tree, or None for a cell the compiler refuses in any way (a ``SyntaxError``,
    ``RecursionError`` for a 20,000-term sum, ``MemoryError``, ``ValueError`` for null bytes ...):
    such a cell never runs, so it is read as absent."""
    return _compiled(source)[0]


def compile_error(source: str) -> str:
    """Why Python cannot compile this cell ("" when it can)."""
    return _compiled(source)[1]


def read_cells(sources: list[str]) -> list[Cell]:
    """``sources[i]`` is the code cell run as ``In [i + 1]`` ("" for a cell the student does not write)."""
    return [Cell(number, parse_cell(source)) for number, source in enumerate(sources, start=1) if source]


# --------------------------------------------------------------------------------------
# Helpers

def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None when the base is not a plain name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _under(dotted: str, prefixes: Iterable[str]) -> bool:
    return any(dotted == p or dotted.startswith(p + ".") for p in prefixes)


def _banned(dotted: str) -> str | None:
    if _under(dotted, ALLOWED_MODULES):
        return None
    if _under(dotted, BANNED_MODULES) or dotted in BANNED_NAMES:
        return dotted
    return None


def _materialising(dotted: str) -> str | None:
    """Why ``dotted`` is not allowed in a matrix-free exercise, or None."""
    if _under(dotted, PRIVATE_AUTOGRAD):
        return "autograd's private internals"
    last = dotted.rsplit(".", 1)[-1]
    if last in MATERIALISING and _under(dotted, BANNED_MODULES):
        return MATERIALISING[last]
    return None


def _const_str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
# methods whose call, as a statement of its own, puts its arguments into the object: x.append(f)
_STORING = {"append", "extend", "insert", "update", "setdefault", "add", "__setitem__", "appendleft"}


class _Module:
    """Module-level bindings across all cells; a later binding replaces an earlier one, and every
    module-level line that puts a value into a name (``x.append(f)``, ``x[0] = f``,
    ``x.attr = f``, a loop or ``with`` target) adds that value to the name's."""

    def __init__(self, trees: Iterable[ast.Module]):
        self.defs: dict[str, list[ast.AST]] = {}     # name -> defining nodes (functions, classes, values)
        self.aliases: dict[str, str] = {}             # name -> dotted module path (imports)
        self.attr_stores: dict[str, list[ast.AST]] = {}  # "torch.myjac" -> assigned values
        self.star_imports: list[str] = []
        self.modules: set[str] = set()                # names bound by `import x` / `import x as y`
        for tree in trees:
            for stmt in tree.body:
                self._bind(stmt)

    def _define(self, name: str, value: ast.AST, *, replace: bool) -> None:
        if replace:
            self.defs[name] = [value]
            self.aliases.pop(name, None)
        else:
            self.defs.setdefault(name, []).append(value)

    def _store(self, target: ast.AST, value: ast.AST, *, replace: bool) -> None:
        """``target = value`` at module level."""
        if isinstance(target, ast.Name):
            self._define(target.id, value, replace=replace)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:
                self._store(item, value, replace=replace)
        elif isinstance(target, ast.Starred):
            self._store(target.value, value, replace=replace)
        elif isinstance(target, (ast.Attribute, ast.Subscript)):
            base = target.value
            while isinstance(base, (ast.Attribute, ast.Subscript)):
                base = base.value
            if isinstance(base, ast.Name):
                self._define(base.id, value, replace=False)    # the object now holds the value
            d = _dotted(target) if isinstance(target, ast.Attribute) else _dotted(target.value)
            if d:
                key = ".".join(d) + ("" if isinstance(target, ast.Attribute) else "[]")
                self.attr_stores.setdefault(key, []).append(value)

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defs[stmt.name] = [stmt]
            self.aliases.pop(stmt.name, None)
        elif isinstance(stmt, ast.Import):
            for a in stmt.names:
                self.modules.add(a.asname or a.name.split(".")[0])
                if a.asname:
                    self.aliases[a.asname] = a.name
                    self.defs.pop(a.asname, None)
                else:
                    # `import torch.autograd` binds `torch` but makes torch.autograd reachable
                    top = a.name.split(".")[0]
                    self.aliases[top] = top
                    self.defs.pop(top, None)
        elif isinstance(stmt, ast.ImportFrom):
            mod = "." * stmt.level + (stmt.module or "")
            for a in stmt.names:
                if a.name == "*":
                    self.star_imports.append(mod)
                    continue
                name = a.asname or a.name
                self.aliases[name] = f"{mod}.{a.name}"
                self.defs.pop(name, None)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            if stmt.value is None:
                return
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for target in targets:
                self._store(target, stmt.value, replace=not isinstance(stmt, ast.AugAssign))
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
            call = stmt.value
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr in _STORING:
                self._store(ast.Attribute(value=func.value, attr=func.attr, ctx=ast.Store()), call, replace=False)
            elif isinstance(func, ast.Name) and func.id == "setattr" and call.args:
                self._store(ast.Attribute(value=call.args[0], attr="?", ctx=ast.Store()), call, replace=False)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._store(stmt.target, stmt.iter, replace=False)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._store(item.optional_vars, item.context_expr, replace=False)
        if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            for node in _own_scope(stmt):
                if isinstance(node, ast.NamedExpr):
                    self._store(node.target, node.value, replace=False)
        if isinstance(stmt, _COMPOUND):
            for field in ("body", "orelse", "finalbody"):
                for sub in getattr(stmt, field, ()):
                    self._bind(sub)
            for clause in (*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())):   # except, case
                for sub in clause.body:
                    self._bind(sub)


# statements whose bodies run at module level too
_COMPOUND = (ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While, ast.Match)


def _local_names(fn: ast.AST) -> set[str]:
    """Names bound inside a function (parameters, assignments, loop targets, local imports);
    nothing for any other node (the value of a module-level name is read in module scope)."""
    if not isinstance(fn, _FUNCTIONS):
        return set()
    names: set[str] = set()
    a = fn.args
    for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
        if arg is not None:
            names.add(arg.arg)
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    declared_global: set[str] = set()
    for stmt in body:
        for node in _own_scope(stmt):
            if isinstance(node, ast.Global):
                declared_global.update(node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for al in node.names:
                    names.add((al.asname or al.name).split(".")[0])
    return names - declared_global


def _own_scope(node: ast.AST):
    """``node`` and what lies below it in the same scope (not inside nested functions or classes)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        if current is not node and isinstance(current, (*_FUNCTIONS, ast.ClassDef)):
            continue
        stack.extend(ast.iter_child_nodes(current))


def _scoped(root: ast.AST, local: set[str]):
    """Every node under ``root`` with the names local to the function it lies in (a nested
    function sees its own names and its enclosing function's); iterative, so a deep tree
    cannot exhaust the grader's stack."""
    stack = [(root, local)]
    while stack:    # children pushed in reverse, so nodes come in source order
        node, names = stack.pop()
        yield node, names
        if node is not root and isinstance(node, _FUNCTIONS):
            inner = names | _local_names(node)
            # decorators and defaults are evaluated in the enclosing scope
            outer = [*getattr(node, "decorator_list", []), *node.args.defaults,
                     *[d for d in node.args.kw_defaults if d is not None]]
            body = node.body if isinstance(node.body, list) else [node.body]
            stack.extend(reversed([(child, names) for child in outer] + [(child, inner) for child in body]))
            continue
        stack.extend(reversed([(child, names) for child in ast.iter_child_nodes(node)]))


# --------------------------------------------------------------------------------------
# From the graded name: what the rules do not allow, reachable from it

class _Checker:
    def __init__(self, module: _Module, rules: Rules):
        self.m = module
        self.rules = rules
        self.forbid = dict(rules.forbid)
        self.methods = tensor_methods(rules.forbid)
        self.found: list[str] = []
        self.seen: set[int] = set()
        self.queue: list[tuple[ast.AST, set[str]]] = []

    def flag(self, msg: str) -> None:
        if msg not in self.found:
            self.found.append(msg)

    def resolve(self, parts: list[str], local: set[str]) -> str | None:
        """Dotted path of a name chain, through module-level import aliases."""
        head = parts[0]
        if head in local:
            return None
        if head in self.m.aliases:
            return ".".join([self.m.aliases[head]] + parts[1:])
        if head in self.m.defs:
            return None
        # not bound in the cells we could read (e.g. imported in a cell that did not parse):
        # take the name at face value, so `torch.autograd...` is still recognised
        return ".".join(parts)

    def visit_root(self, node: ast.AST, local: set[str]) -> None:
        if id(node) in self.seen:
            return
        self.seen.add(id(node))
        self.queue.append((node, local))

    def follow_name(self, name: str) -> None:
        for d in self.m.defs.get(name, []):
            self.visit_root(d, _local_names(d))
        if name in self.m.aliases:
            self.check_dotted(self.m.aliases[name], via=name)
        elif name not in self.m.defs and self.m.star_imports:
            for mod in reversed(self.m.star_imports):
                hit = self.banned(f"{mod}.{name}")
                if hit and (hit[0] in self.forbid or name in AUTOGRAD_FUNCTION_NAMES or name in _STAR_NAMES):
                    self.flag(f"`{name}` (from `from {mod} import *`)" + (f": {hit[1]}" if hit[1] else ""))
                    break

    def banned(self, dotted: str) -> tuple[str, str] | None:
        """(what, why) when the rules do not allow ``dotted``; ``why`` may be empty."""
        for name, reason in self.rules.forbid:
            if _under(dotted, (name,)):
                return name, reason
        if self.rules.kind == "by hand" and _banned(dotted):
            return dotted, ""
        if self.rules.kind == "matrix-free" and _materialising(dotted):
            return dotted, _materialising(dotted)
        return None

    def check_dotted(self, dotted: str, via: str | None = None) -> None:
        hit = self.banned(dotted)
        if hit:
            what, why = hit
            alias = f" (as `{via}`)" if via and via != dotted.split('.')[-1] and via != dotted else ""
            self.flag(f"`{what}`{alias}" + (f": {why}" if why else ""))
            return
        # something stored onto a module attribute, e.g. torch.myjac = torch.func.jacrev
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):
            key = ".".join(parts[:i])
            for value in self.m.attr_stores.get(key, []):
                self.visit_root(value, set())

    def run(self, root: ast.AST) -> None:
        self.visit_root(root, _local_names(root))
        while self.queue:
            node, local = self.queue.pop()
            self.scan(node, local)

    def scan(self, root: ast.AST, local: set[str]) -> None:
        inner: set[int] = set()
        by_hand = self.rules.kind == "by hand"
        for node, names in _scoped(root, local):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id not in names:
                    self.follow_name(node.id)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Attribute):
                    inner.add(id(node.value))
                if by_hand and node.attr in BANNED_ATTRIBUTES:
                    self.flag(f"`{BANNED_ATTRIBUTES[node.attr]}`")
                elif by_hand and node.attr.endswith("_backward"):
                    self.flag(f"`.{node.attr}` (a backward kernel of autograd)")
                parts = _dotted(node)
                dotted = self.resolve(parts, names) if parts and isinstance(node.ctx, ast.Load) else None
                if dotted and id(node) not in inner:
                    self.check_dotted(dotted)
                elif not dotted and node.attr in self.methods:  # a method of a value, e.g. J.det()
                    name, reason = self.methods[node.attr]
                    self.flag(f"`.{node.attr}()` (what `{name}` does): {reason}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom):  # judged by what it imports: grad modes are fine
                    mod = node.module or ""
                    imported = [f"{mod}.{a.name}" for a in node.names]
                else:
                    imported = [a.name for a in node.names]
                for n in imported:
                    self.check_dotted(n)
            elif isinstance(node, ast.Call):
                self.scan_call(node, names)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                low = node.value.lower()
                if any(w in low for w in _SUSPICIOUS_WORDS.get(self.rules.kind, ())) \
                        and _IDENTIFIER_LIKE.match(node.value.strip()):
                    self.flag(f"the string {node.value!r}")

    def scan_call(self, call: ast.Call, local: set[str]) -> None:
        func = call.func
        if self.rules.kind == "matrix-free" and any(
                k.arg == "is_grads_batched" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in call.keywords):
            self.flag("`is_grads_batched=True`: batched over basis vectors, autograd builds the whole Jacobian")
        name = func.id if isinstance(func, ast.Name) and func.id not in local else None
        if name in ("getattr", "setattr", "hasattr", "delattr") and name not in self.m.defs and len(call.args) >= 2:
            attr = _const_str(call.args[1])
            if attr is None:
                self.flag(f"`{name}()` with a computed attribute name")
                return
            base = _dotted(call.args[0])
            resolved = self.resolve(base, local) if base else None
            if attr in BANNED_ATTRIBUTES and self.rules.kind == "by hand":
                self.flag(f"`{BANNED_ATTRIBUTES[attr]}` (via {name})")
            elif resolved:
                self.check_dotted(f"{resolved}.{attr}")


# a string that names something ("torch.autograd", "jacrev") rather than a sentence in a
# docstring or a print ("checked against autograd below")
_IDENTIFIER_LIKE = re.compile(r"^[A-Za-z_][\w.]*$")
_SUSPICIOUS_WORDS = {"by hand": ("autograd", "functorch", "torch.func", "jacrev", "jacfwd"),
                     "matrix-free": ("functorch", "jacrev", "jacfwd", "hessian", "vmap")}


# --------------------------------------------------------------------------------------
# The whole notebook: what would let code escape the tracer, or change it

def _installed(top: str) -> bool:
    """Whether a top-level module is Python's own or an installed package, as the grader sees it."""
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


class _NotebookScan:
    """Every line of every cell, read for ``NOTEBOOK_*``; findings say where."""

    def __init__(self, module: _Module):
        self.m = module
        self.found: list[str] = []

    def flag(self, what: str, why: str, cell: Cell, node: ast.AST) -> None:
        msg = f"`{what}` (cell {cell.number}, line {getattr(node, 'lineno', '?')}): {why}"
        if not any(f.startswith(f"`{what}` ") for f in self.found):
            self.found.append(msg)

    def dotted(self, dotted: str, cell: Cell, node: ast.AST) -> None:
        if dotted == "autograder" or _under(dotted, NOTEBOOK_ALLOWED):
            return
        parts = dotted.split(".")
        for i in range(len(parts), 0, -1):      # the longest listed prefix decides
            why = NOTEBOOK_MODULES.get(".".join(parts[:i]))
            if why:
                self.flag(dotted, why, cell, node)
                return

    def imported(self, module: str, cell: Cell, node: ast.AST, names: list[str]) -> None:
        if module.startswith("."):
            self.flag(f"from {module} import", f"a module of the submission's own files: {_UNREADABLE}", cell, node)
            return
        for name in names:
            self.dotted(f"{module}.{name}" if name else module, cell, node)
        top = module.split(".")[0]
        if not _installed(top):
            self.flag(f"import {top}", f"a module that is neither Python's nor an installed package: {_UNREADABLE}",
                      cell, node)

    def magic(self, call: ast.Call, cell: Cell, node: ast.AST) -> list[str]:
        """The Python a harmless magic runs (to be read as part of the cell); flags any other."""
        kind = call.func.attr
        name = _const_str(call.args[0]) if call.args else None
        allowed = LINE_MAGICS if kind == "run_line_magic" else CELL_MAGICS
        if name not in allowed:
            self.flag(f"%{'%' if kind == 'run_cell_magic' else ''}{name}", f"{_UNREADABLE}, not what a magic runs",
                      cell, node)
            return []
        if name not in _PYTHON_MAGICS:
            return []
        text = _const_str(call.args[-1]) if kind == "run_cell_magic" else _const_str(call.args[1])
        return [_MAGIC_OPTIONS.sub("", text or "", count=1)]

    def run(self, cell: Cell) -> None:
        trees, own = [cell.tree], set()   # own: the get_ipython() of a magic IPython wrote itself
        while trees:
            tree = trees.pop()
            self.bases = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
            for node, local in _scoped(tree, set()):
                if id(node) in own:
                    continue
                ipython = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Call) and _dotted(node.func.value.func) == ["get_ipython"]
                if ipython and node.func.attr in ("system", "getoutput"):    # `!cmd`, `x = !cmd`
                    self.flag("!", f"a shell command: {_ELSEWHERE}", cell, node)
                    own.add(id(node.func.value.func))
                elif ipython and node.func.attr in ("run_line_magic", "run_cell_magic"):
                    for text in self.magic(node, cell, node):
                        inner = parse_cell(text)
                        if inner is None:
                            self.flag("%time", f"the statement it times could not be read: {_UNREADABLE}", cell, node)
                        else:
                            trees.append(inner)
                    own.add(id(node.func.value.func))
                self.node(node, cell, local)

    def library(self, node: ast.AST) -> str | None:
        """The library path ``node`` names (``torch.Tensor``, through an import alias or a
        module-level name bound to one), or None."""
        parts = _dotted(node)
        if not parts:
            return None
        if parts[0] not in self.m.aliases:
            values = self.m.defs.get(parts[0], [])
            inner = _dotted(values[-1]) if len(values) == 1 else None
            if not inner or inner[0] not in self.m.aliases:
                return None
            parts = inner + parts[1:]
        return ".".join([self.m.aliases[parts[0]]] + parts[1:])

    def patching(self, target: ast.AST, value: ast.AST | None, cell: Cell, node: ast.AST) -> None:
        """``target = value`` (or ``del target``) changing a library: a setting (a constant) is fine."""
        constant = isinstance(value, ast.Constant) or (
            isinstance(value, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) for e in value.elts))
        if isinstance(target, ast.Attribute) and not constant:
            path = self.library(target)
            if path:
                self.flag(f"{path} = ...", _PATCHING, cell, node)

    def node(self, node: ast.AST, cell: Cell, local: set[str]) -> None:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local:
            if node.id in NOTEBOOK_BUILTINS and node.id not in self.m.defs and node.id not in self.m.aliases:
                self.flag(node.id if node.id in _NOT_CALLED else f"{node.id}()", NOTEBOOK_BUILTINS[node.id], cell, node)
            elif node.id in self.m.modules and id(node) not in self.bases:
                self.flag(node.id, f"a module passed around as a value can be changed out of sight: {_PATCHING}",
                          cell, node)
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = list(node.targets if isinstance(node, ast.Assign) else [node.target])
            while targets:
                target = targets.pop()
                if isinstance(target, (ast.Tuple, ast.List)):
                    targets.extend(target.elts)
                else:
                    self.patching(target.value if isinstance(target, ast.Starred) else target, node.value, cell, node)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                self.patching(target, None, cell, node)
        elif isinstance(node, ast.Attribute):
            if node.attr in NOTEBOOK_ATTRIBUTES:
                self.flag(f".{node.attr}", _INTROSPECTION, cell, node)
            parts = _dotted(node)
            if parts and parts[0] in self.m.aliases:
                self.dotted(".".join([self.m.aliases[parts[0]]] + parts[1:]), cell, node)
        elif isinstance(node, ast.Import):
            for a in node.names:
                self.imported(a.name, cell, node, [""])
        elif isinstance(node, ast.ImportFrom):
            self.imported("." * node.level + (node.module or ""), cell, node, [a.name for a in node.names])
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "setattr", "delattr", "hasattr") and node.func.id not in self.m.defs:
            attr = _const_str(node.args[1]) if len(node.args) >= 2 else None
            if attr is None:
                self.flag(f"{node.func.id}()", f"with a computed attribute name, {_INTROSPECTION}", cell, node)
            elif attr in NOTEBOOK_ATTRIBUTES:
                self.flag(f".{attr}", _INTROSPECTION, cell, node)
            else:
                path = self.library(node.args[0])
                if path:
                    self.dotted(f"{path}.{attr}", cell, node)
                    if node.func.id != "getattr" and node.func.id != "hasattr":
                        value = node.args[2] if len(node.args) > 2 else None
                        if not isinstance(value, ast.Constant):
                            self.flag(f"{node.func.id}({path}, {attr!r})", _PATCHING, cell, node)


# --------------------------------------------------------------------------------------

def static_violations(sources: list[str], function_name: str, rules: Rules = Rules(kind="by hand"), *,
                      notebook: bool = True) -> list[str]:
    """What ``rules`` do not allow (or ways to hide it) in the student's cells: reachable from
    ``function_name``, and anywhere in the notebook for what escapes the tracer.

    ``sources[i]`` is the code cell run as ``In [i + 1]`` (findings name cells that way; ""
    for a cell that is not the student's, such as a test cell). ``notebook=False``: the sources
    are a Python module that holds the function, not a notebook the grader runs, so only what
    the function reaches is read. Returns human-readable findings, empty when the code is
    clean. When the name is not bound in any cell the grader can read, only the notebook-wide
    findings apply (the runtime tracer still does).
    """
    if not rules.policed:
        return []
    cells = [c for c in read_cells(sources) if c.tree is not None]
    module = _Module(c.tree for c in cells)
    scan = _NotebookScan(module)
    for cell in cells if notebook else ():
        scan.run(cell)
    checker = _Checker(module, rules)
    for root in module.defs.get(function_name, []):
        checker.run(root)
    if function_name in module.aliases:
        checker.check_dotted(module.aliases[function_name], via=function_name)
    shown = scan.found[:NOTEBOOK_SHOWN]
    if len(scan.found) > NOTEBOOK_SHOWN:
        shown.append(f"... and {len(scan.found) - NOTEBOOK_SHOWN} more lines like these")
    return checker.found + shown


# notebook-wide findings listed for one exercise (the first ones say what to remove)
NOTEBOOK_SHOWN = 5
