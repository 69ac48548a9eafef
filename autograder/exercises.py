"""The registry: one declaration per autograded exercise of the `jacobians` assignment.

Every reference is computed by autograd (``torch.func.jacrev`` / ``vjp``) applied to the
exercise's mathematical function written in torch, at the probe input; nothing here is a
hand-written answer. Visible probes are fixed; hidden probes are drawn from a numpy
``Generator`` seeded at grading time (see ``secrets.student_seed``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from .values import Expected

F64 = torch.float64


# ----------------------------------------------------------------------------- probes

@dataclass(frozen=True)
class Probe:
    """One input to call the student's function on.

    ``edge`` marks a special input (a pre-activation exactly 0, all units active or all dead,
    a single unit, a square matrix) where some wrong answers coincide with the right one: it
    can only take credit away (see ``scoring.score``). Every other probe is in general
    position, where each trivial or typical wrong answer differs from the right one.
    """
    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    hidden: bool = False
    edge: bool = False


def T(a) -> torch.Tensor:
    """A float64 tensor (a fresh copy)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=F64)


_ACT = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}


class ProbeFunction:
    """A picklable function R^n -> R^m handed to the student's ``numerical_jacobian``.

    Called with a torch tensor it returns a tensor of the same dtype; with a numpy array it
    returns a numpy array; with a list it returns a list. ``torch_forward`` is the same map
    on float64 tensors, used for the autograd reference. It never uses autograd itself.
    """

    FORMULAS = {
        "F3": "F(x, y, z) = (x² + y·z, sin(x·y), e^(x+z))",
        "seed2": "f(x, y) = (x² + y, sin(x)·y)",
        "f_xy": "f(x, y) = (x² + y, x·y, eˣ)",
        "g42": "g(a, b, c, d) = (a·b + sin c, cos(d)·a)",
        "tanh_net": "x ↦ W2 tanh(W1 x + b1) + b2",
    }
    SIZES = {"F3": (3, 3), "seed2": (2, 2), "f_xy": (2, 3), "g42": (4, 2)}

    def __init__(self, kind: str, params: dict[str, np.ndarray] | None = None):
        if kind not in self.FORMULAS:
            raise ValueError(f"unknown probe function {kind!r}")
        self.kind = kind
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()}

    @property
    def n_in(self) -> int:
        if self.kind == "tanh_net":
            return self.params["W1"].shape[1]
        return self.SIZES[self.kind][0]

    @property
    def n_out(self) -> int:
        if self.kind == "tanh_net":
            return self.params["W2"].shape[0]
        return self.SIZES[self.kind][1]

    def torch_forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kind
        if k == "F3":
            return torch.stack([x[0] ** 2 + x[1] * x[2], torch.sin(x[0] * x[1]), torch.exp(x[0] + x[2])])
        if k == "seed2":
            return torch.stack([x[0] ** 2 + x[1], torch.sin(x[0]) * x[1]])
        if k == "f_xy":
            return torch.stack([x[0] ** 2 + x[1], x[0] * x[1], torch.exp(x[0])])
        if k == "g42":
            return torch.stack([x[0] * x[1] + torch.sin(x[2]), torch.cos(x[3]) * x[0]])
        p = {name: torch.as_tensor(v, dtype=x.dtype) for name, v in self.params.items()}
        return p["W2"] @ torch.tanh(p["W1"] @ x + p["b1"]) + p["b2"]

    def __call__(self, x):
        if isinstance(x, torch.Tensor):
            dtype = x.dtype if x.dtype.is_floating_point else F64
            return self.torch_forward(x.detach().to(dtype))
        as_list = isinstance(x, (list, tuple))
        arr = np.asarray(x, dtype=np.float64)
        out = self.torch_forward(torch.from_numpy(arr.copy())).numpy()
        return out.tolist() if as_list else out

    def __repr__(self) -> str:
        s = self.FORMULAS[self.kind]
        if self.kind == "tanh_net":
            s += f" with {self.n_in}→{self.params['W1'].shape[0]}→{self.n_out} weights"
        return s

    def __eq__(self, other) -> bool:
        return (isinstance(other, ProbeFunction) and other.kind == self.kind
                and self.params.keys() == other.params.keys()
                and all(np.array_equal(self.params[k], other.params[k]) for k in self.params))

    __hash__ = None


