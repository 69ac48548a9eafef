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
    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    hidden: bool = False


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
    kind: str              # "matrix" | "vector" | "scalar" | "shape" | "property"
    by_hand: bool
    rtol: float
    atol: float
    visible: Callable[[], list[Probe]]
    hidden: Callable[[np.random.Generator], list[Probe]]
    reference: Callable[[Probe], Expected]
    arg_names: tuple[str, ...] = ()
    # optional: (probe, got, expected) -> a sentence, for a same-shape wrong answer
    hint: Callable[[Probe, np.ndarray, np.ndarray], str | None] | None = None


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


W_SEED = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]


# --- jacobian.ipynb ---------------------------------------------------------------------

def _f_xy(p: torch.Tensor) -> torch.Tensor:
    return torch.stack([p[0] ** 2 + p[1], p[0] * p[1], torch.exp(p[0])])


def _jacobian_by_hand_hidden(rng):
    pts = [rng.uniform(-2, 2, 2), np.array([0.0, rng.uniform(-2, 2)]),
           rng.uniform(-2, 2, 2), np.array([rng.uniform(-2, 2), 0.0])]
    return [Probe((T(p),), {}, "p = (" + ", ".join(f"{v:.4g}" for v in p) + ")", True) for p in pts]


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


def _affine_hidden(rng):
    out = []
    for i in range(3):
        m, n = _distinct_mn(rng, 1, 6)
        out.append(Probe((_normal(rng, m, n), _normal(rng, m), _normal(rng, n)), {}, f"random W {m}×{n}", True))
    out.append(Probe((_normal(rng, 4, 4), _normal(rng, 4), _normal(rng, 4)), {}, "random square W 4×4", True))
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


def _shape_hidden(rng):
    out = []
    for _ in range(4):
        while True:
            sizes = [int(s) for s in rng.integers(1, 10, size=int(rng.integers(2, 7)))]
            if sizes[0] != sizes[-1]:
                break
        out.append(Probe((sizes,), {}, f"layer_sizes = {sizes}", True))
    return out


