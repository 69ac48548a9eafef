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
from autograder.protocol.values import Probe, Unconvertible
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


# ----------------------------------------------------------------------------- what the name is bound to

HAND = """
    def _hand(p):
        x, y = p[0], p[1]
        return torch.stack([torch.stack([2 * x, torch.ones_like(x)]), torch.stack([y, x]),
                            torch.stack([torch.exp(x), torch.zeros_like(x)])])
"""
BOUND_TO = {   # how the graded name may be bound: (the honest binding, the same built with autograd)
    "a lambda": ("jacobian_by_hand = lambda p: _hand(p)",
                 "jacobian_by_hand = lambda p: torch.func.jacrev(f)(p)"),
    "an instance of a class with __call__": (
        "class J:\n    def __call__(self, p):\n        return _hand(p)\njacobian_by_hand = J()",
        "class J:\n    def __call__(self, p):\n        return torch.func.jacrev(f)(p)\njacobian_by_hand = J()"),
    "functools.partial": ("import functools\njacobian_by_hand = functools.partial(_hand)",
                          "import functools\njacobian_by_hand = functools.partial(torch.func.jacrev(f))"),
    "a bound method": (
        "class S:\n    def jac(self, p):\n        return _hand(p)\nsolver = S()\njacobian_by_hand = solver.jac",
        "class S:\n    def jac(self, p):\n        return torch.autograd.functional.jacobian(f, p)\n"
        "solver = S()\njacobian_by_hand = solver.jac"),
    "a callable built by a factory": (
        "def make():\n    return _hand\njacobian_by_hand = make()",
        "def make():\n    return torch.func.jacfwd(f)\njacobian_by_hand = make()"),
    "an item of a container": ("jacobian_by_hand = [_hand][0]", "jacobian_by_hand = [torch.func.jacrev(f)][0]"),
    "a loop target": ("for jacobian_by_hand in [_hand]:\n    pass",
                      "for jacobian_by_hand in [torch.func.jacrev(f)]:\n    pass"),
    "a walrus": ("print(jacobian_by_hand := _hand)", "print(jacobian_by_hand := torch.func.jacrev(f))"),
}


@pytest.mark.parametrize("case", sorted(BOUND_TO))
def test_whatever_the_name_is_bound_to_its_code_is_read(case):
    honest, cheat = BOUND_TO[case]
    assert flags(HAND, honest) == [], case
    assert flags(HAND, cheat), case


def test_a_method_parameter_does_not_hide_a_global_in_a_sibling_method():
    found = flags("""
        class J:
            def helper(self, torch):
                return torch
            def __call__(self, p):
                return torch.func.jacrev(f)(p)
        jacobian_by_hand = J()
    """)
    assert found == ["`torch.func.jacrev`"]


def test_module_level_lines_that_fill_a_container_are_followed():
    assert flags("tools = []", "tools.append(torch.func.jacrev)",
                 "def jacobian_by_hand(p):\n    return tools[0](f)(p)") == ["`torch.func.jacrev`"]
    assert flags("named = {}", "named['j'] = torch.autograd.functional.jacobian",
                 "def jacobian_by_hand(p):\n    return named['j'](f, p)") == ["`torch.autograd.functional.jacobian`"]


# ----------------------------------------------------------------------------- the whole notebook

ESCAPES = {   # a line anywhere in the notebook -> what the finding names
    "a thread": ("import threading\nthreading.Thread(target=print).start()", "`threading`"),
    "_thread": ("import _thread as t\nt.start_new_thread(print, ())", "`_thread`"),
    "a thread pool": ("from concurrent.futures import ThreadPoolExecutor", "`concurrent.futures.ThreadPoolExecutor`"),
    "a process": ("import os\nos.fork()", "`os.fork`"),
    "gc": ("import gc\ngc.get_objects()", "`gc`"),
    "ctypes": ("import ctypes", "`ctypes`"),
    "inspect": ("import inspect as i\ni.currentframe()", "`inspect`"),
    "sys._getframe": ("import sys\nframe = sys._getframe()", "`sys._getframe`"),
    "a frame from a traceback": ("try:\n    1 / 0\nexcept Exception as e:\n    g = e.__traceback__.tb_frame",
                                 "`.__traceback__`"),
    "exec": ("exec('x = 1')", "`exec()`"),
    "eval": ("y = eval('1')", "`eval()`"),
    "compile": ("c = compile('1', 'x', 'eval')", "`compile()`"),
    "__import__": ("m = __import__('os')", "`__import__()`"),
    "the tracer": ("import autograder.inside.tracer as t\nt.AutogradTracer.__exit__ = None",
                   "`autograder.inside.tracer`"),
    "the tracer, from-imported": ("from autograder.inside import tracer", "`autograder.inside.tracer`"),
    "the profiler": ("import sys\nsys.setprofile(None)", "`sys.setprofile`"),
    "IPython's machinery": ("get_ipython().input_transformers_cleanup.append(str)", "`get_ipython()`"),
    "a shell escape": ("!python -c 'print(1)'", "`!`"),
    "a cell magic that runs another language": ("%%bash\necho hi", "`%%bash`"),
    "a library patched": ("torch.Tensor.__repr__ = lambda self: 'x'", "`torch.Tensor.__repr__ = ...`"),
    "a module passed around": ("def patch(m):\n    m.dumps = str\nimport json\npatch(json)", "`json`"),
    "a module of the submission's own": ("import my_helpers", "`import my_helpers`"),
    "a computed setattr": ("name = 'x'\nsetattr(torch, name, 1)", "`setattr()`"),
    "introspection through a class": ("subs = object.__subclasses__()", "`.__subclasses__`"),
}


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_what_escapes_the_tracer_is_found_anywhere_in_the_notebook(case):
    line, what = ESCAPES[case]
    found = flags(line, HONEST["sigmoid and friends"])
    assert any(f.startswith(what + " (cell 2, line ") for f in found), (case, found)
    # the same rule for the other policed kinds; nothing for a free exercise
    assert static_violations([HEADER, line, textwrap.dedent(HONEST["sigmoid and friends"])], "jacobian_by_hand",
                             rules=Rules(kind="matrix-free"))
    assert static_violations([HEADER, line], "jacobian_by_hand", rules=Rules(kind="free")) == []