# ----------------------------------------------------------------------------- exercises

@dataclass(frozen=True)
class Exercise:
    name: str
    notebook: str
    points: float
    answer: str            # "matrix" | "vector" | "scalar" | "shape" | "index" | "property"
    kind: str              # "by hand" | "matrix-free" | "free" (see policy.py)
    rtol: float
    atol: float
    visible: Callable[[], list[Probe]]
    hidden: Callable[[np.random.Generator], list[Probe]]
    reference: Callable[[Probe], Expected]
    arg_names: tuple[str, ...] = ()
    # optional: (probe, got, expected) -> a sentence, for a same-shape wrong answer
    hint: Callable[[Probe, np.ndarray, np.ndarray], str | None] | None = None
    # calls that score 0 whatever the kind: qualified name -> why it is not allowed
    forbid: dict[str, str] = field(default_factory=dict)


def _jac(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> np.ndarray:
    return torch.func.jacrev(f)(x.detach().to(F64)).detach().numpy().astype(np.float64)


def _matrix(f) -> Callable[[Probe], Expected]:
    """Reference for an exercise whose answer is the Jacobian of ``f(probe)`` at its input.

    ``f(probe)`` returns ``(g, x)``: a torch function and the point to differentiate at.
    """
    def reference(probe: Probe) -> Expected:
        g, x = f(probe)
        return Expected(_jac(g, x))
    return reference


def _act_name(probe: Probe, position: int, default: str) -> str:
    if len(probe.args) > position:
        return probe.args[position]
    return probe.kwargs.get("activation", default)


def _uniform(rng, lo, hi, *shape) -> torch.Tensor:
    return T(rng.uniform(lo, hi, size=shape))


def _normal(rng, *shape, scale=1.0) -> torch.Tensor:
    return T(rng.standard_normal(shape) * scale)


def _distinct_mn(rng, lo=1, hi=5) -> tuple[int, int]:
    while True:
        m, n = (int(v) for v in rng.integers(lo, hi + 1, size=2))
        if m != n:
            return m, n


def _signed(rng, n, lo=0.5, hi=3.0) -> np.ndarray:
    """n values with magnitudes in [lo, hi] and random signs."""
    return rng.choice([-1.0, 1.0], size=n) * rng.uniform(lo, hi, size=n)


def _mixed(rng, n, lo=0.5, hi=3.0) -> np.ndarray:
    """Pre-activations in general position: magnitudes in [lo, hi] (none at ReLU's kink) and,
    for n >= 2, both signs (a ReLU layer with active and dead units); a single one is negative."""
    if n == 1:
        return -rng.uniform(lo, hi, size=1)
    signs = rng.permutation(np.r_[1.0, -1.0, rng.choice([-1.0, 1.0], size=n - 2)])
    return signs * rng.uniform(lo, hi, size=n)


def _layer_at(rng, z, n, scale=1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """W (m×n), b and x with W x + b = z: the pre-activations are chosen, not left to chance."""
    W = rng.standard_normal((len(z), n)) * scale
    x = rng.standard_normal(n)
    return T(W), T(z - W @ x), T(x)


W_SEED = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


# --- jacobian.ipynb ---------------------------------------------------------------------

def _f_xy(p: torch.Tensor) -> torch.Tensor:
    return torch.stack([p[0] ** 2 + p[1], p[0] * p[1], torch.exp(p[0])])


def _jacobian_by_hand_hidden(rng):
    def probe(p, edge=""):
        label = "p = (" + ", ".join(f"{v:.4g}" for v in p) + ")" + (f": {edge}" if edge else "")
        return Probe(args=(T(p),), label=label, hidden=True, edge=bool(edge))
    return [probe(_signed(rng, 2, 0.3, 2.0)), probe(np.array([0.0, *_signed(rng, 1, 0.3, 2.0)]), "x = 0"),
            probe(_signed(rng, 2, 0.3, 2.0)), probe(np.array([*_signed(rng, 1, 0.3, 2.0), 0.0]), "y = 0")]


def _numerical_visible():
    return [
        Probe((ProbeFunction("seed2"), T([1.5, 2.0])), {}, "f(x, y) = (x² + y, sin(x)·y) at (1.5, 2)"),
        Probe((ProbeFunction("f_xy"), T([1.0, 2.0])), {}, "f(x, y) = (x² + y, x·y, eˣ) at (1, 2)"),
    ]


def _numerical_hidden(rng):
    h1 = int(rng.integers(3, 6))
    net = ProbeFunction("tanh_net", {
        "W1": rng.standard_normal((h1, 3)), "b1": rng.standard_normal(h1) * 0.5,
        "W2": rng.standard_normal((2, h1)), "b2": rng.standard_normal(2) * 0.5,
    })
    return [
        Probe((ProbeFunction("F3"), _uniform(rng, -1.2, 1.2, 3)), {}, "F(x, y, z) = (x² + yz, sin(xy), e^(x+z))", True),
        Probe((net, _uniform(rng, -1, 1, 3)), {}, f"a small tanh network 3→{h1}→2", True),
        Probe((ProbeFunction("g42"), _uniform(rng, -1.5, 1.5, 4)), {}, "g: R⁴ → R²", True),
        Probe((ProbeFunction("f_xy"), _uniform(rng, -1.5, 1.5, 2)), {}, "f(x, y) = (x² + y, x·y, eˣ)", True),
        Probe((ProbeFunction("F3"), _uniform(rng, -1, 1, 3)), {"h": 1e-4}, "F(x, y, z) with h = 1e-4", True),
    ]


def _affine_visible():
    return [
        Probe((T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1])), {}, "W 3×2 from the notes, b = (0.1, 0.2, 0.3)"),
        Probe((T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0])), {}, "W 2×3"),
    ]


