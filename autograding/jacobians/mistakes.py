"""Typical mistakes in the `jacobians` assignment, for the sample class (``autograder.dev.samples``).

Each entry is the full text of a solution cell a student might plausibly write, and what it
should earn on its own exercise: "none" when it is wrong in general, "partial" when it is right
on some general probes or wrong only at special cases, "full" for a right answer (one that
warns, say). ``affects`` names other exercises whose solution calls this function.
"""
import datetime

from autograder.dev.samples import mistake, renamed

OWN_NUMERICAL_JACOBIAN = """
import torch

def numerical_jacobian(f, x, h=1e-5):
    # nudge one input at a time, both ways, and see how every output moves
    n_inputs = x.shape[0]
    nudges = torch.eye(n_inputs, dtype=x.dtype) * h
    columns = []
    for k in range(n_inputs):
        ahead = torch.as_tensor(f(x + nudges[k])).reshape(-1)
        behind = torch.as_tensor(f(x - nudges[k])).reshape(-1)
        columns.append((ahead - behind) / (2 * h))
    jac = torch.stack(columns, dim=-1)
    return jac.to(x.dtype)
"""


MISTAKES = [
    # --- jacobian.ipynb ----------------------------------------------------------------------
    mistake(name="transposed_jacobian", exercise="jacobian_by_hand",
            description="one row per input instead of one per output: the (2, 3) transpose",
            source="""
import torch

def jacobian_by_hand(p):
    x, y = p[0], p[1]
    # columns are outputs here -- the transpose of the Jacobian
    return torch.stack([
        torch.stack([2 * x, y, torch.exp(x)]),
        torch.stack([torch.ones_like(x), x, torch.zeros_like(x)]),
    ])
"""),
    mistake(name="autograd_in_by_hand", exercise="jacobian_by_hand",
            description="right numbers, but computed with torch.autograd in a by-hand exercise",
            source="""
import torch

def jacobian_by_hand(p):
    def f(q):
        return torch.stack([q[0] ** 2 + q[1], q[0] * q[1], torch.exp(q[0])])
    return torch.autograd.functional.jacobian(f, p)
"""),
    mistake(name="central_difference_without_2", exercise="numerical_jacobian",
            description="central difference divided by h instead of 2h: every entry twice too big",
            source="""
import torch

def numerical_jacobian(f, x, h=1e-5):
    cols = []
    for j in range(x.shape[0]):
        e = torch.zeros_like(x)
        e[j] = h
        cols.append((f(x + e) - f(x - e)) / h)
    return torch.stack(cols, dim=1)
"""),
    mistake(name="own_numerical_jacobian", exercise="numerical_jacobian",
            description="correct, in the student's own style (one student of a copied pair)",
            source=OWN_NUMERICAL_JACOBIAN, credit="full"),
    mistake(name="own_numerical_jacobian_renamed", exercise="numerical_jacobian",
            description="the answer above with its names and comments changed (the other one of the pair)",
            source=renamed(OWN_NUMERICAL_JACOBIAN, {
                "# nudge one input at a time, both ways, and see how every output moves":
                    "# central differences, see lecture 2",
                "n_inputs": "n", "nudges": "E", "columns": "cols", "ahead": "fp", "behind": "fm",
                "jac = ": "J = ", "return jac": "return J", "[k]": "[i]", " k ": " i "}),
            credit="full"),
    mistake(name="warning_but_correct", exercise="affine_jacobian",
            description="correct, but torch.tensor(W) on a tensor emits a UserWarning (must not lose points)",
            source="""
import torch

def affine_jacobian(W, b, x):
    return torch.tensor(W)
""",
            credit="full"),
    mistake(name="forgot_return", exercise="affine_jacobian",
            description="computes the Jacobian but never returns it (returns None)",
            source="""
import torch

def affine_jacobian(W, b, x):
    J = W.clone()
"""),
    # --- chain_rule.ipynb --------------------------------------------------------------------
    mistake(name="shape_inputs_first", exercise="network_jacobian_shape",
            description="shape written as (inputs, outputs)",
            source="""
def network_jacobian_shape(layer_sizes):
    return (layer_sizes[0], layer_sizes[-1])
"""),
    mistake(name="missing_activation_derivative", exercise="layer_jacobian",
            description="returns W: the a'(Wx + b) factor of the chain rule is missing",
            source="""
import torch

def layer_jacobian(W, b, x, activation):
    return W.clone()
""",
            affects=("mlp_jacobian",)),
    mistake(name="chain_in_wrong_order", exercise="mlp_jacobian",
            description="multiplies the layer Jacobians first-to-last (J1 J2 ... instead of ... J2 J1)",
            source="""
import torch

def mlp_jacobian(weights, biases, x, activation="tanh"):
    acts = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}
    J = None
    h = x
    for k, (W, b) in enumerate(zip(weights, biases)):
        z = W @ h + b
        last = k == len(weights) - 1
        if last:
            Jk = W
            h = z
        else:
            h = acts[activation](z)
            if activation == "tanh":
                d = 1 - h ** 2
            elif activation == "sigmoid":
                d = h * (1 - h)
            else:
                d = (z > 0).to(z.dtype)
            Jk = d[:, None] * W
        J = Jk if J is None else J @ Jk
    return J
"""),
    # --- dead_neurons.ipynb ------------------------------------------------------------------
    mistake(name="relu_one_at_zero", exercise="relu_jacobian",
            description="takes the ReLU derivative at 0 to be 1 (z >= 0 instead of z > 0)",
            source="""
import torch

def relu_jacobian(z):
    return torch.diag((z >= 0).to(z.dtype))
""",
            credit="partial"),  # wrong only where z is exactly 0, a special case
    mistake(name="origin_is_not_dead", exercise="dead_input",
            description="returns x = 0, where the pre-activations are just b (not all negative)",
            source="""
import torch

def dead_input(W, b):
    return torch.zeros(W.shape[1], dtype=W.dtype)
"""),
    mistake(name="full_matrix_vjp", exercise="relu_vjp",
            description="forms the (n, n) Jacobian matrix: right for small n, impossible for n = 10**7",
            source="""
import torch

def relu_vjp(z, v):
    J = torch.diag((z > 0).to(z.dtype))
    return J.T @ v
""",
            credit="partial"),  # right on the small general probes, fails the one with n = 10**7
    # --- sigmoid_saturation.ipynb ------------------------------------------------------------
    mistake(name="sigmoid_wrong_sign", exercise="sigmoid_jacobian",
            description="sigma(z) (sigma(z) - 1) on the diagonal: the sign is flipped",
            source="""
import torch

def sigmoid_jacobian(z):
    s = torch.sigmoid(z)
    return torch.diag(s * (s - 1))
""",
            affects=("sigmoid_layer_jacobian",)),
    mistake(name="missing_sigmoid_derivative", exercise="sigmoid_layer_jacobian",
            description="uses sigma(Wx + b) where sigma'(Wx + b) belongs: the sigma' factor is missing",
            source="""
import torch

def sigmoid_layer_jacobian(W, b, x):
    s = torch.sigmoid(W @ x + b)
    return s[:, None] * W
"""),
    mistake(name="counts_unsaturated", exercise="saturated_fraction",
            description="counts the units whose derivative is ABOVE the threshold",
            source="""
import torch

def saturated_fraction(W, b, X, threshold=1e-3):
    s = torch.sigmoid(X @ W.T + b)
    return float(((s * (1 - s)) >= threshold).double().mean())
"""),
]

# A small class for the demo (and tests): one perfect student, one blank, four whose
# mistakes together cover every entry of MISTAKES, a pair who handed in the same answer with
# the names changed, and one who handed in late (DEMO_LATE).
DEMO_CLASS = {
    "ada": "perfect",
    "ben": ["transposed_jacobian", "missing_activation_derivative",
            "missing_sigmoid_derivative"],
    "chloe": ["relu_one_at_zero", "full_matrix_vjp", "warning_but_correct",
              "shape_inputs_first"],
    "dev": ["sigmoid_wrong_sign", "autograd_in_by_hand", "forgot_return"],
    "eve": ["central_difference_without_2", "chain_in_wrong_order", "counts_unsaturated",
            "origin_is_not_dead"],
    "finn": "blank",
    "gwen": ["own_numerical_jacobian"],
    "hugo": ["own_numerical_jacobian_renamed"],
    "ivy": "perfect",
}
DEMO_LATE = {"ivy": datetime.timedelta(days=1, hours=3)}
