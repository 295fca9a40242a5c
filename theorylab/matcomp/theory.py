"""Ground truths of deep matrix completion: the depth-1 closed form, the Arora end-to-end flow, nuclear-norm completion.

* :func:`depth1_test_loss` -- depth 1 is history-free.  The GD update
  ``W <- W - lr (1_Omega * (W - M)) / m`` touches only observed entries, each of which
  relaxes geometrically, ``W_ij - M_ij <- (1 - lr/m) (W_ij - M_ij)``; unobserved entries
  keep their initial values forever.  With the package's step indexing (``T_sw + 1``
  task-1 updates, then ``n_continue - 2`` task-2 updates; see :mod:`theorylab.matcomp.kernels`) this gives
  the final matrix, hence the test loss, in closed form.  As ``n_continue`` grows the
  observed entries fit ``M2`` exactly and the loss tends to
  ``(1/N^2) sum_{(i,j) not in Omega} (M2_ij - W0_ij)^2``, the same for every ``T_sw``.
* :func:`end_to_end_flow` -- Arora, Cohen & Hazan (2018) / Arora et al. (2019): for
  balanced layers (``W_{l+1}^T W_{l+1} = W_l W_l^T``), gradient flow on the layers moves the
  end-to-end matrix ``W = W_D ... W_1`` by
  ``dW/dt = -sum_{j=1..D} (W W^T)^{(j-1)/D} grad l(W) (W^T W)^{(D-j)/D}``.
  GD with step ``lr`` matches it at ``t = lr * epoch`` up to ``O(lr)``.
* :func:`end_to_end_euler_branches` -- the same flow stepped by forward Euler with the GD
  step (large ``N``, where an adaptive solver is too slow).
* :func:`nuclear_norm_completion` -- the convex baseline ``min ||X||_*`` subject to
  ``X_Omega = M_Omega`` (SCS).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp


def depth1_final_matrix(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray,
                        mask2: np.ndarray, lr: float, t_switch: int, n_continue: int) -> np.ndarray:
    """End-to-end matrix of a depth-1 network after the task-1 -> task-2 schedule (exact)."""
    W0, M1, M2 = (np.asarray(a, dtype=np.float64) for a in (W0, M1, M2))
    m1, m2 = float(mask1.sum()), float(mask2.sum())
    k1, k2 = t_switch + 1, n_continue - 2
    q1, q2 = (1.0 - lr / m1) ** k1, (1.0 - lr / m2) ** k2
    W_switch = np.where(mask1 > 0, M1 + q1 * (W0 - M1), W0)
    return np.where(mask2 > 0, M2 + q2 * (W_switch - M2), W_switch)


def depth1_test_loss(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray,
                     mask2: np.ndarray, lr: float, t_switch, n_continue: int) -> np.ndarray:
    """Closed-form test loss ``mean (M2 - W_final)^2`` of depth-1 GD, for each ``T_sw``."""
    t_switch = np.atleast_1d(np.asarray(t_switch, dtype=np.int64))
    M2_64 = np.asarray(M2, dtype=np.float64)
    return np.array([np.mean((M2_64 - depth1_final_matrix(W0, M1, mask1, M2, mask2, lr, int(t),
                                                          n_continue)) ** 2)
                     for t in t_switch])


def unobserved_energy(M: np.ndarray, mask: np.ndarray) -> float:
    """``(1/N^2) sum_{(i,j) not in Omega} M_ij^2``: the depth-1 loss limit for a zero init."""
    M = np.asarray(M, dtype=np.float64)
    return float(np.sum(np.where(mask > 0, 0.0, M ** 2)) / M.size)


# --- Arora end-to-end flow ----------------------------------------------------------------------

def psd_power(A: np.ndarray, p: float) -> np.ndarray:
    """``A^p`` of a symmetric PSD matrix by ``eigh``; round-off negatives are clipped to 0."""
    if p == 0.0:
        return np.eye(A.shape[0])
    lam, Q = np.linalg.eigh(0.5 * (A + A.T))
    lam = np.clip(lam, 0.0, None)
    return (Q * lam ** p) @ Q.T


def end_to_end_velocity(W: np.ndarray, grad: np.ndarray, depth: int) -> np.ndarray:
    """``-sum_j (W W^T)^{(j-1)/D} grad (W^T W)^{(D-j)/D}`` (Arora et al. 2018, Thm 1)."""
    left_gram, right_gram = W @ W.T, W.T @ W
    out = np.zeros_like(W)
    for j in range(1, depth + 1):
        out -= psd_power(left_gram, (j - 1) / depth) @ grad @ psd_power(right_gram, (depth - j) / depth)
    return out


def end_to_end_flow(W0: np.ndarray, phases: list[tuple[np.ndarray, np.ndarray, float]], depth: int,
                    t_eval: np.ndarray, *, rtol: float = 1e-8, atol: float = 1e-10,
                    method: str = "DOP853") -> np.ndarray:
    """Integrate the end-to-end flow through consecutive tasks.

    ``phases`` is a list of ``(M, mask, t_end)``: the loss ``1/(2m) sum_Omega (W - M)^2`` is
    used on ``(t_prev, t_end]``.  Returns ``W(t)`` for every ``t`` in ``t_eval``
    (shape ``(len(t_eval), N, N)``), with ``t_eval`` within ``[0, last t_end]``.
    """
    W0 = np.asarray(W0, dtype=np.float64)
    N = W0.shape[0]
    t_eval = np.asarray(t_eval, dtype=np.float64)
    out = np.full((t_eval.size, N, N), np.nan)
    t0, y0 = 0.0, W0.ravel().copy()
    for M, mask, t_end in phases:
        if not t_end > t0:
            raise ValueError(f"phases must end at increasing times > 0 (got t_end = {t_end} after {t0})")
        M = np.asarray(M, dtype=np.float64)
        S = np.asarray(mask, dtype=np.float64) / float(np.sum(mask))

        def rhs(_t, y, M=M, S=S):
            W = y.reshape(N, N)
            return end_to_end_velocity(W, S * (W - M), depth).ravel()

        pick = (t_eval >= t0) & (t_eval <= t_end)
        times = np.union1d(t_eval[pick], [t_end])  # always end on t_end: the next phase starts there
        sol = solve_ivp(rhs, (t0, t_end), y0, method=method, rtol=rtol, atol=atol, t_eval=times)
        if not sol.success:
            raise RuntimeError(f"end-to-end flow integration failed: {sol.message}")
        states = sol.y.T.reshape(-1, N, N)
        out[pick] = states[np.searchsorted(times, t_eval[pick])]
        t0, y0 = t_end, sol.y[:, -1]
    return out


def end_to_end_velocity_svd(W: np.ndarray, grad: np.ndarray, depth: int) -> np.ndarray:
    """:func:`end_to_end_velocity` through one SVD ``W = U diag(s) V^T``:
    ``-U [(U^T grad V) * F] V^T`` with ``F_ab = sum_j s_a^(2(j-1)/D) s_b^(2(D-j)/D)``."""
    U, s, Vt = np.linalg.svd(W)
    F = np.zeros((s.size, s.size))
    for j in range(1, depth + 1):
        F += np.outer(s ** (2.0 * (j - 1) / depth), s ** (2.0 * (depth - j) / depth))
    return -U @ ((U.T @ grad @ Vt.T) * F) @ Vt


def end_to_end_euler_branches(W0: np.ndarray, M1: np.ndarray, mask1: np.ndarray, M2: np.ndarray,
                              mask2: np.ndarray, depth: int, lr: float, t_switch, n_continue: int,
                              log_every: int, n_sv: int) -> tuple[np.ndarray, np.ndarray]:
    """The end-to-end flow stepped by forward Euler with the GD step ``lr``, on GD's schedule.

    ``W <- W + lr v(W)`` with the velocity of :func:`end_to_end_velocity_svd`: task 1 for
    ``T_sw + 1`` steps, then task 2, recorded at epochs ``k * log_every`` up to
    ``T_sw + n_continue - 1`` (the GD kernels' indexing), with one shared task-1 run for all
    ``T_sw``.  This is how the authors' appendix compares the analytic dynamics with GD at
    ``N = 100``, where an adaptive solver would need tens of thousands of SVDs per unit of time.
    Returns ``(sigma, test_traj)`` shaped like the GD kernels' (NaN past a branch's end).
    """
    t_switch = [int(t) for t in t_switch]
    S1 = np.asarray(mask1, float) / float(np.sum(mask1))
    S2 = np.asarray(mask2, float) / float(np.sum(mask2))
    E_max = t_switch[-1] + n_continue - 1
    n_log = E_max // log_every + 1
    sigma = np.full((len(t_switch), n_log, n_sv), np.nan)
    traj = np.full((len(t_switch), n_log), np.nan)

    def record(W, e, branches):
        if e % log_every == 0:
            sigma[branches, e // log_every] = np.linalg.svd(W, compute_uv=False)[:n_sv]
            traj[branches, e // log_every] = np.mean((M2 - W) ** 2)

    W, e = np.array(W0, dtype=np.float64), 0
    for b, ts in enumerate(t_switch):
        while e <= ts:
            record(W, e, slice(b, None))
            W = W + lr * end_to_end_velocity_svd(W, S1 * (W - M1), depth)
            e += 1
        Wb, eb = W.copy(), e
        while True:
            record(Wb, eb, [b])
            if eb == ts + n_continue - 1:
                break
            Wb = Wb + lr * end_to_end_velocity_svd(Wb, S2 * (Wb - M2), depth)
            eb += 1
    return sigma, traj


# --- nuclear-norm completion --------------------------------------------------------------------

def nuclear_norm_completion(values: np.ndarray, rows: np.ndarray, cols: np.ndarray, N: int, *,
                            eps: float = 1e-6, max_iters: int = 50_000) -> tuple[np.ndarray, dict]:
    """``argmin ||X||_*`` subject to ``X[rows, cols] = values``, solved with SCS.

    SCS (first-order, sparse) solves N = 100, m = 2000 in ~2 s; the interior-point
    CLARABEL needs ~20 GB of memory at that size, so it is not used.  Returns ``X`` and a
    dict with the solver status and the largest constraint violation.  Raises
    ``RuntimeError`` if the solver does not report an optimal solution.
    """
    import cvxpy as cp

    X = cp.Variable((N, N))
    problem = cp.Problem(cp.Minimize(cp.normNuc(X)), [X[rows, cols] == values])
    try:
        problem.solve(solver=cp.SCS, eps=eps, max_iters=max_iters)
    except cp.error.SolverError as err:
        raise RuntimeError(f"nuclear-norm completion failed: {err}") from err
    if problem.status != cp.OPTIMAL or X.value is None:
        raise RuntimeError(f"nuclear-norm completion did not converge (status {problem.status!r})")
    Xv = np.asarray(X.value)
    info = {"status": problem.status, "objective": float(problem.value),
            "max_violation": float(np.max(np.abs(Xv[rows, cols] - values)))}
    return Xv, info
