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
  (AST), starts at the graded function and follows every global name it reaches (module-level
  aliases, imports, helper functions and classes, transitively). It flags what the rules do
  not allow however it was imported or aliased, and the obfuscation primitives
  (``__import__``, ``importlib``, ``eval``/``exec``, ``getattr`` with a computed name,
  ``sys.modules`` ...) that would let a function reach it without naming it.
* ``inside/tracer.py``'s ``AutogradTracer(rules=...)`` records, in the student's process, what actually ran during a
  call: Python frames in torch's autograd / functorch code, the C entry points that start the
  engine, backward nodes unpacking their saved tensors (a hand-driven ``y.grad_fn(v)``),
  products run inside ``vmap``, and the forbidden functions themselves (by identity, so an
  alias or a ``getattr`` changes nothing). It also notes when the student switches the
  profiler off. Its cost is per Python-level call, never per tensor element.
"""
from __future__ import annotations

import ast
import re
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
            if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                self.visit_root(d, _local_names(d))
            elif isinstance(d, ast.ClassDef):
                self.visit_root(d, set())
            else:
                self.visit_root(d, set())
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
        for mod in OBFUSCATION_MODULES:
            if dotted == mod or dotted.startswith(mod + "."):
                self.flag(f"`{dotted}` (dynamic imports or module lookups can hide {self.hidden()})")
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
                    self.flag(f"`{OBFUSCATION_CALLS[node.id]}` (running code from strings can hide {self.hidden()})")
                elif node.id == "__builtins__":
                    self.flag("`__builtins__`")
                self.follow_name(node.id)
            elif isinstance(node, ast.Attribute):
                if isinstance(node.value, ast.Attribute):
                    inner.add(id(node.value))
                by_hand = self.rules.kind == "by hand"
                if by_hand and node.attr in BANNED_ATTRIBUTES:
                    self.flag(f"`{BANNED_ATTRIBUTES[node.attr]}`")
                elif node.attr in OBFUSCATION_ATTRIBUTES:
                    self.flag(f"`.{node.attr}` (introspection can hide {self.hidden()})")
                elif by_hand and node.attr.endswith("_backward"):
                    self.flag(f"`.{node.attr}` (a backward kernel of autograd)")
                parts = _dotted(node)
                dotted = self.resolve(parts, local) if parts and isinstance(node.ctx, ast.Load) else None
                if dotted and id(node) not in inner:
                    self.check_dotted(dotted)
                elif not dotted and node.attr in self.methods:  # a method of a value, e.g. J.det()
                    name, reason = self.methods[node.attr]
                    self.flag(f"`.{node.attr}()` (what `{name}` does): {reason}")
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
                if any(w in low for w in _SUSPICIOUS_WORDS.get(self.rules.kind, ())) \
                        and _IDENTIFIER_LIKE.match(node.value.strip()):
                    self.flag(f"the string {node.value!r}")

    def hidden(self) -> str:
        """What an obfuscation could hide, in the rules' terms."""
        return {"by hand": "autograd", "matrix-free": "a Jacobian built whole"}.get(self.rules.kind, "a forbidden call")

    def scan_call(self, call: ast.Call, local: set[str]) -> None:
        func = call.func
        if self.rules.kind == "matrix-free" and any(
                k.arg == "is_grads_batched" and not (isinstance(k.value, ast.Constant) and k.value.value is False)
                for k in call.keywords):
            self.flag("`is_grads_batched=True`: batched over basis vectors, autograd builds the whole Jacobian")
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
                    if attr in BANNED_ATTRIBUTES and self.rules.kind == "by hand":
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
_SUSPICIOUS_WORDS = {"by hand": ("autograd", "functorch", "torch.func", "jacrev", "jacfwd"),
                     "matrix-free": ("functorch", "jacrev", "jacfwd", "hessian", "vmap")}


def static_violations(sources: list[str], function_name: str, rules: Rules = Rules(kind="by hand")) -> list[str]:
    """What ``rules`` do not allow (or ways to hide it) reachable from ``function_name`` in the
    student's cells.

    Returns human-readable findings, empty when the function is clean. When the function is
    not defined in ``sources`` the result is empty (the runtime tracer still applies).
    """
    if not rules.policed:
        return []
    trees = [t for t in (_parse(s) for s in sources) if t is not None]
    module = _Module(trees)
    roots = [d for d in module.defs.get(function_name, [])
             if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
    if not roots:
        roots = module.defs.get(function_name, [])
    checker = _Checker(module, rules)
    for root in roots:
        checker.run(root)
    # decorators are part of the definition
    return checker.found
