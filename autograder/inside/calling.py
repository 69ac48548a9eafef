"""Call a student's function on one probe and describe what happened as plain data.

This runs on the untrusted side too (inside the sandbox child), so ``call_student`` never
lets anything but plain data out: the return value is converted here, exceptions become a
``StudentError``, warnings and stderr output become a string. When the exercise's rules police
anything, all of it -- copying the probe, the call, reading the answer, checking a model
argument, describing an exception -- happens while the tracer runs, and the answer is read by
exact type into fresh memory: no student code runs, and no student method is called, once the
tracer has stopped.
"""
from __future__ import annotations

import contextlib
import copy
import io
import linecache
import os
import reprlib
import sys
import tempfile
import time
import traceback
import warnings
from typing import Any

import numpy as np
import torch

from autograder.inside import tracer
from autograder.protocol.wire import MAX_BUFFER_BYTES
from autograder.protocol.values import ARGUMENT_CHANGED, Outcome, StudentError, Unconvertible

# The most numbers one answer may ever hold: one float64 array on the wire. The grader sends a
# tighter bound with each call, from the expected answer (``grading.answer_bound``). Checked
# from the shape, before anything is copied: a 10**12-element view of one number costs 8 bytes
# until then.
MAX_ANSWER_NUMBERS = MAX_BUFFER_BYTES // 8

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    dirs = [_PKG_DIR, os.path.dirname(np.__file__) + os.sep]
    try:
        import torch
        dirs.append(os.path.dirname(torch.__file__) + os.sep)
    except Exception:
        pass
    for name in ("contextlib", "copy", "warnings"):
        mod = sys.modules.get(name)
        if mod is not None and getattr(mod, "__file__", None):
            dirs.append(os.path.abspath(mod.__file__))
    return tuple(dirs)


_LIBS: tuple[str, ...] | None = None


# ----------------------------------------------------------------------------- values

def type_name(value: Any) -> str:
    """A short description of a value's type, for feedback."""
    try:
        import torch
        if isinstance(value, torch.Tensor):
            dt = str(value.dtype).replace("torch.", "")
            extra = ", requires_grad" if value.requires_grad else ""
            return f"torch.Tensor({dt}{extra})"
    except Exception:
        pass
    if isinstance(value, np.ndarray):
        return f"numpy.ndarray({value.dtype})"
    t = type(value)
    mod = t.__module__
    if mod in ("builtins", None):
        return t.__qualname__
    return f"{mod.split('.')[0]}.{t.__qualname__}"


def _short_repr(value: Any) -> str:
    r = reprlib.Repr()
    r.maxstring = 60
    r.maxother = 60
    r.maxlist = r.maxtuple = r.maxdict = 6
    try:
        return r.repr(value)
    except Exception:
        return f"<{type(value).__name__}>"


def _too_large(value, shape: tuple, max_numbers: int) -> Unconvertible | None:
    count = int(np.prod(shape, dtype=object))
    if count <= max_numbers:
        return None
    return Unconvertible(type_name(value), f"{count:,} numbers (shape {tuple(shape)})", too_large=True)


def _tensor_to_array(t, max_numbers: int, fresh: bool) -> Any:
    import torch
    too_large = _too_large(t, tuple(t.shape), max_numbers)
    if too_large:
        return too_large
    if t.is_complex():
        return Unconvertible(type_name(t), "a complex tensor")
    if t.layout != torch.strided:
        t = t.to_dense()
    if t.device.type == "meta":
        return Unconvertible(type_name(t), "a tensor without data (meta device)")
    t = t.detach()
    if t.device.type != "cpu":
        t = t.cpu()
    if t.dtype == torch.bool:
        return Unconvertible(type_name(t), "a tensor of booleans")
    return np.array(t.resolve_neg().to(torch.float64).numpy(), dtype=np.float64, copy=True if fresh else None)


