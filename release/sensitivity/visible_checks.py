# The visible checks for `check(...)` in this assignment's notebooks: keep this file beside them.
# nbgrader generate_assignment wrote it from autograding/sensitivity/exercises.py; the hidden probes stay with the course.
"""The `sensitivity` assignment's autograded exercises (contract: sensitivity-assignment.md).

Each reference is autograd on the exercise's maths, written below in torch. At scale (the
2·10⁶-input linear prediction, the d = 3000 coupling layer, the 20 000 × 20 000 spectral
norm) the reference is built from autograd products (``autograder.course.products``), never from a full
Jacobian; the tests cross-check those against ``jacrev`` on the small probes.

Probe functions and models are defined here and reach the student's process by value.
Hidden probes are in general position: each typical wrong answer (see mistakes.py) differs
from the right one there; special cases where some coincide are marked ``edge=True``.
"""
import math
import numpy as np
import torch
from autograder.course import products
from autograder.course.authoring import exercise, jacobian, probe, value
from autograder.course.builders import T, big_uniform, distinct_sizes, layer_at, mixed_signs, signed
DETERMINANT_FORBIDDEN = 'the point of coupling layers is that log |det J| needs no determinant: J is block-triangular, so it is the sum of the logs of its diagonal'

def tiny_net(W1, b1, W2, b2, x):
    return W2 @ torch.tanh(W1 @ x + b1) + b2

def polar(r, theta):
    return torch.stack([r * torch.cos(theta), r * torch.sin(theta)])

def polar_jacobian_reference(r, theta):
    """Rows = outputs (x, y), columns = inputs (r, θ)."""
    columns = torch.func.jacrev(polar, argnums=(0, 1))(r, theta)
    return torch.stack(columns, dim=-1)

def coupling_layer(W, b, x):
    d = W.shape[0]
    x1, x2 = (x[:d], x[d:])
    return torch.cat([x1, x2 * torch.exp(torch.tanh(W @ x1 + b))])

def coupling_log_det_reference(W, b, x):
    """The Jacobian is block-triangular: the identity on x₁, a diagonal ∂y₂/∂x₂."""
    d = W.shape[0]
    return products.log_abs_det_block_triangular(lambda v: coupling_layer(W, b, v), x, blocks=[slice(0, d), slice(d, 2 * d)])

def residual_block(W, b, x):
    return x + torch.tanh(W @ x + b)

def linear_prediction_reference(f, x0, dx):
    return products.first_order(f, x0, dx)

def most_sensitive_input_reference(f, x):
    return int(torch.linalg.vector_norm(torch.func.jacrev(f)(x), dim=0).argmax())

def spectral_norm_reference(f, x, iters=200):
    return products.largest_singular_value(f, x)

def mean_cross_entropy(model, x, y):
    return torch.nn.functional.cross_entropy(model(x), y)

def fgsm_reference(model, x, y, eps):
    gradient = torch.func.grad(lambda v: mean_cross_entropy(model, v, y))(x)
    return x + eps * torch.sign(gradient)

def saliency_reference(model, x, target):
    return torch.func.jacrev(model)(x)[target].abs()

def lipschitz_bound_reference(weights):
    return math.prod((float(torch.linalg.matrix_norm(W, ord=2)) for W in weights))

def blocks(weights, biases, residual):
    """The maps h ↦ tanh(W h + b) (plain) or h ↦ h + tanh(W h + b) (residual), in order."""
    step = residual_block if residual else lambda W, b, h: torch.tanh(W @ h + b)
    return [lambda h, W=W, b=b: step(W, b, h) for W, b in zip(weights, biases)]

def depth_sensitivity_reference(weights, biases, x, residual):
    maps = blocks(weights, biases, residual)
    norms = []
    for depth in range(1, len(maps) + 1):

        def first_blocks(h, depth=depth):
            for block in maps[:depth]:
                h = block(h)
            return h
        norms.append(float(torch.linalg.matrix_norm(torch.func.jacrev(first_blocks)(x), ord=2)))
    return np.array(norms)

