"""The matrix-free kind and forbidden calls: autograd products pass, a Jacobian or Hessian built
whole is found however it is disguised (in the source and while the function runs), a forbidden
call is found by name, alias, method or identity; each scores 0 with a message that says why."""
from __future__ import annotations

import dataclasses
import functools
import textwrap

import numpy as np
import pytest
import torch

from autograder.course.authoring import exercise, probe, value
from autograder.course.builders import T
from autograder.inside.calling import MAX_ANSWER_NUMBERS, call_student
from autograder.judge.feedback import render
from autograder.judge.grading import run_exercise
from autograder.judge.policy import static_violations
from autograder.protocol.rules import MATERIALISING, Rules, rules_for, violation_diagnosis
from autograder.protocol.values import Probe

HEADER = "import torch\nimport numpy as np\n"
MATRIX_FREE = Rules(kind="matrix-free")


def f(x):
    return torch.tanh(x) * torch.sum(x ** 2) + x.flip(0)


# ----------------------------------------------------------------------------- matrix-free, static

def mf_flags(*cells, name="directional", rules=MATRIX_FREE):
    return static_violations([HEADER] + [textwrap.dedent(c) for c in cells], name, rules=rules)


BUILDS_THE_JACOBIAN = {
    "jacrev": """
        def directional(f, x, v):
            return torch.func.jacrev(f)(x) @ v
    """,
    "jacfwd under an alias": """
        from torch.func import jacfwd as forward_jacobian
        def directional(f, x, v):
            return forward_jacobian(f)(x) @ v
    """,
    "module alias": """
        import torch.autograd.functional as AF
        def directional(f, x, v):
            return AF.jacobian(f, x) @ v
    """,
    "hessian in a helper, transitively": """
        def _curvature(g, x):
            return torch.func.hessian(lambda y: g(y).sum())(x)
        def _helper(f, x):
            return _curvature(f, x)
        def directional(f, x, v):
            return _helper(f, x) @ v
    """,
    "functorch": """
        import functorch
        def directional(f, x, v):
            return functorch.jacrev(f)(x) @ v
    """,
    "vmap over vjp": """
        def directional(f, x, v):
            _, pull = torch.func.vjp(f, x)
            rows = torch.vmap(lambda e: pull(e)[0])(torch.eye(x.shape[0], dtype=x.dtype))
            return rows @ v
    """,
    "is_grads_batched": """
        def directional(f, x, v):
            x = x.clone().requires_grad_()
            (rows,) = torch.autograd.grad(f(x), x, torch.eye(x.shape[0], dtype=x.dtype), is_grads_batched=True)
            return rows @ v
    """,
    "getattr with a constant": """
        def directional(f, x, v):
            return getattr(torch.func, "jacrev")(f)(x) @ v
    """,
    "getattr with a computed name": """
        def directional(f, x, v):
            return getattr(torch.func, "jac" + "rev")(f)(x) @ v
    """,
    "importlib": """
        import importlib
        def directional(f, x, v):
            return importlib.import_module("torch.func").jacrev(f)(x) @ v
    """,
    "star import": """
        from torch.func import *
        def directional(f, x, v):
            return jacrev(f)(x) @ v
    """,
    "module-level assignment": """
        J = torch.autograd.functional.jacobian
        def directional(f, x, v):
            return J(f, x) @ v
    """,
    "private internals": """
        from torch._functorch import eager_transforms
        def directional(f, x, v):
            return eager_transforms.jacrev(f)(x) @ v
    """,
}

