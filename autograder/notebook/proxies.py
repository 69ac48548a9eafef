"""On the grader's side: the student's objects as proxies that ask the sandbox child.

A test cell no declaration covers runs here (``trusted_tests.py``). The names it reads
from the notebook, and whatever it does with them, become requests to the child
(``inside/remote.py``), which answers with plain data: numbers, strings, numpy arrays,
tensors, lists, tuples, dicts and sets are rebuilt here as our own objects, so the test
cell's comparisons, asserts and hashes run on values the student's code can no longer
touch. A module is our own copy of it (only ever an installed library), so a student who
patched ``numpy.allclose`` patched it for nobody.
Anything else stays in the child as a ``Remote``: calling it, taking an attribute or an item,
its length, its items or its text are requests; comparing it or asking whether it is true
cannot be answered with data and fails the cell with a ``BoundaryError``.
"""
from __future__ import annotations

import builtins
import importlib
import importlib.util
import io
import marshal
import os
import pickle
import sys
import sysconfig
import time
import types

import numpy as np

from autograder.inside import remote
from autograder.sandbox.session import ChildDied, Interrupted
from autograder.protocol.reports import ArrayData, Handle, ModuleRef, Pairs, ProxyReply, RemoteError, SetData

_TORCH_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


class BoundaryError(Exception):
    """The test cell needs something of the student's that cannot cross to the grader as plain data."""


class Channel:
    """The test cells' line to the child: a cell's requests share its time limit, and what the
    student's code prints meanwhile goes where the test cell's own output goes."""

    def __init__(self, session):
        self.session, self.deadline, self.timeout = session, 0.0, 0.0

    def start(self, deadline: float, timeout: float) -> None:
        """A new test cell: its requests share ``timeout`` seconds, up to ``deadline``."""
        self.deadline, self.timeout = deadline, timeout

    def lookup(self, name: str):
        return self.ask("lookup", name)

    def ask(self, action: str, target, *args, **kwargs):
        payload = _dumps((target, args, kwargs))
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the test cell ran past its time limit of {self.timeout:g} s")
        try:
            reply = self.session.proxy(action, payload, left)
        except Interrupted:
            raise TimeoutError(f"the student's code did not finish within the cell's {self.timeout:g} s") from None
        if not isinstance(reply, ProxyReply):
            self.session.kill("sent something that is not an answer")
            raise ChildDied(self.session.dead)
        _echo(reply.outputs)
        if reply.error is not None:
            raise _rebuilt(reply.error)
        return self.trusted(reply.value)

    def trusted(self, value, depth: int = 0):
        """The child's plain data as our own objects; anything else is a protocol error."""
        if depth > 32:
            raise BoundaryError("the student's value is nested too deeply")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) in (list, tuple):
            return type(value)(self.trusted(v, depth + 1) for v in value)
        if isinstance(value, Pairs) and isinstance(value.items, list) \
                and all(isinstance(p, list) and len(p) == 2 for p in value.items):
            return {self.trusted(k, depth + 1): self.trusted(v, depth + 1) for k, v in value.items}
        if isinstance(value, SetData) and isinstance(value.items, list):
            return (frozenset if value.frozen is True else set)(self.trusted(v, depth + 1) for v in value.items)
        if isinstance(value, ArrayData):
            return _array(value)
        if isinstance(value, ModuleRef) and isinstance(value.name, str):
            own = _own_module(value.name)
            return own if own is not None else self.trusted(value.handle, depth + 1)
        if isinstance(value, Handle) and type(value.id) is int and isinstance(value.type_name, str):
            return Remote(self, value)
        raise BoundaryError("the student's process sent something that is not plain data")


class Remote:
    """A student object that stays in the child (a function, an instance of the student's class)."""

    __slots__ = ("_channel", "_handle")

    def __init__(self, channel: Channel, handle: Handle):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_handle", handle)

    def __call__(self, *args, **kwargs):
        return self._channel.ask("call", self, *args, **kwargs)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._channel.ask("getattr", self, name)

    def __getitem__(self, key):
        return self._channel.ask("getitem", self, key)

    def __len__(self) -> int:
        return _checked(self._channel.ask("len", self), int, "len()")

    def __iter__(self):
        return iter(_checked(self._channel.ask("iter", self), list, "its items"))

    def __repr__(self) -> str:
        return _checked(self._channel.ask("repr", self), str, "repr()")

    def __str__(self) -> str:
        return _checked(self._channel.ask("str", self), str, "str()")

    def _refuse(self, *args, **kwargs):
        raise BoundaryError(f"the test cell compares, tests or computes with a {self._handle.type_name} "
                            f"object of the student's, which cannot be sent to the grader as plain data; "
                            f"compare plain values (numbers, strings, arrays, lists) instead")

    __bool__ = __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __contains__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __neg__ = __abs__ = __float__ = __int__ = __index__ = __array__ = _refuse
    __hash__ = object.__hash__

    def __setattr__(self, name, value):
        self._refuse()


