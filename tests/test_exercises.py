"""The registry: references agree with the worked numbers, hidden probes depend on the seed,
correct solutions (written here, by hand) score full marks, typical mistakes lose points."""
from __future__ import annotations

import functools
import inspect
import math
import pickle
import sys

import numpy as np
import pytest
import torch

from autograder.inside.calling import call_student
from autograder.judge.grading import run_exercise as _run
from autograder.judge.compare import judge
from autograder.course.authoring import probes
from autograder.course.builders import T
from autograder.protocol.values import Probe
from jacobians_course import EXERCISES, ProbeFunction, get
from autograder.protocol.rules import rules_for

SPEC_POINTS = {
    "jacobian_by_hand": 3, "numerical_jacobian": 3, "affine_jacobian": 1, "network_jacobian_shape": 1,
    "layer_jacobian": 3, "mlp_jacobian": 4, "relu_jacobian": 2, "dead_input": 3, "relu_vjp": 2,
    "sigmoid_jacobian": 2, "sigmoid_layer_jacobian": 3, "saturated_fraction": 2,
}
BY_HAND = {"jacobian_by_hand", "numerical_jacobian", "affine_jacobian", "layer_jacobian", "mlp_jacobian",
           "relu_jacobian", "sigmoid_jacobian", "sigmoid_layer_jacobian"}
NOTEBOOK = {"jacobian_by_hand": "jacobian", "numerical_jacobian": "jacobian", "affine_jacobian": "jacobian",
            "network_jacobian_shape": "chain_rule", "layer_jacobian": "chain_rule", "mlp_jacobian": "chain_rule",
            "relu_jacobian": "dead_neurons", "dead_input": "dead_neurons", "relu_vjp": "dead_neurons",
            "sigmoid_jacobian": "sigmoid_saturation", "sigmoid_layer_jacobian": "sigmoid_saturation",
            "saturated_fraction": "sigmoid_saturation"}


# ----------------------------------------------------------------------------- solutions (by hand)

def jacobian_by_hand(p):
    x, y = float(p[0]), float(p[1])
    return torch.tensor([[2 * x, 1.0], [y, x], [math.exp(x), 0.0]], dtype=torch.float64)


def numerical_jacobian(f, x, h=1e-5):
    cols = []
    for j in range(x.shape[0]):
        e = torch.zeros_like(x)
        e[j] = h
        cols.append((torch.as_tensor(f(x + e)) - torch.as_tensor(f(x - e))) / (2 * h))
    return torch.stack(cols, dim=1)


def affine_jacobian(W, b, x):
    return W.clone()


def network_jacobian_shape(layer_sizes):
    return (layer_sizes[-1], layer_sizes[0])


def _act_derivative(z, activation):
    if activation == "relu":
        return (z > 0).to(z.dtype)
    if activation == "tanh":
        return 1 - torch.tanh(z) ** 2
    s = torch.sigmoid(z)
    return s * (1 - s)