def _short(t):
    return [float(f'{v:.3g}') for v in t.reshape(-1).tolist()]

class TanhMap:
    """x ↦ tanh(A x + c): a one-layer network R^n -> R^m handed to the student as ``f``."""

    def __init__(self, A, c):
        self.A, self.c = (T(A), T(c))

    def __call__(self, x):
        return torch.tanh(self.A @ x + self.c)

    def __repr__(self):
        return f'f(x) = tanh(A x + c) with A {tuple(self.A.shape)} = {_short(self.A)} row by row, c = {_short(self.c)}'

class Formula:
    """A probe function that shows itself to the student as its formula."""

    def __init__(self, text, f):
        self.text, self.f = (text, f)

    def __call__(self, x):
        return self.f(x)

    def __repr__(self):
        return self.text
seed_map = Formula('f(x, y) = (x² + y, sin(x)·y)', lambda p: torch.stack([p[0] ** 2 + p[1], torch.sin(p[0]) * p[1]]))
three_by_three = Formula('F(x, y, z) = (x² + y·z, sin(x·y), e^(x+z))', lambda p: torch.stack([p[0] ** 2 + p[1] * p[2], torch.sin(p[0] * p[1]), torch.exp(p[0] + p[2])]))

def classifier(rng, d, hidden, classes, dead_features=0):
    """A float64 MLP d -> hidden -> classes (tanh) with weights from ``rng``; the last
    ``dead_features`` inputs feed nothing, so the loss's gradient is exactly 0 there."""
    W1 = rng.standard_normal((hidden, d)) / math.sqrt(d)
    if dead_features:
        W1[:, d - dead_features:] = 0.0
    W2 = rng.standard_normal((classes, hidden)) * 2 / math.sqrt(hidden)
    model = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, classes))
    model = model.to(torch.float64)
    with torch.no_grad():
        for layer, W, bias in ((model[0], W1, 0.3 * rng.standard_normal(hidden)), (model[2], W2, 0.3 * rng.standard_normal(classes))):
            layer.weight.copy_(T(W))
            layer.bias.copy_(T(bias))
    return model

def _clear_winner(J, A, x):
    """The index of J's largest column when it wins by 5 % and the misreadings (the largest
    row, the largest column sum, the column of the largest single entry, the largest column
    1-norm, the largest column of A alone, the largest input) point elsewhere."""
    norms = np.linalg.norm(J, axis=0)
    j = int(norms.argmax())
    runner_up = np.partition(norms, -2)[-2]
    largest_row = int(np.linalg.norm(J, axis=1).argmax())
    rivals = {largest_row, int(np.abs(J.sum(axis=0)).argmax()), int(np.abs(J).max(axis=0).argmax()), int(np.abs(J).sum(axis=0).argmax()), int(np.linalg.norm(A, axis=0).argmax()), int(np.abs(x).argmax())}
    return j if norms[j] > 1.05 * runner_up and j not in rivals and (abs(largest_row - j) > 1) else None

def _planted_jacobian(rng, m, n):
    """An m×n Jacobian (m ≥ 4) whose misreadings point at different columns: the answer has two
    large entries of opposite signs (the largest 2-norm), another column one larger entry
    (the largest single entry), another four equal ones (the largest 1-norm and column sum);
    small entries elsewhere. Returns (J, the answer, the peak's row)."""
    J = rng.uniform(-0.2, 0.2, (m, n))
    answer, peak, flat = (int(j) for j in rng.choice(n, size=3, replace=False))
    rows = rng.choice(m, size=2, replace=False)
    J[rows, answer] = rng.uniform(2.5, 2.7, 2) * [1.0, -1.0]
    peak_row = int(rng.integers(m))
    J[peak_row, peak] = rng.choice([-1.0, 1.0]) * rng.uniform(2.8, 3.0)
    J[rng.choice(m, size=4, replace=False), flat] = rng.choice([-1.0, 1.0]) * rng.uniform(1.45, 1.55, 4)
    return (J, answer, peak_row)

