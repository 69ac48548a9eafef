"""An instructor's test cell that no declaration covers, run on the grader's side.

Its code is the instructor's (the gradebook's copy, never the student's), so it runs here, in
the trusted process; the student's functions and values are reached through proxies
(``proxies.py``) that bring back plain data. Its asserts pass or fail here, and nbgrader's own
rule scores what this execution produced: an error scores 0, a number as the cell's result
is partial credit, anything else full marks. Nothing the student's process prints or
patches (``showtraceback``, comparisons, assert helpers) reaches that decision.
"""
from __future__ import annotations

import ast
import builtins
import contextlib
import io
import linecache
import time
import traceback

import nbformat

from autograder.intake.cells import grade_id, source
from autograder.batch.jobs import CellResult, Limits
from autograder.notebook.proxies import BoundaryError, Channel
from autograder.sandbox.session import ChildDied

CANNOT_CROSS = "cannot_cross"     # diagnosis: the cell needs what the boundary does not carry


class _CellGlobals(dict):
    """The test cell's namespace: its own names, then the student's, fetched when first read.
    Built-in names stay ours: a student's ``print`` or ``len`` is not the test cell's. A
    student's name the cell rebinds or deletes is rebound or deleted in the notebook too, as
    when the cell ran in the student's kernel (``del squares`` to check that a function
    really uses ``squares``)."""

    def __init__(self, channel: Channel, names: dict):
        super().__init__(names, __builtins__=builtins, __name__="__instructor__")
        self.channel, self.student = channel, set()

    def __missing__(self, name: str):
        if hasattr(builtins, name):
            raise KeyError(name)
        value = self.channel.lookup(name)
        dict.__setitem__(self, name, value)
        self.student.add(name)
        return value

    def __setitem__(self, name: str, value) -> None:
        if name in self.student:
            self.channel.ask("assign", name, value)
        dict.__setitem__(self, name, value)

    def __delitem__(self, name: str) -> None:
        if name in self.student or not dict.__contains__(self, name):
            self.channel.ask("delete", name)
            self.student.add(name)
        if dict.__contains__(self, name):
            dict.__delitem__(self, name)


class InstructorSide:
    """The trusted side of one notebook's instructor test cells: one line to the notebook's
    process, and the names the instructor's cells define (helpers, imports) for the next ones."""

    def __init__(self, session):
        self.channel = Channel(session)
        self.names: dict = {}

    def run(self, cell, limits: Limits, deadline: float) -> CellResult:
        """Run test ``cell`` here; set its outputs and return its score."""
        from nbgrader.utils import determine_grade

        self.channel.start(deadline=min(time.monotonic() + limits.cell_timeout, deadline), timeout=limits.cell_timeout)
        namespace = _CellGlobals(self.channel, self.names)
        filename = f"<test cell {grade_id(cell)}>"
        stdout, stderr = io.StringIO(), io.StringIO()
        result, failure = None, None
        try:
            code, last = _compiled(source(cell), filename)
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                exec(code, namespace)
                if last is not None:
                    result = eval(last, namespace)
                    result = None if result is None else repr(result)
        except BaseException as exc:  # noqa: BLE001 - the instructor's code failed: the cell scores 0, as stock
            if isinstance(exc, KeyboardInterrupt):
                raise
            failure = exc
        self.names.update({k: v for k, v in namespace.items() if k not in namespace.student and not k.startswith("__")})
        cell.outputs = _outputs(stdout.getvalue(), stderr.getvalue(), result, failure, cell.execution_count,
                                filename, limits.output_bytes)
        score, points = determine_grade(cell)
        if isinstance(failure, (BoundaryError, ChildDied)):
            return CellResult(0.0, points, [CANNOT_CROSS if isinstance(failure, BoundaryError) else "kernel_died"],
                              str(failure))
        return CellResult(float(score or 0.0), points, ["error"] if failure else [], "")

    def keep_imports(self, cell) -> None:
        """Do the imports of an instructor's locked cell here too: a test cell that uses a helper
        the instructor imported there (``assert_allclose``) gets ours, whatever the student rebinds."""
        try:
            tree = ast.parse(source(cell))
        except SyntaxError:
            return
        for node in tree.body:
            if isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and not node.level):
                try:
                    exec(compile(ast.Module(body=[node], type_ignores=[]), "<locked cell>", "exec"), self.names)
                except Exception:  # noqa: BLE001 - a module only the notebook's folder has: the name stays the student's
                    pass


def _compiled(text: str, filename: str):
    """The cell as code, with its last expression apart (its value is the cell's result)."""
    try:
        tree = ast.parse(text, filename)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager   # magics, !commands
        text = TransformerManager().transform_cell(text)
        tree = ast.parse(text, filename)
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = compile(ast.Expression(tree.body.pop().value), filename, "eval")
    return compile(tree, filename, "exec"), last


def _outputs(out: str, err: str, result: str | None, failure, count, filename: str, cap: int) -> list:
    outputs = []
    for name, text in (("stdout", out), ("stderr", err)):
        if text:
            cut = text[:cap] + (f"\n[output cut at {cap} bytes]\n" if len(text) > cap else "")
            outputs.append(nbformat.v4.new_output("stream", name=name, text=cut))
    if failure is not None:
        frames = [f for f in traceback.extract_tb(failure.__traceback__) if f.filename == filename]
        lines = traceback.format_list(frames) + traceback.format_exception_only(type(failure), failure)
        outputs.append(nbformat.v4.new_output("error", ename=type(failure).__name__, evalue=str(failure),
                                              traceback=["Traceback (most recent call last):", *lines]))
    elif result is not None:
        outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": result[:cap]},
                                              execution_count=count))
    return outputs