def _checked(value, kind: type, what: str):
    if not isinstance(value, kind):
        raise BoundaryError(f"the student's object answered {what} with a {type(value).__name__}")
    return value


def _echo(outputs) -> None:
    """What the student's code printed during a request, as if it had printed here."""
    for out in outputs if isinstance(outputs, list) else []:
        if isinstance(out, dict) and out.get("output_type") == "stream":
            stream = sys.stderr if out.get("name") == "stderr" else sys.stdout
            stream.write(str(out.get("text", "")))


def _rebuilt(error: RemoteError) -> Exception:
    """The student's exception as one we can raise: a built-in class it derives from (so the
    test cell's ``except ValueError`` works), named as the student's."""
    name, message = str(error.exc_type), str(error.message)
    if name == "TooLarge" and not error.bases:
        return BoundaryError(f"the student's value is too large to send to the grader ({message})")
    bases = error.bases if isinstance(error.bases, list) else []
    base = next((cls for b in bases if isinstance(cls := getattr(builtins, str(b), None), type)
                 and issubclass(cls, Exception)), Exception)
    cls = base if base.__name__ == name else type(name, (base,), {"__module__": "student"})
    where = f" (in the student's code: {error.where})" if isinstance(error.where, str) and error.where else ""
    return cls(message + where)


def _array(data: ArrayData):
    values, dtype, kind = data.values, data.dtype, data.kind
    if not isinstance(values, np.ndarray) or not isinstance(dtype, str) or kind not in ("numpy", "scalar", "torch"):
        raise BoundaryError("the student's process sent a malformed array")
    if kind == "torch":
        import torch
        if dtype not in _TORCH_DTYPES:
            raise BoundaryError("the student's process sent a malformed tensor")
        return torch.from_numpy(values.copy()).to(getattr(torch, dtype))
    try:
        own = np.dtype(dtype)
    except TypeError:
        raise BoundaryError("the student's process sent a malformed array") from None
    if own.kind not in "biuf":
        raise BoundaryError("the student's process sent a malformed array")
    array = values.astype(own)
    return array[()] if kind == "scalar" else array


def _installed_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(os.path.realpath(paths[k]) + os.sep for k in ("stdlib", "platstdlib", "purelib", "platlib"))


def _own_module(name: str):
    """Our copy of an installed module; None if there is none. Only modules: a student who
    names ``os.remove`` or ``eval`` as their function gets a function that runs in their
    process, never ours. And only imported or installed ones: a name from the student
    cannot make us run a file they submitted."""
    if name in sys.modules:
        return sys.modules[name]
    try:
        spec = importlib.util.find_spec(name.split(".")[0])
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    if not origin or not (origin in ("built-in", "frozen") or os.path.realpath(origin).startswith(_installed_dirs())):
        return None
    try:
        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - not importable here: the student's module stays remote
        return None


# ---- requests: what the test cell hands to the student's code ------------------------

class _Pickler(pickle.Pickler):
    """Remotes go as their handles, modules by name, the test cell's functions as code."""

    def reducer_override(self, obj):
        if isinstance(obj, Remote):
            return remote.handle, (obj._handle.id,)
        if isinstance(obj, types.ModuleType):
            return importlib.import_module, (obj.__name__,)
        if isinstance(obj, types.FunctionType) and not _importable(obj):
            return _portable(obj)
        return NotImplemented


def _dumps(value) -> bytes:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError) as exc:
        raise BoundaryError(f"the test cell passes something the student's code cannot be given ({exc})") from None
    return buffer.getvalue()


def _importable(fn: types.FunctionType) -> bool:
    """Pickled by reference (the child imports it by name), like a library's function."""
    found = sys.modules.get(fn.__module__)
    for part in fn.__qualname__.split("."):
        found = getattr(found, part, None)
    return found is fn


def _portable(fn: types.FunctionType):
    """A function of the test cell, to be rebuilt in the child: its code, and the values of
    the names it reads that the test cell has (the rest it finds among the student's)."""
    code, names, self_names = fn.__code__, {}, []
    for name in _global_names(code):
        if dict.__contains__(fn.__globals__, name):
            value = dict.__getitem__(fn.__globals__, name)
            if value is fn:
                self_names.append(name)
            elif name != "__builtins__":
                names[name] = value
    closure = tuple(c.cell_contents for c in fn.__closure__ or ())
    return remote.rebuild_function, (marshal.dumps(code), fn.__name__, fn.__defaults__, closure, names,
                                     tuple(self_names))


def _global_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names
