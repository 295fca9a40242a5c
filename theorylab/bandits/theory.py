"""Closed forms of the bandit study: confidence radii, log-covering numbers and regret-bound scalings.

The OFUL bound (Abbasi-Yadkori, Pal & Szepesvari 2011, Thm. 3) is explicit: with probability
1 - delta, a task run by OFUL on its true k-dimensional features (norm <= 1, lam >= 1, means in
[-1, 1], sigma-sub-Gaussian noise, |theta| <= S) has regret at most
``4 sqrt(T k log(lam + T/k)) (sqrt(lam) S + sigma sqrt(2 log(1/delta) + k log(1 + T/(lam k))))``.  The multitask bound of GFUCB is used only through its
scaling in T and M (``sqrt(M T d_E beta_T)`` with ``beta_T`` the log-covering number of the
M-head class); its constants are not recovered here.
"""

from __future__ import annotations

import numpy as np


def log_covering(rep_class: str, n_maps: int, dim: int, rep_dim: int, t: np.ndarray | float) -> np.ndarray:
    """log N(Phi): log N of the class GFUCB enumerates (the finite class or an eps-net of Phi); without
    one (n_maps = 1), (d k) log(1 + t), the log-size of a 1/t-net of a d x k parameterised map."""
    t = np.asarray(t, dtype=float)
    if n_maps > 1:
        return np.full_like(t, np.log(n_maps))
    return dim * rep_dim * np.log1p(t)


def multitask_beta(t, tasks, rep_dim, lam, log_cov, log_inv_delta):
    """beta_T of the M-head class: M k log(1 + T/(lam k)) + 2 (log N(Phi) + log 1/delta) (units of sigma^2)."""
    t = np.asarray(t, dtype=float)
    return tasks * rep_dim * np.log1p(t / (lam * rep_dim)) + 2.0 * (log_cov + log_inv_delta)


def per_task_bound_scaling(t, tasks, rep_dim, lam, log_cov, log_inv_delta):
    """sqrt(T d_E beta_T(M) / M), d_E = k log(1 + T/(lam k)): a reconstructed per-task regret scale.

    d_E = k log T is the eluder dimension of linear heads on a fixed representation, not of
    {theta . phi : phi in Phi} for a general Phi (which can be far larger, up to N for a finite class):
    this is a heuristic scaling, not the paper's bound.

    Regret of all M tasks <= C sqrt(M T d_E beta_T) with d_E ~ k log T (elliptical potential);
    divided by M.  Tasks = 1 gives the single-task (independent) bound per task.
    """
    t = np.asarray(t, dtype=float)
    d_e = rep_dim * np.log1p(t / (lam * rep_dim))
    return np.sqrt(tasks * t * d_e * multitask_beta(t, tasks, rep_dim, lam, log_cov, log_inv_delta)) / tasks


def oful_regret_bound(t, sigma, rep_dim, lam, log_inv_delta, S):
    """Abbasi-Yadkori et al. (2011) Thm. 3 for one task: 4 sqrt(T k log(lam + T/k)) sqrt(beta_T)."""
    t = np.asarray(t, dtype=float)
    k = rep_dim
    rho = np.sqrt(lam) * S + sigma * np.sqrt(2 * log_inv_delta + k * np.log1p(t / (lam * k)))
    return 4.0 * np.sqrt(t * k * np.log(lam + t / k)) * rho


# --- epsilon-nets of the continuous representation classes ------------------------------------------

def grid_points(side: int, lo: float, hi: float) -> np.ndarray:
    """Cell centres of ``side`` equal cells on [lo, hi]."""
    h = (hi - lo) / side
    return lo + h * (np.arange(side) + 0.5)


def net_side(rep_class: str, dim: int, rep_dim: int, eps: float, radius: float) -> int:
    """Cells per axis of the grid whose centres cover Phi at eps (see :func:`epsilon_net`)."""
    if rep_class == "lowrank":
        # faces of [-1, 1]^d, grid spacing h: a face point is within h sqrt(d-1)/2 of a centre
        return int(np.ceil(2.0 * np.sqrt(dim - 1) / (2.0 * eps)))
    p = dim * rep_dim
    return int(np.ceil(2.0 * (radius + eps) * np.sqrt(p) / (2.0 * eps)))


def net_size_bound(rep_class: str, dim: int, rep_dim: int, eps: float, radius: float) -> int:
    """Number of grid points examined when building the net (an upper bound on its size), without building it."""
    side = net_side(rep_class, dim, rep_dim, eps, radius)
    if rep_class == "lowrank":
        return dim * side ** (dim - 1)
    return side ** (dim * rep_dim)


def epsilon_net(rep_class: str, dim: int, rep_dim: int, eps: float, radius: float) -> np.ndarray:
    """A finite eps-cover of Phi as maps W_j of shape (k, d), from a grid (deterministic, no sampling).

    ``lowrank`` (k = 1): Phi = {x -> u . x : |u| = 1}, the function of u and -u being the same up to
    the head's sign.  Metric: sin of the angle, sqrt(1 - (u . v)^2) (the spectral distance of the
    projections u u^T - v v^T).  For a unit u let m be its largest |coordinate| with sign s; s u/|u_m|
    lies on the face {x_m = 1} of [-1, 1]^d, within h sqrt(d - 1)/2 of a grid centre c on that face
    (spacing h), and the angle between two points of the face is at most their distance (the face is
    at distance >= 1 from the origin), so sin(angle(u, c)) <= h sqrt(d - 1)/2 <= eps.  The net holds
    the normalised centres of the d faces {x_m = +1}.

    ``neural``: Phi = {x -> tanh(W x) : ||W||_F <= radius}.  Metric ||W - W'||_F.  Cubic grid of
    spacing h in R^{k d} on [-(radius + eps), radius + eps]: every point of the ball is within
    h sqrt(k d)/2 <= eps of a centre; only centres within radius + eps of the origin are kept.

    In both metrics a distance eps moves the mean reward theta . phi(x) of a head |theta| <= S, |x| = 1
    by at most S eps (heads carried over as B0^T B theta for the low-rank class).
    """
    side = net_side(rep_class, dim, rep_dim, eps, radius)
    if rep_class == "lowrank":
        if rep_dim != 1:
            raise ValueError(f"rep_dim must be 1 for the epsilon-net of the low-rank class (got {rep_dim})")
        g = grid_points(side, -1.0, 1.0)
        face = np.stack(np.meshgrid(*[g] * (dim - 1), indexing="ij"), axis=-1).reshape(-1, dim - 1)
        pts = []
        for m in range(dim):
            pts.append(np.insert(face, m, 1.0, axis=1))
        U = np.concatenate(pts)
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        return np.ascontiguousarray(U[:, None, :])
    p = dim * rep_dim
    g = grid_points(side, -(radius + eps), radius + eps)
    P = np.stack(np.meshgrid(*[g] * p, indexing="ij"), axis=-1).reshape(-1, p)
    P = P[np.linalg.norm(P, axis=1) <= radius + eps]
    return np.ascontiguousarray(P.reshape(-1, rep_dim, dim))


def net_distance(rep_class: str, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Distances (len(A), len(B)) between maps of shape (k, d) in the metric of :func:`epsilon_net`."""
    if rep_class == "lowrank":
        c = np.einsum("akd,bkd->ab", A, B)       # k = 1: cosine of the angle
        return np.sqrt(np.clip(1.0 - c * c, 0.0, None))
    a, b = A.reshape(len(A), -1), B.reshape(len(B), -1)
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * a @ b.T
    return np.sqrt(np.clip(d2, 0.0, None))
