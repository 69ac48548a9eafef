"""The "by hand" policy: a by-hand exercise may not get its derivatives from autograd.

What counts is asking autograd for a derivative (``torch.autograd.grad``, ``.backward()``,
reading ``.grad``, a ``torch.func`` / ``functorch`` transform, ``torch.autograd.functional``,
driving the graph through ``grad_fn``), however disguised. Tensors that require grad, a graph
that nothing differentiates, and the grad modes (``torch.no_grad``, ``inference_mode``,
``set_grad_enabled``), ``detach`` and ``requires_grad_(False)`` are not.

Two layers:

* ``static_violations(sources, function_name)`` reads the student's code cells (AST), starts
  at the graded function and follows every global name it reaches (module-level aliases,
  imports, helper functions and classes, transitively). It flags autograd's derivative APIs
  however they were imported or aliased, and the obfuscation primitives (``__import__``,
  ``importlib``, ``eval``/``exec``, ``getattr`` with a computed name, ``sys.modules`` ...)
  that would let a function reach them without naming them.
* ``AutogradTracer`` records derivatives actually computed during a call: Python frames in
  torch's autograd / functorch code (``torch.autograd.grad``, ``Tensor.backward``,
  ``torch.func.*``, forward-mode AD), the C entry points that start the engine, and backward
  nodes unpacking their saved tensors (which catches a hand-driven ``y.grad_fn(v)``). It
  also notes when the student switches the profiler off. Its cost is per Python-level call,
  never per tensor element.
"""
from __future__ import annotations

import ast
import os
import re
import sys
import threading
from typing import Iterable

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
# names of autograd functions that are suspicious whatever they are bound to, when they come
# from an import we cannot see (for example a star import)
AUTOGRAD_FUNCTION_NAMES = {"jacrev", "jacfwd", "vjp", "jvp", "hessian", "grad_and_value", "linearize"}

# names a star import from an autograd module brings in (only flagged when the student's
# cells do not define the name themselves)
_STAR_NAMES = {"grad", "jacobian", "functional", "vmap", "backward", "forward_ad", "Function"}

OBFUSCATION_CALLS = {
    "__import__": "__import__()",
    "eval": "eval()",
    "exec": "exec()",
    "compile": "compile()",
    "globals": "globals()",
    "vars": "vars()",
    "locals": None,  # honest enough on its own
    "breakpoint": None,
}
OBFUSCATION_MODULES = ("importlib", "sys.modules", "builtins", "operator.attrgetter",
                       "operator.methodcaller", "pkgutil", "runpy", "ctypes", "inspect", "gc")
OBFUSCATION_ATTRIBUTES = {"__dict__", "__builtins__", "__getattribute__", "__globals__",
                          "__code__", "__closure__", "modules", "f_globals", "f_builtins"}

_MAGIC = re.compile(r"^\s*[%!]")


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(source)
    except SyntaxError:
        pass
    # IPython magics and shell escapes are not Python; blank them out and retry
    cleaned = "\n".join("" if _MAGIC.match(l) else l for l in source.splitlines())
    try:
        return ast.parse(cleaned)
    except SyntaxError:
        return None


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


def _banned(dotted: str) -> str | None:
    if any(dotted == a or dotted.startswith(a + ".") for a in ALLOWED_MODULES):
        return None
    for prefix in BANNED_MODULES:
        if dotted == prefix or dotted.startswith(prefix + "."):
            return dotted
    if dotted in BANNED_NAMES:
        return dotted
    return None