def _affine_probe(rng, m, n, label, edge=False) -> Probe:
    return Probe(args=(_normal(rng, m, n), _normal(rng, m), _normal(rng, n)), label=label, hidden=True, edge=edge)


def _affine_hidden(rng):
    out = []
    for i in range(3):
        m, n = _distinct_mn(rng, 2, 6)
        out.append(_affine_probe(rng, m, n, f"random W {m}×{n}"))
    out.append(_affine_probe(rng, 4, 4, "random square W 4×4"))
    n = int(rng.integers(2, 7))
    out.append(_affine_probe(rng, 1, n, f"W 1×{n}: a single output", edge=True))
    m = int(rng.integers(2, 7))
    out.append(_affine_probe(rng, m, 1, f"W {m}×1: a single input", edge=True))
    return out


# --- chain_rule.ipynb -------------------------------------------------------------------

def _mlp_forward(weights, biases, activation):
    act = _ACT[activation]

    def f(x):
        h = x
        for k, (W, b) in enumerate(zip(weights, biases)):
            h = W @ h + b
            if k < len(weights) - 1:
                h = act(h)
        return h
    return f


def _shape_reference(probe: Probe) -> Expected:
    sizes = [int(s) for s in probe.args[0]]
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(sizes[k + 1], sizes[k], generator=gen, dtype=F64) for k in range(len(sizes) - 1)]
    biases = [torch.randn(sizes[k + 1], generator=gen, dtype=F64) for k in range(len(sizes) - 1)]
    x = torch.randn(sizes[0], generator=gen, dtype=F64)
    J = torch.func.jacrev(_mlp_forward(weights, biases, "tanh"))(x)
    return Expected(tuple(int(s) for s in J.shape))


SHAPE_EXAMPLE = [3, 5, 4, 2, 1]  # the contract's visible example: shape (1, 3)


def _widths(rng, k) -> list[int]:
    """k different widths in 1..9, so the first and last layers' shapes differ from the network's."""
    return [int(s) for s in rng.choice(np.arange(1, 10), size=k, replace=False)]


def _shape_hidden(rng):
    out = []
    while len(out) < 4:
        sizes = _widths(rng, int(rng.integers(3, 7)))
        if (sizes[-1], sizes[0]) != (SHAPE_EXAMPLE[-1], SHAPE_EXAMPLE[0]):  # not the visible answer
            out.append(Probe(args=(sizes,), label=f"layer_sizes = {sizes}", hidden=True))
    single = _widths(rng, 2)
    out.append(Probe(args=(single,), label=f"layer_sizes = {single}: a single layer", hidden=True, edge=True))
    n, k = _widths(rng, 2)
    out.append(Probe(args=([n, k, n],), label=f"layer_sizes = {[n, k, n]}: as many outputs as inputs",
                     hidden=True, edge=True))
    return out


