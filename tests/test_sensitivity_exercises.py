"""The `sensitivity` declarations: they follow the contract, their references built from autograd
products agree with full Jacobians where those fit, the probes at scale have the spec's sizes,
the probes are in general position for every catalogued mistake, and the hints name them."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from autograder.course import declarations
from autograder.dev import samples
from autograder.course.directory import exercises_directory
from autograder.intake.notebook_text import solution_cells
from autograder.course.authoring import probes
from course_layout import REPO_ROOT

ASSIGNMENT = "sensitivity"
EXERCISES = declarations.assignment_exercises(str(REPO_ROOT), ASSIGNMENT)
MODULE = declarations.declarations_module(declarations.read_declarations(exercises_directory(str(REPO_ROOT)), ASSIGNMENT))
MISTAKES = samples.catalogue(str(REPO_ROOT), ASSIGNMENT).mistakes
SEEDS = (0, 1, 2)

# shared/spec/sensitivity-assignment.md: name -> (notebook, points, kind, answer)
CONTRACT = {
    "tiny_net_jacobian": ("linearization", 3, "by hand", "matrix"),
    "linear_prediction": ("linearization", 2, "matrix-free", "vector"),
    "most_sensitive_input": ("linearization", 2, "free", "index"),
    "polar_jacobian": ("volume", 2, "by hand", "matrix"),
    "coupling_log_det": ("volume", 3, "by hand", "scalar"),
    "spectral_norm": ("robustness", 3, "matrix-free", "scalar"),
    "fgsm": ("robustness", 2, "free", "matrix"),
    "saliency": ("robustness", 2, "free", "vector"),
    "lipschitz_bound": ("robustness", 2, "free", "scalar"),
    "residual_jacobian": ("residual", 3, "by hand", "matrix"),
    "depth_sensitivity": ("residual", 3, "free", "vector"),
}
DETERMINANTS = {"torch.linalg.det", "torch.linalg.slogdet", "torch.det", "torch.logdet", "numpy.linalg.det",
                "numpy.linalg.slogdet"}
# right numbers, but a rule of the exercise broken: the engine's policy scores them, not the comparison
RULE_BREAKERS = {"tiny_net_with_autograd", "prediction_from_full_jacobian", "log_det_by_slogdet",
                 "fgsm_fills_model_grad"}
# exercises whose probes at scale are cheap enough to try every mistake on
CHEAP_AT_SCALE = ("coupling_log_det", "linear_prediction")
# the words of the hint that names each mistake (the engine names a missing square root itself)
HINTS = {
    "tiny_net_without_tanh_derivative": "W2 W1", "tiny_net_tanh_for_its_derivative": "1 - tanh(z)²",
    "most_sensitive_output": "most sensitive output", "most_sensitive_counts_from_one": "one too large",
    "log_det_sums_exp": "sum of the diagonal entries exp(s)", "log_det_of_product": "float64's range",
    "spectral_norm_as_eigenvalue": "largest |eigenvalue|",
    "fgsm_gradient_not_sign": "gradient itself", "fgsm_wrong_direction": "steps down the loss",
    "saliency_of_prediction": "predicted class", "saliency_without_abs": "signed derivatives",
    "lipschitz_of_product": "product of the matrices", "lipschitz_frobenius": "Frobenius",
    "residual_without_identity": "adds the identity", "depth_product_of_norms": "upper bound",
    "depth_ignores_residual": "plain blocks",
}


def _size(probe) -> int:
    """Entries in the probe's tensors and in those a probe function or model holds."""
    parts = []
    for arg in probe.args:
        parts += arg if isinstance(arg, list) else [arg]
    total = 0
    for part in parts:
        if isinstance(part, torch.Tensor):
            total += part.numel()
        elif isinstance(part, torch.nn.Module):
            total += sum(p.numel() for p in part.parameters())
        elif hasattr(part, "__dict__"):
            total += sum(v.numel() for v in vars(part).values() if isinstance(v, torch.Tensor))
    return total


def _small(exercise, seed):
    return [p for p in probes(exercise, seed) if _size(p) <= 10 ** 5]


def _plain(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach()
    return np.asarray(value, dtype=np.float64)


def _agrees(exercise, got, expected) -> bool:
    got, expected = _plain(got), _plain(expected)
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=exercise.rtol, atol=exercise.atol))


def _answer(source: str, name: str, probe):
    namespace: dict = {}
    exec(source, namespace)
    return namespace[name](*copy.deepcopy(probe.args), **probe.kwargs)


