"""The autograded exercises of the `jacobians` assignment.

Each reference is autograd (``jacobian``: ``torch.func.jacrev``; ``value``: ``vjp``, ``grad``)
applied to the exercise's mathematical function written in torch; nothing here is a
hand-written answer. Visible probes are fixed; hidden probes are drawn per student.
Points come from the notebooks' test cells.
"""
import numpy as np
import torch

from autograder.course.authoring import exercise, jacobian, probe, satisfies, value
from autograder.course.builders import ACTIVATIONS, T, big_uniform, distinct_sizes, layer_at, mixed_signs, mlp, normal, signed, uniform, widths, with_zeros

F64 = torch.float64
W_SEED = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]     # the weight matrix of the course notes


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

    def __init__(self, kind, params=None):
        if kind not in self.FORMULAS:
            raise ValueError(f"unknown probe function {kind!r}")
        self.kind = kind
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()}

    @property
    def n_in(self):
        return self.params["W1"].shape[1] if self.kind == "tanh_net" else self.SIZES[self.kind][0]

    @property
    def n_out(self):
        return self.params["W2"].shape[0] if self.kind == "tanh_net" else self.SIZES[self.kind][1]

    def torch_forward(self, x):
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

    def __repr__(self):
        s = self.FORMULAS[self.kind]
        if self.kind == "tanh_net":
            s += f" with {self.n_in}→{self.params['W1'].shape[0]}→{self.n_out} weights"
        return s

    def __eq__(self, other):
        return (isinstance(other, ProbeFunction) and other.kind == self.kind
                and self.params.keys() == other.params.keys()
                and all(np.array_equal(self.params[k], other.params[k]) for k in self.params))

    __hash__ = None


# --- jacobian.ipynb ---------------------------------------------------------------------

def f_xy(p):
    return torch.stack([p[0] ** 2 + p[1], p[0] * p[1], torch.exp(p[0])])


def _point(p, edge=""):
    label = "p = (" + ", ".join(f"{v:.4g}" for v in p) + ")" + (f": {edge}" if edge else "")
    return probe(T(p), label=label, edge=bool(edge))


def jacobian_by_hand_hidden(rng):
    return [_point(signed(rng, 2, 0.3, 2.0)), _point(np.array([0.0, *signed(rng, 1, 0.3, 2.0)]), "x = 0"),
            _point(signed(rng, 2, 0.3, 2.0)), _point(np.array([*signed(rng, 1, 0.3, 2.0), 0.0]), "y = 0")]


def numerical_hidden(rng):
    h1 = int(rng.integers(3, 6))
    net = ProbeFunction("tanh_net", {
        "W1": rng.standard_normal((h1, 3)), "b1": rng.standard_normal(h1) * 0.5,
        "W2": rng.standard_normal((2, h1)), "b2": rng.standard_normal(2) * 0.5,
    })
    return [
        probe(ProbeFunction("F3"), uniform(rng, -1.2, 1.2, 3), label="F(x, y, z) = (x² + yz, sin(xy), e^(x+z))"),
        probe(net, uniform(rng, -1, 1, 3), label=f"a small tanh network 3→{h1}→2"),
        probe(ProbeFunction("g42"), uniform(rng, -1.5, 1.5, 4), label="g: R⁴ → R²"),
        probe(ProbeFunction("f_xy"), uniform(rng, -1.5, 1.5, 2), label="f(x, y) = (x² + y, x·y, eˣ)"),
        probe(ProbeFunction("F3"), uniform(rng, -1, 1, 3), h=1e-4, label="F(x, y, z) with h = 1e-4"),
    ]


def _affine(rng, m, n, label, edge=False):
    return probe(normal(rng, m, n), normal(rng, m), normal(rng, n), label=label, edge=edge)


