"""The kernel against its plain-NumPy twin, and the closed forms against numerical integration."""

import numpy as np
import pytest
from scipy import integrate, stats

from __study__ import kernels, reference, theory


@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
def test_kernel_matches_numpy_twin(t):
    """Oracle: reference.running_means (cumulative sum); the same summation order, so rtol 1e-12."""
    x = np.random.default_rng(0).standard_normal(5000)
    checkpoints = np.array([1, 7, 100, 4999, 5000])
    np.testing.assert_allclose(kernels.running_means(x, t, checkpoints),
                               reference.running_means(x, t, checkpoints), rtol=1e-12)


@pytest.mark.parametrize("t", [0.3, 1.0, 2.5])
def test_closed_forms_match_quadrature(t):
    """Oracle: scipy.integrate.quad of cos(t x) and cos^2(t x) against the normal density."""
    mean = integrate.quad(lambda x: np.cos(t * x) * stats.norm.pdf(x), -np.inf, np.inf)[0]
    second = integrate.quad(lambda x: np.cos(t * x) ** 2 * stats.norm.pdf(x), -np.inf, np.inf)[0]
    np.testing.assert_allclose(theory.expectation(t), mean, rtol=1e-9)
    np.testing.assert_allclose(theory.variance(t), second - mean**2, rtol=1e-8, atol=1e-12)
