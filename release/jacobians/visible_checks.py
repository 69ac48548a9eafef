# The visible checks for `check(...)` in this assignment's notebooks: keep this file beside them.
# nbgrader generate_assignment wrote it from autograding/jacobians/exercises.py; the hidden probes stay with the course.
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
W_SEED = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]

class ProbeFunction:
    """A picklable function R^n -> R^m handed to the student's ``numerical_jacobian``.

    Called with a torch tensor it returns a tensor of the same dtype; with a numpy array it
    returns a numpy array; with a list it returns a list. ``torch_forward`` is the same map
    on float64 tensors, used for the autograd reference. It never uses autograd itself.
    """
    FORMULAS = {'F3': 'F(x, y, z) = (x² + y·z, sin(x·y), e^(x+z))', 'seed2': 'f(x, y) = (x² + y, sin(x)·y)', 'f_xy': 'f(x, y) = (x² + y, x·y, eˣ)', 'g42': 'g(a, b, c, d) = (a·b + sin c, cos(d)·a)', 'tanh_net': 'x ↦ W2 tanh(W1 x + b1) + b2'}
    SIZES = {'F3': (3, 3), 'seed2': (2, 2), 'f_xy': (2, 3), 'g42': (4, 2)}

    def __init__(self, kind, params=None):
        if kind not in self.FORMULAS:
            raise ValueError(f'unknown probe function {kind!r}')
        self.kind = kind
        self.params = {k: np.asarray(v, dtype=np.float64) for k, v in (params or {}).items()}

    @property
    def n_in(self):
        return self.params['W1'].shape[1] if self.kind == 'tanh_net' else self.SIZES[self.kind][0]

    @property
    def n_out(self):
        return self.params['W2'].shape[0] if self.kind == 'tanh_net' else self.SIZES[self.kind][1]

    def torch_forward(self, x):
        k = self.kind
        if k == 'F3':
            return torch.stack([x[0] ** 2 + x[1] * x[2], torch.sin(x[0] * x[1]), torch.exp(x[0] + x[2])])
        if k == 'seed2':
            return torch.stack([x[0] ** 2 + x[1], torch.sin(x[0]) * x[1]])
        if k == 'f_xy':
            return torch.stack([x[0] ** 2 + x[1], x[0] * x[1], torch.exp(x[0])])
        if k == 'g42':
            return torch.stack([x[0] * x[1] + torch.sin(x[2]), torch.cos(x[3]) * x[0]])
        p = {name: torch.as_tensor(v, dtype=x.dtype) for name, v in self.params.items()}
        return p['W2'] @ torch.tanh(p['W1'] @ x + p['b1']) + p['b2']

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
        if self.kind == 'tanh_net':
            s += f" with {self.n_in}→{self.params['W1'].shape[0]}→{self.n_out} weights"
        return s

    def __eq__(self, other):
        return isinstance(other, ProbeFunction) and other.kind == self.kind and (self.params.keys() == other.params.keys()) and all((np.array_equal(self.params[k], other.params[k]) for k in self.params))
    __hash__ = None

def f_xy(p):
    return torch.stack([p[0] ** 2 + p[1], p[0] * p[1], torch.exp(p[0])])

def mlp_forward(weights, biases, x, activation='tanh'):
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
SHAPE_EXAMPLE = [3, 5, 4, 2, 1]

def layer(W, b, x, activation='relu'):
    return ACTIVATIONS[activation](W @ x + b)

def relu_hint(probe, got, expected):
    """The wrong rows are exactly where z = 0: the derivative at the kink."""
    if probe.args and isinstance(probe.args[0], torch.Tensor) and (probe.args[0].ndim == 1):
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
        return f"the wrong rows are exactly where z = 0 ({', '.join(map(str, bad_rows))}): ReLU's derivative at 0 is taken to be 0 here (z > 0, not z ≥ 0)"
    return None

def _mlp(rng, sizes, activation, label, pass_kwarg=True, edge=False):
    weights, biases, x = mlp(rng, sizes, activation)
    return probe(weights, biases, x, label=label, edge=edge, **{'activation': activation} if pass_kwarg else {})