PRODUCTS = {
    "jvp": """
        def directional(f, x, v):
            return torch.func.jvp(f, (x,), (v,))[1]
    """,
    "double vjp": """
        def directional(f, x, v):
            y, pull = torch.func.vjp(f, x)
            u = torch.zeros_like(y, requires_grad=True)
            (g,) = torch.autograd.grad(pull(u)[0], u, v)
            return g
    """,
    "forward_ad": """
        import torch.autograd.forward_ad as fwAD
        def directional(f, x, v):
            with fwAD.dual_level():
                return fwAD.unpack_dual(f(fwAD.make_dual(x, v))).tangent
    """,
    "linearize": """
        from torch.func import linearize
        def directional(f, x, v):
            return linearize(f, x)[1](v)
    """,
    "backward through a dot product": """
        def directional(f, x, v):
            # Jᵀ(Jv) is not asked; a vjp through backward() and a jvp through double backward are fine
            x = x.clone().requires_grad_()
            y = f(x)
            u = torch.zeros_like(y, requires_grad=True)
            (g,) = torch.autograd.grad(y, x, u, create_graph=True)
            (jv,) = torch.autograd.grad(g, u, v)
            return jv
    """,
    "a loop of single products is fine at small sizes": """
        def directional(f, x, v):
            _, pull = torch.func.vjp(f, x)
            y = f(x)
            rows = [pull(e)[0] for e in torch.eye(y.shape[0], dtype=x.dtype)]
            return torch.stack(rows) @ v
    """,
}


@pytest.mark.parametrize("case", sorted(BUILDS_THE_JACOBIAN))
def test_building_the_jacobian_is_flagged_in_the_source(case):
    assert mf_flags(BUILDS_THE_JACOBIAN[case]), case


@pytest.mark.parametrize("case", sorted(PRODUCTS))
def test_products_are_not_flagged_in_the_source(case):
    assert mf_flags(PRODUCTS[case]) == [], case


def test_matrix_free_findings_say_why():
    assert mf_flags(BUILDS_THE_JACOBIAN["jacfwd under an alias"]) == [
        "`torch.func.jacfwd` (as `forward_jacobian`): it builds the whole Jacobian"]
    assert any("vmap" in finding and "basis vector" in finding for finding in mf_flags(BUILDS_THE_JACOBIAN["vmap over vjp"]))
    assert mf_flags(BUILDS_THE_JACOBIAN["is_grads_batched"]) == [
        "`is_grads_batched=True`: batched over basis vectors, autograd builds the whole Jacobian"]


def test_products_are_still_autograd_in_a_by_hand_exercise():
    assert mf_flags(PRODUCTS["jvp"], rules=Rules(kind="by hand"))


# ----------------------------------------------------------------------------- matrix-free, at run time

def _namespace(source: str) -> dict:
    namespace = {"torch": torch, "np": np}
    exec(HEADER + textwrap.dedent(source), namespace)
    return namespace


def _ran(fn, *args, rules=MATRIX_FREE):
    return call_student(fn, Probe(tuple(args), {}, "t"), rules=rules).autograd_calls


X, V = T([0.5, -1.0, 2.0]), T([1.0, 0.25, -0.5])


@pytest.mark.parametrize("case", sorted(BUILDS_THE_JACOBIAN))
def test_building_the_jacobian_is_seen_while_it_runs(case):
    assert _ran(_namespace(BUILDS_THE_JACOBIAN[case])["directional"], f, X, V), case


@pytest.mark.parametrize("case", sorted(PRODUCTS))
def test_products_run_unnoticed(case):
    fn = _namespace(PRODUCTS[case])["directional"]
    assert _ran(fn, f, X, V) == (), case
    expected = torch.func.jacrev(f)(X) @ V
    torch.testing.assert_close(call_student(fn, Probe((f, X, V), {}, "t"), rules=MATRIX_FREE).value,
                               expected.numpy(), rtol=1e-10, atol=1e-12)


def test_vmap_without_autograd_inside_is_fine_at_run_time():
    assert _ran(lambda f, x, v: torch.vmap(torch.sin)(torch.outer(x, v)).sum(0), f, X, V) == ()


def test_a_jacobian_built_where_the_source_cannot_see_it_is_seen_at_run_time():
    # the name arrives as data: the static check sees neither jacrev nor a getattr
    fn = _namespace("""
        def directional(f, x, v, how="jacrev"):
            build = {name: fn for name, fn in vars(torch.func).items() if name == how}[how]
            return build(f)(x) @ v
    """)["directional"]
    assert _ran(fn, f, X, V) == ("torch._functorch.eager_transforms.jacrev: it builds the whole Jacobian",)


