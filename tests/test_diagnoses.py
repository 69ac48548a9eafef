"""One registry of diagnoses: every code the engine (or a course's property check) can give
has the student's sentence and the report's label, and the report counts only the founded
ones a cell's general probes support."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from autograder.judge import diagnoses
from autograder.judge.diagnoses import DIAGNOSES, cell_diagnoses, founded, label, say
from autograder.protocol.rules import VIOLATION_DIAGNOSES, Rules
from autograder.protocol.values import Verdict
from course_layout import REPO_ROOT

SOURCES = sorted((REPO_ROOT / "autograder").rglob("*.py")) + sorted((REPO_ROOT / "autograding").rglob("*.py"))


def _strings(module: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" assignments, to read a code given by name."""
    out = {}
    for node in module.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            out.update({t.id: node.value.value for t in node.targets if isinstance(t, ast.Name)})
    return out


def _codes(node, names) -> set:
    """The codes an expression can be: a string, a name for one, either branch of an if."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in names:
        return {names[node.id]}
    if isinstance(node, ast.IfExp):
        return _codes(node.body, names) | _codes(node.orelse, names)
    if isinstance(node, ast.List):
        return set().union(set(), *(_codes(e, names) for e in node.elts))
    return set()


def emitted_codes(path: Path) -> set[str]:
    """The diagnosis codes a module gives, wherever it gives one: ``say(code)``, a returned
    ``(passed, code, message, ...)``, the diagnoses of a ``CellResult`` or a sidecar entry."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = _strings(tree)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee == "say" and node.args:
                found |= _codes(node.args[0], names)
            if callee == "CellResult" and len(node.args) >= 3:
                found |= _codes(node.args[2], names)
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) >= 3:
            first = node.value.elts[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, bool):
                found |= _codes(node.value.elts[1], names)
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) and _codes(t.slice, names) == {"diagnoses"}
                                                for t in node.targets):
            found |= _codes(node.value, names)
    return found


ENGINE = set().union(*(emitted_codes(p) for p in SOURCES))


def test_the_scan_sees_codes_of_every_kind():
    assert {"close", "diagonal_only", "one_row", "sign_some", "transpose", "off_by_one", "not_dead", "not_run",
            "kernel_died", "unreadable", "not_graded", "cannot_cross", "blank", "internal_error"} <= ENGINE


@pytest.mark.parametrize("code", sorted(ENGINE | set(VIOLATION_DIAGNOSES.values())))
def test_every_code_the_engine_gives_has_a_sentence_and_a_label(code):
    assert code in DIAGNOSES, f"add {code!r} to judge/diagnoses.py"
    assert DIAGNOSES[code].student and DIAGNOSES[code].label


def test_labels_are_distinct_and_each_entry_is_given_somewhere():
    labels = [d.label for d in DIAGNOSES.values()]
    assert len(labels) == len(set(labels))
    assert set(DIAGNOSES) - ENGINE - set(VIOLATION_DIAGNOSES.values()) <= {"ok"}


def test_an_unknown_code_fails_where_it_is_made_and_shows_as_itself_in_the_report():
    with pytest.raises(KeyError):
        say("transposd")
    assert label("an_old_code") == "an_old_code" and label("close").startswith("close but outside the tolerance")


def test_the_report_uses_the_registry():
    from autograder.term import report
    assert not hasattr(report, "LABELS")
    assert report.Diagnosis("test_x", "x", "one_column", ["ann"]).label == DIAGNOSES["one_column"].label


def _verdict(code, *, edge=False, passed=False):
    return Verdict(passed=passed, diagnosis=code, message="", edge=edge)


def test_a_cell_counts_what_its_general_probes_say_not_a_special_case_coincidence():
    rules = Rules()
    # a 1×1 special case would have called any wrong value something; the general probes speak
    verdicts = [_verdict("ok", passed=True), _verdict("wrong_value"), _verdict("sign", edge=True)]
    assert cell_diagnoses(rules, verdicts, []) == ["wrong_value"]
    # right in general, wrong only at special cases: those are what it got wrong
    assert cell_diagnoses(rules, [_verdict("ok", passed=True), _verdict("row_scaled", edge=True)], []) == ["row_scaled"]
    assert cell_diagnoses(Rules(kind="by hand"), verdicts, ["torch.func.jacrev"]) == ["autograd_used"]


def test_the_graders_own_trouble_is_not_a_students_mistake():
    assert not founded("internal_error") and not founded("not_graded") and not founded("blank")
    assert not founded("ok") and founded("transpose") and founded("close")
    assert diagnoses.founded("from_an_older_grader")