def affine_hidden(rng):
    out = []
    for _ in range(3):
        m, n = distinct_sizes(rng, 2, 6)
        out.append(_affine(rng, m, n, f"random W {m}×{n}"))
    out.append(_affine(rng, 4, 4, "random square W 4×4"))
    n = int(rng.integers(2, 7))
    out.append(_affine(rng, 1, n, f"W 1×{n}: a single output", edge=True))
    m = int(rng.integers(2, 7))
    out.append(_affine(rng, m, 1, f"W {m}×1: a single input", edge=True))
    return out


# --- chain_rule.ipynb -------------------------------------------------------------------

def mlp_forward(weights, biases, x, activation="tanh"):
    h = x
    for k, (W, b) in enumerate(zip(weights, biases)):
        h = W @ h + b
        if k < len(weights) - 1:
            h = ACTIVATIONS[activation](h)
    return h


def network_shape(layer_sizes):
    sizes = [int(s) for s in layer_sizes]
    gen = torch.Generator().manual_seed(0)
    weights = [torch.randn(sizes[k + 1], sizes[k], generator=gen, dtype=F64) for k in range(len(sizes) - 1)]
    biases = [torch.randn(sizes[k + 1], generator=gen, dtype=F64) for k in range(len(sizes) - 1)]
    x = torch.randn(sizes[0], generator=gen, dtype=F64)
    return tuple(torch.func.jacrev(lambda v: mlp_forward(weights, biases, v))(x).shape)


SHAPE_EXAMPLE = [3, 5, 4, 2, 1]  # the contract's visible example: shape (1, 3)


def _no_count_for_a_width(sizes):
    """Neither end width equals the number of layers or of widths: an answer that counts
    layers where a width is asked differs."""
    return not {sizes[0], sizes[-1]} & {len(sizes) - 1, len(sizes)}


def shape_hidden(rng):
    out = []
    while len(out) < 4:
        sizes = widths(rng, int(rng.integers(3, 7)))
        # not the visible answer
        if (sizes[-1], sizes[0]) != (SHAPE_EXAMPLE[-1], SHAPE_EXAMPLE[0]) and _no_count_for_a_width(sizes):
            out.append(probe(sizes, label=f"layer_sizes = {sizes}"))
    single = widths(rng, 2)
    out.append(probe(single, label=f"layer_sizes = {single}: a single layer", edge=True))
    n, k = widths(rng, 2)
    out.append(probe([n, k, n], label=f"layer_sizes = {[n, k, n]}: as many outputs as inputs", edge=True))
    return out


def layer(W, b, x, activation="relu"):
    return ACTIVATIONS[activation](W @ x + b)


def relu_zero_layer(rng, m, n):
    """Integer W and x, with b chosen so some pre-activations are exactly 0, some negative."""
    W = rng.integers(-3, 4, size=(m, n)).astype(np.float64)
    x = rng.integers(-2, 3, size=n).astype(np.float64)
    z = rng.choice([0.0, -1.5, 2.0], size=m)
    z[0] = 0.0
    return T(W), T(z - W @ x), T(x)      # exact: small integers and halves


def _relu_needs_b(W, b, x):
    """Some unit is active at W x + b and not at W x, or the other way: a layer read without
    its bias gets other ReLU slopes."""
    return bool(((W @ x + b) > 0).ne((W @ x) > 0).any())


def layer_hidden(rng):
    out = []
    for act in ("relu", "tanh", "sigmoid"):
        m, n = distinct_sizes(rng, 2, 6)
        while True:
            args = layer_at(rng, mixed_signs(rng, m), n)
            if act != "relu" or _relu_needs_b(*args):
                break
        out.append(probe(*args, act, label=f"random {m}×{n} layer, {act}"))
    out.append(probe(*layer_at(rng, mixed_signs(rng, 3, hi=9.0), 4, scale=3.0), "sigmoid",
                     label="sigmoid layer with large weights"))
    m, n = distinct_sizes(rng, 2, 6)
    out.append(probe(*relu_zero_layer(rng, m, n), "relu", edge=True,
                     label=f"ReLU {m}×{n} layer with pre-activations exactly 0"))
    m, n = distinct_sizes(rng, 2, 6)
    out.append(probe(*layer_at(rng, -rng.uniform(0.5, 3.0, m), n), "relu", edge=True,
                     label=f"ReLU {m}×{n} layer, every unit dead"))
    n = int(rng.integers(2, 7))
    out.append(probe(*layer_at(rng, signed(rng, 1), n), "tanh", edge=True,
                     label=f"a single tanh unit (1×{n} layer)"))
    return out