def _sensitive_probe(rng):
    """f = tanh(A x + c) with its Jacobian at x planted (``_planted_jacobian``): the pre-activations
    are chosen, the peak's unit nearly saturated so that A's own largest column is the peak's."""
    while True:
        m, n = distinct_sizes(rng, lo=4, hi=8)
        J, answer, peak_row = _planted_jacobian(rng, m, n)
        z = signed(rng, m, lo=0.1, hi=0.6)
        z[peak_row] = np.sign(z[peak_row]) * rng.uniform(1.3, 1.6)
        A = J / (1 - np.tanh(z) ** 2)[:, None]
        x = rng.standard_normal(n)
        f = TanhMap(A, z - A @ x)
        if _clear_winner(torch.func.jacrev(f)(T(x)).numpy(), A, x) == answer:
            return probe(f, T(x), label=f'f = tanh(A x + c) from R^{n} to R^{m}')

def most_sensitive_visible():
    return [probe(three_by_three, T([0.2, 2.5, -1.5]), edge=True, label="F(x, y, z) = (x² + y·z, sin(x·y), e^(x+z)) at (0.2, 2.5, -1.5), the notebook's example: its largest column also holds its largest entry"), _sensitive_probe(np.random.default_rng(11))]

def _fgsm_probe(rng, k, d, classes, dead_features=0, **options):
    model = classifier(rng, d, 8, classes, dead_features=dead_features)
    while True:
        x = rng.standard_normal((k, d))
        y = rng.integers(0, classes, size=k)
        predicted = model(T(x)).argmax(dim=1).numpy()
        if (y != predicted).any():
            break
    eps = float(rng.choice([0.05, 0.1, 0.25]))
    return probe(model, T(x), torch.from_numpy(y), eps, **options)

def _saliency_probe(rng, d, classes, **options):
    """The target is the runner-up class, not the prediction, and its gradient has both signs."""
    while True:
        model = classifier(rng, d, 8, classes)
        x = T(rng.standard_normal(d))
        target = int(model(x).detach().argsort()[-2])
        gradient = torch.func.jacrev(model)(x)[target]
        if (gradient > 0).any() and (gradient < 0).any():
            return probe(model, x, target, **options)

def _stack(rng, depth, n, gain):
    weights = [T(gain * rng.standard_normal((n, n)) / math.sqrt(n)) for _ in range(depth)]
    biases = [T(0.1 * rng.standard_normal(n)) for _ in range(depth)]
    return (weights, biases, T(rng.standard_normal(n)))

def depth_visible():
    rng = np.random.default_rng(7)
    weights, biases, x = _stack(rng, 3, 4, 1.0)
    return [probe(weights, biases, x, False, label='3 plain blocks of width 4'), probe(weights, biases, x, True, label='the same 3 blocks, residual')]

def _known_mistake(got, candidates):
    """The sentence of the first typical wrong answer ``got`` equals, else None."""
    for sentence, wrong in candidates:
        wrong = np.asarray(wrong.detach() if isinstance(wrong, torch.Tensor) else wrong, dtype=np.float64)
        if wrong.shape == np.shape(got) and np.allclose(got, wrong, rtol=1e-05, atol=1e-08):
            return sentence
    return None

def tiny_net_hint(probe, got, expected):
    W1, b1, W2 = probe.args[:3]
    return _known_mistake(got, [("this is W2 W1: the factor diag(tanh'(z)) between the layers is missing", W2 @ W1), ("the middle factor is diag(tanh(z)); the derivative is tanh'(z) = 1 - tanh(z)²", W2 @ (torch.tanh(W1 @ probe.args[4] + b1)[:, None] * W1))])

