"""The disposable child: everything here runs in the process that executes student code.

Nothing computed here is trusted. The child runs the student's cells in an IPython shell,
calls the student's functions on the probes the grader sends, and reports back plain data
only (cell outputs as text and images, Outcomes as numbers and arrays). Scores, references
and comparisons live on the other side of the socket.
"""
from __future__ import annotations

import io
import os
import signal
import sys

from autograder.inside import remote
from autograder.protocol import wire
from autograder.protocol.reports import CellReport, ProxyReply, Ready, RemoteError

KEPT_MIME = ("text/plain", "text/latex", "text/markdown", "image/png", "image/jpeg")


class OutputCollector:
    """Cell outputs in nbformat shape, capped in size (a 50 MB print keeps its first part)."""

    def __init__(self, cap_bytes: int):
        self.cap = cap_bytes
        self.outputs: list[dict] = []
        self.size = 0
        self.truncated = False

    def _room(self, n: int) -> bool:
        if self.size + n > self.cap:
            self.truncated = True
            return False
        self.size += n
        return True

    def stream(self, name: str, text: str) -> None:
        if not text:
            return
        if self.size + len(text) > self.cap:
            text = text[: max(0, self.cap - self.size)]
            self.truncated = True
        self.size += len(text)
        if self.outputs and self.outputs[-1].get("name") == name:
            self.outputs[-1]["text"] += text
        elif text:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, kind: str, data: dict, execution_count=None) -> None:
        data = {k: v if isinstance(v, str) else str(v) for k, v in data.items() if k in KEPT_MIME}
        if not data or not self._room(sum(len(v) for v in data.values())):
            return
        output = {"output_type": kind, "data": data, "metadata": {}}
        if kind == "execute_result":
            output["execution_count"] = execution_count
        self.outputs.append(output)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        traceback = [line[:2000] for line in traceback[-60:]]
        self._room(sum(map(len, traceback)))
        self.outputs.append({"output_type": "error", "ename": ename[:200], "evalue": evalue[:2000],
                             "traceback": traceback})

    def clear(self) -> None:
        self.outputs.clear()


class _Stream(io.TextIOBase):
    def __init__(self, collector_ref, name: str):
        self._ref, self.name = collector_ref, name

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        self._ref[0].stream(self.name, text)
        return len(text)


def make_shell():
    """An IPython shell prepared in the zygote, so each fork starts with it ready."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    current = [OutputCollector(0)]

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):
            current[0].rich("display_data", data)

        def clear_output(self, wait=False):
            current[0].clear()

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            current[0].rich("execute_result", format_dict, self.prompt_count)

    class GradingShell(InteractiveShell):
        def enable_gui(self, gui=None):
            pass                            # no event loop: figures are published as PNG outputs

    shell = GradingShell.instance(colors="NoColor", display_pub_class=Publisher,
                                      displayhook_class=Hook, history_length=0)
    shell.history_manager.enabled = False

    def show_traceback(etype, evalue, stb):
        current[0].error(getattr(etype, "__name__", "Error"), str(evalue), list(stb))

    shell._showtraceback = show_traceback
    return shell, current


def _figures(shell, render: bool) -> None:
    """Render figures as PNG outputs like Jupyter's inline backend, or skip drawing them.

    Drawing is most of the time a worked-example cell takes and never affects a score,
    so the batch grader skips it unless asked; plotting code still runs, so its errors show.
    """
    import matplotlib
    import matplotlib.figure
    import matplotlib.pyplot as plt
    if render:
        shell.enable_matplotlib("inline")
        return
    matplotlib.use("agg", force=True)
    plt.show = lambda *args, **kwargs: None
    # Layout needs text measured by a renderer: most of a plotting cell's time, for no picture.
    matplotlib.figure.Figure.tight_layout = lambda self, *args, **kwargs: None
    type(shell).enable_matplotlib = lambda self, gui=None: (None, None)
    shell.events.register("post_run_cell", lambda result: plt.close("all"))


def _missing(name: str):
    from autograder.protocol.values import failed_outcome
    return failed_outcome("NameError", f"name '{name}' is not defined: the notebook never defined "
                                       f"a function called {name}")


def serve(sock, *, shell, current, scratch: str, isolation: list[str], skipped: list[str], output_cap: int,
          figures: bool, environment: dict) -> None:
    """Serve the grader's requests in a process the sandbox has already confined (``isolation``
    says what it applied, ``skipped`` what it could not)."""
    _figures(shell, figures)
    os.environ.clear()
    os.environ.update({**environment, "HOME": scratch, "TMPDIR": scratch,
                       "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"})
    sys.stdin = open(os.devnull)
    sys.stdout, sys.stderr = _Stream(current, "stdout"), _Stream(current, "stderr")
    wire.send_reply(sock, Ready(pid=os.getpid(), isolation=isolation, skipped=skipped))

    from autograder.inside.calling import call_student
    while True:
        # The grader's SIGINT (a cell past its time limit) interrupts student code, never our I/O.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        request = wire.recv_request(sock)
        if request.get("op") not in ("run", "call", "proxy"):
            return
        collector = current[0] = OutputCollector(output_cap)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            reply = _handle(shell, request, call_student)
        except KeyboardInterrupt:         # the time limit struck outside IPython's own handling
            reply = _interrupted(request)
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        if isinstance(reply, (CellReport, ProxyReply)):
            reply.outputs, reply.truncated = collector.outputs, collector.truncated
        wire.send_reply(sock, reply)


def _handle(shell, request, call_student):
    """Run a cell (outputs go to the current collector), call a student function on a probe,
    or do what a test cell running on the grader's side asks of the student's objects."""
    if request["op"] == "proxy":
        return remote.serve(shell.user_ns, request)
    if request["op"] == "run":
        return _run_cell(shell, request["source"])
    name = request["name"]         # prints inside the student's function go to a collector nobody reads
    return (call_student(shell.user_ns[name], request["probe"], rules=request["rules"], copy_inputs=False,
                         max_numbers=request["max_numbers"], alone=True)
            if name in shell.user_ns else _missing(name))


def _run_cell(shell, source: str) -> CellReport:
    """Run one cell. IPython shows a ``SyntaxError`` as the cell's error but lets anything
    else its compiler raises (``RecursionError`` for a 20,000-term sum, ``MemoryError``) out:
    that too is this cell's error, shown the same way, and the notebook goes on without it."""
    try:
        result = shell.run_cell(source, store_history=True)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the compiler raised, it is this cell's
        text = f"{type(exc).__name__}: {exc}"[:500]
        shell._showtraceback(type(exc), exc, [f"{text} (the cell could not be compiled, so it did not run)"])
        return CellReport(error=text)
    error = result.error_before_exec or result.error_in_exec
    return CellReport(error=f"{type(error).__name__}: {error}"[:500] if error else "")


def _interrupted(request):
    from autograder.protocol.values import failed_outcome
    if request["op"] == "run":
        return CellReport(error="KeyboardInterrupt: the cell ran past its time limit")
    if request["op"] == "proxy":
        return ProxyReply(error=RemoteError("TimeoutError", "the student's code ran past its time limit"))
    return failed_outcome("TimeoutError", "the function ran past its time limit")