def relu_hint(probe, got, expected):
    """The wrong rows are exactly where z = 0: the derivative at the kink."""
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


def _mlp(rng, sizes, activation, label, pass_kwarg=True, edge=False):
    weights, biases, x = mlp(rng, sizes, activation)
    return probe(weights, biases, x, label=label, edge=edge, **({"activation": activation} if pass_kwarg else {}))


def mlp_visible():
    rng = np.random.default_rng(20240601)
    return [_mlp(rng, [3, 4, 2], "tanh", "2 layers 3→4→2, default activation (tanh)", pass_kwarg=False),
            _mlp(rng, [2, 5, 3, 4], "relu", "3 layers 2→5→3→4, relu")]


def mlp_hidden(rng):
    out = []
    for depth, act in zip(range(1, 6), ("sigmoid", "relu", "tanh", "sigmoid", "relu")):
        while True:  # hidden layers of 2 units or more: one unit would be all active or all dead
            sizes = [int(rng.integers(1, 7)), *(int(w) for w in rng.integers(2, 7, size=depth - 1)),
                     int(rng.integers(1, 7))]
            if sizes[0] != sizes[-1]:
                break
        arrows = "→".join(map(str, sizes))
        if depth == 1:
            out.append(_mlp(rng, sizes, act, f"1 layer {arrows}: no activation, nothing to chain", edge=True))
        else:
            out.append(_mlp(rng, sizes, act, f"{depth} layers {arrows}, {act}"))
    return out


# --- dead_neurons.ipynb -----------------------------------------------------------------

def relu_inputs(rng, inputs):
    """(z, label, edge) for an elementwise ReLU: three in general position, then the special
    cases: entries exactly 0, every entry positive, every entry negative. ``inputs`` names
    the arguments in the labels."""
    n = [int(v) for v in rng.integers(3, 9, size=6)]
    return [*((mixed_signs(rng, k), f"random {inputs} of length {k}", False) for k in n[:3]),
            (with_zeros(rng, n[3]), f"random {inputs} of length {n[3]}, z with zeros", True),
            (rng.uniform(0.5, 3.0, n[4]), f"{inputs} of length {n[4]}, every entry of z positive", True),
            (-rng.uniform(0.5, 3.0, n[5]), f"{inputs} of length {n[5]}, every entry of z negative", True)]


def dead_check(W, b):
    """x -> (passed, diagnosis, message): is every unit of relu(W x + b) dead at x?"""
    m, n = W.shape

    def check(x):
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


def _dead(rng, m, n, label, edge=False):
    while True:
        W = rng.standard_normal((m, n))
        sums = W.sum(axis=1)
        # rows summing to both signs: no x = (c, c, ..., c) kills every unit
        if edge or (sums.max() > 0.3 and sums.min() < -0.3):
            break
    b = np.abs(rng.standard_normal(m)) * 3  # positive biases: x = 0 does not work
    return probe(T(W), T(b), label=label, edge=edge)


def dead_hidden(rng):
    out = []
    for _ in range(3):
        m = int(rng.integers(2, 5))
        n = int(rng.integers(m + 1, 7))
        out.append(_dead(rng, m, n, f"random W {m}×{n}, positive b"))
    m = int(rng.integers(2, 5))
    out.append(_dead(rng, m, m, f"random square W {m}×{m}, positive b", edge=True))
    n = int(rng.integers(2, 7))
    out.append(_dead(rng, 1, n, f"W 1×{n}: a single unit, positive b", edge=True))
    return out


def relu_pullback(z, v):
    _, pullback = torch.func.vjp(torch.relu, z)
    return pullback(v)[0]