# ----------------------------------------------------------------------------- forbidden calls

DET = {"torch.linalg.det": "the log-determinant of this layer has a closed form: find it",
       "torch.linalg.slogdet": "the log-determinant of this layer has a closed form: find it",
       "torch.det": "no determinant call", "torch.logdet": "no determinant call",
       "numpy.linalg.det": "no determinant call", "numpy.linalg.slogdet": "no determinant call"}
NO_DET = Rules(kind="by hand", forbid=tuple(sorted(DET.items())))

DETERMINANT_CALLS = {
    "torch.linalg.det": "return torch.log(torch.abs(torch.linalg.det(A)))",
    "alias": "from torch.linalg import slogdet as sld\ndef g(A):\n    return sld(A)[1]",
    "method": "return torch.log(torch.abs(A.det()))",
    "logdet method": "return (A @ A.T).logdet() / 2",
    "numpy": "return float(np.linalg.slogdet(A.numpy())[1])",
    "numpy under its own name": "import numpy\ndef g(A):\n    return float(numpy.log(abs(numpy.linalg.det(A.numpy()))))",
    "getattr with a constant": "return torch.log(torch.abs(getattr(torch.linalg, 'det')(A)))",
    "star import": "from torch.linalg import *\ndef g(A):\n    return torch.log(torch.abs(det(A)))",
    "torch.logdet": "return torch.logdet(A @ A.T) / 2",
}


def _det_source(body: str) -> str:
    return body if body.count("def g") else "def g(A):\n    " + body


@pytest.mark.parametrize("case", sorted(DETERMINANT_CALLS))
def test_a_forbidden_call_is_flagged_with_its_reason(case):
    found = static_violations([HEADER, _det_source(DETERMINANT_CALLS[case])], "g", rules=NO_DET)
    assert len(found) == 1 and any(found[0].endswith(f": {reason}") for reason in DET.values()), (case, found)
    assert violation_diagnosis(NO_DET, found) == "forbidden_call"


@pytest.mark.parametrize("case", sorted(DETERMINANT_CALLS))
def test_a_forbidden_call_is_seen_while_it_runs(case):
    A = T([[2.0, 1.0], [0.5, 3.0]])
    calls = _ran(_namespace(_det_source(DETERMINANT_CALLS[case]))["g"], A, rules=NO_DET)
    assert len(calls) == 1 and calls[0] in DET, (case, calls)


def test_forbidden_calls_apply_in_every_kind_and_nothing_else_is_flagged():
    A = T([[2.0, 1.0], [0.5, 3.0]])
    for kind in ("by hand", "matrix-free", "free"):
        rules = Rules(kind=kind, forbid=NO_DET.forbid)
        assert _ran(lambda A: torch.linalg.det(A), A, rules=rules) == ("torch.linalg.det",)
        assert _ran(lambda A: torch.linalg.eigvals(A).real.prod(), A, rules=rules) == ()
    honest = "def g(A):\n    d = torch.diagonal(A)\n    return torch.log(torch.abs(d)).sum()"
    assert static_violations([HEADER, honest], "g", rules=NO_DET) == []
    assert static_violations([HEADER, _det_source(DETERMINANT_CALLS["method"])], "g", rules=Rules()) == []


# ----------------------------------------------------------------------------- graded, with feedback

def _exercise(kind="matrix-free", forbid=None):
    declared = exercise(name="directional", kind=kind, answer="vector",
                        reference=value(lambda f, x, v: torch.func.jvp(f, (x,), (v,))[1]),
                        visible=[probe(f, X, V, label="f(x) = tanh(x)·‖x‖² + flip(x)")],
                        hidden=lambda rng: [probe(f, T(rng.standard_normal(5)), T(rng.standard_normal(5)),
                                                  label="random x, v")],
                        rtol=1e-8, atol=1e-10, forbid=forbid)
    return dataclasses.replace(declared, points=2.0, notebook="nb")   # as course.bind reads them


