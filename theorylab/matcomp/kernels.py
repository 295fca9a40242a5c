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


@njit(cache=True, inline="always")
def _backprop(Ws, P, B, Bn, GR, top):
    """Layers ``top, ..., 1`` of the backward pass from ``B`` holding ``B_top``: ``grad_l = B_l P_{l-1}^T``
    into ``GR[l]`` and ``B_{l-1} = W_l^T B_l`` (old ``W_l``).  ``B`` and ``Bn`` take turns as input and
    output; returns the one holding ``B_0``."""
    for l in range(top, 0, -1):
        np.dot(B, _src(Ws, P, l - 1).T, GR[l])
        np.dot(Ws[l].T, B, Bn)
        B, Bn = Bn, B
    return B


@njit(cache=True, inline="always")
def _descend(W, G, lr):
    """``W -= lr * G`` in place (explicit loops: an array expression would allocate a temporary
    per layer and step)."""
    n, k = W.shape
    for i in range(n):
        for j in range(k):
            W[i, j] -= lr * G[i, j]


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
    B0 = _backprop(Ws, P, B, Bn, GR, D - 1)
    for l in range(D - 1, 0, -1):
        _descend(Ws[l], GR[l], lr)
    _descend(Ws[0], B0, lr)


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


@njit(cache=True, inline="always")
def _measure_branch(W, b, eb, stop, E, M_test1, M_test2, log_every, n_sv, task1_loss, test_loss, W_final,
                    sigma, test_traj):
    """Branch ``b``'s records of the end-to-end ``W`` at its epoch ``eb``: the task-1 loss at the switch
    (``eb == stop``), the log, and at the final epoch ``E`` the test loss and ``W_E``.  Returns True at ``E``.

    Epoch ``stop`` is logged here for branch b only; later branches log it in their own trunk segment.
    ``W`` is read only at the switch, a logged epoch or ``E``.
    """
    if eb == stop:
        task1_loss[b] = _mse(W, M_test1)
    if log_every > 0 and eb % log_every == 0:
        _log(W, eb // log_every, b, b + 1, n_sv, M_test2, sigma, test_traj)
    if eb == E:
        test_loss[b] = _mse(W, M_test2)
        W_final[b, :, :] = W
        return True
    return False


@njit(cache=True)
def _branch_outputs(W0, t_switch, n_continue, log_every, n_sv):
    """The NaN-filled results of :func:`gd_branches_dense` and :func:`gd_branches` (NaN stays where a
    branch diverged or ended before a logged epoch)."""
    N = W0.shape[1]
    n_br = t_switch.shape[0]
    E_max = t_switch[n_br - 1] + n_continue - 1
    n_log = E_max // log_every + 1 if log_every > 0 else 0
    test_loss = np.full(n_br, np.nan)
    task1_loss = np.full(n_br, np.nan)
    W_final = np.full((n_br, N, N), np.nan).astype(W0.dtype)
    sigma = np.full((n_br, n_log, n_sv), np.nan)
    test_traj = np.full((n_br, n_log), np.nan)
    return test_loss, task1_loss, W_final, sigma, test_traj


@njit(cache=True, nogil=True)  # a sweep task runs minutes in here: let a dask worker keep heartbeating
def gd_branches_dense(W0, S1, T1, S2, T2, M_test1, M_test2, lr, t_switch, n_continue,
                   log_every, n_sv):
    """Task-1 training once, with a task-2 continuation branched off at every ``T_sw`` (dense).

    Forms the whole end-to-end matrix every step; :func:`gd_branches` computes the same
    trajectory with work proportional to the observed entries.  Kept as the baseline it is
    tested and benchmarked against.

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
    test_loss, task1_loss, W_final, sigma, test_traj = _branch_outputs(W0, t_switch, n_continue, log_every, n_sv)

    Ws = W0.copy()
    P = np.empty_like(W0)
    Wb = np.empty_like(W0)
    Pb = np.empty_like(W0)
    GR = np.empty_like(W0)  # layer gradients
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
            _backward_update(Ws, P, W, S1, T1, lr, B, Bn, GR)
            e += 1
        if not trunk_ok:
            return test_loss, task1_loss, W_final, sigma, test_traj  # everything after is NaN
        # branch: copy the trunk state and continue on task 2
        Wb[:, :, :] = Ws
        eb = e
        E = t_switch[b] + n_continue - 1
        while True:
            W = _forward(Wb, Pb)
            if _measure_branch(W, b, eb, stop, E, M_test1, M_test2, log_every, n_sv, task1_loss, test_loss,
                               W_final, sigma, test_traj):
                break
            if not _finite_row(W, eb % N):
                break
            _backward_update(Wb, Pb, W, S2, T2, lr, B, Bn, GR)
            eb += 1
    return test_loss, task1_loss, W_final, sigma, test_traj


# --- sparse-residual kernel ---------------------------------------------------------------------
#
# The loss reads W only at the m observed entries, so G = P_Omega(W - M) / m has m nonzeros.
# With the prefix Q = W_{D-2} ... W_0 (held transposed, QT, so that rows are contiguous) and
# A = W_{D-1}: W_ij = A[i, :] . QT[j, :] is formed only for (i, j) in Omega (m N work instead of
# an N^3 product); grad_{D-1} = G Q^T and B_{D-2} = A^T G are m-term sums of rows (m N each).
# The remaining layers need 3 (D - 2) dense products instead of 3 (D - 1); depth 2 needs none.
# Full W is formed only when it is measured (logging, the switch and the final epoch).

_REDUCE = {"reassoc", "contract", "arcp", "nsz"}  # vectorise the length-N dot products (no nnan/ninf:
#                                                   the divergence probe must still see inf and NaN)


@njit(cache=True, fastmath=_REDUCE)
def _observed_residual(A, QT, rows, cols, vals, inv_m, r):
    """``r_k = W_{i_k j_k} / m - vals_k`` with ``W_ij = A[i, :] . QT[j, :]`` and ``vals = M_Omega / m``
    (the dense kernel's ``S * W - T``); returns the sum of ``r`` (a finiteness probe)."""
    n = A.shape[1]
    zero = vals[0] - vals[0]   # 0 in the arrays' dtype (the targets are finite)
    total = 0.0
    for k in range(rows.shape[0]):
        a = A[rows[k]]
        q = QT[cols[k]]
        acc = zero
        for t in range(n):
            acc += a[t] * q[t]
        r[k] = acc * inv_m - vals[k]
        total += r[k]
    return total


@njit(cache=True)
def _forward_sparse(Ws, P, QT):
    """Prefixes ``P[l] = W_l ... W_0`` (1 <= l <= D - 3) and ``QT = (W_{D-2} ... W_0)^T`` (D >= 2)."""
    D, N, _ = Ws.shape
    if D == 1:
        return
    if D == 2:
        W0 = Ws[0]
        for i in range(N):
            for j in range(N):
                QT[i, j] = W0[j, i]
        return
    for l in range(1, D - 2):
        np.dot(Ws[l], _src(Ws, P, l - 1), P[l])
    np.dot(_src(Ws, P, D - 3).T, Ws[D - 2].T, QT)


@njit(cache=True)
def _end_to_end_sparse(Ws, QT, out):
    """The full end-to-end matrix after :func:`_forward_sparse` (only when it is measured)."""
    D = Ws.shape[0]
    if D == 1:
        out[:, :] = Ws[0]
    else:
        np.dot(Ws[D - 1], QT.T, out)
    return out


@njit(cache=True)
def _update_sparse(Ws, P, QT, rows, cols, vals, inv_m, lr, r, BT, B, Bn, GR):
    """One GD update of every layer from the state of the last :func:`_forward_sparse`.

    Returns False (and leaves the weights) if a residual is not finite.  All gradients are
    formed from the old weights before any layer is updated.
    """
    D, N, _ = Ws.shape
    m = rows.shape[0]
    if D == 1:
        W0 = Ws[0]
        total = 0.0
        for k in range(m):
            r[k] = W0[rows[k], cols[k]] * inv_m - vals[k]
            total += r[k]
        if not np.isfinite(total):
            return False
        for k in range(m):
            W0[rows[k], cols[k]] -= lr * r[k]
        return True
    A = Ws[D - 1]
    if not np.isfinite(_observed_residual(A, QT, rows, cols, vals, inv_m, r)):
        return False
    # BT = (A^T G)^T = G^T A: row j_k gathers r_k A[i_k, :]
    BT[:, :] = 0
    for k in range(m):
        a = A[rows[k]]
        bt = BT[cols[k]]
        rk = r[k]
        for t in range(N):
            bt[t] += rk * a[t]
    B0 = B
    if D >= 3:
        np.dot(BT.T, _src(Ws, P, D - 3).T, GR[D - 2])   # grad_{D-2} = B_{D-2} P_{D-3}^T
        np.dot(Ws[D - 2].T, BT.T, B)                    # B_{D-3} = W_{D-2}^T B_{D-2}
        B0 = _backprop(Ws, P, B, Bn, GR, D - 3)
    # updates: A -= lr G Q^T, one row per observed entry
    for k in range(m):
        a = A[rows[k]]
        q = QT[cols[k]]
        step = lr * r[k]
        for t in range(N):
            a[t] -= step * q[t]
    for l in range(D - 2, 0, -1):
        _descend(Ws[l], GR[l], lr)
    if D == 2:   # grad_0 = B_0 = BT^T
        _descend(Ws[0], BT.T, lr)
    else:
        _descend(Ws[0], B0, lr)
    return True


@njit(cache=True)
def gd_steps_sparse(W0, rows, cols, vals, inv_m, lr, n_steps):
    """``n_steps`` GD steps on one task with the sparse residual; returns the new layers.

    ``vals = M_Omega / m`` and ``inv_m = 1 / m`` in the dtype of ``W0``."""
    D, N, _ = W0.shape
    Ws = W0.copy()
    P = np.empty_like(W0)
    GR = np.empty_like(W0)
    QT = np.empty((N, N), W0.dtype)
    BT = np.empty((N, N), W0.dtype)
    B = np.empty((N, N), W0.dtype)
    Bn = np.empty((N, N), W0.dtype)
    r = np.empty(rows.shape[0], W0.dtype)
    for _ in range(n_steps):
        _forward_sparse(Ws, P, QT)
        if not _update_sparse(Ws, P, QT, rows, cols, vals, inv_m, lr, r, BT, B, Bn, GR):
            break
    return Ws


@njit(cache=True, nogil=True)  # a sweep task runs minutes in here: let a dask worker keep heartbeating
def gd_branches(W0, rows1, cols1, vals1, inv_m1, rows2, cols2, vals2, inv_m2, M_test1, M_test2, lr,
                t_switch, n_continue, log_every, n_sv):
    """Task-1 training once, with a task-2 continuation branched off at every ``T_sw``.

    The same trajectory as :func:`gd_branches_dense` (to round-off), with the residual formed
    only at the observed entries.  A task is given as its observed entries: ``rows``, ``cols``
    (int64, ``m`` entries), ``vals = M_Omega / m`` there and ``inv_m = 1 / m`` (dtype of ``W0``);
    its loss is ``1/(2m) sum_k (W_{rows_k cols_k} - M_k)^2``.  Everything else, and the outputs,
    as in :func:`gd_branches_dense`.
    """
    D, N, _ = W0.shape
    n_br = t_switch.shape[0]
    dt = W0.dtype
    test_loss, task1_loss, W_final, sigma, test_traj = _branch_outputs(W0, t_switch, n_continue, log_every, n_sv)

    Ws = W0.copy()
    P = np.empty_like(W0)
    Wb = np.empty_like(W0)
    GR = np.empty_like(W0)
    QT = np.empty((N, N), dt)
    W = np.empty((N, N), dt)
    BT = np.empty((N, N), dt)
    B = np.empty((N, N), dt)
    Bn = np.empty((N, N), dt)
    r = np.empty(max(rows1.shape[0], rows2.shape[0]), dt)

    e = 0  # epoch of the trunk state held in Ws (= number of task-1 updates applied)
    for b in range(n_br):
        stop = t_switch[b] + 1
        trunk_ok = True
        while e < stop:
            _forward_sparse(Ws, P, QT)
            if log_every > 0 and e % log_every == 0:
                # a trunk epoch e <= T_sw[b] is shared by branch b and every later branch
                _log(_end_to_end_sparse(Ws, QT, W), e // log_every, b, n_br, n_sv, M_test2, sigma,
                     test_traj)
            if not _update_sparse(Ws, P, QT, rows1, cols1, vals1, inv_m1, lr, r, BT, B, Bn, GR):
                trunk_ok = False
                break
            e += 1
        if not trunk_ok:
            return test_loss, task1_loss, W_final, sigma, test_traj  # everything after is NaN
        Wb[:, :, :] = Ws
        eb = e
        E = t_switch[b] + n_continue - 1
        while True:
            _forward_sparse(Wb, P, QT)
            measured = eb == stop or eb == E or (log_every > 0 and eb % log_every == 0)
            if measured:
                _end_to_end_sparse(Wb, QT, W)
            if _measure_branch(W, b, eb, stop, E, M_test1, M_test2, log_every, n_sv, task1_loss, test_loss,
                               W_final, sigma, test_traj):   # reads W only when ``measured``
                break
            if not _update_sparse(Wb, P, QT, rows2, cols2, vals2, inv_m2, lr, r, BT, B, Bn, GR):
                break
            eb += 1
    return test_loss, task1_loss, W_final, sigma, test_traj
