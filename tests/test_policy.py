"""The by-hand policy: disguised autograd derivatives are found (statically and at run time);
honest code is not flagged, even when it builds tensors that require grad."""
from __future__ import annotations

import functools
import textwrap

import numpy as np
import pytest
import torch

from autograder.inside.calling import call_student
from autograder.course.builders import T
from autograder.protocol.values import Probe
from jacobians_course import get
from autograder.judge.grading import run_exercise
from autograder.inside.tracer import AutogradTracer
from autograder.judge.policy import static_violations
from autograder.protocol.rules import Rules

HEADER = "import torch\nimport numpy as np\n"


def flags(*cells, name="jacobian_by_hand"):
    return static_violations([HEADER] + [textwrap.dedent(c) for c in cells], name)


DISGUISED = {
    "functional.jacobian": """
        def jacobian_by_hand(p):
            f = lambda q: torch.stack([q[0] ** 2 + q[1], q[0] * q[1], torch.exp(q[0])])
            return torch.autograd.functional.jacobian(f, p)
    """,
    "module alias": """
        J = torch.autograd.functional.jacobian
        def jacobian_by_hand(p):
            return J(f, p)
    """,
    "from-import alias": """
        from torch.func import jacrev as jr
        def jacobian_by_hand(p):
            return jr(f)(p)
    """,
    "from torch import autograd": """
        from torch import autograd as ag
        def jacobian_by_hand(p):
            return ag.functional.jacobian(f, p)
    """,
    "functorch": """
        import functorch
        def jacobian_by_hand(p):
            return functorch.jacfwd(f)(p)
    """,
    "helper, transitively": """
        import torch.func as tf
        def _inner(f, p):
            return tf.vjp(f, p)
        def _helper(p):
            return _inner(f, p)
        def jacobian_by_hand(p):
            return _helper(p)
    """,
    "backward": """
        def jacobian_by_hand(p):
            p = p.clone().requires_grad_(True)
            rows = []
            for i in range(3):
                y = f(p)[i]
                y.backward()
                rows.append(p.grad.clone())
            return torch.stack(rows)
    """,
    "importlib": """
        import importlib
        def jacobian_by_hand(p):
            m = importlib.import_module("torch." + "func")
            return m.jacrev(f)(p)
    """,
    "__import__": """
        def jacobian_by_hand(p):
            return __import__("torch").func.jacrev(f)(p)
    """,
    "getattr with computed string": """
        def jacobian_by_hand(p):
            mod = getattr(torch, "auto" + "grad")
            return mod.functional.jacobian(f, p)
    """,
    "getattr with constant string": """
        def jacobian_by_hand(p):
            return getattr(torch, "func").jacrev(f)(p)
    """,
    "eval": """
        def jacobian_by_hand(p):
            return eval("torch.fu" + "nc.jacrev")(f)(p)
    """,
    "sys.modules": """
        import sys
        def jacobian_by_hand(p):
            return sys.modules["torch.func"].jacrev(f)(p)
    """,
    "vmap of grad": """
        from torch import vmap
        from torch.func import grad
        g = vmap(grad(lambda x: x.sin()))
        def jacobian_by_hand(p):
            return g(p)
    """,
    "grad_fn": """
        def jacobian_by_hand(p):
            q = torch.tensor(p.tolist(), requires_grad=True)
            return f(q).grad_fn
    """,
    "star import": """
        from torch.autograd.functional import *
        def jacobian_by_hand(p):
            return jacobian(f, p)
    """,
    "attribute stored on a module": """
        torch.my_helper = torch.func.jacrev
        def jacobian_by_hand(p):
            return torch.my_helper(f)(p)
    """,
    "decorator": """
        from torch.func import jacrev
        @jacrev
        def jacobian_by_hand(p):
            return f(p)
    """,
}


@pytest.mark.parametrize("case", sorted(DISGUISED))
def test_disguised_autograd_is_flagged_statically(case):
    assert flags(DISGUISED[case]), case


BUILDS_A_GRAPH = """
    def jacobian_by_hand(p):
        q = p.clone().requires_grad_(True)
        x, y = q[0], q[1]
        return torch.stack([torch.stack([2 * x, torch.ones_like(x)]), torch.stack([y, x]),
                            torch.stack([torch.exp(x), torch.zeros_like(x)])])
"""
HONEST = {
    "sigmoid and friends": """
        def jacobian_by_hand(p):
            x, y = p[0], p[1]
            s = torch.sigmoid(x)
            return torch.stack([torch.stack([2 * x, torch.ones_like(x)]),
                                torch.stack([y, x]),
                                torch.stack([torch.exp(x), torch.zeros_like(x)])])
    """,
    "variables named grad and gradient, parameter named jacobian": """
        def helper(jacobian, grad):
            gradient = np.gradient(np.arange(3.0))
            return jacobian * 2
        def jacobian_by_hand(p, jacobian=None):
            grad = p * 2
            return helper(torch.eye(2), grad)
    """,
    "autograd used in another, unreachable cell": """
        def jacobian_by_hand(p):
            return torch.zeros(3, 2)
    """,
    "no_grad and detach": """
        def jacobian_by_hand(p):
            with torch.no_grad():
                return p.detach().clone()
    """,
    "returns a tensor that requires grad": """
        def jacobian_by_hand(p):
            x, y = float(p[0]), float(p[1])
            return torch.tensor([[2 * x, 1.0], [y, x], [np.exp(x), 0.0]], dtype=torch.float64, requires_grad=True)
    """,
    "builds a graph that nothing differentiates": BUILDS_A_GRAPH,
    "grad modes, detach and requires_grad_(False)": """
        from torch.autograd import no_grad as ng
        def jacobian_by_hand(p):
            with torch.inference_mode():
                x = p[0] * 1
            with torch.autograd.set_grad_enabled(False), ng(), torch.enable_grad():
                y = p.detach().clone().requires_grad_(False)[1]
            return torch.tensor([[2 * x, 1.0], [y, x], [torch.exp(x), 0.0]])
    """,
    "a docstring that mentions autograd": '''
        def jacobian_by_hand(p):
            """Computed by hand; compare with torch.autograd later."""
            print("no autograd here")
            return p
    ''',
}
UNREACHABLE_CHECK = """
    from torch.autograd.functional import jacobian
    print(jacobian(lambda q: q ** 2, torch.ones(2)))
"""


