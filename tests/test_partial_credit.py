"""Partial credit is fair, checked mechanically: for every exercise in the registry and many
seeds, the instructor's solution scores full marks, every trivial or typical wrong answer
scores 0 (the general-position probes tell it from the right one, whatever the seed), and an
answer wrong only at a special case scores more than half but less than full."""
from __future__ import annotations

import functools
import inspect
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.intake import notebook_text
from autograder.dev import scaffold
import jacobians_course
from autograder.inside.calling import call_student
from jacobians_course import EXERCISES, get
from autograder.judge.feedback import render
from autograder.judge.grading import run_exercise
from autograder.protocol.rules import rules_for
from autograder.judge.scoring import EDGE_WEIGHT

ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}
# seeds per exercise; relu_vjp draws its 10**7-entry probe for every answer
EXAMPLES = {"relu_vjp": 3}
SEEDS = 12


def _solutions() -> dict:
    """The instructor's solution of every exercise, run from the source notebooks' cells."""
    namespace = {"torch": torch, "np": np, "math": math}
    for name, code in notebook_text.solution_cells(scaffold.REPO_ROOT / "source" / jacobians_course.ASSIGNMENT).items():
        if name in EXERCISES:  # not the written answers
            exec(code, namespace)
    return namespace


SOLUTION = _solutions()


def right(name):
    return SOLUTION[name]


def _slope(z, activation, at_zero=False):
    if activation == "relu":
        return ((z >= 0) if at_zero else (z > 0)).to(z.dtype)
    s = ACT[activation](z)
    return 1 - s ** 2 if activation == "tanh" else s * (1 - s)


def _point(name, args):
    """The input the Jacobian is taken at (``p``, ``x`` or ``z``)."""
    names = list(inspect.signature(right(name)).parameters)
    return next(args[names.index(a)] for a in ("p", "x", "z") if a in names)


# ----------------------------------------------------------------------------- wrong answers
# Each builds a function with the exercise's signature from the right one (so it has the
# right shapes and types): the trivial answers, then the typical mistakes of each exercise.

def _matrix_family(name, diagonal=False):
    ok = right(name)
    family = {
        "zeros": lambda *a, **k: torch.zeros_like(torch.as_tensor(ok(*a, **k))),
        "a constant": lambda *a, **k: torch.ones_like(torch.as_tensor(ok(*a, **k))),
        "the identity": lambda *a, **k: torch.eye(*torch.as_tensor(ok(*a, **k)).shape, dtype=torch.float64),
        "the transpose": lambda *a, **k: torch.as_tensor(ok(*a, **k)).T,
        "the sign flipped": lambda *a, **k: -torch.as_tensor(ok(*a, **k)),
        "twice the answer": lambda *a, **k: 2 * torch.as_tensor(ok(*a, **k)),
        "the input back": lambda *a, **k: _point(name, a).clone(),
    }
    if diagonal:  # an elementwise function's Jacobian is its own transpose
        del family["the transpose"]
    return family