def mlp_visible():
    rng = np.random.default_rng(20240601)
    return [_mlp(rng, [3, 4, 2], 'tanh', '2 layers 3→4→2, default activation (tanh)', pass_kwarg=False), _mlp(rng, [2, 5, 3, 4], 'relu', '3 layers 2→5→3→4, relu')]

def dead_check(W, b):
    """x -> (passed, diagnosis, message): is every unit of relu(W x + b) dead at x?"""
    m, n = W.shape

    def check(x):
        if x.shape != (n,):
            return (False, 'wrong_shape', f'x must have shape ({n},) (one entry per input), got {x.shape}')
        if not np.all(np.isfinite(x)):
            return (False, 'nan_inf', 'x contains NaN or Inf; pick a finite point')
        xt = torch.from_numpy(x.copy())
        z = (W @ xt + b).numpy()
        if not np.all(np.isfinite(z)):
            return (False, 'nan_inf', 'W x + b overflows to Inf at this x; pick a smaller point')
        alive = np.where(z >= 0)[0]
        if len(alive):
            which = ', '.join((f'{i} (z = {z[i]:.4g})' for i in alive[:6]))
            return (False, 'not_dead', f'neurons {which} are not dead: every pre-activation W x + b must be strictly negative')
        J = torch.func.jacrev(lambda v: torch.relu(W @ v + b))(xt)
        if not torch.all(J == 0):
            return (False, 'not_dead', 'the Jacobian of relu(W x + b) at x is not exactly zero')
        return (True, 'ok', 'every neuron is dead')
    return check

def relu_pullback(z, v):
    _, pullback = torch.func.vjp(torch.relu, z)
    return pullback(v)[0]

def sigmoid_derivative(Z):
    """σ'(Z) elementwise, from autograd."""
    return torch.func.vmap(torch.func.grad(torch.sigmoid))(Z.reshape(-1)).reshape(Z.shape)

def saturated_share(W, b, X, threshold=0.001):
    return float((sigmoid_derivative(X @ W.T + b) < threshold).to(F64).mean())

def _fraction(rng, k, m, n, scale, threshold, label, edge=False):
    """A batch drawn until no unit sits on the threshold and, in general position, some units
    are saturated on each side of 0 (so a test on σ instead of σ' differs), some are not, and
    not exactly half (so the complement differs); the special case has none saturated."""
    t = threshold if threshold is not None else 0.001
    while True:
        W, b, X = (rng.standard_normal((m, n)) * scale, rng.standard_normal(m), rng.standard_normal((k, n)))
        Z = X @ W.T + b
        d = sigmoid_derivative(T(Z)).numpy()
        if np.any(np.abs(d - t) <= 1e-06 * t):
            continue
        low = d < t
        if not low.any() if edge else low[Z > 0].any() and low[Z < 0].any() and (low.mean() not in (0.5, 1.0)):
            break
    return probe(T(W), T(b), T(X), label=label, edge=edge, **{} if threshold is None else {'threshold': threshold})

def fraction_visible():
    rng = np.random.default_rng(9)
    return [_fraction(rng, 4, 3, 2, 8.0, None, 'batch of 4, W 3×2 scaled by 8')]
