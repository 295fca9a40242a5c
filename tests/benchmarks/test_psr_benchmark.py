"""PSR kernels vs their NumPy twins: the log-space forward over many candidate models and trajectories, and
the optimistic learner on the joint class, UMT-PSR (widest TV pair) and its pair search.

Run: ``pytest tests/benchmarks/test_psr_benchmark.py -m bench``; throughput is in each benchmark's ``extra_info``.
"""

import numpy as np

from theorylab.psr import kernels, model, reference

# the paper-scale class: 351 x 3 candidates, every leaf trajectory of horizon 4 (648)
PARAMS = model.FamilyParams()
GROUP_LL = "log-space forward, 1053 models x 648 trajectories (H = 4)"


def _ll_inputs():
    table = PARAMS.table()
    obs, act = kernels.leaf_trajectories(PARAMS.horizon, model.A, model.O)
    return table.psi0, table.ops, obs, act


def _record(benchmark, evaluations):
    benchmark.extra_info["likelihoods_per_second"] = evaluations / benchmark.stats.stats.mean


def test_loglik_table_numba(benchmark):
    args = _ll_inputs()
    kernels.loglik_table(*args)   # compile / warm up
    benchmark.group = GROUP_LL
    benchmark(kernels.loglik_table, *args)
    _record(benchmark, args[0].shape[0] * args[2].shape[0])


def test_loglik_table_numpy(benchmark):
    args = _ll_inputs()
    benchmark.group = GROUP_LL
    benchmark(reference.loglik_table, *args)
    _record(benchmark, args[0].shape[0] * args[2].shape[0])


def _learner_args():
    p = model.UpstreamParams(shared_points=31, tasks=4, iterations=30)
    table = p.table()
    levels, goals = model.task_layout(p.tasks, table.g_t)
    ti = p.shared_index(table) * table.g_t + levels
    tasks = model.task_tables(table, ti, goals, p.switch_cost)
    beta = model.upstream_beta(p, table, p.tasks, "joint")
    return (table.leaf_ll, np.ones(table.psi0.shape[0], bool), table.g_s, table.g_t, table.psi0[ti], table.ops[ti],
            ti, tasks.policies, tasks.vstar, tasks.vtrue, tasks.vopt, True, beta, p.iterations, 0)


GROUP_RUN = "omle-optimistic run: 4 tasks, 31 x 3 candidates, 30 iterations (H = 4)"


def test_run_omle_numba(benchmark):
    args = _learner_args()
    kernels.run_omle(*args)
    benchmark.group = GROUP_RUN
    benchmark(kernels.run_omle, *args)


def test_run_omle_numpy(benchmark):
    args = _learner_args()
    benchmark.group = GROUP_RUN
    benchmark.pedantic(reference.run_omle, args=args, rounds=3, iterations=1)


# --- reward-free exploration (UMT-PSR) ---------------------------------------------------------------

def _umt_args(n_tasks, iterations, shared_points):
    p = model.UpstreamParams(shared_points=shared_points, tasks=n_tasks, iterations=iterations)
    table = p.table()
    levels, goals = model.task_layout(p.tasks, table.g_t)
    ti = p.shared_index(table) * table.g_t + levels
    tasks = model.task_tables(table, ti, goals, p.switch_cost)
    beta = model.upstream_beta(p, table, p.tasks, "joint")
    return (table.leaf_ll, table.leaf_p, model.tv_table(table), np.ones(table.psi0.shape[0], bool), table.g_s,
            table.g_t, table.psi0[ti], table.ops[ti], ti, tasks.err, tasks.vtrue, tasks.vopt, kernels.MODE_JOINT,
            beta, p.iterations, 0)


GROUP_UMT = "UMT-PSR run (widest TV pair): 2 tasks, 11 x 3 candidates, 10 iterations (H = 4)"


def test_run_umt_numba(benchmark):
    args = _umt_args(2, 10, 11)
    kernels.run_umt(*args)
    benchmark.group = GROUP_UMT
    benchmark(kernels.run_umt, *args)


def test_run_umt_numpy(benchmark):
    args = _umt_args(2, 10, 11)
    benchmark.group = GROUP_UMT
    benchmark.pedantic(reference.run_umt, args=args, rounds=2, iterations=1)


GROUP_PAIR = "widest TV pair of the joint set before any data: 4 tasks, 351 x 3 candidates (paper class)"


def _pair_args(n_tasks):
    table = PARAMS.table()
    M = table.psi0.shape[0]
    return np.zeros((n_tasks, M)), model.tv_table(table), np.ones(M, bool), table.g_s, table.g_t, 10.0


def test_tv_pair_joint_numba(benchmark):
    args = _pair_args(4)
    kernels.tv_pair_joint(*args)
    benchmark.group = GROUP_PAIR
    benchmark(kernels.tv_pair_joint, *args)