# numpy's own scalar and array types: read as numbers (their methods are numpy's, never a student's)
_NUMPY_INTS = frozenset(t for t in set(np.sctypeDict.values()) if issubclass(t, np.integer))
_NUMPY_FLOATS = frozenset(t for t in set(np.sctypeDict.values()) if issubclass(t, np.floating))
_NUMPY_ARRAYS = frozenset((np.ndarray, np.matrix, np.memmap))


_TENSORS = frozenset((torch.Tensor, torch.nn.Parameter))


def to_plain(value: Any, _depth: int = 0, *, max_numbers: int = MAX_ANSWER_NUMBERS, fresh: bool = True) -> Any:
    """Convert a student's return value to a PlainValue, by its exact type (a subclass of a
    tensor, an array, a list or a number is not read: its methods would be the student's).

    Tensors (any real dtype, with or without requires_grad) and numeric numpy arrays become
    float64 arrays, except 0-d integer ones, which become ints (an index); python/numpy scalars
    become int/float; lists and tuples become tuples of plain values, collapsed to one float64
    array when they are a rectangular nest of numbers that holds at least one float or another
    array (a flat tuple of ints, like a shape, stays a tuple of ints). Anything else is
    ``Unconvertible``, and so is an array or list of more than ``max_numbers`` numbers
    (``too_large``, judged from its shape before it is read). ``fresh=False``: an array may share
    the answer's memory (when nothing of the student's runs before it is sent).
    """
    kind = type(value)
    if value is None or kind is str:
        return value
    if kind is bool or kind is np.bool_:
        return bool(value)
    if kind is int or kind in _NUMPY_INTS:
        return int(value)
    if kind is float or kind in _NUMPY_FLOATS:
        return float(value)
    if kind in _TENSORS:
        if value.ndim == 0 and not (value.dtype.is_floating_point or value.dtype.is_complex
                                    or value.dtype == torch.bool):
            return int(value)     # an index, as a 0-d integer tensor
        return _tensor_to_array(value, max_numbers, fresh)
    if kind is torch.Size:
        return tuple(int(v) for v in value)
    if kind in _NUMPY_ARRAYS:
        if value.ndim == 0 and value.dtype.kind in "iu":
            return int(value)
        too_large = _too_large(value, value.shape, max_numbers)
        if too_large:
            return too_large
        if value.dtype.kind in "fiu":
            return np.array(value, dtype=np.float64, copy=True if fresh else None)
        if value.dtype.kind == "b":
            return Unconvertible(type_name(value), "an array of booleans")
        if value.dtype.kind == "O" and _depth < 4:
            return to_plain(value.tolist(), _depth + 1, max_numbers=max_numbers, fresh=fresh)
        return Unconvertible(type_name(value), _short_repr(value))
    if (kind is list or kind is tuple) and _depth < 8:
        too_large = _too_large(value, (len(value),), max_numbers)
        if too_large:
            return too_large
        items = tuple(to_plain(v, _depth + 1, max_numbers=max_numbers, fresh=fresh) for v in value)
        collapsed = _collapse(items)
        return items if collapsed is None else collapsed
    return Unconvertible(type_name(value), _short_repr(value))


def _collapse(items: tuple) -> np.ndarray | None:
    """A rectangular nest of numbers -> float64 array; None if it is not one (or is ints only)."""
    if not items:
        return None
    flat_ints = all(isinstance(i, int) and not isinstance(i, bool) for i in items)
    if flat_ints:
        return None
    ok = all(
        (isinstance(i, (int, float)) and not isinstance(i, bool)) or isinstance(i, np.ndarray)
        for i in items
    )
    if not ok:
        # nested tuples of ints (a matrix written as ints) are numbers too
        if all(isinstance(i, tuple) for i in items):
            try:
                arrays = [np.asarray(i, dtype=np.float64) for i in items]
            except (TypeError, ValueError):
                return None
            if any(a.dtype != np.float64 for a in arrays):
                return None
            items = tuple(arrays)
        else:
            return None
    shapes = {np.shape(i) for i in items}
    if len(shapes) != 1:
        return None
    try:
        return np.array([np.asarray(i, dtype=np.float64) for i in items], dtype=np.float64)
    except (TypeError, ValueError):
        return None