@pytest.mark.parametrize("case", sorted(HONEST))
def test_honest_code_is_not_flagged(case):
    assert flags(UNREACHABLE_CHECK, HONEST[case]) == []


def test_findings_name_what_was_found():
    assert flags(DISGUISED["backward"]) == ["`.backward()`", "`.grad`"]
    assert flags(DISGUISED["from-import alias"]) == ["`torch.func.jacrev` (as `jr`)"]


def test_later_cell_redefinition_wins():
    cheat = DISGUISED["from-import alias"]
    honest = HONEST["sigmoid and friends"]
    assert flags(cheat, honest) == []
    assert flags(honest, cheat)


def test_magics_and_broken_cells_do_not_hide_code():
    assert flags("%matplotlib inline\n" + textwrap.dedent(DISGUISED["functional.jacobian"]), "def broken(:\n")


# ----------------------------------------------------------------------------- runtime tracer

def f(q):
    return torch.stack([q[0] ** 2 + q[1], q[0] * q[1], torch.exp(q[0])])


def _ran(fn, *args):
    probe = Probe(tuple(args), {}, "t")
    return call_student(fn, probe, rules=Rules(kind="by hand")).autograd_calls


P = T([1.0, 2.0])


def test_tracer_sees_functional_jacobian_func_backward_and_hidden_names():
    import importlib
    assert _ran(lambda p: torch.autograd.functional.jacobian(f, p), P)
    assert _ran(lambda p: torch.func.jacrev(f)(p), P)
    assert _ran(lambda p: torch.func.jacfwd(f)(p), P)
    assert _ran(lambda p: importlib.import_module("torch.f" + "unc").vjp(f, p)[1](torch.ones(3, dtype=p.dtype)), P)

    def backward(p):
        p = p.clone().requires_grad_()
        f(p).sum().backward()
        return p.grad
    assert _ran(backward, P) == ("Tensor.backward()",)

    def via_engine_only(p):
        q = torch.tensor(p.tolist(), dtype=p.dtype, requires_grad=True)  # no requires_grad_ call
        out = torch.exp(q)
        return out.grad_fn(torch.ones_like(p))  # drive the graph by hand: ExpBackward uses exp(q)
    assert _ran(via_engine_only, P)


def test_tracer_quiet_when_a_graph_is_built_but_not_differentiated():
    namespace = {"torch": torch, "np": np}
    exec(textwrap.dedent(BUILDS_A_GRAPH) + textwrap.dedent(HONEST["grad modes, detach and requires_grad_(False)"])
         .replace("def jacobian_by_hand", "def with_modes"), namespace)
    exec(textwrap.dedent(HONEST["returns a tensor that requires grad"]).replace("def jacobian_by_hand",
                                                                                "def requiring"), namespace)
    for name in ("jacobian_by_hand", "with_modes", "requiring"):
        assert _ran(namespace[name], P) == (), name


def test_by_hand_answer_that_requires_grad_scores_full_marks():
    namespace = {"torch": torch}
    exec(textwrap.dedent(BUILDS_A_GRAPH), namespace)
    ex = get("jacobian_by_hand")
    call = functools.partial(call_student, namespace["jacobian_by_hand"], rules=Rules(kind="by hand"))
    verdicts, violation, score = run_exercise(ex, call, 3, [HEADER, textwrap.dedent(BUILDS_A_GRAPH)])
    assert violation == [] and all(v.passed for v in verdicts) and score == ex.points


def test_tracer_notices_profiler_switched_off():
    import sys

    def sneaky(p):
        sys.setprofile(None)
        return torch.func.jacrev(f)(p)
    assert _ran(sneaky, P)


def test_tracer_quiet_for_honest_code_and_restores_profiler():
    import sys
    before = sys.getprofile()
    assert _ran(lambda p: torch.sigmoid(p) * (1 - torch.sigmoid(p)), P) == ()
    with torch.no_grad():
        pass
    assert _ran(lambda p: torch.diag(torch.relu(p)), P) == ()
    assert _ran(lambda p: print(p, repr(p), f"{p}") or p, P) == ()  # printing calls forward_ad internals
    assert sys.getprofile() is before
    with AutogradTracer() as t:
        torch.tanh(P)
    assert t.calls == ()
