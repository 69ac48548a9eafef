"""Typical wrong answers to the `sensitivity` assignment, one solution cell each.

``credit`` is what the grader must give on the mistake's own exercise: "none" when it is
wrong on every general probe (or breaks a rule of the exercise), "partial" when it is right
on some general probes or wrong only at special cases.
"""
from autograder.dev.samples import mistake

MISTAKES = [
    # --- linearization.ipynb -------------------------------------------------------------
    mistake(name="tiny_net_without_tanh_derivative", exercise="tiny_net_jacobian",
            description="W2 @ W1: the diag(tanh'(z)) factor between the two layers is missing",
            source="""import torch

def tiny_net_jacobian(W1, b1, W2, b2, x):
    return W2 @ W1
"""),
    mistake(name="tiny_net_tanh_for_its_derivative", exercise="tiny_net_jacobian",
            description="scales by tanh(z) where tanh'(z) = 1 - tanh(z)² belongs",
            source="""import torch

def tiny_net_jacobian(W1, b1, W2, b2, x):
    return W2 @ torch.diag(torch.tanh(W1 @ x + b1)) @ W1
"""),
    mistake(name="tiny_net_with_autograd", exercise="tiny_net_jacobian",
            description="right numbers from torch.func.jacrev in a by-hand exercise",
            source="""import torch

def tiny_net_jacobian(W1, b1, W2, b2, x):
    return torch.func.jacrev(lambda v: W2 @ torch.tanh(W1 @ v + b1) + b2)(x)
"""),
    mistake(name="prediction_is_the_true_value", exercise="linear_prediction",
            description="returns f(x0 + dx), the true value, not the linear prediction",
            source="""import torch

def linear_prediction(f, x0, dx):
    return f(x0 + dx)
"""),
    mistake(name="prediction_from_full_jacobian", exercise="linear_prediction",
            description="builds the whole Jacobian with jacrev in a matrix-free exercise",
            source="""import torch

def linear_prediction(f, x0, dx):
    J = torch.func.jacrev(f)(x0)
    return f(x0) + J @ dx
"""),
    mistake(name="most_sensitive_output", exercise="most_sensitive_input",
            description="takes the largest row (the most sensitive output) instead of the largest column",
            source="""import torch

def most_sensitive_input(f, x):
    J = torch.func.jacrev(f)(x)
    return int(torch.linalg.vector_norm(J, dim=1).argmax())
"""),
    mistake(name="most_sensitive_counts_from_one", exercise="most_sensitive_input",
            description="counts inputs from 1: the index is one too large",
            source="""import torch

def most_sensitive_input(f, x):
    J = torch.func.jacrev(f)(x)
    return int(torch.linalg.vector_norm(J, dim=0).argmax()) + 1
"""),
    # --- volume.ipynb -------------------------------------------------------------------
    mistake(name="polar_transposed", exercise="polar_jacobian",
            description="rows are the inputs (r, θ) instead of the outputs (x, y)",
            source="""import torch

def polar_jacobian(r, theta):
    return torch.stack([torch.stack([torch.cos(theta), torch.sin(theta)]),
                        torch.stack([-r * torch.sin(theta), r * torch.cos(theta)])])
"""),
    mistake(name="polar_without_r", exercise="polar_jacobian",
            description="differentiates cos θ and sin θ but drops the factor r in the θ column",
            source="""import torch

def polar_jacobian(r, theta):
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack([torch.stack([c, -s]), torch.stack([s, c])])
"""),
    mistake(name="log_det_by_slogdet", exercise="coupling_log_det",
            description="takes torch.linalg.slogdet of the diagonal block, a determinant call the exercise forbids",
            source="""import torch

def coupling_log_det(W, b, x):
    d = W.shape[0]
    block = torch.diag(torch.exp(torch.tanh(W @ x[:d] + b)))    # ∂y2/∂x2; the rest is triangular
    return float(torch.linalg.slogdet(block).logabsdet)
"""),
    mistake(name="log_det_sums_exp", exercise="coupling_log_det",
            description="adds up the diagonal entries exp(s) instead of their logs s = tanh(W x1 + b)",
            source="""import torch

def coupling_log_det(W, b, x):
    d = W.shape[0]
    return float(torch.exp(torch.tanh(W @ x[:d] + b)).sum())
"""),
    mistake(name="log_det_of_product", exercise="coupling_log_det",
            description="multiplies the diagonal out before taking the log: the product overflows for large d",
            source="""import torch

def coupling_log_det(W, b, x):
    d = W.shape[0]
    return float(torch.log(torch.prod(torch.exp(torch.tanh(W @ x[:d] + b)))))
""", credit="partial"),  # right until exp(Σ s) leaves float64's range (the d = 3000 probe)
    # --- robustness.ipynb ---------------------------------------------------------------
    mistake(name="spectral_norm_as_eigenvalue", exercise="spectral_norm",
            description="power iteration on J instead of JᵀJ: the largest |eigenvalue|, not the largest singular value",
            source="""import torch

def spectral_norm(f, x, iters=200):
    v = torch.randn_like(x)
    estimate = 0.0
    for _ in range(iters):
        v = torch.func.jvp(f, (x,), (v / v.norm(),))[1]
        previous, estimate = estimate, float(v.norm())
        if abs(estimate - previous) <= 1e-12 * estimate:
            break
    return estimate
"""),
    mistake(name="spectral_norm_squared", exercise="spectral_norm",
            description="returns the top eigenvalue of JᵀJ, σ², without the square root",
            source="""import torch

def spectral_norm(f, x, iters=200):
    _, pullback = torch.func.vjp(f, x)
    v = torch.randn_like(x)
    estimate = 0.0
    for _ in range(iters):
        w = pullback(torch.func.jvp(f, (x,), (v / v.norm(),))[1])[0]
        previous, estimate = estimate, float(w.norm())
        v = w
        if abs(estimate - previous) <= 1e-12 * estimate:
            break
    return estimate
"""),
    mistake(name="fgsm_gradient_not_sign", exercise="fgsm",
            description="steps along the gradient itself instead of its sign",
            source="""import torch

def fgsm(model, x, y, eps):
    x = x.detach().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return (x + eps * g).detach()
"""),
    mistake(name="fgsm_wrong_direction", exercise="fgsm",
            description="steps down the loss (x - eps·sign(∇L)): that makes the model more confident",
            source="""import torch

def fgsm(model, x, y, eps):
    x = x.detach().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    (g,) = torch.autograd.grad(loss, x)
    return (x - eps * g.sign()).detach()
"""),
    mistake(name="fgsm_fills_model_grad", exercise="fgsm",
            description="right values, but loss.backward() leaves gradients in the model's .grad fields",
            source="""import torch

def fgsm(model, x, y, eps):
    x = x.detach().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    return (x + eps * x.grad.sign()).detach()
"""),
    mistake(name="saliency_of_prediction", exercise="saliency",
            description="differentiates the predicted class's score instead of the target's",
            source="""import torch

def saliency(model, x, target):
    x = x.detach().requires_grad_(True)
    scores = model(x)
    (g,) = torch.autograd.grad(scores[scores.argmax()], x)
    return g.abs()
"""),
    mistake(name="saliency_without_abs", exercise="saliency",
            description="returns the signed gradient, without the absolute value",
            source="""import torch

def saliency(model, x, target):
    x = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(model(x)[target], x)
    return g
"""),
    mistake(name="lipschitz_of_product", exercise="lipschitz_bound",
            description="the spectral norm of the product W_L ⋯ W_1, not the product of the norms",
            source="""import torch

def lipschitz_bound(weights):
    P = weights[0]
    for W in weights[1:]:
        P = W @ P
    return float(torch.linalg.matrix_norm(P, ord=2))
"""),
    mistake(name="lipschitz_frobenius", exercise="lipschitz_bound",
            description="multiplies Frobenius norms instead of spectral norms",
            source="""import torch

def lipschitz_bound(weights):
    bound = 1.0
    for W in weights:
        bound *= float(torch.linalg.norm(W))
    return bound
"""),
    # --- residual.ipynb -----------------------------------------------------------------
    mistake(name="residual_without_identity", exercise="residual_jacobian",
            description="the Jacobian of tanh(W x + b) alone: the identity from the skip connection is missing",
            source="""import torch

def residual_jacobian(W, b, x):
    return (1 - torch.tanh(W @ x + b) ** 2)[:, None] * W
"""),
    mistake(name="residual_scales_columns", exercise="residual_jacobian",
            description="tanh'(z) multiplies the columns of W (W diag(tanh')) instead of its rows",
            source="""import torch

def residual_jacobian(W, b, x):
    return torch.eye(len(x), dtype=x.dtype) + W * (1 - torch.tanh(W @ x + b) ** 2)[None, :]
"""),
    mistake(name="depth_product_of_norms", exercise="depth_sensitivity",
            description="multiplies the blocks' spectral norms (an upper bound) instead of taking the norm of the product",
            source="""import torch

def depth_sensitivity(weights, biases, x, residual):
    h, bound, out = x, 1.0, []
    for W, b in zip(weights, biases):
        t = torch.tanh(W @ h + b)
        J = (1 - t ** 2)[:, None] * W + (torch.eye(len(h), dtype=h.dtype) if residual else 0)
        h = h + t if residual else t
        bound *= float(torch.linalg.matrix_norm(J, ord=2))
        out.append(bound)
    return out
"""),
    mistake(name="depth_ignores_residual", exercise="depth_sensitivity",
            description="treats every block as plain: the skip connection's identity is left out",
            source="""import torch

def depth_sensitivity(weights, biases, x, residual):
    J, h, out = torch.eye(len(x), dtype=x.dtype), x, []
    for W, b in zip(weights, biases):
        h = torch.tanh(W @ h + b)
        J = ((1 - h ** 2)[:, None] * W) @ J
        out.append(float(torch.linalg.matrix_norm(J, ord=2)))
    return out
""", credit="partial"),  # right on the plain networks
]

# The sample class for `make demo` and the tests: a perfect student, a blank one, and three
# whose mistakes together cover every entry above.
DEMO_CLASS = {
    "ana": "perfect",
    "bruno": ["tiny_net_without_tanh_derivative", "prediction_is_the_true_value", "most_sensitive_output",
              "polar_transposed", "log_det_sums_exp", "spectral_norm_as_eigenvalue", "fgsm_gradient_not_sign",
              "saliency_of_prediction", "lipschitz_of_product", "residual_without_identity",
              "depth_product_of_norms"],
    "carla": ["tiny_net_tanh_for_its_derivative", "prediction_from_full_jacobian", "most_sensitive_counts_from_one",
              "polar_without_r", "log_det_of_product", "spectral_norm_squared", "fgsm_wrong_direction",
              "saliency_without_abs", "lipschitz_frobenius", "residual_scales_columns", "depth_ignores_residual"],
    "dario": ["tiny_net_with_autograd", "log_det_by_slogdet", "fgsm_fills_model_grad"],
    "elena": "blank",
}
