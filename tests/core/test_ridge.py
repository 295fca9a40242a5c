"""The ridge-regression helpers shared by the bandit and linear-MDP kernels, against fresh inverses."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theorylab.core import ridge


def _gaussian(rng, n, p):
    return rng.normal(size=(n, p))


def _simplex(rng, n, p):
    """Features in the probability simplex, as the linear MDPs' maps."""
    return rng.dirichlet(np.ones(p), size=n) if p > 1 else np.ones((n, 1))


# smallest lam per feature law: Gaussian features with a tiny lam make lam I + sum phi phi^T too
# ill-conditioned for a 1e-9 agreement of two different inversion routes
@pytest.mark.parametrize("draw, lam_low", [(_gaussian, 0.5), (_simplex, 0.05)])
@settings(max_examples=50, deadline=None)
@given(p=st.integers(1, 6), n=st.integers(1, 30), seed=st.integers(0, 2**31 - 1), data=st.data())
def test_sherman_morrison_equals_fresh_inverse(draw, lam_low, p, n, seed, data):
    """Closed form: n rank-one updates of (lam I)^{-1} equal inv(lam I + sum phi phi^T)."""
    lam = data.draw(st.floats(lam_low, 10.0))
    phis = draw(np.random.default_rng(seed), n, p)
    Vinv, tmp = np.eye(p) / lam, np.empty(p)
    for phi in phis:
        ridge.sherman_morrison(Vinv, phi, tmp)
    np.testing.assert_allclose(Vinv, np.linalg.inv(lam * np.eye(p) + phis.T @ phis), rtol=1e-9, atol=1e-12)


def test_ridge_add_and_accumulate_agree_with_the_normal_equations():
    """ridge_add from ridge_priors, and accumulate then a fresh inverse, both give theta = (lam I + A)^{-1} c."""
    rng = np.random.default_rng(3)
    p, n, lam = 3, 40, 2.0
    phis, ys = rng.normal(size=(n, p)), rng.normal(size=n)
    Vinv, b, theta = ridge.ridge_priors((2,), p, lam)
    assert Vinv.shape == (2, p, p) and b.shape == theta.shape == (2, p)
    np.testing.assert_array_equal(Vinv[1], np.eye(p) / lam)
    V, c, tmp = lam * np.eye(p), np.zeros(p), np.empty(p)
    for phi, y in zip(phis, ys):
        ridge.ridge_add(Vinv[1], b[1], theta[1], phi, y, tmp)
        ridge.accumulate(V, c, phi, y)
    exact = np.linalg.solve(lam * np.eye(p) + phis.T @ phis, phis.T @ ys)
    np.testing.assert_allclose(theta[1], exact, rtol=1e-9)
    np.testing.assert_allclose(np.linalg.solve(V, c), exact, rtol=1e-12)
    np.testing.assert_array_equal(theta[0], 0.0)             # the other regression is untouched
    assert ridge.ridge_priors((2, 3), p, lam)[0].shape == (2, 3, p, p)


def test_compilations_older_than_the_helpers_are_dropped_and_newer_ones_kept(tmp_path):
    """Numba keys a kernel's cache on the kernel's own file; a kernel compiled before the helpers it
    calls were edited must be rebuilt, one compiled after must be kept."""
    import os
    from pathlib import Path

    kernels = tmp_path / "kernels.py"
    kernels.write_text("")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    helpers_time = os.path.getmtime(ridge.__file__)
    old = [cache / "kernels.run-12.py311.nbi", cache / "kernels.run-12.py311.1.nbc"]
    new = [cache / "kernels.fit-40.py311.nbi", cache / "kernels.fit-40.py311.1.nbc"]
    other = cache / "other.run-3.py311.nbi"  # another module's cache is not touched
    for path in [*old, *new, other]:
        path.write_bytes(b"")
    for path in [*old, other]:
        os.utime(path, (helpers_time - 60, helpers_time - 60))
    for path in new:
        os.utime(path, (helpers_time + 60, helpers_time + 60))
    assert sorted(ridge.drop_stale_compilations(str(kernels))) == sorted(old)
    assert sorted(Path(p) for p in cache.iterdir()) == sorted([*new, other])