def _layer_visible():
    W, b, x = W_SEED, [0.1, -0.5, 0.3], [0.1, 0.1]
    return [
        Probe(args=(T(W), T(b), T(x), "relu"), edge=True,
              label="the ReLU layer from the notes, z = (0.4, 0.2, 1.4): every unit active"),
        Probe(args=(T(W), T(b), T(x), "tanh"), label="the same layer with tanh"),
        Probe(args=(T(W), T(b), T([-0.2, 0.1]), "relu"),
              label="the same ReLU layer at x = (-0.2, 0.1), z = (0.1, -0.7, -0.1): one unit active"),
        Probe(args=(T([[1.0, -1.0, 2.0], [0.0, 1.0, 1.0]]), T([0.0, -1.0]), T([1.0, 1.0, 0.0]), "relu"),
              label="ReLU with a pre-activation exactly 0", edge=True),
    ]


def _relu_zero_layer(rng, m, n):
    """Integer W and x, with b chosen so some pre-activations are exactly 0, some negative."""
    W = rng.integers(-3, 4, size=(m, n)).astype(np.float64)
    x = rng.integers(-2, 3, size=n).astype(np.float64)
    z = rng.choice([0.0, -1.5, 2.0], size=m)
    z[0] = 0.0
    b = z - W @ x  # exact: small integers and halves
    return T(W), T(b), T(x)


def _layer_hidden(rng):
    out = []
    for act in ("relu", "tanh", "sigmoid"):
        m, n = _distinct_mn(rng, 2, 6)
        out.append(Probe(args=(*_layer_at(rng, _mixed(rng, m), n), act), label=f"random {m}×{n} layer, {act}",
                         hidden=True))
    out.append(Probe(args=(*_layer_at(rng, _mixed(rng, 3, hi=9.0), 4, scale=3.0), "sigmoid"),
                     label="sigmoid layer with large weights", hidden=True))
    m, n = _distinct_mn(rng, 2, 6)
    out.append(Probe(args=(*_relu_zero_layer(rng, m, n), "relu"), hidden=True, edge=True,
                     label=f"ReLU {m}×{n} layer with pre-activations exactly 0"))
    m, n = _distinct_mn(rng, 2, 6)
    out.append(Probe(args=(*_layer_at(rng, -rng.uniform(0.5, 3.0, m), n), "relu"), hidden=True, edge=True,
                     label=f"ReLU {m}×{n} layer, every unit dead"))
    n = int(rng.integers(2, 7))
    out.append(Probe(args=(*_layer_at(rng, _signed(rng, 1), n), "tanh"), hidden=True, edge=True,
                     label=f"a single tanh unit (1×{n} layer)"))
    return out


def _layer_reference(probe: Probe) -> Expected:
    W, b, x = probe.args[:3]
    act = _ACT[_act_name(probe, 3, "relu")]
    return Expected(_jac(lambda v: act(W @ v + b), x))


def _mlp_probe(rng, widths, activation, label, pass_kwarg=True, hidden=True, edge=False) -> Probe:
    """A network whose pre-activations are chosen layer by layer (``_mixed``): every hidden layer
    has active and dead units, and an output unit is negative, so leaving out an activation's
    derivative, or applying one to the last layer, changes the Jacobian."""
    x = rng.standard_normal(widths[0])
    weights, biases, h = [], [], x
    for k in range(len(widths) - 1):
        W = rng.standard_normal((widths[k + 1], widths[k])) / math.sqrt(widths[k])
        z = _mixed(rng, widths[k + 1], hi=2.0)
        weights.append(T(W))
        biases.append(T(z - W @ h))
        h = _ACT[activation](T(z)).numpy()
    kwargs = {"activation": activation} if pass_kwarg else {}
    return Probe(args=(weights, biases, T(x)), kwargs=kwargs, label=label, hidden=hidden, edge=edge)


