"""Numba kernels of deep matrix completion: full-batch GD on a deep matrix factorisation.

Model.  ``D`` bias-free ``N x N`` layers ``Ws[0], ..., Ws[D-1]``; the end-to-end matrix is
``W = Ws[D-1] @ ... @ Ws[0]``.  The train loss of a task with observed set ``Omega``
(``m`` entries) and target ``M`` is ``l(W) = 1/(2m) sum_{(i,j) in Omega} (W_ij - M_ij)^2``, so
``grad_W l = P_Omega(W - M) / m``.  Callers pass the task as two dense arrays,
``S = 1_Omega / m`` and ``T = P_Omega(M) / m``, so that ``grad_W l = S * W - T`` elementwise.

Step indexing (the official training loop's, reproduced exactly).  An "epoch"
``e = 0, 1, 2, ...`` is: forward pass (giving ``W_e``, the matrix after ``e`` updates),
measurement, then one GD update.  For a switch point ``T_sw``:

* epochs ``0 .. T_sw`` update on task 1 (``T_sw + 1`` task-1 updates, so even ``T_sw = 0``
  applies one task-1 update);
* epochs ``T_sw + 1 .. T_sw + n_continue - 2`` update on task 2 (``n_continue - 2`` updates);
* the test loss is measured at epoch ``E = T_sw + n_continue - 1``, i.e. on ``W_E`` *before*
  that epoch's update, as the mean over all ``N^2`` entries of ``(M_test - W_E)^2``
  (observed entries included).

All switch points share the task-1 prefix, so one call trains task 1 once and, on reaching
``W_{T_sw + 1}``, copies the weights and runs the task-2 continuation for that branch.
This is exact: the branch sees the same floating-point state as a fresh run would.

Performance notes.  With prefix products ``P_l = W_l ... W_0`` (forward) and
``B_{D-1} = G``, ``B_{l-1} = W_l^T B_l`` (backward), the layer gradients are
``grad_l = B_l P_{l-1}^T``: a step costs ``3 (D - 1)`` BLAS matrix products, every one
written into a preallocated buffer (``np.dot(a, b, out)``; transposed operands are views,
which BLAS takes as flags, not copies), plus ``O(D N^2)`` elementwise work in explicit
loops (array expressions would allocate).  Depth 1 costs only elementwise work.  Scalars
(``lr``) must have the arrays' dtype so that float32 runs stay in float32.  Run with
single-threaded BLAS: at ``N = 100`` threads only add overhead, and with another busy
process on the machine they make each product many times slower
(``theorylab.core.sweep.single_threaded``).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _src(Ws, P, l):
    """The prefix product ``W_l ... W_0`` (``Ws[0]`` itself for ``l = 0``)."""
    if l == 0:
        return Ws[0]
    return P[l]


@njit(cache=True)
def _forward(Ws, P):
    """Fill ``P[l] = W_l ... W_0`` for ``l >= 1``; return the end-to-end ``W``."""
    D = Ws.shape[0]
    for l in range(1, D):
        np.dot(Ws[l], _src(Ws, P, l - 1), P[l])
    return _src(Ws, P, D - 1)


@njit(cache=True)
def _backward_update(Ws, P, W, S, T, lr, B, Bn, GR):
    """One GD update of every layer given the forward pass (``P``, ``W``) of the same state.

    With ``G = S * W - T`` and ``B_l = (W_{D-1} ... W_{l+1})^T G`` (``B_{D-1} = G``,
    ``B_{l-1} = W_l^T B_l``), the layer gradients are ``grad_l = B_l P_{l-1}^T`` and
    ``grad_0 = B_0``.  ``B``, ``Bn`` (N x N) and ``GR`` (D x N x N) are work buffers.
    All gradients are formed from the old weights before any layer is updated.
    """
    D, N, _ = Ws.shape
    for i in range(N):
        for j in range(N):
            B[i, j] = S[i, j] * W[i, j] - T[i, j]
    for l in range(D - 1, 0, -1):
        np.dot(B, _src(Ws, P, l - 1).T, GR[l])   # grad_l = B_l P_{l-1}^T
        np.dot(Ws[l].T, B, Bn)                   # B_{l-1} = W_l^T B_l (old W_l)
        B, Bn = Bn, B
    # explicit loops: array expressions would allocate a temporary per layer and step
    for l in range(D - 1, 0, -1):
        Wl = Ws[l]
        Gl = GR[l]
        for i in range(N):
            for j in range(N):
                Wl[i, j] -= lr * Gl[i, j]
    W0 = Ws[0]
    for i in range(N):
        for j in range(N):
            W0[i, j] -= lr * B[i, j]


@njit(cache=True)
def _finite_row(W, i):
    """Cheap divergence probe: is row ``i`` of ``W`` finite?  Overflow spreads through
    every matrix product within a step or two, so probing a rotating row suffices."""
    acc = 0.0
    for j in range(W.shape[1]):
        acc += W[i, j]
    return np.isfinite(acc)


@njit(cache=True)
def gd_steps(W0, S, T, lr, n_steps):
    """``n_steps`` full-batch GD steps on one task; returns the new layers (``W0`` is not modified).

    The plain training loop without branching or logging (benchmarks, single-task runs).
    """
    D, N, _ = W0.shape
    Ws = W0.copy()
    P = np.empty_like(W0)
    GR = np.empty_like(W0)
    B = np.empty((N, N), W0.dtype)
    Bn = np.empty((N, N), W0.dtype)
    for _ in range(n_steps):
        W = _forward(Ws, P)
        _backward_update(Ws, P, W, S, T, lr, B, Bn, GR)
    return Ws


@njit(cache=True)
def _mse(W, M):
    N = W.shape[0]
    acc = 0.0
    for i in range(N):
        for j in range(N):
            d = float(M[i, j]) - float(W[i, j])
            acc += d * d
    return acc / (N * N)


@njit(cache=True)
def _top_singular_values(W, n_sv, out):
    """Top ``n_sv`` singular values of ``W`` (float64 eigenvalues of ``W^T W``), descending."""
    N = W.shape[0]
    W64 = W.astype(np.float64)
    lam = np.linalg.eigvalsh(np.dot(W64.T, W64))
    for r in range(n_sv):
        v = lam[N - 1 - r]
        out[r] = np.sqrt(v) if v > 0.0 else 0.0


@njit(cache=True)
def _log(W, k, b_first, b_stop, n_sv, M_test, sigma, test_traj):
    """Record ``W`` at log index ``k`` for branches ``b_first .. b_stop - 1`` (shared state)."""
    sv = np.empty(n_sv)
    _top_singular_values(W, n_sv, sv)
    mse = _mse(W, M_test)
    for b in range(b_first, b_stop):
        for r in range(n_sv):
            sigma[b, k, r] = sv[r]
        test_traj[b, k] = mse


@njit(cache=True)
def gd_branches(W0, S1, T1, S2, T2, M_test1, M_test2, lr, t_switch, n_continue,
                   log_every, n_sv):
    """Task-1 training once, with a task-2 continuation branched off at every ``T_sw``.

    Parameters
    ----------
    W0 : (D, N, N) initial layers, C-contiguous, float32 or float64.
    S1, T1 : (N, N) task 1 as ``1_Omega1 / m1`` and ``P_Omega1(M1) / m1`` (dtype of ``W0``).
    S2, T2 : (N, N) task 2, same encoding.
    M_test1, M_test2 : (N, N) full targets of task 1 and task 2 (test losses).
    lr : learning rate, a scalar of ``W0``'s dtype.
    t_switch : (n_br,) int64, strictly increasing switch points ``T_sw``.
    n_continue : int >= 2, the continuation length in epochs (see the module docstring).
    log_every : int, log every ``log_every`` epochs (0 disables logging).
    n_sv : int, how many top singular values to log.

    Returns
    -------
    test_loss : (n_br,) float64, mean over all entries of ``(M_test2 - W_E)^2`` at the
        final epoch ``E = T_sw + n_continue - 1`` (NaN if the run diverged).
    task1_loss : (n_br,) float64, ``mean (M_test1 - W)^2`` at the switch (after ``T_sw + 1``
        task-1 updates).
    W_final : (n_br, N, N) the end-to-end matrix ``W_E`` of every branch.
    sigma : (n_br, K + 1, n_sv) float64 top singular values at epochs ``k * log_every``,
        ``K = (max T_sw + n_continue - 1) // log_every``; NaN past a branch's last epoch.
    test_traj : (n_br, K + 1) float64 ``mean (M_test2 - W)^2`` at the same epochs.
    """
    D, N, _ = W0.shape
    n_br = t_switch.shape[0]
    dt = W0.dtype
    E_max = t_switch[n_br - 1] + n_continue - 1
    n_log = E_max // log_every + 1 if log_every > 0 else 0
    test_loss = np.full(n_br, np.nan)
    task1_loss = np.full(n_br, np.nan)
    W_final = np.full((n_br, N, N), np.nan).astype(dt)
    sigma = np.full((n_br, n_log, n_sv), np.nan)
    test_traj = np.full((n_br, n_log), np.nan)

    Ws = W0.copy()
    P = np.empty_like(W0)
    Wb = np.empty_like(W0)
    Pb = np.empty_like(W0)
    GT = np.empty_like(W0)  # layer gradients
    B = np.empty((N, N), dt)
    Bn = np.empty((N, N), dt)

    e = 0  # epoch of the trunk state held in Ws (= number of task-1 updates applied)
    for b in range(n_br):
        stop = t_switch[b] + 1
        # task-1 trunk: epochs e .. stop - 1 (forward, log, update); then W_stop is the branch point
        trunk_ok = True
        while e < stop:
            W = _forward(Ws, P)
            if log_every > 0 and e % log_every == 0:
                # a trunk epoch e <= T_sw[b] is shared by branch b and every later branch
                _log(W, e // log_every, b, n_br, n_sv, M_test2, sigma, test_traj)
            if not _finite_row(W, e % N):
                trunk_ok = False
                break
            _backward_update(Ws, P, W, S1, T1, lr, B, Bn, GT)
            e += 1
        if not trunk_ok:
            return test_loss, task1_loss, W_final, sigma, test_traj  # everything after is NaN
        # branch: copy the trunk state and continue on task 2
        Wb[:, :, :] = Ws
        eb = e
        E = t_switch[b] + n_continue - 1
        while True:
            W = _forward(Wb, Pb)
            if eb == stop:
                task1_loss[b] = _mse(W, M_test1)
            if log_every > 0 and eb % log_every == 0:
                # epoch ``stop`` is logged here for branch b only; later branches log it
                # in their own trunk segment
                _log(W, eb // log_every, b, b + 1, n_sv, M_test2, sigma, test_traj)
            if eb == E:
                test_loss[b] = _mse(W, M_test2)
                W_final[b, :, :] = W
                break
            if not _finite_row(W, eb % N):
                break
            _backward_update(Wb, Pb, W, S2, T2, lr, B, Bn, GT)
            eb += 1
    return test_loss, task1_loss, W_final, sigma, test_traj