def most_sensitive_hint(probe, got, expected):
    f, x = probe.args[:2]
    J = torch.func.jacrev(f)(x).numpy()
    return _known_mistake(got, [('one too large: indices count from 0', int(expected) + 1), ('that is the most sensitive output (the largest row of J); the question is about inputs, the columns', np.linalg.norm(J, axis=1).argmax()), ('that input has the largest column sum, where entries of opposite signs cancel; compare 2-norms', np.abs(J.sum(axis=0)).argmax())])

def coupling_log_det_hint(probe, got, expected):
    W, b, x = probe.args[:3]
    s = torch.tanh(W @ x[:W.shape[0]] + b)
    if not np.all(np.isfinite(got)):
        return "the product of the diagonal left float64's range: add the logs instead of taking the log of the product"
    return _known_mistake(got, [('this is the sum of the diagonal entries exp(s); log |det J| sums their logs', float(torch.exp(s).sum()))])

def spectral_norm_hint(probe, got, expected):
    f, x = probe.args[:2]
    if x.numel() > 1000:
        return None
    J = torch.func.jacrev(f)(x)
    candidates = [('this is the Frobenius norm of J, which counts every direction J stretches, not only the largest', float(torch.linalg.norm(J)))]
    if J.shape[0] == J.shape[1]:
        candidates.append(('this is the largest |eigenvalue| of J (power iteration on J alone); iterate on JᵀJ, a jvp followed by a vjp', float(torch.linalg.eigvals(J).abs().max())))
    return _known_mistake(got, candidates)

def fgsm_hint(probe, got, expected):
    model, x, y, eps = probe.args[:4]
    gradient = torch.func.grad(lambda v: mean_cross_entropy(model, v, y))(x)
    return _known_mistake(got, [('this steps along the gradient itself; FGSM steps by eps along its sign', x + eps * gradient), ('this steps down the loss (x - eps·sign); FGSM steps up, to make the model wrong', x - eps * torch.sign(gradient))])

def saliency_hint(probe, got, expected):
    model, x, target = probe.args[:3]
    J = torch.func.jacrev(model)(x)
    predicted = int(model(x).argmax())
    return _known_mistake(got, [(f'this is the saliency of the predicted class {predicted}, not of the target class {target}', J[predicted].abs()), ('these are the signed derivatives: the saliency is their absolute value', J[target])])

def lipschitz_hint(probe, got, expected):
    weights = probe.args[0]
    product = weights[0]
    for W in weights[1:]:
        product = W @ product
    return _known_mistake(got, [('this is the spectral norm of the product of the matrices; the bound multiplies their norms', float(torch.linalg.matrix_norm(product, ord=2))), ('this multiplies Frobenius norms; the bound uses spectral norms (ord=2)', math.prod((float(torch.linalg.norm(W)) for W in weights)))])

def depth_hint(probe, got, expected):
    weights, biases, x, residual = probe.args[:4]
    block_norms, h = ([], x)
    for block in blocks(weights, biases, residual):
        block_norms.append(float(torch.linalg.matrix_norm(torch.func.jacrev(block)(h), ord=2)))
        h = block(h)
    candidates = [("these are products of each block's norm, an upper bound; take the norm of the product of the Jacobians", np.cumprod(block_norms))]
    if residual:
        candidates.append(("these are the plain blocks' norms: a residual block adds h, so its Jacobian has the identity added", depth_sensitivity_reference(weights, biases, x, False)))
    return _known_mistake(got, candidates)

def residual_hint(probe, got, expected):
    return _known_mistake(got, [('this is the Jacobian of tanh(W x + b) alone: the skip connection adds the identity', expected - np.eye(len(expected)))])