def _mlp_visible():
    rng = np.random.default_rng(20240601)
    return [_mlp_probe(rng, [3, 4, 2], "tanh", "2 layers 3→4→2, default activation (tanh)", pass_kwarg=False,
                       hidden=False),
            _mlp_probe(rng, [2, 5, 3, 4], "relu", "3 layers 2→5→3→4, relu", hidden=False)]


def _mlp_hidden(rng):
    out = []
    for depth, act in zip(range(1, 6), ("sigmoid", "relu", "tanh", "sigmoid", "relu")):
        while True:  # hidden layers of 2 units or more: one unit would be all active or all dead
            widths = [int(rng.integers(1, 7)), *(int(w) for w in rng.integers(2, 7, size=depth - 1)),
                      int(rng.integers(1, 7))]
            if widths[0] != widths[-1]:
                break
        arrows = "→".join(map(str, widths))
        if depth == 1:
            out.append(_mlp_probe(rng, widths, act, f"1 layer {arrows}: no activation, nothing to chain", edge=True))
        else:
            out.append(_mlp_probe(rng, widths, act, f"{depth} layers {arrows}, {act}"))
    return out


def _mlp_reference(probe: Probe) -> Expected:
    weights, biases, x = probe.args[:3]
    act = probe.args[3] if len(probe.args) > 3 else probe.kwargs.get("activation", "tanh")
    return Expected(_jac(_mlp_forward(weights, biases, act), x))


# --- dead_neurons.ipynb -----------------------------------------------------------------

def _relu_hint(probe: Probe, got: np.ndarray, expected: np.ndarray) -> str | None:
    if probe.args and isinstance(probe.args[0], torch.Tensor) and probe.args[0].ndim == 1:
        z = probe.args[0].numpy()
    elif len(probe.args) >= 3:
        W, b, x = probe.args[:3]
        z = (W @ x + b).numpy()
    else:
        return None
    if got.ndim != 2 or got.shape[0] != z.shape[0]:
        return None
    bad_rows = np.where(~np.isclose(got, expected).all(axis=1))[0]
    if len(bad_rows) and np.all(z[bad_rows] == 0):
        return (f"the wrong rows are exactly where z = 0 ({', '.join(map(str, bad_rows))}): "
                "ReLU's derivative at 0 is taken to be 0 here (z > 0, not z ≥ 0)")
    return None


