"""Parallel learning in the multitasking Hebbian network.

Paper: E. Agliari, A. Alessandrelli, A. Barra, F. Ricci-Tersenghi, "Parallel learning by
multitasking neural networks", J. Stat. Mech. (2023) 113401, arXiv:2308.04106.  Only the
paper's abstract could be read; the model below is our reconstruction from it and from the
earlier multitasking-network and Hebbian-learning papers of the same group, and every
quantitative statement of the study is derived here and checked by simulation.

Model.  N Ising neurons sigma_i = +-1, K archetypes xi^mu in {-1, 0, +1}^N with
P(xi_i^mu = +-1) = (1 - d)/2, P(xi_i^mu = 0) = d (dilution d), and M examples per archetype
eta^{mu,a} = chi^{mu,a} xi^mu with P(chi_i^{mu,a} = +1) = (1 + r)/2, P(chi = -1) = (1 - r)/2
(quality r; blanks stay blank).  With R = r^2 + (1 - r^2)/M and zero self-coupling:

    supervised    J_ij = 1/(N R M^2) sum_mu (sum_a eta_i^{mu,a}) (sum_b eta_j^{mu,b}),
    unsupervised  J_ij = 1/(N R M)   sum_mu sum_a eta_i^{mu,a} eta_j^{mu,a},

cost function H(sigma) = -(1/2) sum_{i != j} J_ij sigma_i sigma_j.  Dynamics: asynchronous
Glauber (heat bath) at inverse temperature beta, or zero-temperature sign dynamics.  The
Mattis magnetizations m_mu = (1/N) sum_i xi_i^mu sigma_i measure what has been learned.

Modules: :mod:`kernels` (overlap-driven dynamics, never the N x N matrix), :mod:`reference`
(explicit-matrix NumPy twin), :mod:`theory` (low-storage self-consistency, stability, phase
boundaries, hierarchical amplitudes, signal-to-noise thresholds), :mod:`model` (parameters and
the simulator), :mod:`claims`, :mod:`figures`.
"""

PAPER = "agliari2023parallel"
