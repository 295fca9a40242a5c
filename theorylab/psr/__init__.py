"""Multi-task reinforcement learning over predictive state representations (PSRs).

Paper: Huang, Cheng, Yang, Tan & Liang, "Provable Benefits of Multi-task RL under
Non-Markovian Decision Making Processes" (ICLR 2024, arXiv 2310.13550).  The paper is
theory only.  Its abstract states that (i) the complexity of a joint model class of N
tasks is measured by its eta-bracketing number, (ii) the upstream algorithm UMT-PSR finds
near-optimal policies for all tasks and multi-task learning pays off when the joint class
has a smaller bracketing number than the product of the single-task classes, and (iii) a
downstream learner that exploits the upstream PSRs through a similarity constraint finds a
near-optimal policy for the target, and "Upon specialization to the examples used to
elucidate the eta-bracketing numbers, our downstream results further highlight the benefit
compared to directly learning the target PSR without upstream information."  These are
statements about upper bounds; the body of the paper could not be read, so the theorems are
not restated here.  What is simulated is the smallest model family on which the statements
can be checked.

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
  The paper's three examples of joint classes, in finite form: a common transition kernel
  (p_s shared, emissions alpha_t per task), a common core-test emission matrix (alpha_s
  shared, transitions p_t per task), and core tasks (every task's model is one of m core
  models of the single-task class).  The joint class of N tasks with a shared parameter is
  ``{(theta[s, t_1], ..., theta[s, t_N])}``: log-size ``log g_s + N log g_t`` against
  ``N log(g_s g_t)`` for the product of single-task classes.
* UMT-PSR: the confidence set keeps every tuple of the joint class whose summed
  log-likelihood is within ``beta = log(|class| / delta)`` of the maximum; each iteration the
  pair of tuples in the set and the per-task policies that maximise the summed total-variation
  distance sum_n TV(P^pi_n_theta_n, P^pi_n_theta'_n) are found exactly (all pairs, the max over
  deterministic history-dependent policies by dynamic programming on the history tree); every
  task runs H episodes: that policy, and the same with a uniform action at step h for each
  h = 1..H-1 (the last action enters no likelihood).  The output is the optimal policy of each
  task's maximum-likelihood model.  The single-task learner runs the same rule on each task's
  own class; with N identical tasks the joint class is {(theta, ..., theta)}.
  ``omle-optimistic`` is a baseline that plans by optimism instead (the tuple of the set with
  the largest summed optimal value).  The downstream learner runs optimistic MLE on a target
  over the class restricted by the similarity constraint (shared parameter in the final
  upstream confidence set), against the same from scratch.
"""

PAPER = "huang2024psr"
