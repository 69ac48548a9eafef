"""Probe builders: random inputs in general position, for any course's hidden probes.

Every function takes the numpy ``Generator`` the engine seeds per student, so a student's
hidden probes can be drawn again from the course secret. "General position" means that each
trivial or typical wrong answer differs from the right one there (no pre-activation on a
kink, both signs present, sizes that tell rows from columns); the special cases a course
wants tested as well are built on purpose and marked ``edge=True``.
"""
from __future__ import annotations

import math

import numpy as np
import torch

F64 = torch.float64
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


def T(a) -> torch.Tensor:
    """A float64 tensor (a fresh copy)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


def uniform(rng: np.random.Generator, lo: float, hi: float, *shape: int) -> torch.Tensor:
    return T(rng.uniform(lo, hi, size=shape))


def normal(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    return T(rng.standard_normal(shape) * scale)


def distinct_sizes(rng: np.random.Generator, lo: int = 1, hi: int = 5) -> tuple[int, int]:
    """(m, n) in [lo, hi] with m != n: a transposed answer then has the wrong shape."""
    while True:
        m, n = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        if m != n:
            return m, n


def widths(rng: np.random.Generator, k: int) -> list[int]:
    """k different widths in 1..9, so no two layers' shapes can be confused."""
    return [int(s) for s in rng.choice(np.arange(1, 10), size=k, replace=False)]


def signed(rng: np.random.Generator, n: int, lo: float = 0.5, hi: float = 3.0) -> np.ndarray:
    """n values with magnitudes in [lo, hi] and random signs."""
    return rng.choice([-1.0, 1.0], size=n) * rng.uniform(lo, hi, size=n)


def mixed_signs(rng: np.random.Generator, n: int, lo: float = 0.5, hi: float = 3.0) -> np.ndarray:
    """Pre-activations in general position: magnitudes in [lo, hi] (none at ReLU's kink) and,
    for n >= 2, both signs (a ReLU layer with active and dead units); a single one is negative."""
    if n == 1:
        return -rng.uniform(lo, hi, size=1)
    signs = rng.permutation(np.r_[1.0, -1.0, rng.choice([-1.0, 1.0], size=n - 2)])
    return signs * rng.uniform(lo, hi, size=n)


def with_zeros(rng: np.random.Generator, n: int) -> np.ndarray:
    """n values of both signs with about a third of them exactly 0 (at least one)."""
    z = rng.standard_normal(n) * 2
    z[rng.choice(n, size=max(1, n // 3), replace=False)] = 0.0
    return z


def layer_at(rng: np.random.Generator, z: np.ndarray, n: int, scale: float = 1.0
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """W (m×n), b and x with W x + b = z: the pre-activations are chosen, not left to chance."""
    W = rng.standard_normal((len(z), n)) * scale
    x = rng.standard_normal(n)
    return T(W), T(z - W @ x), T(x)


def mlp(rng: np.random.Generator, sizes: list[int], activation: str
        ) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """(weights, biases, x) of a network with layer widths ``sizes`` whose pre-activations are
    chosen layer by layer (``mixed_signs``): every hidden layer has active and dead units and an
    output unit is negative, so leaving out an activation's derivative, or applying one to
    the last layer, changes the Jacobian."""
    x = rng.standard_normal(sizes[0])
    weights, biases, h = [], [], x
    for k in range(len(sizes) - 1):
        W = rng.standard_normal((sizes[k + 1], sizes[k])) / math.sqrt(sizes[k])
        z = mixed_signs(rng, sizes[k + 1], hi=2.0)
        weights.append(T(W))
        biases.append(T(z - W @ h))
        h = ACTIVATIONS[activation](T(z)).numpy()
    return weights, biases, T(x)


def big_uniform(rng: np.random.Generator, n: int, lo: float = -2.0, hi: float = 2.0) -> torch.Tensor:
    """n float64 values uniform in [lo, hi), none exactly 0, built in place: a vector at a scale
    no matrix can hold (10**7 entries take 80 MB), several times cheaper to draw than normals."""
    v = rng.random(n)
    v *= hi - lo                  # in place: the same numbers without two more big arrays
    v += lo
    v[v == 0.0] = hi / 2 if hi else lo / 2
    return torch.from_numpy(v)