EXERCISES = [exercise(name='jacobian_by_hand', kind='by hand', answer='matrix', reference=jacobian(f_xy, wrt='p'), visible=[probe(T([1.0, 2.0]), label='p = (1, 2)')], hidden=lambda rng: []), exercise(name='numerical_jacobian', kind='by hand', answer='matrix', atol=1e-06, reference=jacobian(lambda f, x, h=1e-06: f.torch_forward(x), wrt='x'), visible=lambda: [probe(ProbeFunction('seed2'), T([1.5, 2.0]), label='f(x, y) = (x² + y, sin(x)·y) at (1.5, 2)'), probe(ProbeFunction('f_xy'), T([1.0, 2.0]), label='f(x, y) = (x² + y, x·y, eˣ) at (1, 2)')], hidden=lambda rng: []), exercise(name='affine_jacobian', kind='by hand', answer='matrix', reference=jacobian(lambda W, b, x: W @ x + b, wrt='x'), visible=[probe(T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1]), label='W 3×2 from the notes, b = (0.1, 0.2, 0.3)'), probe(T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0]), label='W 2×3')], hidden=lambda rng: []), exercise(name='network_jacobian_shape', kind='free', answer='shape', reference=value(network_shape), visible=[probe(list(SHAPE_EXAMPLE), label=f'layer_sizes = {SHAPE_EXAMPLE}')], hidden=lambda rng: []), exercise(name='layer_jacobian', kind='by hand', answer='matrix', hint=relu_hint, reference=jacobian(layer, wrt='x'), visible=[probe(T(W_SEED), T([0.1, -0.5, 0.3]), T([0.1, 0.1]), 'relu', edge=True, label='the ReLU layer from the notes, z = (0.4, 0.2, 1.4): every unit active'), probe(T(W_SEED), T([0.1, -0.5, 0.3]), T([0.1, 0.1]), 'tanh', label='the same layer with tanh'), probe(T(W_SEED), T([0.1, -0.5, 0.3]), T([-0.2, 0.1]), 'relu', label='the same ReLU layer at x = (-0.2, 0.1), z = (0.1, -0.7, -0.1): one unit active'), probe(T([[1.0, -1.0, 2.0], [0.0, 1.0, 1.0]]), T([0.0, -1.0]), T([1.0, 1.0, 0.0]), 'relu', label='ReLU with a pre-activation exactly 0', edge=True)], hidden=lambda rng: []), exercise(name='mlp_jacobian', kind='by hand', answer='matrix', reference=jacobian(mlp_forward, wrt='x'), visible=mlp_visible, hidden=lambda rng: []), exercise(name='relu_jacobian', kind='by hand', answer='matrix', hint=relu_hint, reference=jacobian(lambda z: torch.relu(z), wrt='z'), visible=[probe(T([2.0, -1.0, 3.0, -0.5]), label='z = (2, -1, 3, -0.5)'), probe(T([0.0, 1.5, -2.0]), label='z = (0, 1.5, -2): derivative at 0 is 0', edge=True)], hidden=lambda rng: []), exercise(name='dead_input', kind='free', answer='property', reference=satisfies(dead_check, describe="any finite x with every entry of W x + b < 0 (so the ReLU layer's Jacobian is 0)"), visible=[probe(T([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]]), T([1.0, 2.0]), label='W 2×3, b = (1, 2)')], hidden=lambda rng: []), exercise(name='relu_vjp', kind='free', answer='vector', reference=value(relu_pullback), visible=[probe(T([2.0, -1.0, 3.0, -0.5]), T([1.0, 2.0, 3.0, 4.0]), label='z = (2, -1, 3, -0.5), v = (1, 2, 3, 4)'), probe(T([0.0, 0.5, -0.5]), T([1.0, 1.0, 1.0]), label='z = (0, 0.5, -0.5), v = (1, 1, 1)', edge=True)], hidden=lambda rng: []), exercise(name='sigmoid_jacobian', kind='by hand', answer='matrix', rtol=1e-06, atol=1e-12, reference=jacobian(lambda z: torch.sigmoid(z), wrt='z'), visible=[probe(T([0.0, 10.0]), label='z = (0, 10)'), probe(T([-1.0, 0.5, 2.0]), label='z = (-1, 0.5, 2)')], hidden=lambda rng: []), exercise(name='sigmoid_layer_jacobian', kind='by hand', answer='matrix', reference=jacobian(lambda W, b, x: torch.sigmoid(W @ x + b), wrt='x'), visible=[probe(T(W_SEED), T([0.1, 0.2, 0.3]), T([0.1, 0.1]), label='W 3×2 from the notes'), probe(T([[2.0, -1.0, 0.0], [0.5, 3.0, 1.0]]), T([0.0, 1.0]), T([1.0, 2.0, 3.0]), label='W 2×3')], hidden=lambda rng: []), exercise(name='saturated_fraction', kind='free', answer='scalar', reference=value(saturated_share), visible=fraction_visible, hidden=lambda rng: [])]
