"""Multitask contextual bandits with a shared representation (GFUCB).

Paper: Lu, Zhao, Du & Huang, "Provable General Function Class Representation Learning in
Multitask Bandits and MDPs", NeurIPS 2022 (arXiv 2205.15701).

Model.  M contextual bandit tasks are played concurrently for T rounds.  In round t task i
sees K arms with contexts x_{t,i,a} in R^d and, pulling arm a, observes

    r = theta_i . phi*(x_{t,i,a}) + sigma eps,   eps ~ N(0, 1),

with one representation phi* in a class Phi (maps R^d -> R^k) shared by all tasks and a head
theta_i in R^k per task.  Regret of task i: sum_t max_a mu_i(x_{t,i,a}) - mu_i(x_{t,i,a_t}).
GFUCB keeps a confidence set of M-head functions (theta_1 . phi, ..., theta_M . phi) whose
least-squares loss on all tasks' data is near the smallest, and acts optimistically within it;
the representation is learned from all M tasks' data, so its complexity (log covering number
of Phi) is paid once instead of M times.

Here Phi is (a) a finite class of nonlinear maps tanh(W_j x), (b) the low-rank linear class
u^T x, (c) one-hidden-layer maps tanh(w . x) in a ball; GFUCB's confidence set is kept exactly on (a)
and on eps-nets of (b) and (c), with two action rules (joint optimism over the M tasks' arm tuple, our
reading of the paper, and task-wise optimism), beside a shared least-squares UCB baseline.  A digit-classification bandit on
scikit-learn's bundled 8x8 digits compares UCB on a shared MLP representation with per-task MLPs.
Only the paper's abstract, introduction and a quoted summary of its experiment could be read: the
confidence radius and the bound's scaling used here are our reconstruction (see
``paper/sections/bandits.md``).
"""

PAPER = "lu2022gfucb"