def _act(z, activation):
    return {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[activation](z)


def layer_jacobian(W, b, x, activation):
    return _act_derivative(W @ x + b, activation)[:, None] * W


def mlp_jacobian(weights, biases, x, activation="tanh"):
    J = torch.eye(x.shape[0], dtype=x.dtype)
    h = x
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = W @ h + b
        if k == len(weights) - 1:
            J = W @ J
        else:
            J = (_act_derivative(z, activation)[:, None] * W) @ J
            h = _act(z, activation)
    return J


def relu_jacobian(z):
    return torch.diag((z > 0).to(z.dtype))


def dead_input(W, b):
    return -W.T @ torch.linalg.solve(W @ W.T, b + 1)


def relu_vjp(z, v):
    return (z > 0) * v


def sigmoid_jacobian(z):
    s = torch.sigmoid(z)
    return torch.diag(s * (1 - s))


def sigmoid_layer_jacobian(W, b, x):
    s = torch.sigmoid(W @ x + b)
    return (s * (1 - s))[:, None] * W


def saturated_fraction(W, b, X, threshold=1e-3):
    s = torch.sigmoid(X @ W.T + b)
    return float(((s * (1 - s)) < threshold).double().mean())


SOLUTIONS = {name: globals()[name] for name in SPEC_POINTS}
SOURCES = [inspect.getsource(sys.modules[__name__])]


# ----------------------------------------------------------------------------- registry shape

def test_registry_matches_the_spec():
    assert set(EXERCISES) == set(SPEC_POINTS)
    assert sum(e.points for e in EXERCISES.values()) == sum(SPEC_POINTS.values())
    for name, ex in EXERCISES.items():
        assert ex.points == SPEC_POINTS[name]
        assert (ex.kind == "by hand") == (name in BY_HAND), name
        assert ex.notebook == NOTEBOOK[name]
    assert (get("numerical_jacobian").atol, get("numerical_jacobian").rtol) == (1e-6, 1e-5)
    assert (get("sigmoid_jacobian").rtol, get("sigmoid_jacobian").atol) == (1e-6, 1e-12)
    assert (get("affine_jacobian").rtol, get("affine_jacobian").atol) == (1e-5, 1e-8)


def _ref(name, probe):
    return EXERCISES[name].reference(probe).value


def test_references_equal_worked_numbers():
    e = math.e
    np.testing.assert_allclose(_ref("jacobian_by_hand", probes(get("jacobian_by_hand"))[0]),
                               [[2, 1], [2, 1], [e, 0]], rtol=1e-12)
    seed2 = probes(get("numerical_jacobian"))[0]
    np.testing.assert_allclose(_ref("numerical_jacobian", seed2), [[3, 1], [0.1414744, 0.99749499]], atol=1e-7)
    W = [[1, 2], [3, 4], [5, 6]]
    np.testing.assert_allclose(_ref("affine_jacobian", probes(get("affine_jacobian"))[0]), W)
    relu_layer = probes(get("layer_jacobian"))[0]  # z = (0.4, 0.2, 1.4): all active
    np.testing.assert_allclose(_ref("layer_jacobian", relu_layer), W)
    np.testing.assert_allclose(_ref("relu_jacobian", probes(get("relu_jacobian"))[0]), np.diag([1, 0, 1, 0]))
    np.testing.assert_allclose(_ref("relu_jacobian", probes(get("relu_jacobian"))[1]), np.diag([0, 1, 0]))
    assert _ref("network_jacobian_shape", probes(get("network_jacobian_shape"))[0]) == (1, 3)
    sig = _ref("sigmoid_jacobian", probes(get("sigmoid_jacobian"))[0])
    assert sig[0, 0] == pytest.approx(0.25) and sig[1, 1] == pytest.approx(4.54e-5, rel=1e-3)


def test_edge_cases_are_covered():
    seed = 11
    zs = [p.args[0] for p in probes(get("relu_jacobian"), seed)]
    assert any((z == 0).any() for z in zs)
    layer_zero = [p for p in probes(get("layer_jacobian"), seed)
                  if p.args[3] == "relu" and ((p.args[0] @ p.args[2] + p.args[1]) == 0).any()]
    assert layer_zero
    assert max(float(p.args[0].abs().max()) for p in probes(get("sigmoid_jacobian"), seed)) == 30.0
    depths = {len(p.args[0]) for p in probes(get("mlp_jacobian"), seed)}
    assert depths >= {1, 2, 3, 4, 5}
    acts = {p.kwargs.get("activation", "tanh") for p in probes(get("mlp_jacobian"), seed)}
    assert acts == {"relu", "tanh", "sigmoid"}
    fs = [p.args[0] for p in probes(get("numerical_jacobian"), seed) if p.hidden]
    assert sum(f.n_in != f.n_out for f in fs) >= 3
    assert {"F3", "tanh_net"} <= {f.kind for f in fs}
    for p in probes(get("dead_input"), seed):
        m, n = p.args[0].shape
        assert m <= n and torch.linalg.matrix_rank(p.args[0]) == m


def test_hidden_probes_depend_on_the_seed_and_visible_ones_do_not():
    for name in EXERCISES:
        if name == "relu_vjp":
            continue  # the 10**7 probe is exercised once, below
        ex = EXERCISES[name]
        a, b, a2 = probes(ex, 1), probes(ex, 2), probes(ex, 1)
        vis = len(ex.visible())
        assert len(a) > vis and all(p.hidden for p in a[vis:]) and not any(p.hidden for p in a[:vis])
        assert _same(a, a2) and not _same(a[vis:], b[vis:]), name
        assert len(probes(ex)) == vis


def _canon(x):
    if isinstance(x, torch.Tensor):
        return ("T", tuple(x.shape), x.numpy().tobytes())
    if isinstance(x, ProbeFunction):
        return ("F", x.kind, tuple((k, v.tobytes()) for k, v in sorted(x.params.items())))
    if isinstance(x, (list, tuple)):
        return tuple(_canon(v) for v in x)
    if isinstance(x, dict):
        return tuple((k, _canon(v)) for k, v in sorted(x.items()))
    return x


def _same(ps, qs):
    return [_canon((p.args, p.kwargs)) for p in ps] == [_canon((q.args, q.kwargs)) for q in qs]


def test_probe_functions_pickle_and_keep_the_input_kind():
    f = probes(get("numerical_jacobian"), 3)[3].args[0]
    g = pickle.loads(pickle.dumps(f))
    assert g == f
    x = np.array([0.1, 0.2, 0.3]) if f.n_in == 3 else np.zeros(f.n_in)
    assert isinstance(f(torch.tensor(x)), torch.Tensor)
    assert f(torch.tensor(x, dtype=torch.float32)).dtype == torch.float32
    assert isinstance(f(x), np.ndarray)
    assert isinstance(f(list(x)), list)
    np.testing.assert_allclose(f(x), f(torch.tensor(x)).numpy())


# ----------------------------------------------------------------------------- full marks

def run_exercise(name, fn, seed, sources):
    """(exercise, verdicts, violation, score) for ``fn`` called in-process."""
    ex = get(name)
    verdicts, violation, score = _run(ex, functools.partial(call_student, fn, rules=rules_for(ex)), seed, sources,
                                      getattr(fn, "__name__", name), notebook=False)   # sources: this module
    return ex, verdicts, violation, score


@pytest.mark.parametrize("name", sorted(set(SPEC_POINTS) - {"relu_vjp"}))
def test_correct_solution_scores_full_marks(name):
    ex, verdicts, violation, score = run_exercise(name, SOLUTIONS[name], seed=2024, sources=SOURCES)
    failed = [(v.label, v.message) for v in verdicts if not v.passed]
    assert not violation and not failed, (violation, failed)
    assert score == ex.points


def test_relu_vjp_big_probe_correct_passes_and_full_matrix_fails():
    """The only test that builds the n = 10**7 probe (about a second)."""
    ex = get("relu_vjp")
    ps = probes(ex, 2024)
    big = ps[-1]
    assert big.args[0].shape == (10 ** 7,) and big.hidden
    refs = [ex.reference(p) for p in ps]

    def full_matrix(z, v):
        return torch.diag((z > 0).to(z.dtype)).T @ v

    good = [judge(ex, p, call_student(relu_vjp, p, rules=rules_for(ex)), r) for p, r in zip(ps, refs)]
    bad = [judge(ex, p, call_student(full_matrix, p, rules=rules_for(ex)), r) for p, r in zip(ps, refs)]
    assert all(v.passed for v in good)
    assert all(v.passed for v in bad[:-1]) and not bad[-1].passed
    assert bad[-1].diagnosis == "exception" and "torch.diag" in bad[-1].message
    assert "first values" in bad[-1].inputs and "(10000000,)" in bad[-1].inputs


# ----------------------------------------------------------------------------- mistakes lose points

def _score(name, fn, seed=7):
    return run_exercise(name, fn, seed, sources=SOURCES)


def test_hard_coded_visible_answer_fails_hidden():
    def hard_coded(p):
        return [[2.0, 1.0], [2.0, 1.0], [math.e, 0.0]]
    ex, verdicts, violation, score = _score("jacobian_by_hand", hard_coded)
    assert verdicts[0].passed and not any(v.passed for v in verdicts[1:])
    assert 0 < score < 1


def test_transposed_affine_jacobian_loses_points():
    def transposed(W, b, x):
        return W.T
    ex, verdicts, violation, score = _score("affine_jacobian", transposed)
    assert score < ex.points
    assert {v.diagnosis for v in verdicts if not v.passed} <= {"transpose"}


def test_missing_sigmoid_derivative_factor():
    def missing(W, b, x):
        return W.clone()
    ex, verdicts, violation, score = _score("sigmoid_layer_jacobian", missing)
    assert score == 0
    assert "row_scaled" in {v.diagnosis for v in verdicts}


def test_relu_derivative_one_at_zero_loses_points():
    def at_zero_is_one(z):
        return torch.diag((z >= 0).to(z.dtype))
    ex, verdicts, violation, score = _score("relu_jacobian", at_zero_is_one)
    assert score < ex.points
    assert any("z = 0" in d for v in verdicts for d in v.details)

    def layer_at_zero_is_one(W, b, x, activation):
        z = W @ x + b
        d = (z >= 0).to(z.dtype) if activation == "relu" else _act_derivative(z, activation)
        return d[:, None] * W
    ex, verdicts, violation, score = _score("layer_jacobian", layer_at_zero_is_one)
    assert 0 < score < ex.points


def test_mlp_chained_in_the_wrong_order_or_activation_on_last_layer():
    def wrong_order(weights, biases, x, activation="tanh"):
        J = torch.eye(x.shape[0], dtype=x.dtype)
        h = x
        for k, (W, b) in enumerate(zip(weights, biases)):
            z = W @ h + b
            Jk = W if k == len(weights) - 1 else _act_derivative(z, activation)[:, None] * W
            J = J @ Jk.T  # the transpose, chained on the wrong side
            h = _act(z, activation)
        return J
    assert _score("mlp_jacobian", wrong_order)[3] == 0


def test_dead_input_property():
    def zero(W, b):
        return torch.zeros(W.shape[1], dtype=W.dtype)
    ex, verdicts, violation, score = _score("dead_input", zero)
    assert score == 0 and {v.diagnosis for v in verdicts} == {"not_dead"}

    def boundary(W, b):  # W x + b = 0 exactly is not dead
        return -W.T @ torch.linalg.solve(W @ W.T, b)
    assert _score("dead_input", boundary)[3] < ex.points

    def infinite(W, b):
        return torch.full((W.shape[1],), -float("inf"), dtype=W.dtype)
    ex, verdicts, violation, score = _score("dead_input", infinite)
    assert score == 0 and {v.diagnosis for v in verdicts} == {"nan_inf"}


def test_saturated_fraction_of_sigmoid_instead_of_derivative():
    def of_sigmoid(W, b, X, threshold=1e-3):
        s = torch.sigmoid(X @ W.T + b)
        return float((s < threshold).double().mean())
    assert _score("saturated_fraction", of_sigmoid)[3] < 2


def test_numerical_jacobian_ignoring_h_or_transposed():
    def transposed(f, x, h=1e-5):
        return numerical_jacobian(f, x, h).T
    ex, verdicts, violation, score = _score("numerical_jacobian", transposed)
    assert score < 1  # only the square F3 probes may coincide... they do not: F3 is not symmetric
    assert "transpose" in {v.diagnosis for v in verdicts}


def test_mutating_inputs_does_not_change_the_reference():
    def mutating(p):
        out = jacobian_by_hand(p)
        p.mul_(100)
        return out
    assert _score("jacobian_by_hand", mutating)[3] == 3
