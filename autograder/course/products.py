"""What a Jacobian says, computed from autograd products (``torch.func.jvp`` / ``vjp``) without
ever forming it: references at scale, for an exercise's ``value(...)`` on the trusted side.

At the sizes a matrix-free exercise is graded on, the Jacobian would not fit in memory (a
20 000 × 20 000 one takes 3.2 GB); a product costs about one evaluation of ``f``. Every helper
takes ``f``, a function of one tensor, and the point ``x``; it works in float64.
"""
from __future__ import annotations

import math

import torch

F64 = torch.float64


class NotConverged(RuntimeError):
    """An iterative reference did not reach its tolerance: the probe cannot be graded as it is."""


def _at(x) -> torch.Tensor:
    return torch.as_tensor(x).detach().to(F64)


def column(f, x, j: int) -> torch.Tensor:
    """Column ``j`` of ``J_f(x)`` (how every output moves with input ``j``): one product."""
    x = _at(x)
    basis = torch.zeros_like(x)
    basis.view(-1)[j] = 1.0
    return torch.func.jvp(f, (x,), (basis,))[1]


def first_order(f, x, dx) -> torch.Tensor:
    """``f(x) + J_f(x) dx``, the first-order (linear) prediction of ``f(x + dx)``: one product."""
    y, change = torch.func.jvp(f, (_at(x),), (_at(dx),))
    return y + change


def largest_singular_value(f, x, *, rtol: float = 1e-10, max_iters: int = 10_000, seed: int = 0) -> float:
    """``σ_max(J_f(x))``, the spectral norm, by power iteration on ``JᵀJ`` (one jvp and one vjp
    per step) from a random start.

    Converged when ``v`` is an eigenvector of ``JᵀJ`` to ``rtol``: ``‖JᵀJ v − λ v‖ ≤ rtol · λ``
    with ``λ = ‖J v‖²``, which makes ``λ`` accurate to about ``rtol²``. Raises ``NotConverged``
    after ``max_iters`` steps (the two largest singular values are too close for this probe).
    """
    x = _at(x)
    _, vjp_fn = torch.func.vjp(f, x)
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn(x.shape, generator=generator, dtype=F64)
    v /= torch.linalg.vector_norm(v)
    for _ in range(max_iters):
        jv = torch.func.jvp(f, (x,), (v,))[1]
        (w,) = vjp_fn(jv)
        lam = float(torch.dot(v.reshape(-1), w.reshape(-1)))
        residual = float(torch.linalg.vector_norm(w - lam * v))
        if residual <= rtol * lam or lam == 0.0:
            return math.sqrt(lam)
        v = w / torch.linalg.vector_norm(w)
    raise NotConverged(f"power iteration on JᵀJ did not converge in {max_iters} steps (relative residual "
                       f"{residual / lam:.2g}): the two largest singular values are too close")


def log_abs_det_block_triangular(f, x, *, blocks: list[slice]) -> float:
    """``log |det J_f(x)|`` for a map of ``x`` (flat, shape ``(n,)``) onto ``n`` outputs whose
    Jacobian is block-triangular along ``blocks`` (consecutive slices covering ``0..n``), each
    diagonal block itself diagonal: an affine coupling layer ``(x₁, x₂ ⊙ exp(s(x₁)))`` is one.

    One jvp per block: with the tangent 1 on block ``k`` and 0 elsewhere, the block-``k`` outputs
    of ``J t`` are the diagonal of the ``k``-th diagonal block; ``det J`` is the product of all
    those diagonals.
    """
    x = _at(x)
    n = x.shape[0] if x.ndim == 1 else -1
    bounds = [b.indices(max(n, 0)) for b in blocks]
    if n < 0 or [start for start, _, _ in bounds] != [0] + [stop for _, stop, _ in bounds[:-1]] \
            or bounds[-1][1] != n or any(step != 1 or stop <= start for start, stop, step in bounds):
        raise ValueError(f"blocks must be consecutive slices covering the whole of a flat input, got {blocks}")
    total = 0.0
    for block in blocks:
        tangent = torch.zeros_like(x)
        tangent[block] = 1.0
        diagonal = torch.func.jvp(f, (x,), (tangent,))[1][block]
        total += float(torch.log(torch.abs(diagonal)).sum())
    return total
