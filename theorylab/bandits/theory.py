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


def log_covering(rep_class: str, candidates: int, dim: int, rep_dim: int, t: np.ndarray | float) -> np.ndarray:
    """log N(Phi, 1/t): log N for a finite class, (d k) log(1 + t) for a d x k parameterised map."""
    t = np.asarray(t, dtype=float)
    if rep_class == "finite":
        return np.full_like(t, np.log(candidates))
    return dim * rep_dim * np.log1p(t)


def multitask_beta(t, tasks, rep_dim, lam, log_cov, log_inv_delta):
    """beta_T of the M-head class: M k log(1 + T/(lam k)) + 2 (log N(Phi) + log 1/delta) (units of sigma^2)."""
    t = np.asarray(t, dtype=float)
    return tasks * rep_dim * np.log1p(t / (lam * rep_dim)) + 2.0 * (log_cov + log_inv_delta)


def per_task_bound_scaling(t, tasks, rep_dim, lam, log_cov, log_inv_delta):
    """sqrt(T d_E beta_T(M) / M), d_E = k log(1 + T/(lam k)): the per-task regret scale of the M-head bound.

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
