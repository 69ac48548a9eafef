"""Property tests: for random maps and shapes, the autograd Jacobian always passes, and its
transpose, negation, scalings and perturbed rows/columns always fail with the right diagnosis."""
from __future__ import annotations

import numpy as np
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from autograder.judge.compare import diagnose_array
from autograder.inside.calling import to_plain

RTOL, ATOL = 1e-5, 1e-8
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ELEMENTWISE = {
    "sin": torch.sin, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "square": lambda t: t * t, "softplus": torch.nn.functional.softplus, "exp": torch.exp,
}


@st.composite
def linear_maps(draw, min_dim=1, max_dim=5):
    """A random W (entries bounded away from 0, so no perturbation can look like a scaling)."""
    m = draw(st.integers(min_dim, max_dim))
    n = draw(st.integers(min_dim, max_dim))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.5, 2.0, (m, n)) * rng.choice([-1.0, 1.0], (m, n))
    return W


@st.composite
def composed_functions(draw):
    """x ↦ g(W2 h(W1 x + b1)): a random composition, with its autograd Jacobian."""
    n = draw(st.integers(1, 5))
    k = draw(st.integers(1, 5))
    m = draw(st.integers(1, 5))
    h = draw(st.sampled_from(sorted(ELEMENTWISE)))
    g = draw(st.sampled_from(sorted(ELEMENTWISE)))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    W1, b1, W2 = (torch.tensor(rng.standard_normal(s) * 0.8) for s in ((k, n), (k,), (m, k)))
    x = torch.tensor(rng.uniform(-1, 1, n))

    def f(v):
        return ELEMENTWISE[g](W2 @ ELEMENTWISE[h](W1 @ v + b1))
    return torch.func.jacrev(f)(x).numpy()


def judge(got, exp):
    return diagnose_array(np.asarray(got, dtype=np.float64), np.asarray(exp, dtype=np.float64), RTOL, ATOL)


@SETTINGS
@given(st.one_of(linear_maps(), composed_functions()))
def test_correct_jacobian_passes_in_any_container(J):
    assert judge(J, J)[0]
    assert judge(to_plain(torch.tensor(J, dtype=torch.float32, requires_grad=True)), J)[0] or \
        np.min(np.abs(J[J != 0]), initial=1.0) < 1e-30  # float32 keeps ~7 digits
    assert judge(to_plain(J.tolist()), J)[0]


@SETTINGS
@given(st.one_of(linear_maps(), composed_functions()))
def test_transpose_fails_as_transpose(J):
    m, n = J.shape
    assume(m != n or not np.allclose(J, J.T, rtol=RTOL, atol=ATOL))
    ok, code, _ = judge(J.T, J)
    assert not ok and code == "transpose"


@SETTINGS
@given(st.one_of(linear_maps(), composed_functions()))
def test_negation_fails_as_sign(J):
    assume(np.abs(J).max() > 1e-3)
    ok, code, _ = judge(-J, J)
    assert not ok
    square_antisymmetric = J.shape[0] == J.shape[1] and np.allclose(-J, J.T, rtol=RTOL, atol=ATOL)
    assert code == ("transpose" if square_antisymmetric else "sign")


@SETTINGS
@given(st.one_of(linear_maps(), composed_functions()),
       st.floats(0.05, 20).filter(lambda c: abs(c - 1) > 0.01), st.booleans())
def test_scaled_fails_as_scaled(J, c, negative):
    assume(np.abs(J).max() > 1e-3)
    # with one nonzero entry any wrong value is a multiple of it: no scale can be told apart
    assume(np.count_nonzero(np.abs(J) > 1e-6) >= 2)
    c = -c if negative else c
    ok, code, msg = judge(c * J, J)
    assert not ok and code == "scaled", (code, msg)


@SETTINGS
@given(linear_maps(min_dim=2), st.data())
def test_perturbed_row_is_named(W, data):
    m, n = W.shape
    i = data.draw(st.integers(0, m - 1))
    # large enough against the matrix's scale not to be a near miss ("close")
    delta = data.draw(st.floats(0.1, 10)) * data.draw(st.sampled_from([-1.0, 1.0])) * (1 + np.abs(W).max())
    got = W.copy()
    got[i] += delta * np.linspace(1, 2, n)
    ok, code, msg = judge(got, W)
    assert not ok and code == "one_row", (code, msg)
    assert f"only row {i} (output f_{i}) is wrong" in msg


@SETTINGS
@given(linear_maps(min_dim=2), st.data())
def test_perturbed_column_is_named(W, data):
    m, n = W.shape
    j = data.draw(st.integers(0, n - 1))
    delta = data.draw(st.floats(0.1, 10)) * (1 + np.abs(W).max())
    got = W.copy()
    got[:, j] += delta
    ok, code, msg = judge(got, W)
    assert not ok and code == "one_column", (code, msg)
    assert f"only column {j} (input x_{j}) is wrong" in msg


@SETTINGS
@given(linear_maps(min_dim=2), st.data())
def test_single_entry_names_row_and_column(W, data):
    m, n = W.shape
    i, j = data.draw(st.integers(0, m - 1)), data.draw(st.integers(0, n - 1))
    got = W.copy()
    got[i, j] += data.draw(st.floats(0.1, 10)) * (1 + np.abs(W).max())
    ok, code, msg = judge(got, W)
    diagonal = m == n and not np.any(W[~np.eye(m, dtype=bool)])
    if diagonal and i == j:     # the Jacobian of an elementwise map, wrong on its diagonal
        assert code == "diagonal_only" and f"(i, i) for i = {i} " in msg, (code, msg)
    else:
        assert code == "rows_cols" and f"outputs f_i): {i};" in msg and f"inputs x_j): {j};" in msg, (code, msg)


@SETTINGS
@given(linear_maps(min_dim=2))
def test_gradient_or_row_sum_instead_of_matrix(W):
    m, n = W.shape
    assume(m != n)
    assume(np.abs(W.sum(axis=0)).min() > 1e-3 and np.abs(W.sum(axis=1)).min() > 1e-3)
    assert judge(W.sum(axis=0), W)[1] == "gradient"
    assert judge(W.sum(axis=1), W)[1] == "row_sum"


@SETTINGS
@given(st.integers(1, 8), st.sampled_from(sorted(ELEMENTWISE)), st.integers(0, 2 ** 32 - 1))
def test_elementwise_diagonal_vector_is_diagnosed(n, name, seed):
    z = torch.tensor(np.random.default_rng(seed).uniform(-3, 3, n))
    J = torch.func.jacrev(ELEMENTWISE[name])(z).numpy()
    assert judge(J, J)[0]
    ok, code, _ = judge(np.diag(J), J)
    assert not ok and code in ({"diagonal"} if n > 1 else {"diagonal", "wrong_shape"})


@SETTINGS
@given(st.one_of(linear_maps(), composed_functions()), st.sampled_from([np.nan, np.inf, -np.inf]), st.data())
def test_non_finite_entries_never_pass(J, bad, data):
    got = J.copy()
    got[data.draw(st.integers(0, J.shape[0] - 1)), data.draw(st.integers(0, J.shape[1] - 1))] = bad
    ok, code, _ = judge(got, J)
    assert not ok and code == "nan_inf"