EXERCISES = [exercise(name='tiny_net_jacobian', kind='by hand', answer='matrix', reference=jacobian(tiny_net, wrt='x'), visible=lambda: [probe(T([[1.0, -0.5], [0.3, 0.8]]), T([0.1, -0.2]), T([[0.9, 0.4], [-0.6, 1.2]]), T([0.0, 0.1]), T([0.4, -0.2]), label='the 2 → 2 → 2 network of the notebook')], hidden=lambda rng: [], hint=tiny_net_hint), exercise(name='linear_prediction', kind='matrix-free', answer='vector', reference=value(linear_prediction_reference), visible=lambda: [probe(seed_map, T([1.5, 2.0]), T([0.1, -0.05]), label='f(x, y) = (x² + y, sin(x)·y) at (1.5, 2), dx = (0.1, -0.05)')], hidden=lambda rng: []), exercise(name='most_sensitive_input', kind='free', answer='index', reference=value(most_sensitive_input_reference), visible=most_sensitive_visible, hidden=lambda rng: [], hint=most_sensitive_hint), exercise(name='polar_jacobian', kind='by hand', answer='matrix', reference=value(polar_jacobian_reference), visible=lambda: [probe(T(2.0), T(math.pi / 6), label='r = 2, θ = π/6')], hidden=lambda rng: []), exercise(name='coupling_log_det', kind='by hand', answer='scalar', reference=value(coupling_log_det_reference), visible=lambda: [probe(T([[0.5, -1.0], [2.0, 0.3]]), T([0.1, -0.4]), T([1.0, -0.5, 2.0, 0.7]), label='d = 2')], hidden=lambda rng: [], forbid={name: DETERMINANT_FORBIDDEN for name in ('torch.linalg.det', 'torch.linalg.slogdet', 'torch.det', 'torch.logdet', 'torch.slogdet', 'numpy.linalg.det', 'numpy.linalg.slogdet')}, hint=coupling_log_det_hint), exercise(name='spectral_norm', kind='matrix-free', answer='scalar', reference=value(spectral_norm_reference), visible=lambda: [probe(seed_map, T([1.5, 2.0]), label='f(x, y) = (x² + y, sin(x)·y) at (1.5, 2)'), probe(TanhMap([[1.0, 2.0, 0.0], [0.5, -1.0, 1.5]], [0.1, -0.2]), T([0.3, -0.1, 0.2]), label='f = tanh(A x + c) from R^3 to R^2')], hidden=lambda rng: [], rtol=0.0001, hint=spectral_norm_hint), exercise(name='fgsm', kind='free', answer='matrix', reference=value(fgsm_reference), visible=lambda: [_fgsm_probe(np.random.default_rng(3), 4, 5, 3, label='a batch of 4 inputs of 5 features, 3 classes')], hidden=lambda rng: [], hint=fgsm_hint), exercise(name='saliency', kind='free', answer='vector', reference=value(saliency_reference), visible=lambda: [_saliency_probe(np.random.default_rng(4), 5, 3, label='5 features, 3 classes, target the runner-up class')], hidden=lambda rng: [], hint=saliency_hint), exercise(name='lipschitz_bound', kind='free', answer='scalar', reference=value(lipschitz_bound_reference), visible=lambda: [probe([T([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), T([[0.5, -1.0, 0.0]])], label='W1 = [[1, 2], [3, 4], [5, 6]], W2 = [[0.5, -1, 0]]')], hidden=lambda rng: [], hint=lipschitz_hint), exercise(name='residual_jacobian', kind='by hand', answer='matrix', reference=jacobian(residual_block, wrt='x'), visible=lambda: [probe(T([[0.5, -1.0], [2.0, 0.3]]), T([0.1, -0.4]), T([1.0, -0.5]), label='a 2×2 block')], hidden=lambda rng: [], hint=residual_hint), exercise(name='depth_sensitivity', kind='free', answer='vector', reference=value(depth_sensitivity_reference), visible=depth_visible, hidden=lambda rng: [], hint=depth_hint)]
