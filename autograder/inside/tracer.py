"""The runtime half of the rules: what actually ran during a call of the student's function.

Runs in the student's process (see ``policy`` for what each kind allows, and the static half).
Everything the tracer consults or records lives in the closures ``start`` makes, bound when
this module is imported (in the zygote, before any student code): replacing a name in this
module, in ``protocol.rules`` or in torch afterwards changes nothing it sees, and there is no
class whose methods a student could rewrite. ``AutogradTracer`` is a context manager around
``start`` for the self-check and the tests; the grader's calls use ``start`` itself.
"""
from __future__ import annotations

import _thread
import gc
import inspect
import os
import sys
import threading
import traceback

import torch
from torch._C._functorch import TransformType
from torch._functorch.pyfunctorch import retrieve_all_functorch_interpreters

from autograder.protocol.rules import MATERIALISING, Rules, tensor_methods

_UNPACK_NOTE = "a backward pass (autograd unpacked saved tensors, e.g. calling .grad_fn)"
_ELSEWHERE = "the grader cannot see what code in another thread or process computes"


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


def _by_identity(pairs) -> dict:
    """{id(function): (function, description)} for the functions that exist here."""
    return {id(f): (f, what) for f, what in pairs if f is not None}


def _make_start():
    """``start``, with everything it uses bound now."""
    torch_dir = os.path.dirname(torch.__file__) + os.sep
    watched_files = frozenset(os.path.join(torch_dir, "autograd", f) for f in (
        "__init__.py", "functional.py", "forward_ad.py", "gradcheck.py", "graph.py"))
    dirs = [os.path.join(torch_dir, "_functorch") + os.sep, os.path.join(torch_dir, "func") + os.sep]
    try:
        import importlib.util
        spec = importlib.util.find_spec("functorch")
        if spec and spec.origin:
            dirs.append(os.path.dirname(spec.origin) + os.sep)
    except Exception:  # noqa: BLE001 - functorch is optional
        pass
    watched_dirs = tuple(dirs)
    torch_dirs = (torch_dir, *watched_dirs)
    import contextlib
    import functools
    glue = frozenset((contextlib.__file__, functools.__file__))    # the decorators between torch and torch
    tensor_py = os.sep + os.path.join("torch", "_tensor.py")
    own_dir = os.path.dirname(os.path.abspath(__file__)) + os.sep
    library = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, torch_dir, own_dir})
    snooping = frozenset((inspect.__file__, traceback.__file__))
    c_names = {
        "run_backward": "the autograd engine (backward)",
        "_run_backward": "the autograd engine (backward)",
        "_make_dual": "forward-mode AD (dual tensors)",
        "_unpack_dual": "forward-mode AD (dual tensors)",
        "_enter_dual_level": "forward-mode AD",
        "_grad_increment_nesting": "torch.func transforms",
        "_jvp_increment_nesting": "torch.func transforms",
        "_vmap_increment_nesting": None,
    }
    materialising = dict(MATERIALISING)
    tensor_type, vmap_key, levels = torch.Tensor, TransformType.Vmap, retrieve_all_functorch_interpreters
    push_hooks = torch._C._autograd._push_saved_tensors_default_hooks
    pop_hooks = torch._C._autograd._pop_saved_tensors_default_hooks
    getprofile, setprofile = sys.getprofile, sys.setprofile
    thread_getprofile, thread_setprofile = getattr(threading, "getprofile", None), threading.setprofile
    current_frames, get_ident, getframe = sys._current_frames, _thread.get_ident, sys._getframe
    waitid, p_all, no_wait = getattr(os, "waitid", None), getattr(os, "P_ALL", 0), \
        getattr(os, "WEXITED", 0) | getattr(os, "WNOHANG", 0) | getattr(os, "WNOWAIT", 0)
    module_of, unpack_note, elsewhere = _module_of, _UNPACK_NOTE, _ELSEWHERE
    methods_for, targets_for = tensor_methods, _forbidden_targets
    note_list, tuple_of, isinstance_, id_ = list, tuple, isinstance, id
    # what the student's code may not call while the tracer runs: it would look for the tracer,
    # switch it off, or compute somewhere the tracer cannot follow
    reaching = _by_identity([
        (sys.setprofile, "sys.setprofile() (the student's code changed the grader's tracer)"),
        (sys.settrace, "sys.settrace() (the student's code changed the grader's tracer)"),
        (sys.getprofile, "sys.getprofile() (the student's code looked for the grader's tracer)"),
        (sys.gettrace, "sys.gettrace() (the student's code looked for the grader's tracer)"),
        (sys._current_frames, "sys._current_frames() (the student's code looked into the grader's frames)"),
        (gc.get_objects, "gc.get_objects() (the student's code searched the process's objects)"),
        (gc.get_referrers, "gc.get_referrers() (the student's code searched the process's objects)"),
        (gc.get_referents, "gc.get_referents() (the student's code searched the process's objects)"),
        (_thread.start_new_thread, f"a thread was started during the call: {_ELSEWHERE}"),
        (getattr(_thread, "start_joinable_thread", None), f"a thread was started during the call: {_ELSEWHERE}"),
        *[(getattr(os, name, None), f"a process was started during the call (os.{name}): {_ELSEWHERE}")
          for name in ("fork", "forkpty", "system", "posix_spawn", "posix_spawnp", "execv", "execve")],
    ])
    try:
        import _posixsubprocess
        reaching.update(_by_identity([(_posixsubprocess.fork_exec,
                                       f"a process was started during the call (subprocess): {_ELSEWHERE}")]))
    except ImportError:
        pass

    def from_torch(frame) -> bool:
        while frame is not None and frame.f_code.co_filename in glue:
            frame = frame.f_back   # torch's context managers enter through contextlib
        return frame is not None and frame.f_code.co_filename.startswith(torch_dirs)

    def students(frame) -> bool:
        """Whether ``frame``'s code is the student's, seen through ``inspect`` and ``traceback``."""
        while frame is not None and frame.f_code.co_filename in snooping:
            frame = frame.f_back
        return frame is not None and not frame.f_code.co_filename.startswith(library)

    def start(rules: Rules, *, alone: bool = False):
        """Start recording what ``rules`` do not allow, in this thread and in threads started
        from now on; returns ``stop()``, which ends it and returns the notes (a tuple of short
        descriptions; a forbidden call is described by its name in ``rules.forbid``).

        ``alone``: this process should have no other thread and no child process (the
        sandbox child); any there is noted, since the tracer cannot follow it."""
        calls = note_list()
        kind, forbid = rules.kind, tuple_of(rules.forbid)
        codes, builtins = targets_for(forbid)
        methods = methods_for(forbid)
        state = {"stopping": False}

        def note(what: str) -> None:
            if what not in calls:
                calls.append(what)

        def inside_vmap() -> bool:
            return any(level.key() == vmap_key for level in levels())

        def autograd(frame, what: str, name: str = "") -> None:
            if kind == "by hand":
                note(what)
            elif kind == "matrix-free":
                if name in materialising and name != "vmap":
                    note(f"{what}: {materialising[name]}")
                elif name == "grad" and frame.f_locals.get("is_grads_batched"):
                    note(f"{what} with is_grads_batched=True: batched over basis vectors, it builds the "
                         "whole Jacobian")
                elif inside_vmap():
                    note(f"autograd products inside torch.vmap: {materialising['vmap']}")

        def profile(frame, event, arg):
            if state["stopping"]:
                return
            if event == "call":
                code = frame.f_code
                if code in codes:
                    note(codes[code])
                filename = code.co_filename
                if filename in watched_files or filename.startswith(watched_dirs):
                    # only an entry point called from outside torch (the student's code), not
                    # torch's own internals (printing a tensor calls forward_ad.unpack_dual), nor
                    # a module's code running on its first import
                    if code.co_name != "<module>" and not from_torch(frame.f_back):
                        autograd(frame, f"{module_of(filename)}.{code.co_name}", code.co_name)
                elif code.co_name == "backward" and filename.endswith(tensor_py) and not from_torch(frame.f_back):
                    autograd(frame, "Tensor.backward()")
            elif event == "c_call":
                key = id_(arg)
                if key in builtins and builtins[key][0] is arg:
                    note(builtins[key][1])
                elif key in reaching and reaching[key][0] is arg:
                    note(reaching[key][1])
                elif arg is getframe and students(frame):
                    note("sys._getframe() (the student's code looked into the grader's frames)")
                else:
                    name = getattr(arg, "__name__", "")
                    if name in methods and isinstance_(getattr(arg, "__self__", None), tensor_type):
                        note(methods[name][0])
                    elif name in c_names and not from_torch(frame):
                        if c_names[name]:
                            autograd(frame, c_names[name])
                        elif kind == "matrix-free":
                            note(f"{name}, vmap's internals: {materialising['vmap']}")

        def unpack(t):
            note(unpack_note)
            return t

        def stop() -> tuple[str, ...]:
            if state["stopping"]:
                note("the grader's tracer was stopped by the student's code")
                return tuple_of(calls)
            state["stopping"] = True
            current, current_thread = getprofile(), thread_getprofile() if thread_getprofile else profile
            setprofile(previous)
            thread_setprofile(previous_thread)
            if by_hand:
                try:
                    pop_hooks()
                except Exception:  # noqa: BLE001 - the student's code popped them: noted below
                    note("the grader's autograd hooks were removed by the student's code")
            if current is not profile or current_thread is not profile:
                note("the grader's tracer was switched off by the student's code")
            if alone:
                others(during=True)
            if len(calls) > 1 and unpack_note in calls:
                calls.remove(unpack_note)  # already explained by the entry point
            return tuple_of(calls)

        def others(during: bool) -> None:
            when = "while your function ran" if during else "when your function was called"
            if len(current_frames()) > 1:
                note(f"another thread of the notebook was running {when}: {elsewhere}")
            if waitid is not None:
                try:
                    waitid(p_all, 0, no_wait)     # reaps nothing (WNOWAIT); fails without children
                    note(f"the notebook had started another process {when}: {elsewhere}")
                except OSError:
                    pass

        if alone:
            others(during=False)
        by_hand = kind == "by hand"
        previous, previous_thread = getprofile(), thread_getprofile() if thread_getprofile else None
        if by_hand:
            # functorch's transforms refuse to run under these hooks: by hand only
            push_hooks(lambda t: t, unpack)   # building a graph is allowed; only using it is noted
        thread_setprofile(profile)
        setprofile(profile)
        return stop

    return start


start = _make_start()


class AutogradTracer:
    """Context manager recording what ``rules`` do not allow that actually runs inside the
    ``with`` block (``tracer.calls`` afterwards; see ``start``)."""

    def __init__(self, rules: Rules = Rules(kind="by hand"), *, alone: bool = False) -> None:
        self.rules, self.alone = rules, alone
        self._stop, self._calls = None, ()

    @property
    def calls(self) -> tuple[str, ...]:
        return self._calls

    def __enter__(self) -> "AutogradTracer":
        self._stop = start(self.rules, alone=self.alone)
        return self

    def __exit__(self, *exc) -> bool:
        self._calls = self._stop()
        return False