def _const_str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Module:
    """Module-level bindings across all cells; a later binding replaces an earlier one."""

    def __init__(self, trees: Iterable[ast.Module]):
        self.defs: dict[str, list[ast.AST]] = {}     # name -> defining nodes (functions, classes, values)
        self.aliases: dict[str, str] = {}             # name -> dotted module path (imports)
        self.attr_stores: dict[str, list[ast.AST]] = {}  # "torch.myjac" -> assigned values
        self.star_imports: list[str] = []
        for tree in trees:
            for stmt in tree.body:
                self._bind(stmt)

    def _bind(self, stmt: ast.stmt) -> None:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defs[stmt.name] = [stmt]
            self.aliases.pop(stmt.name, None)
        elif isinstance(stmt, ast.Import):
            for a in stmt.names:
                if a.asname:
                    self.aliases[a.asname] = a.name
                    self.defs.pop(a.asname, None)
                else:
                    top = a.name.split(".")[0]
                    self.aliases[top] = top
                    self.defs.pop(top, None)
                    # `import torch.autograd` binds `torch` but makes torch.autograd reachable
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
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            value = stmt.value
            if value is None:
                return
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                        if isinstance(stmt, ast.AugAssign):
                            self.defs.setdefault(sub.id, []).append(value)
                        else:
                            self.defs[sub.id] = [value]
                            self.aliases.pop(sub.id, None)
                    elif isinstance(sub, ast.Attribute):
                        d = _dotted(sub)
                        if d:
                            self.attr_stores.setdefault(".".join(d), []).append(value)
                    elif isinstance(sub, ast.Subscript):
                        base = _dotted(sub.value)
                        if base:  # globals()["x"] = ..., namespace["x"] = ...
                            self.attr_stores.setdefault(".".join(base) + "[]", []).append(value)
        elif isinstance(stmt, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for sub in getattr(stmt, field, []) or []:
                    if isinstance(sub, ast.ExceptHandler):
                        for s in sub.body:
                            self._bind(s)
                    else:
                        self._bind(sub)


def _local_names(fn: ast.AST) -> set[str]:
    """Names bound inside a function (parameters, assignments, loop targets, local imports)."""
    names: set[str] = set()
    if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = fn.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]:
            if arg is not None:
                names.add(arg.arg)
    body = fn.body if isinstance(fn.body, list) else [fn.body]
    declared_global: set[str] = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Global):
                declared_global.update(node.names)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for al in node.names:
                    names.add((al.asname or al.name).split(".")[0])
    return names - declared_global


class _Checker:
    def __init__(self, module: _Module):
        self.m = module
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
            if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                self.visit_root(d, _local_names(d))
            elif isinstance(d, ast.ClassDef):
                self.visit_root(d, set())
            else:
                self.visit_root(d, set())
        if name in self.m.aliases:
            self.check_dotted(self.m.aliases[name], via=name)
        elif name not in self.m.defs and self.m.star_imports:
            banned_star = [mod for mod in self.m.star_imports if _banned(mod)]
            if banned_star and (name in AUTOGRAD_FUNCTION_NAMES or name in _STAR_NAMES):
                self.flag(f"`{name}` (from `from {banned_star[-1]} import *`)")

    def check_dotted(self, dotted: str, via: str | None = None) -> None:
        hit = _banned(dotted)
        if hit:
            self.flag(f"`{hit}`" + (f" (as `{via}`)" if via and via != dotted.split('.')[-1] and via != dotted else ""))
            return
        for mod in OBFUSCATION_MODULES:
            if dotted == mod or dotted.startswith(mod + "."):
                self.flag(f"`{dotted}` (dynamic imports or module lookups can hide autograd)")
                return
        # something stored onto a module attribute at top level, e.g. torch.myjac = torch.func.jacrev
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
        for node in ast.walk(root):
            if node is not root and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                # nested functions: their own locals shadow globals, but they are scanned
                # together with the enclosing function (a closure is part of its code)
                local = local | _local_names(node)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                if node.id in local:
                    continue
                if node.id in OBFUSCATION_CALLS and OBFUSCATION_CALLS[node.id] and node.id not in self.m.defs:
                    self.flag(f"`{OBFUSCATION_CALLS[node.id]}` (running code from strings can hide autograd)")
                elif node.id == "__builtins__":
                    self.flag("`__builtins__`")
                self.follow_name(node.id)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Attribute):
                    inner.add(id(node.value))
                if node.attr in BANNED_ATTRIBUTES:
                    self.flag(f"`{BANNED_ATTRIBUTES[node.attr]}`")
                elif node.attr in OBFUSCATION_ATTRIBUTES:
                    self.flag(f"`.{node.attr}` (introspection can hide autograd)")
                elif node.attr.endswith("_backward"):
                    self.flag(f"`.{node.attr}` (a backward kernel of autograd)")
                parts = _dotted(node)
                if parts and isinstance(node.ctx, ast.Load) and id(node) not in inner:
                    dotted = self.resolve(parts, local)
                    if dotted:
                        self.check_dotted(dotted)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                if isinstance(node, ast.ImportFrom):  # judged by what it imports: grad modes are fine
                    mod = node.module or ""
                    names = [f"{mod}.{a.name}" for a in node.names]
                else:
                    names = [a.name for a in node.names]
                for n in names:
                    self.check_dotted(n)
            elif isinstance(node, ast.Call):
                self.scan_call(node, local)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                low = node.value.lower()
                if any(w in low for w in ("autograd", "functorch", "torch.func", "jacrev", "jacfwd")) \
                        and _IDENTIFIER_LIKE.match(node.value.strip()):
                    self.flag(f"the string {node.value!r}")

    def scan_call(self, call: ast.Call, local: set[str]) -> None:
        func = call.func
        name = func.id if isinstance(func, ast.Name) and func.id not in local else None
        if name in ("getattr", "setattr", "hasattr", "delattr") and name not in self.m.defs:
            if len(call.args) >= 2:
                attr = _const_str(call.args[1])
                if attr is None:
                    self.flag(f"`{name}()` with a computed attribute name")
                else:
                    base = _dotted(call.args[0])
                    target = None
                    if base:
                        resolved = self.resolve(base, local)
                        target = f"{resolved}.{attr}" if resolved else None
                    if attr in BANNED_ATTRIBUTES:
                        self.flag(f"`{BANNED_ATTRIBUTES[attr]}` (via {name})")
                    elif target:
                        self.check_dotted(target)
        elif isinstance(func, ast.Attribute) and func.attr == "setprofile":
            self.flag("`setprofile` (switching off the grader's tracer)")
        elif isinstance(func, ast.Attribute) and func.attr == "settrace":
            self.flag("`settrace`")