def _layer_visible():
    W, b, x = W_SEED, [0.1, -0.5, 0.3], [0.1, 0.1]
    return [
        Probe((T(W), T(b), T(x), "relu"), {}, "the ReLU layer from the notes, z = (0.4, 0.2, 1.4)"),
        Probe((T(W), T(b), T(x), "tanh"), {}, "the same layer with tanh"),
        Probe((T([[1.0, -1.0, 2.0], [0.0, 1.0, 1.0]]), T([0.0, -1.0]), T([1.0, 1.0, 0.0]), "relu"), {},
              "ReLU with a pre-activation exactly 0"),
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
        m, n = _distinct_mn(rng, 1, 6)
        out.append(Probe((_normal(rng, m, n), _normal(rng, m), _normal(rng, n), act), {},
                         f"random {m}×{n} layer, {act}", True))
    m, n = _distinct_mn(rng, 2, 6)
    out.append(Probe((*_relu_zero_layer(rng, m, n), "relu"), {},
                     f"ReLU {m}×{n} layer with pre-activations exactly 0", True))
    out.append(Probe((_normal(rng, 3, 4, scale=3.0), _normal(rng, 3), _normal(rng, 4), "sigmoid"), {},
                     "sigmoid layer with large weights", True))
    return out


def _layer_reference(probe: Probe) -> Expected:
    W, b, x = probe.args[:3]
    act = _ACT[_act_name(probe, 3, "relu")]
    return Expected(_jac(lambda v: act(W @ v + b), x))


def _mlp_probe(rng, widths, activation, label, pass_kwarg=True):
    weights = [_normal(rng, widths[k + 1], widths[k], scale=1 / math.sqrt(widths[k])) for k in range(len(widths) - 1)]
    biases = [_normal(rng, widths[k + 1], scale=0.3) for k in range(len(widths) - 1)]
    x = _normal(rng, widths[0])
    kwargs = {"activation": activation} if pass_kwarg else {}
    return Probe((weights, biases, x), kwargs, label, True)


def _mlp_visible():
    rng = np.random.default_rng(20240601)
    p1 = _mlp_probe(rng, [3, 4, 2], "tanh", "2 layers 3→4→2, default activation (tanh)", pass_kwarg=False)
    p2 = _mlp_probe(rng, [2, 5, 3, 4], "relu", "3 layers 2→5→3→4, relu")
    return [Probe(p.args, p.kwargs, p.label, False) for p in (p1, p2)]


def _mlp_hidden(rng):
    acts = ["sigmoid", "relu", "tanh", "sigmoid", "relu", "tanh"]
    out = []
    for depth, act in zip(range(1, 6), acts):
        while True:
            widths = [int(w) for w in rng.integers(1, 7, size=depth + 1)]
            if widths[0] != widths[-1]:
                break
        arrows = "→".join(map(str, widths))
        out.append(_mlp_probe(rng, widths, act, f"{depth} layer{'s' if depth > 1 else ''} {arrows}, {act}"))
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


def _relu_jac_hidden(rng):
    out = []
    for i in range(4):
        n = int(rng.integers(3, 9))
        z = _relu_with_zeros(rng, n)
        out.append(Probe((T(z),), {}, f"random z of length {n} with zeros", True))
    return out


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


def _dead_hidden(rng):
    out = []
    for i in range(4):
        m = int(rng.integers(1, 5))
        n = m if i == 3 else int(rng.integers(m + 1, 7))
        W = rng.standard_normal((m, n))
        b = np.abs(rng.standard_normal(m)) * 3  # positive biases: x = 0 does not work
        out.append(Probe((T(W), T(b)), {}, f"random W {m}×{n}, positive b", True))
    return out


def _relu_vjp_reference(probe: Probe) -> Expected:
    z, v = probe.args[:2]
    _, pullback = torch.func.vjp(torch.relu, z)
    return Expected(pullback(v)[0].detach().numpy())


def big_relu_vjp_probe(rng: np.random.Generator, n: int = 10 ** 7) -> Probe:
    # Uniform on [-2, 2): several times cheaper to draw than normals at this size, and all
    # that matters here is a mix of signs (plus exact zeros) at a scale no matrix can hold.
    z = rng.random(n)
    z *= 4.0                      # in place: the same numbers without two more 80 MB arrays
    z -= 2.0
    z[rng.integers(0, n, size=1000)] = 0.0
    v = rng.random(n)
    v *= 4.0
    v -= 2.0
    return Probe((torch.from_numpy(z), torch.from_numpy(v)), {}, f"z, v of length {n:,}", True)


def _relu_vjp_hidden(rng):
    out = []
    for i in range(3):
        n = int(rng.integers(3, 12))
        out.append(Probe((T(_relu_with_zeros(rng, n)), _normal(rng, n)), {}, f"random z, v of length {n}", True))
    out.append(big_relu_vjp_probe(rng))
    return out


# --- sigmoid_saturation.ipynb -------------------------------------------------------------

def _sig_jac_hidden(rng):
    out = []
    for i in range(4):
        n = int(rng.integers(3, 8))
        z = rng.uniform(-30, 30, n)
        if i == 0:
            z[:3] = [30.0, -30.0, 0.0]
        out.append(Probe((T(z),), {}, f"random z of length {n}, |z| ≤ 30", True))
    return out


def _sig_layer_hidden(rng):
    out = []
    for scale in (1.0, 1.0, 3.0, 0.5):
        m, n = _distinct_mn(rng, 1, 6)
        out.append(Probe((_normal(rng, m, n, scale=scale), _normal(rng, m), _normal(rng, n)), {},
                         f"random {m}×{n} layer" + (" with large weights" if scale > 1 else ""), True))
    return out


def _sigmoid_derivative(Z: torch.Tensor) -> torch.Tensor:
    """σ'(Z) elementwise, from autograd."""
    return torch.func.vmap(torch.func.grad(torch.sigmoid))(Z.reshape(-1)).reshape(Z.shape)


def _fraction_reference(probe: Probe) -> Expected:
    W, b, X = probe.args[:3]
    threshold = probe.args[3] if len(probe.args) > 3 else probe.kwargs.get("threshold", 1e-3)
    d = _sigmoid_derivative(X @ W.T + b)
    return Expected(float((d < threshold).to(F64).mean()))


def _fraction_probe(rng, k, m, n, scale, threshold, label, hidden=True):
    while True:
        W, b, X = rng.standard_normal((m, n)) * scale, rng.standard_normal(m), rng.standard_normal((k, n))
        d = _sigmoid_derivative(T(X @ W.T + b)).numpy()
        t = threshold if threshold is not None else 1e-3
        if np.all(np.abs(d - t) > 1e-6 * t):  # no unit sits on the threshold
            break
    kwargs = {} if threshold is None else {"threshold": threshold}
    return Probe((T(W), T(b), T(X)), kwargs, label, hidden)


def _fraction_visible():
    rng = np.random.default_rng(9)
    return [_fraction_probe(rng, 4, 3, 2, 8.0, None, "batch of 4, W 3×2 scaled by 8 (half the units saturated)",
                            hidden=False)]


def _fraction_hidden(rng):
    return [
        _fraction_probe(rng, 8, 4, 3, 6.0, None, "batch of 8, W 4×3 scaled by 6"),
        _fraction_probe(rng, 5, 2, 5, 10.0, None, "batch of 5, W 2×5 scaled by 10"),
        _fraction_probe(rng, 6, 3, 2, 4.0, 1e-2, "batch of 6, threshold = 1e-2"),
        _fraction_probe(rng, 3, 3, 3, 0.1, None, "small weights: nothing saturated"),
    ]


# ----------------------------------------------------------------------------- registry

def _visible(*probes: Probe) -> Callable[[], list[Probe]]:
    return lambda: list(probes)


EXERCISES: dict[str, Exercise] = {}


def _register(ex: Exercise) -> None:
    EXERCISES[ex.name] = ex


_register(Exercise(
    "jacobian_by_hand", "jacobian", 3, "matrix", True, 1e-5, 1e-8,
    visible=lambda: [Probe((T([1.0, 2.0]),), {}, "p = (1, 2)")],
    hidden=_jacobian_by_hand_hidden,
    reference=_matrix(lambda p: (_f_xy, p.args[0])),
    arg_names=("p",)))

_register(Exercise(
    "numerical_jacobian", "jacobian", 3, "matrix", True, 1e-5, 1e-6,
    visible=_numerical_visible, hidden=_numerical_hidden,
    reference=_matrix(lambda p: (p.args[0].torch_forward, p.args[1])),
    arg_names=("f", "x", "h")))

_register(Exercise(
    "affine_jacobian", "jacobian", 1, "matrix", True, 1e-5, 1e-8,
    visible=_affine_visible, hidden=_affine_hidden,
    reference=_matrix(lambda p: ((lambda v, W=p.args[0], b=p.args[1]: W @ v + b), p.args[2])),
    arg_names=("W", "b", "x")))

_register(Exercise(
    "network_jacobian_shape", "chain_rule", 1, "shape", False, 0.0, 0.0,
    visible=lambda: [Probe(([3, 5, 4, 2, 1],), {}, "layer_sizes = [3, 5, 4, 2, 1]")],
    hidden=_shape_hidden, reference=_shape_reference,
    arg_names=("layer_sizes",)))

_register(Exercise(
    "layer_jacobian", "chain_rule", 3, "matrix", True, 1e-5, 1e-8,
    visible=_layer_visible, hidden=_layer_hidden, reference=_layer_reference,
    arg_names=("W", "b", "x", "activation"), hint=_relu_hint))

_register(Exercise(
    "mlp_jacobian", "chain_rule", 4, "matrix", True, 1e-5, 1e-8,
    visible=_mlp_visible, hidden=_mlp_hidden, reference=_mlp_reference,
    arg_names=("weights", "biases", "x", "activation")))

_register(Exercise(
    "relu_jacobian", "dead_neurons", 2, "matrix", True, 1e-5, 1e-8,
    visible=lambda: [Probe((T([2.0, -1.0, 3.0, -0.5]),), {}, "z = (2, -1, 3, -0.5)"),
                     Probe((T([0.0, 1.5, -2.0]),), {}, "z = (0, 1.5, -2): derivative at 0 is 0")],
    hidden=_relu_jac_hidden,
    reference=_matrix(lambda p: (torch.relu, p.args[0])),
    arg_names=("z",), hint=_relu_hint))

_register(Exercise(
    "dead_input", "dead_neurons", 3, "property", False, 0.0, 0.0,
    visible=lambda: [Probe((T([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]), T([1.0, 2.0])), {},
                           "W 2×3, b = (1, 2)")],
    hidden=_dead_hidden, reference=_dead_reference,
    arg_names=("W", "b")))

_register(Exercise(
    "relu_vjp", "dead_neurons", 2, "vector", False, 1e-5, 1e-8,
    visible=lambda: [Probe((T([2.0, -1.0, 3.0, -0.5]), T([1.0, 2.0, 3.0, 4.0])), {}, "z = (2, -1, 3, -0.5), v = (1, 2, 3, 4)"),
                     Probe((T([0.0, 0.5, -0.5]), T([1.0, 1.0, 1.0])), {}, "z = (0, 0.5, -0.5), v = (1, 1, 1)")],
    hidden=_relu_vjp_hidden, reference=_relu_vjp_reference,
    arg_names=("z", "v")))

_register(Exercise(
    "sigmoid_jacobian", "sigmoid_saturation", 2, "matrix", True, 1e-6, 1e-12,
    visible=lambda: [Probe((T([0.0, 10.0]),), {}, "z = (0, 10)"),
                     Probe((T([-1.0, 0.5, 2.0]),), {}, "z = (-1, 0.5, 2)")],
    hidden=_sig_jac_hidden,
    reference=_matrix(lambda p: (torch.sigmoid, p.args[0])),
    arg_names=("z",)))

_register(Exercise(
    "sigmoid_layer_jacobian", "sigmoid_saturation", 3, "matrix", True, 1e-5, 1e-8,
    visible=lambda: [Probe((T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1])), {}, "W 3×2 from the notes"),
                     Probe((T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0])), {}, "W 2×3")],
    hidden=_sig_layer_hidden,
    reference=_matrix(lambda p: ((lambda v, W=p.args[0], b=p.args[1]: torch.sigmoid(W @ v + b)), p.args[2])),
    arg_names=("W", "b", "x")))

_register(Exercise(
    "saturated_fraction", "sigmoid_saturation", 2, "scalar", False, 1e-5, 1e-8,
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
