"""Linear-MDP kernels vs their NumPy twins: episodes per second (all M tasks played) in ``extra_info``.

Run: ``pytest tests/benchmarks/test_linmdp_benchmark.py -m bench``.  Sizes: the study's MDPs (S = 6, A = 3,
H = 5, k = 2), M = 4 tasks, a class of N = 32 maps, and the default representation threshold, under which
every map stays in the set for the first episodes (the costly phase: optimistic LSVI on every map).
"""

import numpy as np
import pytest

from tests.benchmarks.harness import time_kernel
from theorylab.linmdp import kernels, model, reference

M, N = 4, 32


def _args(episodes, algorithm="shared"):
    p = model.LinMDPParams(tasks=M, candidates=N, states=6, actions=3, horizon=5, rep_dim=2, episodes=episodes)
    env = model.make_environment(p, 0)
    feats, true_index = model.learner_features(env, algorithm)
    cum = lambda x: np.cumsum(x, axis=-1)  # noqa: E731
    return (0, episodes, p.horizon, env.P, cum(env.P), env.R, env.rho, cum(env.rho), np.ascontiguousarray(feats),
            true_index, algorithm == "shared", p.lam, p.bonus_scale, p.rep_scale, float(np.log(M / p.delta)),
            np.array([episodes]))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_shared_lsvi_episodes(benchmark, impl):
    """Multitask optimistic LSVI over a class of 32 maps: 200 episodes (kernel), 10 (NumPy twin)."""
    K = 200 if impl == "numba" else 10
    fn = kernels.run_lsvi if impl == "numba" else reference.run_lsvi
    time_kernel(benchmark, fn, _args(K), unit="episodes_per_second", count=K,
                group=f"shared-representation LSVI, M={M} N={N} S=6 A=3 H=5 k=2",
                compile_with=(kernels.run_lsvi, _args(3)))


@pytest.mark.parametrize("impl", ["numba", "numpy"])
def test_tabular_lsvi_ucb_episodes(benchmark, impl):
    """LSVI-UCB on one-hot features (d = 18): 2000 episodes (kernel), 100 (NumPy twin)."""
    K = 2000 if impl == "numba" else 100
    fn = kernels.run_lsvi if impl == "numba" else reference.run_lsvi
    time_kernel(benchmark, fn, _args(K, "tabular"), unit="episodes_per_second", count=K,
                group=f"LSVI-UCB one-hot features, M={M} S=6 A=3 H=5 d=18",
                compile_with=(kernels.run_lsvi, _args(3, "tabular")))
