"""Messages between the trusted worker and the untrusted child.

Trusted -> child: pickled requests (the child may unpickle what the grader sends it).
Child -> trusted: JSON plus raw float64 buffers, never pickle: unpickling what student
code controls would hand it the grader. The decoder rebuilds only plain data and the
dataclasses named in ``DECODABLE``, and enforces size limits so a hostile child can
neither exhaust the grader's memory nor smuggle in objects with behaviour.
"""
from __future__ import annotations

import dataclasses
import json
import pickle
import socket
import struct

import cloudpickle
import numpy as np

MAX_JSON_BYTES = 8 * 1024 * 1024
MAX_BUFFER_BYTES = 512 * 1024 * 1024     # one array: room for an n = 10**7 float64 vector, and more
MAX_DEPTH = 32

_HEADER = struct.Struct("!cI")            # kind byte, JSON/pickle length
_BUFLEN = struct.Struct("!Q")


class WireError(Exception):
    """The other side sent something malformed, too large, or hung up."""


def _recv_exact(sock: socket.socket, n: int) -> bytearray | np.ndarray:
    # Filled in place: an 80 MB array arrives without extra copies, into numpy's memory
    # (huge pages for large buffers, so a few page faults instead of ~20,000).
    buf = bytearray(n) if n < 1 << 20 else np.empty(n, dtype=np.uint8)
    view, got = memoryview(buf).cast("B"), 0
    while got < n:
        count = sock.recv_into(view[got:], min(n - got, 1 << 22))
        if not count:
            raise EOFError("the other side closed the connection")
        got += count
    return buf


# ---- trusted -> child ---------------------------------------------------------------

def send_request(sock: socket.socket, request: dict) -> None:
    # cloudpickle: what a course's declarations define (a probe function, a torch.nn.Module
    # subclass) travels by value, so the child never imports the declarations
    body = cloudpickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(b"P", len(body)) + body)


def recv_request(sock: socket.socket) -> dict:
    kind, length = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if kind != b"P":
        raise WireError("expected a request")
    return pickle.loads(_recv_exact(sock, length))


# ---- child -> trusted ---------------------------------------------------------------

def _encode(value, buffers: list, depth: int = 0):
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"__int__": str(value)} if abs(value) > 2**53 else value
    if isinstance(value, float):
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value, dtype=np.float64)
        buffers.append(memoryview(array).cast("B"))
        return {"__array__": len(buffers) - 1, "shape": list(value.shape)}   # 0-d stays 0-d
    if isinstance(value, (list, tuple)):
        items = [_encode(v, buffers, depth + 1) for v in value]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        return {"__dict__": {str(k): _encode(v, buffers, depth + 1) for k, v in value.items()}}
    if dataclasses.is_dataclass(value):
        fields = {f.name: _encode(getattr(value, f.name), buffers, depth + 1)
                  for f in dataclasses.fields(value)}
        return {"__dc__": type(value).__name__, "fields": fields}
    raise TypeError(f"cannot send a {type(value).__name__}")


def send_reply(sock: socket.socket, value) -> None:
    buffers: list = []
    body = json.dumps(_encode(value, buffers)).encode()
    parts = [_HEADER.pack(b"J", len(body)), body, _BUFLEN.pack(len(buffers))]
    for buf in buffers:
        parts.append(_BUFLEN.pack(len(buf)))
    sock.sendall(b"".join(parts))
    for buf in buffers:
        sock.sendall(buf)


def _decodable() -> dict[str, type]:
    """The only dataclasses a reply may contain: what a call returned, cell reports, and what
    a proxied request brought back."""
    from autograder.protocol import reports
    from autograder.protocol.values import Outcome, StudentError, Unconvertible
    return {cls.__name__: cls for cls in (Outcome, StudentError, Unconvertible, reports.CellReport, reports.Ready,
                                          reports.Handle, reports.ModuleRef, reports.ArrayData, reports.Pairs,
                                          reports.SetData, reports.RemoteError, reports.ProxyReply)}


def _decode(node, buffers: list[np.ndarray], classes: dict[str, type], depth: int = 0):
    if depth > MAX_DEPTH:
        raise WireError("reply nested too deeply")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, list):
        return [_decode(v, buffers, classes, depth + 1) for v in node]
    if not isinstance(node, dict) or len(node) > 2:
        raise WireError("malformed reply")
    if "__array__" in node:
        index, shape = node["__array__"], node.get("shape")
        if not isinstance(index, int) or not 0 <= index < len(buffers) or not isinstance(shape, list) \
                or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise WireError("malformed array in reply")
        flat = buffers[index]
        if int(np.prod(shape, dtype=np.int64)) != flat.size:
            raise WireError("array shape does not match its data")
        return flat.reshape(shape)
    if "__tuple__" in node:
        return tuple(_decode(v, buffers, classes, depth + 1) for v in node["__tuple__"])
    if "__int__" in node:
        return int(str(node["__int__"])[:400])
    if "__float__" in node:
        return float(str(node["__float__"])[:16])
    if "__dict__" in node:
        return {str(k): _decode(v, buffers, classes, depth + 1) for k, v in node["__dict__"].items()}
    if "__dc__" in node:
        cls = classes.get(node["__dc__"])
        fields = node.get("fields")
        if cls is None or not isinstance(fields, dict):
            raise WireError(f"unexpected type in reply: {str(node['__dc__'])[:40]}")
        names = {f.name for f in dataclasses.fields(cls)}
        if set(fields) - names:
            raise WireError(f"unexpected fields for {cls.__name__}")
        return cls(**{k: _decode(v, buffers, classes, depth + 1) for k, v in fields.items()})
    raise WireError("malformed reply")


def recv_reply(sock: socket.socket):
    kind, length = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    if kind != b"J" or length > MAX_JSON_BYTES:
        raise WireError("reply is not a plain-data message or is too large")
    body = _recv_exact(sock, length)
    (count,) = _BUFLEN.unpack(_recv_exact(sock, _BUFLEN.size))
    if count > 10_000:
        raise WireError("too many arrays in reply")
    sizes = [_BUFLEN.unpack(_recv_exact(sock, _BUFLEN.size))[0] for _ in range(count)]
    if any(s > MAX_BUFFER_BYTES or s % 8 for s in sizes) or sum(sizes) > 2 * MAX_BUFFER_BYTES:
        raise WireError("array in reply is too large")
    buffers = [np.frombuffer(_recv_exact(sock, s), dtype=np.float64) for s in sizes]
    try:
        return _decode(json.loads(body), buffers, _decodable())
    except (ValueError, TypeError, RecursionError) as exc:
        raise WireError(f"malformed reply: {str(exc)[:200]}") from None
