"""References from autograd products agree with the full Jacobian (torch.func.jacrev) on small
inputs, and refuse to answer when they cannot be trusted."""
from __future__ import annotations

import math

import pytest
import torch

from autograder.course import products

F64 = torch.float64


def _tanh_net(seed: int, n: int, m: int, h: int = 7):
    g = torch.Generator().manual_seed(seed)
    W1, b1 = torch.randn(h, n, generator=g, dtype=F64), torch.randn(h, generator=g, dtype=F64)
    W2 = torch.randn(m, h, generator=g, dtype=F64)
    return (lambda x: W2 @ torch.tanh(W1 @ x + b1)), torch.randn(n, generator=g, dtype=F64)


def _coupling(seed: int, d: int):
    """y = (x₁, x₂ ⊙ exp(tanh(W x₁ + b))): the affine coupling layer of a normalizing flow."""
    g = torch.Generator().manual_seed(seed)
    W, b = torch.randn(d, d, generator=g, dtype=F64), torch.randn(d, generator=g, dtype=F64)
    f = lambda x: torch.cat([x[:d], x[d:] * torch.exp(torch.tanh(W @ x[:d] + b))])  # noqa: E731
    return f, torch.randn(2 * d, generator=g, dtype=F64)


@pytest.mark.parametrize("seed,n,m", [(0, 5, 3), (1, 3, 6), (2, 4, 4)])
def test_column_and_first_order_match_the_jacobian(seed, n, m):
    f, x = _tanh_net(seed, n, m)
    J = torch.func.jacrev(f)(x)
    for j in range(n):
        torch.testing.assert_close(products.column(f, x, j), J[:, j], rtol=1e-12, atol=1e-12)
    dx = torch.linspace(-0.3, 0.2, n, dtype=F64)
    torch.testing.assert_close(products.first_order(f, x, dx), f(x) + J @ dx, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed,n,m", [(0, 6, 4), (3, 3, 8), (4, 10, 10)])
def test_largest_singular_value_matches_the_matrix_two_norm(seed, n, m):
    f, x = _tanh_net(seed, n, m)
    expected = float(torch.linalg.matrix_norm(torch.func.jacrev(f)(x), 2))
    assert products.largest_singular_value(f, x) == pytest.approx(expected, rel=1e-12)


def _diagonal_plus_rank_one(n: int, seed: int):
    """x ↦ tanh(a ⊙ x + 3 u (vᵀ x)): O(n) parameters, a clear gap below the largest singular value."""
    g = torch.Generator().manual_seed(seed)
    a = 0.5 + 0.5 * torch.rand(n, generator=g, dtype=F64)
    u, v = (t / torch.linalg.vector_norm(t) for t in torch.randn(2, n, generator=g, dtype=F64))
    return (lambda x: torch.tanh(a * x + 3.0 * u * (v @ x))), 0.01 * torch.randn(n, generator=g, dtype=F64)


def test_largest_singular_value_at_scale_needs_no_jacobian():
    """n = m = 20 000: the Jacobian would take 3.2 GB; the same family cross-checked on a small n."""
    f, x = _diagonal_plus_rank_one(300, seed=5)
    assert products.largest_singular_value(f, x) == pytest.approx(
        float(torch.linalg.matrix_norm(torch.func.jacrev(f)(x), 2)), rel=1e-10)
    f, x = _diagonal_plus_rank_one(20_000, seed=5)
    sigma = products.largest_singular_value(f, x)
    assert 2.5 < sigma < 4.0    # the rank-one spike, shrunk a little by tanh'


def test_largest_singular_value_refuses_a_tie():
    rotate = torch.tensor([[0.6, -0.8], [0.8, 0.6]], dtype=F64)  # σ₁ = σ₂ = 1, and JᵀJ = I ...
    f = lambda x: 2.0 * (rotate @ x) * torch.tensor([1.0, 1.0 - 1e-9], dtype=F64)  # noqa: E731  ... nearly
    with pytest.raises(products.NotConverged, match="too close"):
        products.largest_singular_value(f, torch.ones(2, dtype=F64), rtol=1e-14, max_iters=50)


@pytest.mark.parametrize("seed,d", [(0, 1), (1, 3), (2, 8)])
def test_log_abs_det_of_a_coupling_layer_matches_slogdet(seed, d):
    f, x = _coupling(seed, d)
    _, expected = torch.linalg.slogdet(torch.func.jacrev(f)(x))
    got = products.log_abs_det_block_triangular(f, x, blocks=[slice(0, d), slice(d, 2 * d)])
    assert got == pytest.approx(float(expected), rel=1e-12, abs=1e-12)


def test_log_abs_det_of_a_triangular_map_with_more_blocks():
    g = torch.Generator().manual_seed(7)
    L = torch.tril(torch.randn(6, 6, generator=g, dtype=F64))
    f = lambda x: L @ x  # noqa: E731  (lower triangular: every 1×1 block is diagonal)
    got = products.log_abs_det_block_triangular(f, torch.ones(6, dtype=F64), blocks=[slice(i, i + 1) for i in range(6)])
    assert got == pytest.approx(float(torch.log(torch.abs(torch.diagonal(L))).sum()), rel=1e-12)
    assert math.isclose(got, float(torch.linalg.slogdet(L)[1]), rel_tol=1e-12)


@pytest.mark.parametrize("blocks", [[slice(0, 2)], [slice(0, 2), slice(3, 4)], [slice(0, 4, 2), slice(2, 4)],
                                    [slice(2, 4), slice(0, 2)]])
def test_log_abs_det_refuses_blocks_that_do_not_tile_the_input(blocks):
    with pytest.raises(ValueError, match="consecutive slices"):
        products.log_abs_det_block_triangular(lambda x: x, torch.ones(4, dtype=F64), blocks=blocks)