# ----------------------------------------------------------------------------- copies

def copy_args(value: Any) -> Any:
    """A deep copy of probe arguments, so a function that mutates its inputs changes nothing."""
    try:
        import torch
        if isinstance(value, torch.Tensor):
            return value.detach().clone()
    except Exception:
        pass
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [copy_args(v) for v in value]
    if isinstance(value, tuple):
        return tuple(copy_args(v) for v in value)
    if isinstance(value, dict):
        return {k: copy_args(v) for k, v in value.items()}
    return copy.deepcopy(value)


# ----------------------------------------------------------------------------- modules

def _modules(args: tuple, kwargs: dict) -> list:
    """The ``torch.nn.Module`` arguments of a call."""
    import torch
    return [v for v in (*args, *kwargs.values()) if isinstance(v, torch.nn.Module)]


def _module_state(module) -> dict:
    """What a call may not change: every parameter's and buffer's values, and each parameter's
    ``.grad`` and ``requires_grad``."""
    state = {name: t.detach().clone() for name, t in module.state_dict(keep_vars=True).items()}
    grads = {name: (None if p.grad is None else p.grad.detach().clone(), p.requires_grad)
             for name, p in module.named_parameters()}
    return {"values": state, "grads": grads}


def _module_changed(module, before: dict) -> str | None:
    """How the call changed ``module`` (see ``_module_state``), or None."""
    import torch
    model = f"the model you were given ({type(module).__name__})"
    after = module.state_dict(keep_vars=True)
    for name, old in before["values"].items():
        new = after.get(name)
        if new is None or not torch.equal(new.detach(), old):
            return (f"your function changed {model}: `{name}` no longer holds its values. Compute what "
                    "you need from the model without updating it (no optimizer step, no in-place change)")
    params = dict(module.named_parameters())
    for name, (grad, requires_grad) in before["grads"].items():
        p = params.get(name)
        if p is None or p.requires_grad != requires_grad:
            return (f"your function changed {model}: `{name}.requires_grad` is no longer {requires_grad}. "
                    "Leave the model's parameters as they were")
        if (grad is None) != (p.grad is None) or (grad is not None and not torch.equal(p.grad, grad)):
            return (f"your function changed {model}: it wrote `{name}.grad` (loss.backward() fills the "
                    "parameters' gradients too). Take the gradient with respect to the input only, e.g. "
                    "torch.autograd.grad(loss, x)")
    return None


# ----------------------------------------------------------------------------- errors

def _is_library(filename: str) -> bool:
    global _LIBS
    if _LIBS is None:
        _LIBS = _library_dirs()
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    return path.startswith(_LIBS) or path in _LIBS


def locate_error(exc: BaseException) -> StudentError:
    """The exception with the innermost traceback line that lies in the student's own code."""
    lineno, line, function = None, "", ""
    tb = exc.__traceback__
    for frame, ln in traceback.walk_tb(tb):
        filename = frame.f_code.co_filename
        if _is_library(filename):
            continue
        lineno, function = ln, frame.f_code.co_name
        line = linecache.getline(filename, ln, frame.f_globals).strip()
    message = str(exc)
    if len(message) > 300:
        message = message[:300] + " ..."
    return StudentError(type(exc).__name__, message, lineno, line, function)


