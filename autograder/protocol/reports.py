"""Plain reports the child sends back about the cells it ran (validated by wire.py)."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class CellReport:
    outputs: list = field(default_factory=list)  # nbformat output dicts, sanitised again by the grader
    error: str = ""                               # "" or the exception's one-line summary
    truncated: bool = False                       # the cell printed more than the output cap


@dataclass
class Ready:
    pid: int
    isolation: list = field(default_factory=list)  # what isolation the child could apply
    skipped: list = field(default_factory=list)    # submitted files left out of its working folder


# ---- what a proxied request brings back (inside/remote.py exports, proxies.py imports) ----

@dataclass
class Handle:
    """A student object that is not plain data: it stays in the child, reached by ``id``."""
    id: int
    type_name: str
    callable: bool = False


@dataclass
class ModuleRef:
    """A module, by the name the child knows it by: the grader uses its own copy of an
    installed module, else ``handle``."""
    name: str
    handle: Handle


@dataclass
class ArrayData:
    """A numpy array, numpy scalar (``kind="scalar"``) or torch tensor of numbers or booleans."""
    values: object              # float64 numpy array, cast back to ``dtype`` by the grader
    dtype: str
    kind: str                   # "numpy" | "scalar" | "torch"


@dataclass
class Pairs:
    """A dict, as [key, value] pairs: keys need not be strings."""
    items: list


@dataclass
class SetData:
    items: list
    frozen: bool = False


@dataclass
class RemoteError:
    """An exception raised by student code during a proxied request."""
    exc_type: str
    message: str
    bases: list = field(default_factory=list)   # built-in exception classes it derives from
    where: str = ""                              # the student's line it came from


@dataclass
class ProxyReply:
    value: object = None        # plain data, Handle, ModuleRef, ArrayData, Pairs, SetData, nested
    error: RemoteError | None = None
    outputs: list = field(default_factory=list)  # what student code printed meanwhile
    truncated: bool = False