def test_notebook_findings_say_where_and_why():
    found = flags("x = 1\nimport threading", HONEST["sigmoid and friends"])
    assert found == ["`threading` (cell 2, line 2): code in another thread or process runs where the grader "
                     "cannot follow it"]


def test_ordinary_notebook_code_is_not_flagged():
    cells = ["%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (4, 3)",
             "torch.set_default_dtype(torch.float64)\ntorch.backends.cudnn.deterministic = True",
             "%time y = torch.ones(3).sum()",
             "%%time\nz = torch.zeros(2)",
             "from autograder import check\ncheck('jacobian_by_hand', jacobian_by_hand)",
             "import functools, math, collections\nfrom dataclasses import dataclass",
             "for m in torch.nn.Sequential(torch.nn.Linear(2, 2)).modules():\n    print(m)",
             "obj = torch.ones(2)\nobj?"]
    assert flags(UNREACHABLE_CHECK, *cells, HONEST["sigmoid and friends"]) == []


def test_a_timed_statement_is_read_as_code():
    assert flags("%time import threading", HONEST["sigmoid and friends"])
    assert flags("%%timeit\nimport gc", HONEST["sigmoid and friends"])


def test_too_many_findings_are_summed_up():
    found = flags("\n".join(f"import gc as g{i}\ng{i}.collect()" for i in range(3))
                  + "\nimport ctypes, inspect, threading, _thread, subprocess", HONEST["sigmoid and friends"])
    assert len(found) == 6 and found[-1].startswith("... and ")


# ----------------------------------------------------------------------------- cells Python cannot compile