# a string that names something ("torch.autograd", "jacrev") rather than a sentence in a
# docstring or a print ("checked against autograd below")
_IDENTIFIER_LIKE = re.compile(r"^[A-Za-z_][\w.]*$")


def static_violations(sources: list[str], function_name: str) -> list[str]:
    """Autograd (or ways to hide it) reachable from ``function_name`` in the student's cells.

    Returns human-readable findings, empty when the function is clean. When the function is
    not defined in ``sources`` the result is empty (the runtime tracer still applies).
    """
    trees = [t for t in (_parse(s) for s in sources) if t is not None]
    module = _Module(trees)
    roots = [d for d in module.defs.get(function_name, [])
             if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
    if not roots:
        roots = module.defs.get(function_name, [])
    checker = _Checker(module)
    for root in roots:
        checker.run(root)
    # decorators are part of the definition
    return checker.found


# --------------------------------------------------------------------------------------
# Runtime tracer

def _torch_dir() -> str:
    import torch
    return os.path.dirname(torch.__file__) + os.sep


_WATCHED_FILES: tuple[str, ...] | None = None
_WATCHED_DIRS: tuple[str, ...] | None = None
_TORCH_DIRS: tuple[str, ...] = ()


def _watched() -> tuple[tuple[str, ...], tuple[str, ...]]:
    global _WATCHED_FILES, _WATCHED_DIRS, _TORCH_DIRS
    if _WATCHED_FILES is None:
        t = _torch_dir()
        _WATCHED_FILES = tuple(os.path.join(t, "autograd", f) for f in (
            "__init__.py", "functional.py", "forward_ad.py", "gradcheck.py", "graph.py"))
        dirs = [os.path.join(t, "_functorch") + os.sep, os.path.join(t, "func") + os.sep]
        try:
            import importlib.util
            spec = importlib.util.find_spec("functorch")
            if spec and spec.origin:
                dirs.append(os.path.dirname(spec.origin) + os.sep)
        except Exception:
            pass
        _WATCHED_DIRS = tuple(dirs)
        _TORCH_DIRS = (t,) + tuple(dirs)
    return _WATCHED_FILES, _WATCHED_DIRS


_C_NAMES = {
    "run_backward": "the autograd engine (backward)",
    "_run_backward": "the autograd engine (backward)",
    "_make_dual": "forward-mode AD (dual tensors)",
    "_unpack_dual": "forward-mode AD (dual tensors)",
    "_enter_dual_level": "forward-mode AD",
    "_grad_increment_nesting": "torch.func transforms",
    "_jvp_increment_nesting": "torch.func transforms",
    "_vmap_increment_nesting": None,
}


_UNPACK_NOTE = "a backward pass (autograd unpacked saved tensors, e.g. calling .grad_fn)"
_TENSOR_PY = os.sep + os.path.join("torch", "_tensor.py")


def _module_of(filename: str) -> str:
    """torch/autograd/functional.py -> torch.autograd.functional"""
    parts = filename.replace(os.sep, "/").split("/")
    for anchor in ("torch", "functorch"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            mod = parts[i:]
            mod[-1] = os.path.splitext(mod[-1])[0]
            if mod[-1] == "__init__":
                mod = mod[:-1]
            return ".".join(mod)
    return os.path.splitext(os.path.basename(filename))[0]


class AutogradTracer:
    """Context manager recording autograd that actually runs inside the ``with`` block.

    ``tracer.calls`` is a tuple of short descriptions (empty when nothing ran). The
    profiler is installed for this thread and for threads started inside the block.
    """

    def __init__(self) -> None:
        self._calls: list[str] = []
        self._prev = None
        self._prev_thread = None
        self._hooks = None

    @property
    def calls(self) -> tuple[str, ...]:
        return tuple(self._calls)

    def _note(self, what: str) -> None:
        if what not in self._calls:
            self._calls.append(what)

    @staticmethod
    def _from_torch(frame) -> bool:
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        return filename.startswith(_TORCH_DIRS)

    @staticmethod
    def _is_watched(filename: str) -> bool:
        return filename in _WATCHED_FILES or filename.startswith(_WATCHED_DIRS)

    def _profile(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            filename = code.co_filename
            if self._is_watched(filename):
                # only an entry point called from outside torch (the student's code), not
                # torch's own internals (printing a tensor calls forward_ad.unpack_dual)
                if not self._from_torch(frame.f_back):
                    self._note(f"{_module_of(filename)}.{code.co_name}")
            elif code.co_name == "backward" and filename.endswith(_TENSOR_PY) \
                    and not self._from_torch(frame.f_back):
                self._note(f"Tensor.{code.co_name}()")
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            if name in _C_NAMES:
                if _C_NAMES[name] and not self._from_torch(frame):
                    self._note(_C_NAMES[name])
            elif name in ("setprofile", "settrace") and frame.f_code not in _OWN_CODES \
                    and getattr(arg, "__module__", "") in ("sys", "threading"):
                self._note(f"{arg.__module__}.{name}() (the student's code changed the grader's tracer)")

    @staticmethod
    def _pack(t):
        return t  # building a graph is allowed; only using it (below) computes a derivative

    def _unpack(self, t):
        self._note(_UNPACK_NOTE)
        return t

    def __enter__(self) -> "AutogradTracer":
        _watched()
        import torch
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, self._unpack)
        self._hooks.__enter__()
        self._prev = sys.getprofile()
        self._prev_thread = threading.getprofile() if hasattr(threading, "getprofile") else None
        threading.setprofile(self._profile)
        sys.setprofile(self._profile)
        return self

    def __exit__(self, *exc) -> bool:
        current = sys.getprofile()
        if len(self._calls) > 1 and _UNPACK_NOTE in self._calls:
            self._calls.remove(_UNPACK_NOTE)  # already explained by the entry point
        sys.setprofile(self._prev)
        threading.setprofile(self._prev_thread)
        if getattr(current, "__self__", None) is not self:
            self._note("the grader's tracer was switched off by the student's code")
        if self._hooks is not None:
            try:
                self._hooks.__exit__(None, None, None)
            except Exception:
                pass
        return False


_OWN_CODES = (AutogradTracer.__enter__.__code__, AutogradTracer.__exit__.__code__)
