"""Hostile submissions that go after the grader's resources: time (loops, loops that ignore the
interrupt, a notebook past its wall limit), memory, the process itself (exits, crashes, signals),
processes left behind, fork bombs and floods of output.

Each costs only what it touched: the cell or the function that misbehaved, or the cells after a
process that died; earlier credit stays, and the autograded notebook says what happened.
Harness: tests/hostile_harness.py.
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess

import pytest

from autograder.batch.jobs import CellResult, Limits

from hostile_harness import (FAST, FULL, POINTS, ZERO, assert_outputs_are_the_graders, autograded, by_hand_refused,
                             cell_by_id, insert_after, outputs_of, scores, set_source, student_code,
                             text_of)


def sandbox_processes(uid: int) -> list[str]:
    """Every process on the machine running as the sandbox's uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as fh:
                status = fh.read()
        except OSError:
            continue
        uids = re.search(r"^Uid:\s+(\d+)\s+(\d+)", status, re.M)
        if uids and uid in (int(uids.group(1)), int(uids.group(2))):
            found.append(f"{entry}: {status.splitlines()[0]}")
    return found


# ============================================================================ time
def test_hung_cell_is_interrupted_and_the_rest_graded(grader):
    nb = grader.nb()
    insert_after(nb, None, student_code("loop_forever"))
    result = grader.grade(nb, limits=Limits(cell_timeout=1.0, notebook_timeout=120.0))
    assert scores(result) == FULL and result.problems == []
    hung = outputs_of(result, "while True:\n    pass")
    assert hung[-1].output_type == "error" and hung[-1].ename == "CellTimeoutError"
    assert hung[-1].evalue == "did not finish within 1 s and was interrupted"
    assert "KeyboardInterrupt" in text_of(hung)
    assert_outputs_are_the_graders(result)


def test_hung_function_fails_only_its_own_probes(grader):
    nb = grader.nb()
    set_source(nb, "affine_jacobian", student_code("affine_jacobian_loops_forever"))
    result = grader.grade(nb, limits=Limits(cell_timeout=0.5, notebook_timeout=120.0))
    assert scores(result) == {**FULL, "test_affine_jacobian": (0.0, 1.0)}
    assert result.cells["test_affine_jacobian"].diagnoses == ["exception"]
    assert "TimeoutError" in result.cells["test_affine_jacobian"].message
    assert "did not return within 0.5 seconds" in result.cells["test_affine_jacobian"].message
    assert result.problems == []


@pytest.mark.parametrize("loop", ["loop_ignoring_sigint", "loop_catching_keyboardinterrupt"])
def test_loop_ignoring_sigint_keeps_earlier_credit(grader, loop):
    nb = grader.nb()
    insert_after(nb, "test_jacobian_by_hand", student_code(loop))
    result = grader.grade(nb, limits=Limits(cell_timeout=1.0, notebook_timeout=120.0))
    reason = "did not finish within 1 s and ignored the interrupt"
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    for gid in ("test_numerical_jacobian", "test_affine_jacobian"):
        assert result.cells[gid] == CellResult(0.0, POINTS[gid], ["not_run"],
                                               f"not graded: the notebook's process {reason}")
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    died = outputs_of(result, "while True")
    assert [(o.output_type, o.ename, o.evalue) for o in died] == [("error", "KernelDied", reason)]
    assert text_of(outputs_of(result, "def numerical_jacobian")) == f"Not run: the notebook's process {reason}.\n"


def test_notebook_wall_limit(grader):
    nb = grader.nb()
    insert_after(nb, "test_jacobian_by_hand", student_code("sleep_past_the_notebook_limit"))
    limits = Limits(cell_timeout=10.0, notebook_timeout=2.0)
    result = grader.grade(nb, limits=limits)
    reason = "ran past the notebook's 2 s limit"
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    assert result.cells["test_affine_jacobian"].message == f"not graded: the notebook's process {reason}"


# ============================================================================ memory
@pytest.mark.parametrize("bomb", ["allocate_10gb_bytearray", "allocate_10gb_tensor", "grow_memory_until_refused"])
def test_memory_bomb_fails_only_its_cell(grader, bomb):
    nb = grader.nb()
    source = student_code(bomb)
    insert_after(nb, None, source)
    # Zero-filling 2 GiB takes seconds on a slow VM: give the cell time to reach the limit.
    result = grader.grade(nb, limits=dataclasses.replace(FAST, cell_timeout=30.0))
    assert scores(result) == FULL and result.problems == []
    error = outputs_of(result, source.splitlines()[-1])[-1]
    assert error.output_type == "error"
    assert error.ename in ("MemoryError", "RuntimeError")


