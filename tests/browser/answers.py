"""What the student of the browser tests types into jacobian.ipynb.

Kept in one place so the instructor's test can build the same submission with the CLI
when it runs without the student's test before it.
"""

ASSIGNMENT = "jacobians"
STUDENT = "alice"
NOTEBOOK = "jacobian"

# First attempt: rows are inputs and columns outputs -- the (2, 3) transpose.
TRANSPOSED = '''\
def jacobian_by_hand(p):
    x, y = float(p[0]), float(p[1])
    return torch.tensor([[2 * x, y, math.exp(x)],
                         [1.0, x, 0.0]])
'''

# The fix: one row per output (x**2 + y, x*y, exp(x)), one column per input (x, y).
JACOBIAN_BY_HAND = '''\
def jacobian_by_hand(p):
    x, y = float(p[0]), float(p[1])
    return torch.tensor([[2 * x, 1.0],
                         [y, x],
                         [math.exp(x), 0.0]])
'''

NUMERICAL_JACOBIAN = '''\
def numerical_jacobian(f, x, h=1e-5):
    columns = []
    for j in range(x.shape[0]):
        step = torch.zeros_like(x)
        step[j] = h
        columns.append((f(x + step) - f(x - step)) / (2 * h))
    return torch.stack(columns, dim=1)
'''

AFFINE_JACOBIAN = '''\
def affine_jacobian(W, b, x):
    return W.clone()
'''

CODE = {
    "jacobian_by_hand": JACOBIAN_BY_HAND,
    "numerical_jacobian": NUMERICAL_JACOBIAN,
    "affine_jacobian": AFFINE_JACOBIAN,
}

EXPLANATION = ("Entry (i, j) is the partial derivative of output i with respect to input j; "
               "for f from R^n to R^m the Jacobian has shape (m, n).")
MANUAL = {"explain_jacobian_entry": EXPLANATION}

# autograded points these answers earn in jacobian.ipynb (3 + 3 + 1)
AUTOGRADED_POINTS = 7.0
