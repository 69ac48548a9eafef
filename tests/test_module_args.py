"""torch.nn.Modules and functions as probe arguments: they reach the student's process as the
instructor defined them (by value, from a course module the child never imports), and a call
that changes the model it was given fails that probe with a message that says how."""
from __future__ import annotations

import textwrap

import pytest
import torch

from autograder.course.builders import T
from autograder.inside.calling import MAX_ANSWER_NUMBERS, call_student
from autograder.course.declarations import declarations_module
from autograder.batch.jobs import Declarations
from autograder.protocol.rules import Rules
from autograder.sandbox.session import Sandbox
from autograder.protocol.values import ARGUMENT_CHANGED, Probe

COURSE_MODULE = '''
import torch

class TinyClassifier(torch.nn.Module):
    """Two features, three classes; defined by the instructor, never by the student."""
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 3, dtype=torch.float64)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor([[1.0, -2.0], [0.5, 1.5], [-1.0, 0.25]], dtype=torch.float64))
            self.linear.bias.copy_(torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64))

    def forward(self, x):
        return self.linear(x)

def bump(x):
    return torch.sin(x) + SHIFT

SHIFT = 0.5
'''

FGSM = """
import torch
def fgsm(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return (x + eps * g.sign()).detach()
"""
FGSM_BACKWARD = """
import torch
def fgsm(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    torch.nn.functional.cross_entropy(model(x), y).backward()   # also fills the parameters' .grad
    return (x + eps * x.grad.sign()).detach()
"""
FGSM_TRAINS = """
import torch
def fgsm(model, x, y, eps):
    x = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    with torch.no_grad():
        model.linear.weight -= 0.1        # an optimizer step on the model
    return (x + eps * g.sign()).detach()
"""
FGSM_FREEZES = """
import torch
def fgsm(model, x, y, eps):
    model.requires_grad_(False)
    x = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return (x + eps * g.sign()).detach()
"""
USES_F = """
def apply(f, x):
    return f(x)
"""


@pytest.fixture(scope="module")
def course_module(tmp_path_factory):
    """The course's declarations as the grader loads them (declarations.declarations_module), from a
    folder the child cannot see."""
    path = tmp_path_factory.mktemp("autograding") / "exercises.py"
    path.write_text(COURSE_MODULE)
    return declarations_module(Declarations(path=str(path), source=COURSE_MODULE))


def _fgsm_probe(module):
    x = T([[0.3, -0.7], [1.2, 0.4]])
    return Probe((module.TinyClassifier(), x, torch.tensor([1, 0]), 0.1), {}, "a tiny classifier")


def _expected_fgsm(probe):
    model, x, y, eps = probe.args
    x = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(torch.nn.functional.cross_entropy(model(x), y), x)
    return (x + eps * g.sign()).detach().numpy()


def _define(source: str, name: str):
    namespace: dict = {}
    exec(textwrap.dedent(source), namespace)
    return namespace[name]


def test_an_honest_call_leaves_the_model_alone(course_module):
    probe = _fgsm_probe(course_module)
    out = call_student(_define(FGSM, "fgsm"), probe, rules=Rules())
    assert out.error is None
    torch.testing.assert_close(torch.from_numpy(out.value), torch.from_numpy(_expected_fgsm(probe)))


@pytest.mark.parametrize("source,says", [(FGSM_BACKWARD, "linear.weight.grad"), (FGSM_TRAINS, "linear.weight"),
                                         (FGSM_FREEZES, "requires_grad")])
def test_a_call_that_changes_the_model_fails_with_how(course_module, source, says):
    probe = _fgsm_probe(course_module)
    for copy_inputs in (True, False):
        out = call_student(_define(source, "fgsm"), probe, rules=Rules(), copy_inputs=copy_inputs)
        assert out.value is None and out.error.exc_type == ARGUMENT_CHANGED, out
        assert says in out.error.message and "TinyClassifier" in out.error.message


@pytest.fixture(scope="module")
def sandbox():
    box = Sandbox()
    yield box
    box.close()


def _in_child(sandbox, source: str, name: str, probe, hide: tuple):
    with sandbox.session(None, hide, 2048, 1 << 20) as session:
        assert not session.run_cell(textwrap.dedent(source), timeout=60).error
        return session.call(name, probe, Rules(kind="free"), timeout=60, max_numbers=MAX_ANSWER_NUMBERS)


def test_modules_and_functions_reach_the_child_by_value(course_module, sandbox):
    folder = course_module.__file__.rsplit("/", 1)[0]
    probe = _fgsm_probe(course_module)
    out = _in_child(sandbox, FGSM, "fgsm", probe, hide=(folder,))
    assert out.error is None, out.error
    torch.testing.assert_close(torch.from_numpy(out.value), torch.from_numpy(_expected_fgsm(probe)))
    # a function of the course module, with a global of that module, as the instructor wrote it
    out = _in_child(sandbox, USES_F, "apply", Probe((course_module.bump, T([0.0, 1.0])), {}, "f = bump"),
                    hide=(folder,))
    assert out.error is None, out.error
    torch.testing.assert_close(torch.from_numpy(out.value), torch.sin(T([0.0, 1.0])) + 0.5)


def test_the_child_reports_a_model_changed_by_the_student(course_module, sandbox):
    out = _in_child(sandbox, FGSM_BACKWARD, "fgsm", _fgsm_probe(course_module), hide=())
    assert out.error.exc_type == ARGUMENT_CHANGED and "loss.backward()" in out.error.message


def test_feedback_shows_a_probe_function_by_its_docstring(course_module):
    from autograder.judge.feedback import fmt_value

    def net(x):
        """f(x) = W2 tanh(W1 x + b1) + b2, with 3 inputs and 2 outputs"""
        return x
    assert fmt_value(net) == "f(x) = W2 tanh(W1 x + b1) + b2, with 3 inputs and 2 outputs"
    assert fmt_value(course_module.bump) == "the function bump"
    assert "TinyClassifier" in fmt_value(course_module.TinyClassifier())
