"""Similar answers: a copied pair with renamed variables is listed, and a copying trio as one
group in a small class; the same short or common answer written by many students is not, nor
the starter code every student got, nor the instructor's own solution; the strength says how
much code the evidence rests on."""
from __future__ import annotations

from autograder.dev import samples
from autograder.term.similarity import Similarity, tokens

STARTER = '''def mlp_jacobian(weights, biases, x, activation="tanh"):
    """Jacobian of the MLP at x, shape (n_L, n_0)."""
    # YOUR CODE HERE
    raise NotImplementedError()'''

ORIGINAL = '''def mlp_jacobian(weights, biases, x, activation="tanh"):
    """Jacobian of the MLP at x, shape (n_L, n_0)."""
    funcs = {"tanh": torch.tanh, "relu": torch.relu}
    J = torch.eye(x.shape[0], dtype=x.dtype)
    h = x
    for i, (W, b) in enumerate(zip(weights, biases)):
        z = W @ h + b
        if i == len(weights) - 1:
            J = W @ J
        else:
            h = funcs[activation](z)
            d = 1 - h ** 2 if activation == "tanh" else (z > 0).double()
            J = (d[:, None] * W) @ J
    return J
'''

# the same answer made to look like one's own: names, quotes, comments and spacing changed
RENAMED = samples.renamed(ORIGINAL, {
    "    funcs": "    # my own work!!\n    funcs", "funcs": "acts", '"tanh":': "'tanh':", '"relu":': "'relu':",
    '== "tanh"': "== 'tanh'", "J ": "jac ", "J)": "jac)", "J\n": "jac\n", "h = x": "a = x",
    "h + b": "a + bk", "h =": "a =", "h ** 2": "a ** 2", "(W, b)": "(Wk, bk)", "W @": "Wk @",
    "* W)": "* Wk)", "z =": "pre  =", "(z)": "(pre)", "(z >": "(pre >", " i,": " layer,",
    "i ==": "layer ==", " d ": " deriv ", "d[": "deriv["})

OWN = '''def mlp_jacobian(weights, biases, x, activation="tanh"):
    """Jacobian of the MLP at x, shape (n_L, n_0)."""
    layers = list(zip(weights, biases))
    def forward(v):
        for W, b in layers[:-1]:
            v = torch.tanh(W @ v + b) if activation == "tanh" else torch.relu(W @ v + b)
        W, b = layers[-1]
        return W @ v + b
    cols = []
    for j in range(x.numel()):
        e = torch.zeros_like(x)
        e[j] = 1e-6
        cols.append((forward(x + e) - forward(x - e)) / 2e-6)
    return torch.stack(cols, dim=1)
'''

ONE_LINER = '''def relu_jacobian(z):
    """Jacobian of relu at z."""
    return torch.diag((z > 0).to(z.dtype))
'''


def test_normalised_tokens_ignore_names_literals_comments_and_layout():
    a = tokens("y = f(x, 2.5)  # scale\nreturn torch.stack([y, 'a'])\n")
    b = tokens("out   = g(inp, 7)\n\nreturn torch.stack([out, \"zz\"])")
    assert [t for t, _, _ in a] == [t for t, _, _ in b]
    assert "stack" in [t for t, _, _ in a]          # attribute names keep their meaning


def _renamed_again(source):
    return samples.renamed(source, {"layers": "net", "forward": "run", "cols": "out", "e = ": "step = ",
                                    "e[j]": "step[j]", "+ e)": "+ step)", "- e)": "- step)", "j ": "col ",
                                    "[j]": "[col]", "(v)": "(inp)", "v = ": "inp = ", "@ v": "@ inp"})


def test_renamed_copy_is_listed_with_its_shared_lines_and_how_much_code():
    sim = Similarity()
    found = sim.compare({"ann": ORIGINAL, "bob": RENAMED, "cat": OWN}, STARTER, exercise="mlp_jacobian")
    assert [m.students for m in found] == [("ann", "bob")]
    match = found[0]
    assert match.share >= 0.9
    # the shared lines cover the loop in both answers, and not the starter's signature
    assert {6, 7, 13} <= match.lines["ann"] and 1 not in match.lines["ann"]
    assert {7, 8, 14} <= match.lines["bob"]
    # the evidence: the ~125 tokens below the signature (a k-gram may reach back into it), 11 lines
    body = len(tokens(ORIGINAL)) - len(tokens(STARTER)) + 3          # less the stub's raise
    assert body - 10 <= match.tokens <= body + sim.k and match.shared_lines == 11


def test_a_copying_trio_in_a_class_of_eleven_is_one_group():
    sim = Similarity()
    klass = {f"s{i}": ORIGINAL for i in range(5)}                      # the textbook answer
    klass.update(dan=RENAMED,                                          # ... in disguise
                 s5=ONE_LINER, s6=ONE_LINER,                           # a textbook one-liner
                 ann=OWN, bob=_renamed_again(OWN), cat=OWN.replace("cols", "columns"))
    assert len(klass) == 11
    found = sim.compare(klass, STARTER, reference=ORIGINAL, exercise="mlp_jacobian")
    assert [m.students for m in found] == [("ann", "bob", "cat")]
    assert found[0].tokens >= 80 and set(found[0].lines) == {"ann", "bob", "cat"}
    # were it not the instructor's solution, five students writing it alike would be a group
    del klass["dan"]
    found = sim.compare(klass, STARTER, exercise="mlp_jacobian")
    assert [m.students for m in found] == [("ann", "bob", "cat"), ("s0", "s1", "s2", "s3", "s4")]


def test_many_identical_one_liners_and_a_common_answer_are_not_listed():
    sim = Similarity()
    assert sim.compare({f"s{i}": ONE_LINER for i in range(12)}, exercise="relu_jacobian") == []
    # the natural correct answer, written by most of the class: common knowledge
    klass = {f"s{i}": ORIGINAL for i in range(6)}
    klass.update(cat=RENAMED,                  # the same answer as theirs, once names are gone
                 ann=OWN, bob=OWN.replace("cols", "columns").replace("e[j]", "step[j]")
                 .replace("e = ", "step = ").replace("+ e", "+ step").replace("- e", "- step"))
    found = sim.compare(klass, STARTER, exercise="mlp_jacobian")
    assert [m.students for m in found] == [("ann", "bob")]


def test_starter_code_alone_is_never_similar():
    assert Similarity().compare({"a": STARTER, "b": STARTER, "c": OWN}, STARTER) == []
