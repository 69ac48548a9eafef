"""The runtime half of the rules: what actually ran during a call of the student's function.

Runs in the student's process (see ``policy`` for what each kind allows, and the static half).
"""
from __future__ import annotations

import os
import sys
import threading

from autograder.protocol.rules import MATERIALISING, Rules, tensor_methods

def _torch_dir() -> str:
    import torch
    return os.path.dirname(torch.__file__) + os.sep


_WATCHED_FILES: tuple[str, ...] | None = None
_WATCHED_DIRS: tuple[str, ...] | None = None
_TORCH_DIRS: tuple[str, ...] = ()
_GLUE: tuple[str, ...] = ()       # the standard library's decorators, between torch and torch


def _watched() -> tuple[tuple[str, ...], tuple[str, ...]]:
    global _WATCHED_FILES, _WATCHED_DIRS, _TORCH_DIRS, _GLUE
    if _WATCHED_FILES is None:
        import contextlib
        import functools
        t = _torch_dir()
        _GLUE = (contextlib.__file__, functools.__file__)
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


def _resolve(name: str):
    """The object a qualified name stands for (``numpy.linalg.det``), or None."""
    import importlib
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def _forbidden_targets(forbid: tuple[tuple[str, str], ...]) -> tuple[dict, dict]:
    """What the tracer recognises a forbidden call by: the code of a Python function (numpy's
    dispatchers unwrapped) and C functions by identity. -> ({code: name}, {id: (function, name)})."""
    import inspect
    codes, builtins = {}, {}
    for name, _ in forbid:
        obj = _resolve(name)
        if obj is None:
            continue
        code = getattr(inspect.unwrap(getattr(obj, "_implementation", obj)), "__code__", None)
        if code is not None:
            codes[code] = name
        else:
            builtins[id(obj)] = (obj, name)
    return codes, builtins


class AutogradTracer:
    """Context manager recording what ``rules`` do not allow that actually runs inside the
    ``with`` block.

    ``tracer.calls`` is a tuple of short descriptions (empty when nothing ran); a forbidden
    call is described by its name in ``rules.forbid``. The profiler is installed for this
    thread and for threads started inside the block.
    """

    def __init__(self, rules: Rules = Rules(kind="by hand")) -> None:
        self.rules = rules
        self._calls: list[str] = []
        self._prev = None
        self._prev_thread = None
        self._hooks = None
        self._codes: dict = {}
        self._builtins: dict = {}
        self._methods: dict = {}
        self._tensor = None
        self._levels = self._vmap = None     # functorch's stack of transforms, and vmap's key

    @property
    def calls(self) -> tuple[str, ...]:
        return tuple(self._calls)

    def _note(self, what: str) -> None:
        if what not in self._calls:
            self._calls.append(what)

    @staticmethod
    def _from_torch(frame) -> bool:
        while frame is not None and frame.f_code.co_filename in _GLUE:
            frame = frame.f_back   # torch's context managers enter through contextlib
        if frame is None:
            return False
        filename = frame.f_code.co_filename
        return filename.startswith(_TORCH_DIRS)

    @staticmethod
    def _is_watched(filename: str) -> bool:
        return filename in _WATCHED_FILES or filename.startswith(_WATCHED_DIRS)

    def _inside_vmap(self) -> bool:
        return any(level.key() == self._vmap for level in self._levels())

    def _autograd(self, frame, what: str, name: str = "") -> None:
        """Autograd entered from the student's code: ``what`` describes it, ``name`` is the
        function's own name when it is a Python entry point."""
        if self.rules.kind == "by hand":
            self._note(what)
        elif self.rules.kind == "matrix-free":
            if name in MATERIALISING and name != "vmap":
                self._note(f"{what}: {MATERIALISING[name]}")
            elif name == "grad" and frame.f_locals.get("is_grads_batched"):
                self._note(f"{what} with is_grads_batched=True: batched over basis vectors, it builds the "
                           "whole Jacobian")
            elif self._inside_vmap():
                self._note(f"autograd products inside torch.vmap: {MATERIALISING['vmap']}")

    def _profile(self, frame, event, arg):
        if event == "call":
            code = frame.f_code
            if code in self._codes:
                self._note(self._codes[code])
            filename = code.co_filename
            if self._is_watched(filename):
                # only an entry point called from outside torch (the student's code), not
                # torch's own internals (printing a tensor calls forward_ad.unpack_dual), nor
                # a module's code running on its first import
                if code.co_name != "<module>" and not self._from_torch(frame.f_back):
                    self._autograd(frame, f"{_module_of(filename)}.{code.co_name}", code.co_name)
            elif code.co_name == "backward" and filename.endswith(_TENSOR_PY) \
                    and not self._from_torch(frame.f_back):
                self._autograd(frame, f"Tensor.{code.co_name}()")
        elif event == "c_call":
            name = getattr(arg, "__name__", "")
            if id(arg) in self._builtins and self._builtins[id(arg)][0] is arg:
                self._note(self._builtins[id(arg)][1])
            elif name in self._methods and isinstance(getattr(arg, "__self__", None), self._tensor):
                self._note(self._methods[name][0])
            elif name in _C_NAMES:
                if not self._from_torch(frame):
                    if _C_NAMES[name]:
                        self._autograd(frame, _C_NAMES[name])
                    elif self.rules.kind == "matrix-free":
                        self._note(f"{name}, vmap's internals: {MATERIALISING['vmap']}")
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
        from torch._C._functorch import TransformType
        from torch._functorch.pyfunctorch import retrieve_all_functorch_interpreters
        self._tensor = torch.Tensor
        self._levels, self._vmap = retrieve_all_functorch_interpreters, TransformType.Vmap
        self._codes, self._builtins = _forbidden_targets(self.rules.forbid)
        self._methods = tensor_methods(self.rules.forbid)
        if self.rules.kind == "by hand":
            # functorch's transforms refuse to run under these hooks: by hand only
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
