"""Multitask episodic linear MDPs with a shared feature map (optimistic least-squares value iteration).

Paper: Lu, Zhao, Du & Huang, "Provable General Function Class Representation Learning in
Multitask Bandits and MDP", NeurIPS 2022 (arXiv 2205.15701), its second algorithm (a multitask
linear-MDP algorithm under low inherent Bellman error).  Only the abstract, the list of algorithms
and summaries of the paper could be read, not the algorithm's text: the learner simulated here is
our reconstruction and carries a descriptive name, and every claim is ``derived`` or
``reconstructed`` (see ``paper/sections/linmdp.md``).

Model.  M episodic MDPs (S states, A actions, horizon H, time-homogeneous, Bernoulli rewards) are
played concurrently for K episodes.  Every task is linear in one feature map phi*(s, a) in the
simplex of R^k from a finite class Phi of N maps:

    P_i(. | s, a) = phi*(s, a)^T mu_i,   r_i(s, a) = phi*(s, a) . theta_i,

so the Bellman backup of any value function is linear in phi* (zero inherent Bellman error; a
mixing weight eps with an arbitrary tabular MDP gives error <= eps H / 2).  The multitask learner
keeps the maps whose least-squares test loss, summed over all M tasks, is near the smallest,
runs optimistic LSVI on each kept map and plays the map with the largest summed optimistic value;
the baselines are the same rule per task, LSVI-UCB with the known phi* and LSVI-UCB on one-hot
(s, a) features.  Each episode's policy is evaluated exactly by dynamic programming.
"""

PAPER = "lu2022gfucb"
