"""Auxiliary-loss-free load balancing of sparse mixture-of-experts routing.

Practical anchor: Wang, Gao, Zhao, Sun & Dai, "Auxiliary-Loss-Free Load Balancing
Strategy for Mixture-of-Experts" (DeepSeek, arXiv 2408.15664, 2024): route by top-K
of affinity + bias, move each bias by ``u sign(mean load - load)`` after every batch.
Theory: Han & Zhong, "A Theoretical Framework for Auxiliary-Loss-Free Load Balancing
of Sparse Mixture-of-Experts" (arXiv 2512.03915): the update is a one-step primal-dual
method for the token-expert assignment problem.  Only that paper's abstract and
formulation were available, so its theorems are not restated here; the study checks
their provable counterparts (weak duality, sandwich inequality, preference rule,
balance bound, online regret) against exact comparators, and DeepSeek's verified
qualitative results on a synthetic router and on a small trained MoE layer.
"""

PAPER = "han2025theoretical"
