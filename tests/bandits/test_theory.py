"""Bound scalings and log-covering numbers against their closed forms."""

import numpy as np
import pytest

from theorylab.bandits import theory

T = np.array([10.0, 100.0, 1000.0])


def test_per_task_bound_single_task_limit_and_m_dependence():
    """M = 1 gives sqrt(T d_E beta_T(1)); the per-task scale falls with M towards sqrt(T d_E k log(...))."""
    log_cov, lid = np.log(128.0), np.log(20.0)
    one = theory.per_task_bound_scaling(T, 1, 2, 1.0, log_cov, lid)
    d_e = 2 * np.log1p(T / 2)
    np.testing.assert_allclose(one, np.sqrt(T * d_e * (d_e + 2 * (log_cov + lid))), rtol=1e-14)
    values = [theory.per_task_bound_scaling(T, m, 2, 1.0, log_cov, lid) for m in (1, 4, 16, 1024)]
    assert np.all(np.diff(np.array(values), axis=0) < 0)
    np.testing.assert_allclose(values[-1], np.sqrt(T * d_e * d_e), rtol=0.02)


def test_log_covering():
    assert theory.log_covering("finite", 128, 8, 2, 100.0) == pytest.approx(np.log(128))
    assert theory.log_covering("lowrank", 128, 8, 2, 100.0) == pytest.approx(16 * np.log(101))


def test_oful_bound_closed_form():
    """Abbasi-Yadkori et al. (2011) Thm. 3 with L = 1: 4 sqrt(T k log(lam + T/k)) sqrt(beta)."""
    got = theory.oful_regret_bound(100.0, 0.5, 2, 1.0, np.log(20.0), 1.0)
    want = 4 * np.sqrt(100 * 2 * np.log(1 + 50)) * (1 + 0.5 * np.sqrt(2 * np.log(20) + 2 * np.log(1 + 50)))
    assert got == pytest.approx(want, rel=1e-14)
    bound = theory.oful_regret_bound(T, 0.5, 2, 1.0, 3.0, 1.0)
    assert np.all(np.diff(bound / np.sqrt(T)) > 0) and np.all(np.diff(bound / T) < 0)   # sqrt(T) log T
