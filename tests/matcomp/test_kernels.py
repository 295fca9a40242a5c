"""Matrix-completion kernels (deep matrix completion GD) against their NumPy twin and exact invariants."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from theorylab.matcomp import kernels, reference
from theorylab.matcomp.model import (gaussian_init, low_rank_target, observation_mask, run_gd, run_gd_dense,
                                           sample_observations)

N = 12
T_SWITCH = [0, 3, 10, 25]
N_CONTINUE = 20
LR = 0.5


def _problem(depth, seed=0, subset=False, init_scale=0.3):
    rng = np.random.default_rng(seed)
    M1 = low_rank_target(rng, N, 3)
    M2 = M1 if subset else low_rank_target(rng, N, 2)
    rows, cols = sample_observations(rng, N, 80)
    mask2 = observation_mask(rows, cols, N)
    mask1 = observation_mask(rows[:50], cols[:50], N) if subset else mask2
    W0 = gaussian_init(rng, N, depth, init_scale)
    return W0, M1, mask1, M2, mask2


@pytest.mark.parametrize("subset", [False, True], ids=["switch", "subset"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_kernel_matches_numpy_reference(depth, subset):
    """Ground truth: NumPy twin (reference.py), one plain run per T_sw, float64.

    Tolerance rtol 1e-9, atol 1e-12: both are float64 and differ only in summation order of
    the matrix products (~1e-15 relative per step, amplified mildly over <= 45 steps).
    """
    W0, M1, mask1, M2, mask2 = _problem(depth, subset=subset)
    test_loss, task1_loss, W_final, sigma, traj = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH,
                                                         N_CONTINUE, 3, 5, "float64")
    for b, ts in enumerate(T_SWITCH):
        ref = reference.gd_single(W0, M1, mask1, M2, mask2, LR, ts, N_CONTINUE, 3, 5)
        k = len(ref["test_traj"])
        assert_allclose(test_loss[b], ref["test_loss"], rtol=1e-9, atol=1e-12)
        assert_allclose(task1_loss[b], ref["task1_loss"], rtol=1e-9, atol=1e-12)
        assert_allclose(W_final[b], ref["W_final"], rtol=1e-9, atol=1e-12)
        # singular values: kernel uses eigvalsh of W^T W, the twin an SVD; sqrt of a Gram
        # eigenvalue carries an absolute error ~ eps * sigma_1^2 / sigma_r, hence atol 1e-7
        assert_allclose(sigma[b, :k], ref["sigma"], rtol=1e-7, atol=1e-7)
        assert_allclose(traj[b, :k], ref["test_traj"], rtol=1e-9, atol=1e-12)
        assert np.all(np.isnan(traj[b, k:])), "log points past a branch's final epoch must be NaN"


def test_single_task_steps_match_reference():
    """Ground truth: NumPy twin ``gd_loop``; tolerance as above (float64, summation order only).
    Both the dense and the sparse-residual step loops are checked."""
    for depth in (1, 2, 3, 4):
        W0, M1, mask1, _, _ = _problem(depth)
        m = mask1.sum()
        want = reference.gd_loop(W0, M1, mask1, LR, 30)
        assert_allclose(kernels.gd_steps(W0, mask1 / m, mask1 * M1 / m, LR, 30), want, rtol=1e-9, atol=1e-12)
        rows, cols = np.nonzero(mask1)
        got = kernels.gd_steps_sparse(W0, rows.astype(np.int64), cols.astype(np.int64), M1[rows, cols] / m,
                                      1.0 / m, LR, 30)
        assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("subset", [False, True], ids=["switch", "subset"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_sparse_kernel_equals_dense_kernel(depth, subset):
    """Ground truth: the dense kernel (the whole end-to-end matrix every step), float64, with
    logging.  The sparse kernel forms W only at the observed entries and differs only in
    summation order: every output agrees to 1e-11 relative over the 45-step runs."""
    W0, M1, mask1, M2, mask2 = _problem(depth, subset=subset)
    sparse = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, 3, 5, "float64")
    dense = run_gd_dense(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, 3, 5, "float64")
    for got, want in zip(sparse, dense):
        assert_allclose(got, want, rtol=1e-11, atol=1e-13)


def test_sparse_kernel_equals_dense_kernel_at_scale_in_float32():
    """N = 40, depth 3, 3000 steps in float32, the paper's dtype: the two kernels sum in different
    orders (float32 round-off ~1e-7 per step), and GD's contraction keeps the gap at that level,
    so the final test losses agree to 1e-4 relative."""
    rng = np.random.default_rng(3)
    N = 40
    M1, M2 = low_rank_target(rng, N, 4), low_rank_target(rng, N, 2)
    mask = observation_mask(*sample_observations(rng, N, 500), N)
    W0 = gaussian_init(rng, N, 3, 1e-2)
    sparse = run_gd(W0, M1, mask, M2, mask, 0.3, [0, 1000], 2000, 0, 3, "float32")
    dense = run_gd_dense(W0, M1, mask, M2, mask, 0.3, [0, 1000], 2000, 0, 3, "float32")
    assert_allclose(sparse[0], dense[0], rtol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_branching_equals_separate_runs_exactly(dtype):
    """One kernel call with several T_sw equals separate calls with one T_sw each, bit for bit."""
    W0, M1, mask1, M2, mask2 = _problem(3, seed=1)
    together = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, 4, 4, dtype)
    for b, ts in enumerate(T_SWITCH):
        alone = run_gd(W0, M1, mask1, M2, mask2, LR, [ts], N_CONTINUE, 4, 4, dtype)
        assert_array_equal(together[0][b], alone[0][0])
        assert_array_equal(together[2][b], alone[2][0])
        k = alone[3].shape[1]
        assert_array_equal(together[3][b, :k], alone[3][0])


def test_trunk_logs_are_shared_by_later_branches():
    """Epochs <= T_sw + 1 are task-1 states, identical for every branch that switches later."""
    W0, M1, mask1, M2, mask2 = _problem(2, seed=2)
    log_every = 1
    _, _, _, sigma, _ = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, log_every, 3,
                               "float64")
    for b, ts in enumerate(T_SWITCH[:-1]):
        shared = ts + 2  # epochs 0 .. T_sw + 1
        assert_array_equal(sigma[b, :shared], sigma[-1, :shared])
        assert not np.allclose(sigma[b, shared + 2], sigma[-1, shared + 2])


def test_depth1_leaves_unobserved_entries_at_init():
    """Depth 1: the gradient is zero off the observed set, so those entries never move (exact)."""
    W0, M1, mask1, M2, mask2 = _problem(1, seed=3, subset=True)
    _, _, W_final, _, _ = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, 0, 3, "float64")
    off = mask2 == 0
    for b in range(len(T_SWITCH)):
        assert_array_equal(W_final[b][off], W0[0][off])


def test_float32_run_tracks_float64():
    """float32 (production) vs float64 on a short run: agreement to float32 round-off growth.

    rtol 1e-4: ~1e-7 per operation accumulated over ~50 steps of a contracting iteration.
    """
    W0, M1, mask1, M2, mask2 = _problem(3, seed=4)
    lo = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, 0, 3, "float32")
    hi = run_gd(W0, M1, mask1, M2, mask2, LR, T_SWITCH, N_CONTINUE, 0, 3, "float64")
    assert lo[2].dtype == np.float32
    assert_allclose(lo[0], hi[0], rtol=1e-4)


def test_divergent_run_is_flagged_with_nan():
    """A learning rate far past the stability limit yields NaN losses, not garbage or a crash."""
    W0, M1, mask1, M2, mask2 = _problem(3, seed=5, init_scale=3.0)
    test_loss, _, _, _, _ = run_gd(W0, M1, mask1, M2, mask2, 500.0, [0, 5], 200, 0, 3, "float64")
    assert np.all(np.isnan(test_loss))


def test_step_indexing_p8():
    """T_sw + 1 task-1 updates, n_continue - 2 task-2 updates, loss on the state before the last update.

    Checked on depth 1, where every update of an observed entry is an exact contraction.
    """
    W0, M1, mask1, M2, mask2 = _problem(1, seed=6)
    ts, nc = 4, 7
    _, _, W_final, _, _ = run_gd(W0, M1, mask1, M2, mask2, LR, [ts], nc, 0, 3, "float64")
    q = 1 - LR / mask2.sum()
    on = mask2 > 0
    expected = M2 + q ** (nc - 2) * (M1 + q ** (ts + 1) * (W0[0] - M1) - M2)
    assert_allclose(W_final[0][on], expected[on], rtol=1e-12, atol=1e-14)


def test_logging_does_not_change_the_trajectory():
    """Recording singular values only reads the state: with and without logging the final test
    losses are bit-identical (float32, depth 3, the quick-scale problem).  Fails if a work buffer
    is read before it is written (an uninitialised residual once made every run 'diverge')."""
    rng = np.random.default_rng(1)
    N = 30
    M1, M2 = low_rank_target(rng, N, 4), low_rank_target(rng, N, 2)
    mask = observation_mask(*sample_observations(rng, N, 250), N)
    W0 = gaussian_init(rng, N, 3, 1e-3)
    quiet = run_gd(W0, M1, mask, M2, mask, 0.5, [0, 250, 1000], 1500, 0, 3, "float32")
    logged = run_gd(W0, M1, mask, M2, mask, 0.5, [0, 250, 1000], 1500, 100, 10, "float32")
    assert np.all(np.isfinite(logged[0]))
    assert_array_equal(quiet[0], logged[0])