def big_relu_vjp_probe(rng, n=10 ** 7):
    # a mix of signs at a scale no matrix can hold; a general probe, so no entry sits on
    # ReLU's kink (the small special cases test that)
    z = big_uniform(rng, n)
    v = big_uniform(rng, n)
    return probe(z, v, label=f"z, v of length {n:,}")


def relu_vjp_hidden(rng):
    return [probe(T(z), T(signed(rng, len(z))), label=label, edge=edge) for z, label, edge in relu_inputs(rng, "z, v")]


# --- sigmoid_saturation.ipynb -------------------------------------------------------------

def sigmoid_jacobian_hidden(rng):
    out = []
    for i in range(4):
        n = int(rng.integers(3, 8))
        z = rng.uniform(-30, 30, n)
        z[rng.integers(n)] = signed(rng, 1)[0]  # one unit far from saturation, where σ' is not ~0
        if i == 0:
            z[:3] = [30.0, -30.0, 0.0]
        out.append(probe(T(z), label=f"random z of length {n}, |z| ≤ 30"))
    return out


def sigmoid_layer_hidden(rng):
    out = []
    for scale in (1.0, 1.0, 3.0, 0.5):
        m, n = distinct_sizes(rng, 2, 6)
        out.append(probe(*layer_at(rng, mixed_signs(rng, m, hi=3.0 * scale), n, scale=scale),
                         label=f"random {m}×{n} layer" + (" with large weights" if scale > 1 else "")))
    n = int(rng.integers(2, 7))
    out.append(probe(*layer_at(rng, signed(rng, 1), n), label=f"a single sigmoid unit (1×{n} layer)",
                     edge=True))
    return out


def sigmoid_derivative(Z):
    """σ'(Z) elementwise, from autograd."""
    return torch.func.vmap(torch.func.grad(torch.sigmoid))(Z.reshape(-1)).reshape(Z.shape)


def saturated_share(W, b, X, threshold=1e-3):
    return float((sigmoid_derivative(X @ W.T + b) < threshold).to(F64).mean())


def _fraction(rng, k, m, n, scale, threshold, label, edge=False):
    """A batch drawn until no unit sits on the threshold and, in general position, some units
    are saturated on each side of 0 (so a test on σ instead of σ' differs), some are not, and
    not exactly half (so the complement differs); the special case has none saturated."""
    t = threshold if threshold is not None else 1e-3
    while True:
        W, b, X = rng.standard_normal((m, n)) * scale, rng.standard_normal(m), rng.standard_normal((k, n))
        Z = X @ W.T + b
        d = sigmoid_derivative(T(Z)).numpy()
        if np.any(np.abs(d - t) <= 1e-6 * t):  # a unit on the threshold
            continue
        low = d < t
        if (not low.any()) if edge else (low[Z > 0].any() and low[Z < 0].any() and low.mean() not in (0.5, 1.0)):
            break
    return probe(T(W), T(b), T(X), label=label, edge=edge, **({} if threshold is None else {"threshold": threshold}))


def fraction_visible():
    rng = np.random.default_rng(9)
    return [_fraction(rng, 4, 3, 2, 8.0, None, "batch of 4, W 3×2 scaled by 8")]


def fraction_hidden(rng):
    return [
        _fraction(rng, 8, 4, 3, 6.0, None, "batch of 8, W 4×3 scaled by 6"),
        _fraction(rng, 5, 2, 5, 10.0, None, "batch of 5, W 2×5 scaled by 10"),
        _fraction(rng, 6, 3, 2, 4.0, 1e-2, "batch of 6, threshold = 1e-2"),
        _fraction(rng, 3, 3, 3, 0.1, None, "small weights: nothing saturated", edge=True),
    ]


# ----------------------------------------------------------------------------- the exercises