def _grade(declared, source: str, name="directional"):
    fn = _namespace(source)[name]
    rules = rules_for(declared)
    verdicts, violation, score = run_exercise(declared, functools.partial(call_student, fn, rules=rules), 7,
                                              [HEADER, textwrap.dedent(source)], name)
    return verdicts, violation, score, render(declared, verdicts, violation, score)


def test_a_matrix_free_answer_from_products_earns_full_marks():
    verdicts, violation, score, text = _grade(_exercise(), PRODUCTS["jvp"])
    assert (violation, score) == ([], 2) and "Every check passed" in text


def test_a_jacobian_built_whole_scores_zero_with_a_message_that_says_why():
    verdicts, violation, score, text = _grade(_exercise(), BUILDS_THE_JACOBIAN["jacrev"])
    assert score == 0 and all(v.diagnosis == "jacobian_built" for v in verdicts)
    assert violation_diagnosis(MATRIX_FREE, violation) == "jacobian_built"
    assert "Score 0: this exercise is matrix-free" in text and "builds the whole Jacobian" in text
    assert "torch.func.jvp" in text   # what to do instead


def test_a_forbidden_call_scores_zero_with_its_reason():
    ex = dataclasses.replace(exercise(
        name="g", kind="by hand", answer="scalar", reference=value(lambda A: torch.linalg.slogdet(A)[1]),
        visible=[probe(T([[2.0, 0.0], [1.0, 3.0]]), label="a triangular A")], hidden=lambda rng: [],
        rtol=1e-8, atol=1e-10, forbid=DET), points=3.0, notebook="nb")
    verdicts, violation, score, text = _grade(ex, _det_source(DETERMINANT_CALLS["method"]), name="g")
    assert score == 0 and violation_diagnosis(NO_DET, violation) == "forbidden_call"
    assert "Score 0: your code uses what this exercise does not allow" in text
    assert "no determinant call" in text and "autograd" not in text
    assert [v.diagnosis for v in verdicts] == ["forbidden_call"]


# ----------------------------------------------------------------------------- in the sandbox child

@pytest.fixture(scope="module")
def sandbox():
    from autograder.sandbox.session import Sandbox
    box = Sandbox()
    yield box
    box.close()


def test_the_child_traces_the_rules_it_is_sent(sandbox):
    cells = [HEADER, textwrap.dedent(PRODUCTS["jvp"]).replace("def directional", "def honest"),
             textwrap.dedent(BUILDS_THE_JACOBIAN["vmap over vjp"]).replace("def directional", "def batched"),
             "def log_det(A):\n    return torch.log(torch.abs(A.det()))\n"]
    with sandbox.session(None, (), 2048, 1 << 20) as session:
        for cell in cells:
            assert not session.run_cell(cell, timeout=60).error
        # torch.tanh: a function the child can unpickle by reference (this test module it cannot)
        honest = session.call("honest", Probe((torch.tanh, X, V)), MATRIX_FREE, timeout=60,
                              max_numbers=MAX_ANSWER_NUMBERS)
        batched = session.call("batched", Probe((torch.tanh, X, V)), MATRIX_FREE, timeout=60,
                               max_numbers=MAX_ANSWER_NUMBERS)
        det = session.call("log_det", Probe((T([[2.0, 1.0], [0.5, 3.0]]),)), NO_DET, timeout=60,
                           max_numbers=MAX_ANSWER_NUMBERS)
    assert honest.error is None and honest.autograd_calls == ()
    np.testing.assert_allclose(honest.value, ((1 - torch.tanh(X) ** 2) * V).numpy(), rtol=1e-12)
    assert batched.autograd_calls == (f"autograd products inside torch.vmap: {MATERIALISING['vmap']}",)
    assert det.autograd_calls == ("torch.det",)