TYPICAL = {
    "jacobian_by_hand": lambda: {
        **_matrix_family("jacobian_by_hand"),
        "columns swapped": lambda p: torch.stack([torch.stack([torch.ones_like(p[0]), 2 * p[0]]),
                                                  torch.stack([p[0], p[1]]),
                                                  torch.stack([torch.zeros_like(p[0]), torch.exp(p[0])])]),
        "the gradient of the sum": lambda p: torch.stack([2 * p[0] + p[1] + torch.exp(p[0]), 1 + p[0]]),
    },
    "numerical_jacobian": lambda: {
        **_matrix_family("numerical_jacobian"),
        "divided by h, not 2h": lambda f, x, h=1e-5: 2 * right("numerical_jacobian")(f, x, h),
    },
    "affine_jacobian": lambda: {
        **_matrix_family("affine_jacobian"),
        "b back": lambda W, b, x: b,
        "the rows summed": lambda W, b, x: W.sum(dim=0, keepdim=True),
        "the columns summed": lambda W, b, x: W.sum(dim=1, keepdim=True),
    },
    "network_jacobian_shape": lambda: {
        "inputs first": lambda s: (s[0], s[-1]),
        "the first layer's shape": lambda s: (s[1], s[0]),
        "the last layer's shape": lambda s: (s[-1], s[-2]),
    },
    "layer_jacobian": lambda: {
        **_matrix_family("layer_jacobian"),
        "W: the activation ignored": lambda W, b, x, activation: W.clone(),
        "the activation instead of its derivative":
            lambda W, b, x, activation: ACT[activation](W @ x + b)[:, None] * W,
        "W scaled by the sum of the slopes":
            lambda W, b, x, activation: _slope(W @ x + b, activation).sum() * W,
        "diag of the slopes, without W": lambda W, b, x, activation: torch.diag(_slope(W @ x + b, activation)),
        "W scaled by the mean slope": lambda W, b, x, activation: _slope(W @ x + b, activation).mean() * W,
    },
    "mlp_jacobian": lambda: {
        **_matrix_family("mlp_jacobian"),
        "activations ignored": lambda weights, biases, x, activation="tanh": _chain(weights, biases, x, activation,
                                                                                  slopes=False),
        "an activation after the last layer too":
            lambda weights, biases, x, activation="tanh": _chain(weights, biases, x, activation, last=True),
        "chained first to last": lambda weights, biases, x, activation="tanh": _chain(weights, biases, x, activation,
                                                                                    reverse=True),
        "the last layer's W": lambda weights, biases, x, activation="tanh": weights[-1].clone(),
    },
    "relu_jacobian": lambda: {
        **_matrix_family("relu_jacobian", diagonal=True),
        "diag(relu(z))": lambda z: torch.diag(torch.relu(z)),
        "the diagonal only": lambda z: (z > 0).to(z.dtype),
        "the identity scaled by the active count": lambda z: (z > 0).sum() * torch.eye(len(z), dtype=z.dtype),
        "diag(sign(z))": lambda z: torch.diag(torch.sign(z)),
    },
    "dead_input": lambda: {
        "zeros": lambda W, b: torch.zeros(W.shape[1], dtype=W.dtype),
        **{f"x = ({c}, ..., {c})": (lambda W, b, c=c: torch.full((W.shape[1],), float(c), dtype=W.dtype))
           for c in (-1000, -1, 1, 1000)},
        "the inverse of W (square W only)": lambda W, b: -torch.linalg.inv(W) @ (b + 1),
        "-b": lambda W, b: -b,
    },
    "relu_vjp": lambda: {
        "zeros": lambda z, v: torch.zeros_like(v),
        "v back": lambda z, v: v.clone(),
        "z back": lambda z, v: z.clone(),
        "relu(z) * v": lambda z, v: torch.relu(z) * v,
        "the slopes, without v": lambda z, v: (z > 0).to(z.dtype),
        "(v > 0) * z": lambda z, v: (v > 0) * z,
        "the sign flipped": lambda z, v: -right("relu_vjp")(z, v),
    },
    "sigmoid_jacobian": lambda: {
        **_matrix_family("sigmoid_jacobian", diagonal=True),
        "diag(sigmoid(z))": lambda z: torch.diag(torch.sigmoid(z)),
        "the slope at 0, 1/4": lambda z: torch.eye(len(z), dtype=z.dtype) / 4,
        "the diagonal only": lambda z: torch.sigmoid(z) * torch.sigmoid(-z),
    },
    "sigmoid_layer_jacobian": lambda: {
        **_matrix_family("sigmoid_layer_jacobian"),
        "W: the sigmoid ignored": lambda W, b, x: W.clone(),
        "sigmoid instead of its derivative": lambda W, b, x: torch.sigmoid(W @ x + b)[:, None] * W,
        "W / 4, the slope at 0": lambda W, b, x: W / 4,
        "W scaled by the sum of the slopes": lambda W, b, x: _slope(W @ x + b, "sigmoid").sum() * W,
    },
    "saturated_fraction": lambda: {
        **{f"always {c}": (lambda W, b, X, threshold=1e-3, c=c: c) for c in (0.0, 0.5, 1.0)},
        "the unsaturated fraction": lambda W, b, X, threshold=1e-3: 1 - right("saturated_fraction")(W, b, X, threshold),
        "sigmoid below the threshold": lambda W, b, X, threshold=1e-3:
            float((torch.sigmoid(X @ W.T + b) < threshold).double().mean()),
        "a count": lambda W, b, X, threshold=1e-3: right("saturated_fraction")(W, b, X, threshold) * X.shape[0] * W.shape[0],
    },
}