def test_memory_bomb_in_a_function_fails_only_its_probes(grader):
    nb = grader.nb()
    set_source(nb, "jacobian_by_hand", student_code("jacobian_by_hand_allocates_10gb"))
    result = grader.grade(nb)
    assert scores(result) == {**FULL, "test_jacobian_by_hand": (0.0, 3.0)}
    assert result.cells["test_jacobian_by_hand"].diagnoses == ["exception"]
    assert "MemoryError" in result.cells["test_jacobian_by_hand"].message


# ============================================================================ the process itself
# how the notebook's process ended, as the student reads it (None: SystemExit, an ordinary exception)
DEATHS = {
    "os_exit": "stopped unexpectedly (exit 0)",
    "segfault": "crashed (SIGSEGV)",
    "sigkill_itself": "was killed (SIGKILL), most likely for using more memory than allowed",
    "raise_systemexit": None,
    "call_exit": None,
}


@pytest.mark.parametrize("death", list(DEATHS))
def test_kernel_death_keeps_earlier_credit(grader, death):
    reason = DEATHS[death]
    nb = grader.nb()
    source = student_code(death)
    insert_after(nb, "test_jacobian_by_hand", source)
    result = grader.grade(nb)
    if reason is None:
        assert scores(result) == FULL and result.problems == []
        return
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    assert result.problems == [f"the notebook's process {reason}; cells after that scored 0"]
    assert result.cells["test_jacobian_by_hand"].diagnoses == []
    for gid in ("test_numerical_jacobian", "test_affine_jacobian"):
        assert result.cells[gid] == CellResult(0.0, POINTS[gid], ["not_run"],
                                               f"not graded: the notebook's process {reason}")
    died = outputs_of(result, source.splitlines()[-1])
    assert [(o.output_type, o.ename, o.evalue) for o in died] == [("error", "KernelDied", reason)]
    # the autograded notebook still says what happened, where the student will look
    test_cell = cell_by_id(autograded(result), "test_affine_jacobian")
    assert text_of(test_cell.outputs) == f"Not graded: the notebook's process {reason}.\nScore: 0/1\n0.0"
    assert test_cell.outputs[-1].output_type == "execute_result"    # what nbgrader records: 0


def test_kernel_death_inside_a_function(grader):
    nb = grader.nb()
    set_source(nb, "numerical_jacobian", student_code("numerical_jacobian_segfaults"))
    result = grader.grade(nb)
    assert scores(result) == {**ZERO, "test_jacobian_by_hand": (3.0, 3.0)}
    assert result.cells["test_numerical_jacobian"] == CellResult(
        0.0, 3.0, ["kernel_died"], "the notebook's process crashed (SIGSEGV)")
    assert result.cells["test_affine_jacobian"].diagnoses == ["not_run"]


def test_background_processes_and_fork_bombs_are_gone(grader):
    sandbox = grader.sandbox
    nb = grader.nb()
    insert_after(nb, None, student_code("spawn_detached_processes_and_a_fork_bomb"))
    result = grader.grade(nb)
    assert scores(result) == ZERO and result.problems == []
    by_hand_refused(result, "`subprocess` (cell 2, line 1)")   # processes escape the by-hand rule's tracer
    assert text_of(outputs_of(result, "SPAWNED")) == "SPAWNED: 3 refused: 11\n"
    assert sandbox_processes(sandbox.uid) == []
    # An escaped process would hang under the zygote (its subreaper) or init; other people's
    # `sleep`s on this machine are not ours to count.
    stray = subprocess.run(["pgrep", "-f", "-P", f"1,{sandbox._zygote_pid}", "sleep 30[0-4]"],
                           capture_output=True, text=True).stdout.split()
    assert stray == []


# ============================================================================ output
def test_huge_print_is_capped(grader):
    nb = grader.nb()
    insert_after(nb, None, student_code("print_50mb"))
    result = grader.grade(nb, limits=Limits(cell_timeout=30.0, output_bytes=100_000))
    assert scores(result) == FULL and result.problems == []
    outs = outputs_of(result, "print('x' * 50_000_000)")
    assert [o.output_type for o in outs] == ["stream", "stream"]
    assert outs[0].text == "x" * 100_000
    assert outs[1].text == "[output cut at 100000 bytes]\n"
    assert len(result.autograded_nb_json) < 300_000