@contextlib.contextmanager
def _capture_fd2():
    """Redirect file descriptor 2 to a temporary file (C-level writes to stderr)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield lambda: ""
        return
    tmp = tempfile.TemporaryFile(mode="w+b")
    text = {"value": ""}
    try:
        try:
            sys.stderr.flush()
        except Exception:
            pass
        os.dup2(tmp.fileno(), 2)
        yield lambda: text["value"]
    finally:
        try:
            sys.stderr.flush()
        except Exception:
            pass
        os.dup2(saved, 2)
        os.close(saved)
        tmp.seek(0)
        text["value"] = tmp.read(20000).decode("utf-8", "replace")
        tmp.close()


# ----------------------------------------------------------------------------- the call

def _call_and_read(fn, probe, copy_inputs: bool, max_numbers: int, fresh: bool):
    """The call and everything that touches the student's objects: -> (value, type name,
    StudentError or None, seconds)."""
    args = copy_args(tuple(probe.args)) if copy_inputs else tuple(probe.args)
    kwargs = copy_args(dict(probe.kwargs)) if copy_inputs else dict(probe.kwargs)
    modules = [(m, _module_state(m)) for m in _modules(args, kwargs)]
    start = time.perf_counter()
    try:
        raw = fn(*args, **kwargs)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - SystemExit from a student is a failed probe
        return None, "exception", locate_error(exc), time.perf_counter() - start
    seconds = time.perf_counter() - start
    for module, before in modules:
        try:
            changed = _module_changed(module, before)
        except Exception as exc:  # the student's code may have broken the module itself
            changed = f"the grader could not read the model you were given after the call ({type(exc).__name__})"
        if changed:
            return None, "exception", StudentError(exc_type=ARGUMENT_CHANGED, message=changed), seconds
    try:
        return to_plain(raw, max_numbers=max_numbers, fresh=fresh), type_name(raw), None, seconds
    except Exception as exc:  # a hostile __len__ or shape, say
        return Unconvertible(type(raw).__name__, f"could not be read: {type(exc).__name__}"), \
            type(raw).__name__, None, seconds


def _make_call_student():
    """``call_student``, with the tracer and what it builds after the tracer stops bound now
    (in the zygote, before any student code), so that no replaced name changes them."""
    start_tracer, call_and_read, outcome = tracer.start, _call_and_read, Outcome
    capture_fd2, catch_warnings, simplefilter = _capture_fd2, warnings.catch_warnings, warnings.simplefilter
    redirect_stderr, redirect_stdout, string_io = contextlib.redirect_stderr, contextlib.redirect_stdout, io.StringIO

    def call_student(fn, probe, rules=None, copy_inputs: bool = True, *,
                     max_numbers: int = MAX_ANSWER_NUMBERS, alone: bool = False) -> Outcome:
        """Call ``fn(*probe.args, **probe.kwargs)`` on copies of the probe's arguments.

        ``copy_inputs=False`` is for a probe that exists for this call alone (the sandbox child
        unpickles a fresh one per request), where a copy of a 10**7-entry input buys nothing.
        ``max_numbers``: an answer holding more numbers is not read (see ``to_plain``).
        ``alone``: the process should run nothing but this call (the sandbox child): another
        thread or a child process is noted by the tracer.

        Never raises for anything the student's code does (SystemExit included; only
        KeyboardInterrupt propagates). Warnings, stderr (Python and fd 2) and stdout are captured.
        When ``rules`` (``policy.Rules``) police anything, the call runs under the tracer
        (``tracer.start``), from the copy of the probe to the answer read into fresh memory.
        A ``torch.nn.Module`` argument must come back unchanged (values, ``.grad``,
        ``requires_grad``): otherwise the call fails with ``ARGUMENT_CHANGED``.
        """
        policed = rules is not None and rules.policed
        stop = start_tracer(rules, alone=alone) if policed else None
        err_buf, out_buf = string_io(), string_io()
        try:
            with capture_fd2() as fd2_text:
                with catch_warnings(record=True) as caught, redirect_stderr(err_buf), redirect_stdout(out_buf):
                    simplefilter("always")
                    value, tname, error, seconds = call_and_read(fn, probe, copy_inputs, max_numbers, policed)
                    warned = [f"{w.category.__name__}: {w.message}" for w in caught[:20]]
                    del caught[:]
            parts = [*warned, err_buf.getvalue(), fd2_text()]
            stderr = "\n".join(p.rstrip() for p in parts if p)[:5000]
            stdout = out_buf.getvalue()[:5000]
        finally:
            calls = stop() if stop is not None else ()
        return outcome(value, tname, error, calls, stderr, stdout, seconds)

    return call_student


call_student = _make_call_student()