EXERCISES = [
    exercise(name="jacobian_by_hand", kind="by hand", answer="matrix",
             reference=jacobian(f_xy, wrt="p"),
             visible=[probe(T([1.0, 2.0]), label="p = (1, 2)")],
             hidden=jacobian_by_hand_hidden),
    exercise(name="numerical_jacobian", kind="by hand", answer="matrix", atol=1e-6,
             reference=jacobian(lambda f, x, h=1e-6: f.torch_forward(x), wrt="x"),
             visible=lambda: [probe(ProbeFunction("seed2"), T([1.5, 2.0]), label="f(x, y) = (x² + y, sin(x)·y) at (1.5, 2)"),
                              probe(ProbeFunction("f_xy"), T([1.0, 2.0]), label="f(x, y) = (x² + y, x·y, eˣ) at (1, 2)")],
             hidden=numerical_hidden),
    exercise(name="affine_jacobian", kind="by hand", answer="matrix",
             reference=jacobian(lambda W, b, x: W @ x + b, wrt="x"),
             visible=[probe(T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1]), label="W 3×2 from the notes, b = (0.1, 0.2, 0.3)"),
                      probe(T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0]), label="W 2×3")],
             hidden=affine_hidden),
    exercise(name="network_jacobian_shape", kind="free", answer="shape",
             reference=value(network_shape),
             visible=[probe(list(SHAPE_EXAMPLE), label=f"layer_sizes = {SHAPE_EXAMPLE}")],
             hidden=shape_hidden),
    exercise(name="layer_jacobian", kind="by hand", answer="matrix", hint=relu_hint,
             reference=jacobian(layer, wrt="x"),
             visible=[probe(T(W_SEED), T([0.1, -0.5, 0.3]), T([0.1, 0.1]), "relu", edge=True,
                            label="the ReLU layer from the notes, z = (0.4, 0.2, 1.4): every unit active"),
                      probe(T(W_SEED), T([0.1, -0.5, 0.3]), T([0.1, 0.1]), "tanh", label="the same layer with tanh"),
                      probe(T(W_SEED), T([0.1, -0.5, 0.3]), T([-0.2, 0.1]), "relu",
                            label="the same ReLU layer at x = (-0.2, 0.1), z = (0.1, -0.7, -0.1): one unit active"),
                      probe(T([[1.0, -1.0, 2.0], [0.0, 1.0, 1.0]]), T([0.0, -1.0]), T([1.0, 1.0, 0.0]), "relu",
                            label="ReLU with a pre-activation exactly 0", edge=True)],
             hidden=layer_hidden),
    exercise(name="mlp_jacobian", kind="by hand", answer="matrix",
             reference=jacobian(mlp_forward, wrt="x"),
             visible=mlp_visible, hidden=mlp_hidden),
    exercise(name="relu_jacobian", kind="by hand", answer="matrix", hint=relu_hint,
             reference=jacobian(lambda z: torch.relu(z), wrt="z"),
             visible=[probe(T([2.0, -1.0, 3.0, -0.5]), label="z = (2, -1, 3, -0.5)"),
                      probe(T([0.0, 1.5, -2.0]), label="z = (0, 1.5, -2): derivative at 0 is 0", edge=True)],
             hidden=lambda rng: [probe(T(z), label=label, edge=edge) for z, label, edge in relu_inputs(rng, "z")]),
    exercise(name="dead_input", kind="free", answer="property",
             reference=satisfies(dead_check,
                                 describe="any finite x with every entry of W x + b < 0 "
                                          "(so the ReLU layer's Jacobian is 0)"),
             visible=[probe(T([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]), T([1.0, 2.0]), label="W 2×3, b = (1, 2)")],
             hidden=dead_hidden),
    exercise(name="relu_vjp", kind="free", answer="vector",
             reference=value(relu_pullback),
             visible=[probe(T([2.0, -1.0, 3.0, -0.5]), T([1.0, 2.0, 3.0, 4.0]), label="z = (2, -1, 3, -0.5), v = (1, 2, 3, 4)"),
                      probe(T([0.0, 0.5, -0.5]), T([1.0, 1.0, 1.0]), label="z = (0, 0.5, -0.5), v = (1, 1, 1)", edge=True)],
             hidden=relu_vjp_hidden, shared=lambda rng: [big_relu_vjp_probe(rng)]),
    exercise(name="sigmoid_jacobian", kind="by hand", answer="matrix", rtol=1e-6, atol=1e-12,
             reference=jacobian(lambda z: torch.sigmoid(z), wrt="z"),
             visible=[probe(T([0.0, 10.0]), label="z = (0, 10)"), probe(T([-1.0, 0.5, 2.0]), label="z = (-1, 0.5, 2)")],
             hidden=sigmoid_jacobian_hidden),
    exercise(name="sigmoid_layer_jacobian", kind="by hand", answer="matrix",
             reference=jacobian(lambda W, b, x: torch.sigmoid(W @ x + b), wrt="x"),
             visible=[probe(T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1]), label="W 3×2 from the notes"),
                      probe(T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0]), label="W 2×3")],
             hidden=sigmoid_layer_hidden),
    exercise(name="saturated_fraction", kind="free", answer="scalar",
             reference=value(saturated_share),
             visible=fraction_visible, hidden=fraction_hidden),
]