# Answers right in general but wrong at a special case: they keep more than half the points.
EDGE_ONLY = {
    "jacobian_by_hand": {
        "derivatives as f / x and f / y (NaN at 0)": lambda p: torch.stack([
            torch.stack([2 * p[0] ** 2 / p[0], torch.ones_like(p[0])]),
            torch.stack([p[0] * p[1] / p[0], p[0] * p[1] / p[1]]),
            torch.stack([torch.exp(p[0]), torch.zeros_like(p[0])])]),
    },
    "affine_jacobian": {"squeezed": lambda W, b, x: W.squeeze()},
    "layer_jacobian": {
        "ReLU's derivative 1 at 0": lambda W, b, x, activation:
            _slope(W @ x + b, activation, at_zero=True)[:, None] * W,
    },
    "mlp_jacobian": {
        "an activation after a single layer": lambda weights, biases, x, activation="tanh":
            _chain(weights, biases, x, activation, last=len(weights) == 1),
    },
    "relu_jacobian": {"ReLU's derivative 1 at 0": lambda z: torch.diag((z >= 0).to(z.dtype))},
    "relu_vjp": {"ReLU's derivative 1 at 0": lambda z, v: (z >= 0) * v},
    "sigmoid_layer_jacobian": {
        "squeezed slopes": lambda W, b, x: (torch.sigmoid(W @ x + b) * torch.sigmoid(-(W @ x + b))).squeeze()[:, None] * W,
    },
}


def _chain(weights, biases, x, activation, slopes=True, last=False, reverse=False):
    """An MLP Jacobian, right with the defaults, else with a typical mistake: no slopes, a
    slope after the last layer too, or the layer Jacobians multiplied first to last."""
    J, h = None, x
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = W @ h + b
        hidden = last or k < len(weights) - 1
        Jk = _slope(z, activation)[:, None] * W if hidden and slopes else W
        J = Jk if J is None else J @ Jk if reverse else Jk @ J
        h = ACT[activation](z) if hidden else z
    return J


# ----------------------------------------------------------------------------- the checks

def _graded(name, fn, seed):
    ex = get(name)
    return run_exercise(ex, functools.partial(call_student, fn, rules=rules_for(ex)), seed, [])


def _score(name, fn, seed) -> float:
    return _graded(name, fn, seed)[2]


def _for_many_seeds(name, check) -> None:
    settings(max_examples=EXAMPLES.get(name, SEEDS), deadline=None,
             suppress_health_check=[HealthCheck.too_slow])(given(st.integers(0, 2 ** 63 - 1))(check))()


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_right_answer_full_typical_wrong_answers_zero(name):
    assert name in TYPICAL, f"add the trivial and typical wrong answers of {name!r} to TYPICAL"
    wrong = TYPICAL[name]()
    points = get(name).points

    def check(seed):
        assert _score(name, right(name), seed) == points
        scores = {label: _score(name, fn, seed) for label, fn in wrong.items()}
        assert scores == dict.fromkeys(wrong, 0.0), seed
    _for_many_seeds(name, check)


@pytest.mark.parametrize("name", sorted(EDGE_ONLY))
def test_wrong_only_at_a_special_case_keeps_more_than_half(name):
    points = get(name).points

    def check(seed):
        for label, fn in EDGE_ONLY[name].items():
            assert (1 - EDGE_WEIGHT) * points <= _score(name, fn, seed) < points, (label, seed)
    _for_many_seeds(name, check)


def test_every_exercise_has_general_probes_visible_and_hidden():
    for name, ex in EXERCISES.items():
        visible = ex.visible()
        assert any(not p.edge for p in visible), name       # the student's self-check gives credit
        hidden = [p for p in ex.hidden(np.random.default_rng(1)) if not p.edge]
        assert hidden, name


def test_feedback_names_failed_checks_and_says_special_inputs_are_not_enough():
    ex = get("layer_jacobian")
    only_special = render(ex, *_graded("layer_jacobian", TYPICAL["layer_jacobian"]()["W: the activation ignored"], 1))
    assert "score 0/3" in only_special and "right only at special inputs" in only_special
    first_failure = only_special.split("✗")[1]
    assert "special case" not in first_failure.splitlines()[0]  # general failures come first

    at_zero = render(ex, *_graded("layer_jacobian", EDGE_ONLY["layer_jacobian"]["ReLU's derivative 1 at 0"], 1))
    assert "Right in general, but not at the special cases" in at_zero
    assert "✗ ReLU with a pre-activation exactly 0 (special case):" in at_zero
    assert "(hidden check, special case)" in at_zero and "z > 0, not z ≥ 0" in at_zero
