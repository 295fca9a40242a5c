"""Multi-task reinforcement learning over predictive state representations (PSRs).

Paper: Huang, Cheng, Yang, Tan & Liang, "Provable Benefits of Multi-task RL under
Non-Markovian Decision Making Processes" (ICLR 2024, arXiv 2310.13550).  The paper is
theory only.  Its abstract states that (i) the complexity of a joint model class of N
tasks is measured by its eta-bracketing number, (ii) the upstream algorithm UMT-PSR finds
near-optimal policies for all tasks and multi-task learning pays off when the joint class
has a smaller bracketing number than the product of the single-task classes, and (iii) a
downstream learner that exploits the upstream PSRs through a similarity constraint is
sample-efficient and provably finds a near-optimal policy for the target (a comparison
with learning the target from scratch is our reading).  Only the abstract (and the
public reviews) could be read, so the exact theorems are not restated here; what is
simulated is the smallest model family on which those statements can be checked.

Model (everything finite, so that exact enumeration is possible):

* A tabular POMDP with S = 2 latent states, A = 2 actions, O = 3 observations, horizon H:
  ``s_1 ~ mu``; ``o_h ~ E[:, s_h]``; action ``a_h`` from a history-dependent policy;
  reward ``R(o_h, a_h)`` (known to the learner); ``s_{h+1} ~ T[a_h][:, s_h]``.
  Action 0 keeps the state and action 1 flips it, each succeeding with probability p;
  state s emits observation s with probability alpha and each other observation with
  probability (1 - alpha) / 2.
* Its PSR (observable-operator) form with the one-step core tests {o}: the predictive
  state is ``psi_h = E b_h`` (the law of the next observation), the operators are
  ``M[a, o] = E T[a] diag(E[o, :]) E^+`` (rank S), and
  ``P(o_1..o_H | do a_1..a_{H-1}) = e_{o_H}^T M[a_{H-1}, o_{H-1}] ... M[a_1, o_1] psi_1``.
  Likelihoods are evaluated by the log-space forward recursion on ``psi``.
* A single-task class is a table of candidate models ``theta[s, t]``: a shared parameter on
  a fine grid (s in [g_s]) and a task-specific parameter from a short list (t in [g_t]).
  Two multi-task families: ``transition`` (a common transition kernel p_s, task-specific
  emissions alpha_t) and ``emission`` (common core-test emission matrix alpha_s,
  task-specific transitions p_t).  The joint class of N tasks is
  ``{(theta[s, t_1], ..., theta[s, t_N])}``: log-size ``log g_s + N log g_t`` against
  ``N log(g_s g_t)`` for the product of single-task classes.
* UMT-PSR (our tractable reading): optimistic maximum likelihood over the joint class.
  The confidence set keeps every tuple whose summed log-likelihood is within
  ``beta = log(|class| / delta)`` of the maximum; the optimistic tuple maximises the sum
  of the tasks' optimal values over that set (exact enumeration); every task then runs H
  episodes: its optimistic policy, and the same with a uniform action at step h for each
  h = 1..H-1 (the last action enters no likelihood, so step H is not explored).
  Single-task OMLE runs the same loop on each task's own class.  The downstream learner
  runs OMLE on a target task over the class restricted by the similarity constraint
  (shared parameter in the upstream confidence set), against OMLE from scratch.
"""