# ----------------------------------------------------------------------------- misreadings
# For each exercise, the plausible misreadings of its question that its probes in general
# position must tell from the right answer (tests/test_misreadings.py checks it for many
# seeds): each is the answer a student who read the exercise that way would return.
# Misreadings that only a special case can catch (ReLU's slope at 0) are not listed: the
# special cases are there for them.

def _jac(f, x):
    return torch.func.jacrev(f)(x)


def _slope(z, activation):
    return torch.func.vmap(torch.func.grad(ACTIVATIONS[activation]))(z)


def _chained(weights, biases, x, activation, *, slopes=True, last=False, first_to_last=False):
    """An MLP's Jacobian chained layer by layer, right with the defaults; else without the
    activations' slopes, with a slope after the last layer too, or multiplied first to last."""
    J, h = None, x
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = W @ h + b
        active = last or k < len(weights) - 1
        Jk = _slope(z, activation)[:, None] * W if active and slopes else W
        J = Jk if J is None else (J @ Jk if first_to_last else Jk @ J)
        h = ACTIVATIONS[activation](z) if k < len(weights) - 1 else z
    return J


MISREADINGS = {
    "jacobian_by_hand": {
        "rows for inputs, columns for outputs (the transpose)": lambda p: _jac(f_xy, p).T,
        "the columns ∂/∂x and ∂/∂y swapped": lambda p: _jac(f_xy, p).flip(1),
        "∂(x·y) as (x, y) instead of (y, x)": lambda p: torch.stack([_jac(f_xy, p)[0], p, _jac(f_xy, p)[2]]),
        "the gradient of the summed outputs": lambda p: _jac(f_xy, p).sum(0),
    },
    "numerical_jacobian": {
        "divided by h, not 2h": lambda f, x, h=1e-5: 2 * _jac(f.torch_forward, x),
        "one row per input (the transpose)": lambda f, x, h=1e-5: _jac(f.torch_forward, x).T,
        "f(x + h) - f(x - h) without dividing": lambda f, x, h=1e-5: 2 * h * _jac(f.torch_forward, x),
    },
    "affine_jacobian": {
        "Wᵀ (inputs as rows)": lambda W, b, x: W.T,
        "the value W x + b": lambda W, b, x: W @ x + b,
        "W with b as an extra column": lambda W, b, x: torch.cat([W, b[:, None]], dim=1),
    },
    "network_jacobian_shape": {
        "(inputs, outputs): the transpose": lambda s: (s[0], s[-1]),
        "(number of layers, inputs): depth for the output width": lambda s: (len(s) - 1, s[0]),
        "(number of widths, inputs)": lambda s: (len(s), s[0]),
        "(outputs, number of layers)": lambda s: (s[-1], len(s) - 1),
        "the first layer's shape": lambda s: (s[1], s[0]),
        "the last layer's shape": lambda s: (s[-1], s[-2]),
    },
    "layer_jacobian": {
        "W: the activation ignored": lambda W, b, x, activation: W.clone(),
        "diag(a(z)) W: the activation, not its slope":
            lambda W, b, x, activation: ACTIVATIONS[activation](W @ x + b)[:, None] * W,
        "the slope at W x, without b": lambda W, b, x, activation: _slope(W @ x, activation)[:, None] * W,
        "(diag(a'(z)) W)ᵀ": lambda W, b, x, activation: (_slope(W @ x + b, activation)[:, None] * W).T,
        "diag(a'(z)) without W": lambda W, b, x, activation: torch.diag(_slope(W @ x + b, activation)),
    },
    "mlp_jacobian": {
        "the weights multiplied, activations ignored":
            lambda weights, biases, x, activation="tanh": _chained(weights, biases, x, activation, slopes=False),
        "an activation after the last layer too":
            lambda weights, biases, x, activation="tanh": _chained(weights, biases, x, activation, last=True),
        "chained first to last": lambda weights, biases, x, activation="tanh":
            _chained(weights, biases, x, activation, first_to_last=True),
        "the last layer's W only": lambda weights, biases, x, activation="tanh": weights[-1].clone(),
    },
    "relu_jacobian": {
        "diag(relu(z)): the function, not its slope": lambda z: torch.diag(torch.relu(z)),
        "diag(sign(z))": lambda z: torch.diag(torch.sign(z)),
        "the identity": lambda z: torch.eye(len(z), dtype=z.dtype),
        "the slopes as a vector": lambda z: (z > 0).to(z.dtype),
    },
    "dead_input": {
        "x = 0": lambda W, b: torch.zeros(W.shape[1], dtype=W.dtype),
        "x = (-1, ..., -1)": lambda W, b: -torch.ones(W.shape[1], dtype=W.dtype),
    },
    "relu_vjp": {
        "relu(z) * v: the function, not its slope": lambda z, v: torch.relu(z) * v,
        "(v > 0) * z: z and v swapped": lambda z, v: (v > 0) * z,
        "the slopes without v": lambda z, v: (z > 0).to(z.dtype),
        "v back": lambda z, v: v.clone(),
    },
    "sigmoid_jacobian": {
        "diag(σ(z)): the function, not its slope": lambda z: torch.diag(torch.sigmoid(z)),
        "diag(1 - σ(z)²): tanh's formula": lambda z: torch.diag(1 - torch.sigmoid(z) ** 2),
        "the slopes as a vector": lambda z: torch.sigmoid(z) * torch.sigmoid(-z),
    },
    "sigmoid_layer_jacobian": {
        "diag(σ(z)) W": lambda W, b, x: torch.sigmoid(W @ x + b)[:, None] * W,
        "the slope at W x, without b": lambda W, b, x: _slope(W @ x, "sigmoid")[:, None] * W,
        "(diag(σ'(z)) W)ᵀ": lambda W, b, x: (_slope(W @ x + b, "sigmoid")[:, None] * W).T,
        "W / 4, the slope at 0": lambda W, b, x: W / 4,
    },
    "saturated_fraction": {
        "σ (not σ') below the threshold": lambda W, b, X, threshold=1e-3:
            float((torch.sigmoid(X @ W.T + b) < threshold).to(F64).mean()),
        "the unsaturated fraction": lambda W, b, X, threshold=1e-3: 1 - saturated_share(W, b, X, threshold),
        "a count, not a fraction": lambda W, b, X, threshold=1e-3:
            saturated_share(W, b, X, threshold) * X.shape[0] * W.shape[0],
        "the fraction of inputs with a saturated unit": lambda W, b, X, threshold=1e-3:
            float((sigmoid_derivative(X @ W.T + b) < threshold).any(dim=1).to(F64).mean()),
        "the fraction of units saturated on every input": lambda W, b, X, threshold=1e-3:
            float((sigmoid_derivative(X @ W.T + b) < threshold).all(dim=0).to(F64).mean()),
    },
}
