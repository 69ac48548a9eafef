"""In the child: the student's objects, reached from the grader's side through handles.

When an instructor's test cell runs on the trusted side (``autograder/notebook/proxies.py``), every
name it reads from the notebook, every call of a student's function, attribute or item it
takes comes here as one request. We do it to the student's objects and send back plain data
(numbers, strings, arrays, nested containers), a module's name, or a ``Handle`` for an
object that is not data, so the grader can keep reaching it. Arguments arrive pickled by the grader: plain
data, handles, and the test cell's own functions as code (``rebuild_function``), which then
run here, in the student's process, like everything else they call.
"""
from __future__ import annotations

import builtins
import marshal
import pickle
import sys
import types

import numpy as np

from autograder.inside.calling import locate_error
from autograder.protocol.reports import ArrayData, Handle, ModuleRef, Pairs, ProxyReply, RemoteError, SetData

MAX_ITEMS = 200_000          # numbers and items in one reply; more is not "plain data" any more
MAX_TEXT = 1 << 20           # characters of one string

_handles: dict[int, object] = {}
_student_ns: dict = {}       # the notebook's namespace, where rebuilt functions find the student's names


class TooLarge(Exception):
    """The value would not fit in a reply."""


def handle(id: int):
    """Unpickled from a grader's request: the student object it stands for."""
    return _handles[id]


def rebuild_function(code: bytes, name: str, defaults, closure: tuple, names: dict, self_names: tuple):
    """Unpickled from a grader's request: a function of the test cell, to run here."""
    namespace = {**_student_ns, "__builtins__": builtins, **names}
    cells = tuple(types.CellType(v) for v in closure) if closure else None
    fn = types.FunctionType(marshal.loads(code), namespace, name, defaults, cells)
    namespace.update({n: fn for n in self_names})
    return fn


def serve(user_ns: dict, request: dict) -> ProxyReply:
    """Do one proxied request to the student's objects; its outputs are attached by the caller."""
    action = request["action"]
    global _student_ns
    _student_ns = user_ns
    try:
        target, args, kwargs = pickle.loads(request["payload"])
        if action in ("lookup", "delete") and target not in user_ns:
            return ProxyReply(error=RemoteError("NameError", f"name '{target}' is not defined", ["NameError"]))
        if action == "lookup":
            result = user_ns[target]
        elif action == "assign":         # the test cell rebinds one of the student's names
            user_ns[target] = args[0]
            result = None
        elif action == "delete":
            del user_ns[target]
            result = None
        elif action == "call":
            result = target(*args, **kwargs)
        elif action == "getattr":
            result = getattr(target, args[0])
        elif action == "getitem":
            result = target[args[0]]
        elif action == "len":
            result = builtins.len(target)
        elif action == "iter":
            result = [item for _, item in zip(range(MAX_ITEMS + 1), target)]
        elif action == "repr":
            result = builtins.repr(target)
        elif action == "str":
            result = builtins.str(target)
        else:
            raise ValueError(f"unknown request {action!r}")
        return ProxyReply(value=export(result, [0]))
    except KeyboardInterrupt:
        raise
    except TooLarge as exc:
        return ProxyReply(error=RemoteError("TooLarge", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - the student's exception, described for the grader
        return ProxyReply(error=_describe(exc))


def export(value, count: list, depth: int = 0):
    """``value`` as plain data for the grader; objects that are not data become handles."""
    count[0] += 1
    if count[0] > MAX_ITEMS or depth > 30:
        raise TooLarge(f"the value holds more than {MAX_ITEMS} items or is nested too deeply")
    kind = type(value)
    if value is None or kind in (bool, int, float):
        return value
    if kind is str:
        if len(value) > MAX_TEXT:
            raise TooLarge(f"a string of {len(value)} characters")
        return value
    if kind in (list, tuple):
        items = [export(v, count, depth + 1) for v in value]
        return items if kind is list else tuple(items)
    if kind is dict:
        return Pairs([[export(k, count, depth + 1), export(v, count, depth + 1)] for k, v in value.items()])
    if kind in (set, frozenset):
        return SetData([export(v, count, depth + 1) for v in value], frozen=kind is frozenset)
    array = _array(value, count)
    if array is not None:
        return array
    if isinstance(value, types.ModuleType):
        return ModuleRef(name=value.__name__, handle=_handle(value))
    return _handle(value)


def _array(value, count: list) -> ArrayData | None:
    torch = sys.modules.get("torch")
    if isinstance(value, (np.ndarray, np.generic)) and type(value).__module__ == "numpy":
        if value.dtype.kind not in "biuf":
            return None
        values, dtype = np.asarray(value, dtype=np.float64), value.dtype.str
        kind = "scalar" if isinstance(value, np.generic) else "numpy"
    elif torch is not None and type(value) is torch.Tensor:
        if value.layout != torch.strided or value.is_complex() or value.device.type != "cpu":
            return None
        values, dtype, kind = value.detach().double().numpy(), str(value.dtype).removeprefix("torch."), "torch"
    else:
        return None
    count[0] += values.size
    if count[0] > MAX_ITEMS:
        raise TooLarge(f"an array of {values.size} numbers")
    return ArrayData(values=values, dtype=dtype, kind=kind)


def _handle(value) -> Handle:
    _handles[id(value)] = value
    return Handle(id=id(value), type_name=type(value).__qualname__, callable=callable(value))


def _describe(exc: BaseException) -> RemoteError:
    bases = [cls.__name__ for cls in type(exc).__mro__ if getattr(builtins, cls.__name__, None) is cls]
    located = locate_error(exc)
    where = f"{located.function}, line {located.lineno}: {located.line}" if located.lineno else ""
    return RemoteError(type(exc).__name__[:200], located.message, bases, where[:500])
