"""Call a student's function on one probe and describe what happened as plain data.

This runs on the untrusted side too (inside the sandbox child), so ``call_student`` never
lets anything but plain data out: the return value is converted here, exceptions become a
``StudentError``, warnings and stderr output become a string.
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

# bound here, in the zygote, before any student code: replacing tracer.AutogradTracer changes nothing
from autograder.inside.tracer import AutogradTracer
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


def _tensor_to_array(t, max_numbers: int) -> Any:
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
    # No copy: the answer is judged (or sent to the grader) before student code runs again.
    return np.asarray(t.resolve_neg().to(torch.float64).numpy(), dtype=np.float64)


def to_plain(value: Any, _depth: int = 0, *, max_numbers: int = MAX_ANSWER_NUMBERS) -> Any:
    """Convert a student's return value to a PlainValue.

    Tensors (any real dtype, with or without requires_grad) and numeric numpy arrays become
    float64 arrays, except 0-d integer ones, which become ints (an index); python/numpy scalars
    become int/float; lists and tuples become tuples of plain values, collapsed to one float64
    array when they are a rectangular nest of numbers that holds at least one float or another
    array (a flat tuple of ints, like a shape, stays a tuple of ints). Anything else is
    ``Unconvertible``, and so is an array or list of more than ``max_numbers`` numbers
    (``too_large``, judged from its shape before it is read).
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    try:
        import torch
    except Exception:  # pragma: no cover
        torch = None
    if torch is not None and isinstance(value, torch.Size):
        return tuple(int(v) for v in value)
    if torch is not None and isinstance(value, torch.Tensor):
        if value.ndim == 0 and not (value.dtype.is_floating_point or value.dtype.is_complex
                                    or value.dtype == torch.bool):
            return int(value)     # an index, as a 0-d integer tensor
        return _tensor_to_array(value, max_numbers)
    if isinstance(value, np.ndarray):
        if value.ndim == 0 and value.dtype.kind in "iu":
            return int(value)
        too_large = _too_large(value, value.shape, max_numbers)
        if too_large:
            return too_large
        if value.dtype.kind in "fiu":
            return np.asarray(value, dtype=np.float64)
        if value.dtype.kind == "b":
            return Unconvertible(type_name(value), "an array of booleans")
        if value.dtype.kind == "O" and _depth < 4:
            return to_plain(value.tolist(), _depth + 1, max_numbers=max_numbers)
        return Unconvertible(type_name(value), _short_repr(value))
    if isinstance(value, (list, tuple)) and _depth < 8:
        too_large = _too_large(value, (len(value),), max_numbers)
        if too_large:
            return too_large
        items = tuple(to_plain(v, _depth + 1, max_numbers=max_numbers) for v in value)
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

def call_student(fn, probe, rules=None, copy_inputs: bool = True, *,
                 max_numbers: int = MAX_ANSWER_NUMBERS) -> Outcome:
    """Call ``fn(*probe.args, **probe.kwargs)`` on copies of the probe's arguments.

    ``copy_inputs=False`` is for a probe that exists for this call alone (the sandbox child
    unpickles a fresh one per request), where a copy of a 10**7-entry input buys nothing.
    ``max_numbers``: an answer holding more numbers is not read (see ``to_plain``).

    Never raises for anything the student's code does (SystemExit included; only
    KeyboardInterrupt propagates). Warnings, stderr (Python and fd 2) and stdout are captured.
    When ``rules`` (``policy.Rules``) police anything, the call runs under ``AutogradTracer``.
    A ``torch.nn.Module`` argument must come back unchanged (values, ``.grad``,
    ``requires_grad``): otherwise the call fails with ``ARGUMENT_CHANGED``.
    """
    args = copy_args(tuple(probe.args)) if copy_inputs else tuple(probe.args)
    kwargs = copy_args(dict(probe.kwargs)) if copy_inputs else dict(probe.kwargs)
    modules = [(m, _module_state(m)) for m in _modules(args, kwargs)]
    err_buf, out_buf = io.StringIO(), io.StringIO()
    raw, error, calls = None, None, ()
    start = time.perf_counter()
    with _capture_fd2() as fd2_text:
        with warnings.catch_warnings(record=True) as caught, \
                contextlib.redirect_stderr(err_buf), contextlib.redirect_stdout(out_buf):
            warnings.simplefilter("always")
            tracer = None
            try:
                if rules is not None and rules.policed:
                    tracer = AutogradTracer(rules=rules)
                    with tracer:
                        raw = fn(*args, **kwargs)
                else:
                    raw = fn(*args, **kwargs)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # noqa: BLE001 - SystemExit from a student is a failed probe
                error = locate_error(exc)
            finally:
                if tracer is not None:
                    calls = tracer.calls
    seconds = time.perf_counter() - start
    stderr_parts = [f"{w.category.__name__}: {w.message}" for w in caught[:20]]
    if err_buf.getvalue():
        stderr_parts.append(err_buf.getvalue())
    fd2 = fd2_text()
    if fd2:
        stderr_parts.append(fd2)
    stderr = "\n".join(p.rstrip() for p in stderr_parts if p)[:5000]
    for module, before in modules if error is None else ():
        try:
            changed = _module_changed(module, before)
        except Exception as exc:  # the student's code may have broken the module itself
            changed = f"the grader could not read the model you were given after the call ({type(exc).__name__})"
        if changed:
            error = StudentError(exc_type=ARGUMENT_CHANGED, message=changed)
            break
    if error is not None:
        return Outcome(None, "exception", error, calls, stderr, out_buf.getvalue()[:5000], seconds)
    try:
        value = to_plain(raw, max_numbers=max_numbers)
        tname = type_name(raw)
    except Exception as exc:  # a hostile __array__ or __len__, say
        value = Unconvertible(type(raw).__name__, f"could not be read: {type(exc).__name__}")
        tname = type(raw).__name__
    return Outcome(value, tname, None, calls, stderr, out_buf.getvalue()[:5000], seconds)