def test_declarations_follow_the_contract():
    assert {name: (e.notebook, e.points, e.kind, e.answer) for name, e in EXERCISES.items()} == CONTRACT
    assert sum(e.points for e in EXERCISES.values()) == 27
    assert set(EXERCISES["coupling_log_det"].forbid) >= DETERMINANTS
    assert EXERCISES["spectral_norm"].rtol == 1e-4
    assert EXERCISES["fgsm"].arg_names == ("model", "x", "y", "eps")


@pytest.mark.parametrize("seed", SEEDS)
def test_references_from_products_agree_with_full_jacobians(seed):
    for probe in _small(EXERCISES["linear_prediction"], seed):
        f, x0, dx = probe.args
        assert np.allclose(EXERCISES["linear_prediction"].reference(probe).value,
                           (f(x0) + torch.func.jacrev(f)(x0) @ dx).numpy(), rtol=1e-12, atol=1e-12)
    for probe in _small(EXERCISES["coupling_log_det"], seed):
        W, b, x = probe.args
        J = torch.func.jacrev(lambda v: MODULE.coupling_layer(W, b, v))(x)
        assert EXERCISES["coupling_log_det"].reference(probe).value == \
            pytest.approx(float(torch.linalg.slogdet(J).logabsdet), rel=1e-12, abs=1e-12)
    for probe in _small(EXERCISES["spectral_norm"], seed):
        f, x = probe.args
        assert EXERCISES["spectral_norm"].reference(probe).value == \
            pytest.approx(float(torch.linalg.matrix_norm(torch.func.jacrev(f)(x), 2)), rel=1e-10)


def test_hidden_probes_have_the_spec_sizes():
    rng = np.random.default_rng(5)
    big = {name: max(EXERCISES[name].shared(rng), key=_size)
           for name in ("linear_prediction", "coupling_log_det", "spectral_norm")}
    f, x0, _ = big["linear_prediction"].args
    assert x0.shape == (2 * 10 ** 6,) and f(x0).shape[0] <= 5
    assert big["coupling_log_det"].args[0].shape == (3000, 3000)
    f, x = big["spectral_norm"].args
    assert x.shape == f(x).shape == (20_000,)
    assert _size(big["spectral_norm"]) <= 10 * 20_000, "f must be built from O(n) parameters"


def test_hidden_probes_depend_on_the_seed():
    for exercise in EXERCISES.values():
        if exercise.name in ("linear_prediction", "coupling_log_det", "spectral_norm"):
            continue    # the same generators as the others, at a size not worth drawing twice here
        first, second = (repr([p.args for p in probes(exercise, s) if p.hidden]) for s in (1, 2))
        assert first != second, exercise.name


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_solution_agrees_with_every_reference(name):
    solution = solution_cells(REPO_ROOT / "source" / ASSIGNMENT)[name]
    exercise = EXERCISES[name]
    for probe in _small(exercise, 0):
        assert _agrees(exercise, _answer("import torch\n" + solution, name, probe), exercise.reference(probe).value), \
            probe.label


@pytest.mark.parametrize("name", sorted(set(MISTAKES) - RULE_BREAKERS))
def test_probes_are_in_general_position_for_each_mistake(name):
    """A mistake worth no credit is wrong on every general probe; a partial one on some only. The
    big probes are left out (their sizes are tested above) but the coupling layer's, where the
    d = 3000 probe is the one that finds the overflow, and the linear prediction's, which is cheap."""
    mistake = MISTAKES[name]
    exercise = EXERCISES[mistake.exercise]
    right = []
    for seed in SEEDS:
        for probe in probes(exercise, seed):
            if probe.edge or (_size(probe) > 10 ** 5 and exercise.name not in CHEAP_AT_SCALE):
                continue
            try:
                right.append(_agrees(exercise, _answer(mistake.source, exercise.name, probe),
                                     exercise.reference(probe).value))
            except Exception:   # noqa: BLE001 - a mistake may well raise: that is wrong too
                right.append(False)
    assert not all(right)
    assert any(right) == (mistake.credit == "partial")


@pytest.mark.parametrize("name", sorted(HINTS))
def test_hints_name_the_mistake(name):
    mistake = MISTAKES[name]
    exercise = EXERCISES[mistake.exercise]
    sentences = []
    for probe in probes(exercise, 0):
        if _size(probe) > 10 ** 5 and exercise.name != "coupling_log_det":
            continue
        try:
            got = _plain(_answer(mistake.source, exercise.name, probe))
        except Exception:   # noqa: BLE001 - nothing to hint about
            continue
        expected = exercise.reference(probe).value
        if not _agrees(exercise, got, expected):
            sentences.append(exercise.hint(probe, got, np.asarray(expected)) or "")
    assert sentences and all(HINTS[name] in s for s in sentences), sentences