REFUSED = {
    "RecursionError": "total = " + " + ".join(["1"] * 20_000),
    "null bytes": "x = 1\0",
    "SyntaxError": "def broken(:\n",
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_cell_python_cannot_compile_is_read_as_absent(case):
    from autograder.judge.policy import compile_error
    assert case in compile_error(REFUSED[case])
    assert flags(REFUSED[case], HONEST["sigmoid and friends"]) == []
    assert flags(REFUSED[case], DISGUISED["functional.jacobian"])


def test_ipython_syntax_is_not_a_compile_error():
    from autograder.judge.policy import compile_error
    assert compile_error("%matplotlib inline\nx = 1\n!ls\nx?") == ""
    assert "SyntaxError" in compile_error("%matplotlib inline\nx = (")


def test_deep_code_that_python_compiles_does_not_exhaust_the_grader():
    deep = "x = " + "[" * 150 + "]" * 150 + "\n" + "y = " + " + ".join(["1"] * 2_000)
    assert flags(deep, HONEST["sigmoid and friends"]) == []


# ----------------------------------------------------------------------------- the tracer, out of reach

def _jacobian_with_autograd(p):
    return torch.autograd.functional.jacobian(f, p)


def test_rewriting_the_tracer_module_and_class_changes_nothing(monkeypatch):
    from autograder.inside import calling, tracer

    class Blind:
        calls = ()

        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(tracer.AutogradTracer, "__enter__", Blind.__enter__)
    monkeypatch.setattr(tracer.AutogradTracer, "__exit__", Blind.__exit__)
    monkeypatch.setattr(tracer, "start", lambda rules, **k: (lambda: ()))
    monkeypatch.setattr(tracer, "AutogradTracer", Blind)
    monkeypatch.setattr(calling, "tracer", tracer)
    monkeypatch.setattr(calling, "_call_and_read", lambda *a: (None, "NoneType", None, 0.0))
    monkeypatch.setattr(calling, "Outcome", None)
    assert _ran(_jacobian_with_autograd, P) == ("torch.autograd.functional.jacobian",)


def _threaded_jacobian(p):
    import threading
    out = []
    worker = threading.Thread(target=lambda: out.append(_jacobian_with_autograd(p)))
    worker.start()
    worker.join()
    return out[0]


def test_a_thread_started_during_the_call_is_noted():
    calls = _ran(_threaded_jacobian, P)
    assert "a thread was started during the call: the grader cannot see what code in another thread or " \
           "process computes" in calls


def test_a_thread_running_before_the_call_is_noted_when_the_process_should_be_alone():
    import queue
    import threading
    requests, answers = queue.Queue(), queue.Queue()

    def worker():
        answers.put(_jacobian_with_autograd(requests.get()))

    threading.Thread(target=worker, daemon=True).start()

    def asks(p):
        requests.put(p)
        return answers.get(timeout=10)
    outcome = call_student(asks, Probe((P,), {}, "t"), rules=Rules(kind="by hand"), alone=True)
    # the test runner's own threads and children (pytest-xdist's) may be noted too
    assert ("another thread of the notebook was running when your function was called: "
            "the grader cannot see what code in another thread or process computes") in outcome.autograd_calls
    assert call_student(lambda p: p, Probe((P,), {}, "t"), rules=Rules(kind="by hand")).autograd_calls == ()


def test_looking_for_the_tracer_is_noted():
    import sys
    assert _ran(lambda p: sys.getprofile() and p, P) == (
        "sys.getprofile() (the student's code looked for the grader's tracer)",)
    assert _ran(lambda p: sys._getframe(1) and p, P) == (
        "sys._getframe() (the student's code looked into the grader's frames)",)


# ----------------------------------------------------------------------------- the answer, read by exact type

class _Rows(list):
    def __iter__(self):
        return iter(_jacobian_with_autograd(P).tolist())


class _Lying(torch.Tensor):
    pass


def test_an_answer_is_read_by_its_exact_type_inside_the_traced_call():
    rows = call_student(lambda p: _Rows([[0.0, 0.0]] * 3), Probe((P,), {}, "t"), rules=Rules(kind="by hand"))
    assert isinstance(rows.value, Unconvertible) and rows.autograd_calls == ()
    sub = call_student(lambda p: torch.zeros(3, 2).as_subclass(_Lying), Probe((P,), {}, "t"),
                       rules=Rules(kind="by hand"))
    assert isinstance(sub.value, Unconvertible)

    class Shown:   # reading an unconvertible answer (its repr) is still inside the traced call
        def __repr__(self):
            return repr(_jacobian_with_autograd(P))
    shown = call_student(lambda p: Shown(), Probe((P,), {}, "t"), rules=Rules(kind="by hand"))
    assert shown.autograd_calls == ("torch.autograd.functional.jacobian",)


def test_an_answer_is_copied_before_the_tracer_stops():
    kept = []

    def keeps(p):
        out = torch.zeros(3, 2, dtype=torch.float64)
        kept.append(out)
        return out
    outcome = call_student(keeps, Probe((P,), {}, "t"), rules=Rules(kind="by hand"))
    kept[0].fill_(7.0)
    assert np.array_equal(outcome.value, np.zeros((3, 2)))


def test_an_unpoliced_answer_of_any_numeric_dtype_is_read():
    from autograder.inside.calling import to_plain
    for answer in (np.arange(3), np.arange(3, dtype=np.float32), torch.arange(3), torch.ones(2, dtype=torch.float16)):
        for fresh in (False, True):
            assert to_plain(answer, fresh=fresh).dtype == np.float64, (answer, fresh)
    free = call_student(lambda p: np.arange(6).reshape(3, 2), Probe((P,), {}, "t"))
    assert np.array_equal(free.value, np.arange(6.0).reshape(3, 2))


def test_the_self_check_reads_the_whole_notebook(capsys, tmp_path, monkeypatch):
    """check() in a notebook reads every cell the student ran (IPython's `In`), by the same rules."""
    from IPython.core.interactiveshell import InteractiveShell
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    shell = InteractiveShell.instance()
    try:
        honest = textwrap.dedent(HONEST["sigmoid and friends"])
        for cell in ("import torch\nimport threading", honest,
                     "from autograder import check\nscore = check('jacobian_by_hand', jacobian_by_hand)"):
            shell.run_cell(cell, store_history=True)
        assert shell.user_ns["score"] == 0
        assert "`threading` (cell 1, line 2)" in capsys.readouterr().out
        shell.run_cell(honest.replace("jacobian_by_hand", "clean"), store_history=True)
        shell.run_cell("score = check('jacobian_by_hand', clean, sources=['import torch', In[-2]])",
                       store_history=True)
        assert shell.user_ns["score"] == 3
    finally:
        InteractiveShell.clear_instance()