def _relu_with_zeros(rng, n):
    z = rng.standard_normal(n) * 2
    z[rng.choice(n, size=max(1, n // 3), replace=False)] = 0.0
    return z


def _relu_inputs(rng, inputs: str) -> list[tuple[np.ndarray, str, bool]]:
    """(z, label, edge) for an elementwise ReLU: three in general position, then the special
    cases: entries exactly 0, every entry positive, every entry negative. ``inputs`` names
    the arguments in the labels."""
    n = [int(v) for v in rng.integers(3, 9, size=6)]
    return [*((_mixed(rng, k), f"random {inputs} of length {k}", False) for k in n[:3]),
            (_relu_with_zeros(rng, n[3]), f"random {inputs} of length {n[3]}, z with zeros", True),
            (rng.uniform(0.5, 3.0, n[4]), f"{inputs} of length {n[4]}, every entry of z positive", True),
            (-rng.uniform(0.5, 3.0, n[5]), f"{inputs} of length {n[5]}, every entry of z negative", True)]


def _relu_jac_hidden(rng):
    return [Probe(args=(T(z),), label=label, hidden=True, edge=edge) for z, label, edge in _relu_inputs(rng, "z")]


def _dead_property(W: torch.Tensor, b: torch.Tensor):
    m, n = W.shape

    def check(x: np.ndarray) -> tuple[bool, str, str]:
        if x.shape != (n,):
            return False, "wrong_shape", f"x must have shape ({n},) (one entry per input), got {x.shape}"
        if not np.all(np.isfinite(x)):
            return False, "nan_inf", "x contains NaN or Inf; pick a finite point"
        xt = torch.from_numpy(x.copy())
        z = (W @ xt + b).numpy()
        if not np.all(np.isfinite(z)):
            return False, "nan_inf", "W x + b overflows to Inf at this x; pick a smaller point"
        alive = np.where(z >= 0)[0]
        if len(alive):
            which = ", ".join(f"{i} (z = {z[i]:.4g})" for i in alive[:6])
            return False, "not_dead", (f"neurons {which} are not dead: every pre-activation W x + b "
                                       "must be strictly negative")
        J = torch.func.jacrev(lambda v: torch.relu(W @ v + b))(xt)
        if not torch.all(J == 0):
            return False, "not_dead", "the Jacobian of relu(W x + b) at x is not exactly zero"
        return True, "ok", "every neuron is dead"
    return check


def _dead_reference(probe: Probe) -> Expected:
    W, b = probe.args[:2]
    return Expected(None, _dead_property(W, b),
                    "any finite x with every entry of W x + b < 0 (so the ReLU layer's Jacobian is 0)")


def _dead_probe(rng, m, n, label, edge=False) -> Probe:
    while True:
        W = rng.standard_normal((m, n))
        sums = W.sum(axis=1)
        # rows summing to both signs: no x = (c, c, ..., c) kills every unit
        if edge or (sums.max() > 0.3 and sums.min() < -0.3):
            break
    b = np.abs(rng.standard_normal(m)) * 3  # positive biases: x = 0 does not work
    return Probe(args=(T(W), T(b)), label=label, hidden=True, edge=edge)


def _dead_hidden(rng):
    out = []
    for _ in range(3):
        m = int(rng.integers(2, 5))
        n = int(rng.integers(m + 1, 7))
        out.append(_dead_probe(rng, m, n, f"random W {m}×{n}, positive b"))
    m = int(rng.integers(2, 5))
    out.append(_dead_probe(rng, m, m, f"random square W {m}×{m}, positive b", edge=True))
    n = int(rng.integers(2, 7))
    out.append(_dead_probe(rng, 1, n, f"W 1×{n}: a single unit, positive b", edge=True))
    return out


def _relu_vjp_reference(probe: Probe) -> Expected:
    z, v = probe.args[:2]
    _, pullback = torch.func.vjp(torch.relu, z)
    return Expected(pullback(v)[0].detach().numpy())


def big_relu_vjp_probe(rng: np.random.Generator, n: int = 10 ** 7) -> Probe:
    # Uniform on [-2, 2): several times cheaper to draw than normals at this size, and all
    # that matters here is a mix of signs at a scale no matrix can hold. It is a general
    # probe, so no entry sits exactly on ReLU's kink (the small special cases test that).
    z = rng.random(n)
    z *= 4.0                      # in place: the same numbers without two more 80 MB arrays
    z -= 2.0
    z[z == 0.0] = 1.0
    v = rng.random(n)
    v *= 4.0
    v -= 2.0
    return Probe(args=(torch.from_numpy(z), torch.from_numpy(v)), label=f"z, v of length {n:,}", hidden=True)


def _relu_vjp_hidden(rng):
    return [*(Probe(args=(T(z), T(_signed(rng, len(z)))), label=label, hidden=True, edge=edge)
              for z, label, edge in _relu_inputs(rng, "z, v")),
            big_relu_vjp_probe(rng)]


# --- sigmoid_saturation.ipynb -------------------------------------------------------------

def _sig_jac_hidden(rng):
    out = []
    for i in range(4):
        n = int(rng.integers(3, 8))
        z = rng.uniform(-30, 30, n)
        z[rng.integers(n)] = _signed(rng, 1)[0]  # one unit far from saturation, where σ' is not ~0
        if i == 0:
            z[:3] = [30.0, -30.0, 0.0]
        out.append(Probe(args=(T(z),), label=f"random z of length {n}, |z| ≤ 30", hidden=True))
    return out


def _sig_layer_hidden(rng):
    out = []
    for scale in (1.0, 1.0, 3.0, 0.5):
        m, n = _distinct_mn(rng, 2, 6)
        out.append(Probe(args=_layer_at(rng, _mixed(rng, m, hi=3.0 * scale), n, scale=scale), hidden=True,
                         label=f"random {m}×{n} layer" + (" with large weights" if scale > 1 else "")))
    n = int(rng.integers(2, 7))
    out.append(Probe(args=_layer_at(rng, _signed(rng, 1), n), label=f"a single sigmoid unit (1×{n} layer)",
                     hidden=True, edge=True))
    return out


def _sigmoid_derivative(Z: torch.Tensor) -> torch.Tensor:
    """σ'(Z) elementwise, from autograd."""
    return torch.func.vmap(torch.func.grad(torch.sigmoid))(Z.reshape(-1)).reshape(Z.shape)


def _fraction_reference(probe: Probe) -> Expected:
    W, b, X = probe.args[:3]
    threshold = probe.args[3] if len(probe.args) > 3 else probe.kwargs.get("threshold", 1e-3)
    d = _sigmoid_derivative(X @ W.T + b)
    return Expected(float((d < threshold).to(F64).mean()))


def _fraction_probe(rng, k, m, n, scale, threshold, label, hidden=True, edge=False) -> Probe:
    """A batch drawn until no unit sits on the threshold and, in general position, some units
    are saturated on each side of 0 (so a test on σ instead of σ' differs), some are not, and
    not exactly half (so the complement differs); the special case has none saturated."""
    t = threshold if threshold is not None else 1e-3
    while True:
        W, b, X = rng.standard_normal((m, n)) * scale, rng.standard_normal(m), rng.standard_normal((k, n))
        Z = X @ W.T + b
        d = _sigmoid_derivative(T(Z)).numpy()
        if np.any(np.abs(d - t) <= 1e-6 * t):  # a unit on the threshold
            continue
        low = d < t
        if (not low.any()) if edge else (low[Z > 0].any() and low[Z < 0].any() and low.mean() not in (0.5, 1.0)):
            break
    kwargs = {} if threshold is None else {"threshold": threshold}
    return Probe(args=(T(W), T(b), T(X)), kwargs=kwargs, label=label, hidden=hidden, edge=edge)


def _fraction_visible():
    rng = np.random.default_rng(9)
    return [_fraction_probe(rng, 4, 3, 2, 8.0, None, "batch of 4, W 3×2 scaled by 8", hidden=False)]


def _fraction_hidden(rng):
    return [
        _fraction_probe(rng, 8, 4, 3, 6.0, None, "batch of 8, W 4×3 scaled by 6"),
        _fraction_probe(rng, 5, 2, 5, 10.0, None, "batch of 5, W 2×5 scaled by 10"),
        _fraction_probe(rng, 6, 3, 2, 4.0, 1e-2, "batch of 6, threshold = 1e-2"),
        _fraction_probe(rng, 3, 3, 3, 0.1, None, "small weights: nothing saturated", edge=True),
    ]


# ----------------------------------------------------------------------------- registry

EXERCISES: dict[str, Exercise] = {}


def _register(ex: Exercise) -> None:
    EXERCISES[ex.name] = ex


_register(Exercise(
    "jacobian_by_hand", "jacobian", 3, "matrix", "by hand", 1e-5, 1e-8,
    visible=lambda: [Probe((T([1.0, 2.0]),), {}, "p = (1, 2)")],
    hidden=_jacobian_by_hand_hidden,
    reference=_matrix(lambda p: (_f_xy, p.args[0])),
    arg_names=("p",)))

_register(Exercise(
    "numerical_jacobian", "jacobian", 3, "matrix", "by hand", 1e-5, 1e-6,
    visible=_numerical_visible, hidden=_numerical_hidden,
    reference=_matrix(lambda p: (p.args[0].torch_forward, p.args[1])),
    arg_names=("f", "x", "h")))

_register(Exercise(
    "affine_jacobian", "jacobian", 1, "matrix", "by hand", 1e-5, 1e-8,
    visible=_affine_visible, hidden=_affine_hidden,
    reference=_matrix(lambda p: ((lambda v, W=p.args[0], b=p.args[1]: W @ v + b), p.args[2])),
    arg_names=("W", "b", "x")))

_register(Exercise(
    "network_jacobian_shape", "chain_rule", 1, "shape", "free", 0.0, 0.0,
    visible=lambda: [Probe(args=(list(SHAPE_EXAMPLE),), label=f"layer_sizes = {SHAPE_EXAMPLE}")],
    hidden=_shape_hidden, reference=_shape_reference,
    arg_names=("layer_sizes",)))

_register(Exercise(
    "layer_jacobian", "chain_rule", 3, "matrix", "by hand", 1e-5, 1e-8,
    visible=_layer_visible, hidden=_layer_hidden, reference=_layer_reference,
    arg_names=("W", "b", "x", "activation"), hint=_relu_hint))

_register(Exercise(
    "mlp_jacobian", "chain_rule", 4, "matrix", "by hand", 1e-5, 1e-8,
    visible=_mlp_visible, hidden=_mlp_hidden, reference=_mlp_reference,
    arg_names=("weights", "biases", "x", "activation")))

_register(Exercise(
    "relu_jacobian", "dead_neurons", 2, "matrix", "by hand", 1e-5, 1e-8,
    visible=lambda: [Probe(args=(T([2.0, -1.0, 3.0, -0.5]),), label="z = (2, -1, 3, -0.5)"),
                     Probe(args=(T([0.0, 1.5, -2.0]),), label="z = (0, 1.5, -2): derivative at 0 is 0", edge=True)],
    hidden=_relu_jac_hidden,
    reference=_matrix(lambda p: (torch.relu, p.args[0])),
    arg_names=("z",), hint=_relu_hint))

_register(Exercise(
    "dead_input", "dead_neurons", 3, "property", "free", 0.0, 0.0,
    visible=lambda: [Probe((T([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]), T([1.0, 2.0])), {},
                           "W 2×3, b = (1, 2)")],
    hidden=_dead_hidden, reference=_dead_reference,
    arg_names=("W", "b")))

_register(Exercise(
    "relu_vjp", "dead_neurons", 2, "vector", "free", 1e-5, 1e-8,
    visible=lambda: [Probe((T([2.0, -1.0, 3.0, -0.5]), T([1.0, 2.0, 3.0, 4.0])), {}, "z = (2, -1, 3, -0.5), v = (1, 2, 3, 4)"),
                     Probe(args=(T([0.0, 0.5, -0.5]), T([1.0, 1.0, 1.0])), label="z = (0, 0.5, -0.5), v = (1, 1, 1)",
                           edge=True)],
    hidden=_relu_vjp_hidden, reference=_relu_vjp_reference,
    arg_names=("z", "v")))

_register(Exercise(
    "sigmoid_jacobian", "sigmoid_saturation", 2, "matrix", "by hand", 1e-6, 1e-12,
    visible=lambda: [Probe((T([0.0, 10.0]),), {}, "z = (0, 10)"),
                     Probe((T([-1.0, 0.5, 2.0]),), {}, "z = (-1, 0.5, 2)")],
    hidden=_sig_jac_hidden,
    reference=_matrix(lambda p: (torch.sigmoid, p.args[0])),
    arg_names=("z",)))

_register(Exercise(
    "sigmoid_layer_jacobian", "sigmoid_saturation", 3, "matrix", "by hand", 1e-5, 1e-8,
    visible=lambda: [Probe((T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1])), {}, "W 3×2 from the notes"),
                     Probe((T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0])), {}, "W 2×3")],
    hidden=_sig_layer_hidden,
    reference=_matrix(lambda p: ((lambda v, W=p.args[0], b=p.args[1]: torch.sigmoid(W @ v + b)), p.args[2])),
    arg_names=("W", "b", "x")))

_register(Exercise(
    "saturated_fraction", "sigmoid_saturation", 2, "scalar", "free", 1e-5, 1e-8,
    visible=_fraction_visible, hidden=_fraction_hidden, reference=_fraction_reference,
    arg_names=("W", "b", "X", "threshold")))


def get(name: str) -> Exercise:
    try:
        return EXERCISES[name]
    except KeyError:
        raise KeyError(f"no autograded exercise called {name!r}; known: {', '.join(EXERCISES)}") from None


def probes(exercise: Exercise | str, seed: int | None = None) -> list[Probe]:
    """The visible probes, plus the hidden ones drawn from ``seed`` when it is given."""
    ex = get(exercise) if isinstance(exercise, str) else exercise
    out = list(ex.visible())
    if seed is not None:
        rng = np.random.default_rng(int(seed))
        out.extend(ex.hidden(rng))
    return out
