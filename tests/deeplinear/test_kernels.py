"""Numba kernels of the two-pathway model against their plain-NumPy twins (ground truth: reference.py)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylab.deeplinear import kernels, reference


def _map_inputs(seed, n=6, n_steps=300):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.5, 4.0, n)
    pa0, pb0 = rng.uniform(0.05, 0.6, n), rng.uniform(0.05, 0.6, n)
    gate = rng.random(n_steps) < 0.3
    lesion = rng.random(n) < 0.3
    return s, pa0, pb0, gate, lesion


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("depth, c", [(1, 0.0), (2, 0.0), (4, 0.0), (3, 1.0), (6, 1.0)])
@pytest.mark.parametrize("remove_b", [False, True])
def test_mode_map_matches_numpy_reference(seed, depth, c, remove_b):
    s, pa0, pb0, gate, lesion = _map_inputs(seed)
    args = (s, pa0, pb0, depth, c, 0.01, gate.size, gate, remove_b, lesion, 7)
    got, want = kernels.mode_map(*args), reference.mode_map(*args)
    for g, w in zip(got, want):
        assert g.shape == w.shape == (gate.size // 7 + 1, s.size)
        # same arithmetic in a different order: agreement to a few ulps over 300 updates
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@settings(max_examples=40, deadline=None)
@given(ratio=st.floats(0.2, 5.0), p=st.floats(0.01, 0.5), s=st.floats(0.5, 5.0), lr=st.floats(1e-3, 0.05))
def test_depth2_euler_conserves_ratio(ratio, p, s, lr):
    """Exact discrete invariant: at D = 2 both pathways are multiplied by (1 + lr Omega)."""
    pa0, pb0 = np.array([p * ratio]), np.array([p])
    ka, kb = kernels.mode_map(np.array([s]), pa0, pb0, 2, 0.0, lr, 200, np.zeros(200, np.bool_), False,
                              np.zeros(1, np.bool_), 1)
    np.testing.assert_allclose(np.sqrt(ka / kb), ratio, rtol=1e-10)


def _random_layers(rng, depth, h, scale=0.3):
    return rng.standard_normal((depth, h, h)) * scale / np.sqrt(h)


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("lesion, remove_b", [(False, False), (True, False), (False, True)])
def test_pathway_gd_matches_numpy_reference_from_generic_weights(depth, lesion, remove_b):
    """Non-aligned random weights exercise every entry of the gradient, not just the modes."""
    rng = np.random.default_rng(depth)
    h, n_steps = 15, 60
    Wa, Wb = _random_layers(rng, depth, h), _random_layers(rng, depth, h)
    target = rng.standard_normal((h, h))
    U, _ = np.linalg.qr(rng.standard_normal((h, h)))
    V, _ = np.linalg.qr(rng.standard_normal((h, h)))
    keep = np.ones(h)
    keep[2] = 0.0
    proj_u, proj_v = (U * keep) @ U.T, (V * keep) @ V.T
    gate = np.zeros(n_steps, np.bool_)
    gate[10:30] = True
    args = (Wa, Wb, target, U, V, 0.02, n_steps, gate, remove_b, lesion, proj_u, proj_v, 8, 5)
    got, want = kernels.pathway_gd(*args), reference.pathway_gd(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(got[1][:2]) < 0)  # the loss decreases at the start


def _nonlinear_problem(depth, seed=0, h=15, n_in=8, n_steps=60):
    rng = np.random.default_rng(seed)
    Wa, Wb = _random_layers(rng, depth, h, 1.0), _random_layers(rng, depth, h, 1.0)
    Wa[0][:, n_in:] = Wb[0][:, n_in:] = 0.0   # padded layers: the first reads only the n_in items
    target = np.zeros((h, n_in))
    target[:15] = rng.standard_normal((15, n_in))
    U, _ = np.linalg.qr(rng.standard_normal((h, h)))
    V = np.eye(h)
    V[:n_in, :n_in], _ = np.linalg.qr(rng.standard_normal((n_in, n_in)))
    gate = np.zeros(n_steps, np.bool_)
    gate[10:30] = True
    return Wa, Wb, target, U, V, n_steps, gate


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("act", [kernels.LINEAR, kernels.TANH, kernels.RELU])
@pytest.mark.parametrize("remove_b", [False, True])
def test_nonlinear_pathway_gd_matches_numpy_reference(depth, act, remove_b):
    """Ground truth: NumPy twin (reference.py) that pushes the whole padded identity through the
    network and uses numpy's activations; generic random weights, float64, summation order only."""
    Wa, Wb, target, U, V, n_steps, gate = _nonlinear_problem(depth)
    args = (Wa, Wb, target, U, V, 0.02, n_steps, gate, remove_b, act, 8, 8, 5)
    got, want = kernels.nonlinear_pathway_gd(*args), reference.nonlinear_pathway_gd(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    assert got[1][1] < got[1][0]  # the loss decreases at the start


@pytest.mark.parametrize("depth", [1, 3])
def test_linear_activation_equals_the_linear_kernel(depth):
    """Ground truth: the linear kernel pathway_gd (whole H x H end-to-end maps) on the same run;
    the nonlinear kernel with the identity activation must give the same K, loss and final block."""
    Wa, Wb, target, U, V, n_steps, gate = _nonlinear_problem(depth, seed=1)
    h = Wa.shape[1]
    square = np.zeros((h, h))
    square[:, :8] = target
    eye = np.eye(h)
    lin = kernels.pathway_gd(Wa, Wb, square, U, V, 0.02, n_steps, gate, False, False, eye, eye, 8, 5)
    non = kernels.nonlinear_pathway_gd(Wa, Wb, target, U, V, 0.02, n_steps, gate, False, kernels.LINEAR, 8, 8, 5)
    for g, w in zip(non[:3], lin[:3]):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(non[3][:, :, :8], lin[3][:, :, :8], rtol=1e-10, atol=1e-12)
