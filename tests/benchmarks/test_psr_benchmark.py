"""PSR kernels vs their NumPy twins: the log-space forward over many candidate models and trajectories, and
one learner run (UMT-PSR on the joint class).

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
    beta = model.upstream_beta(p, table, p.tasks, True)
    return (table.leaf_ll, np.ones(table.psi0.shape[0], bool), table.g_s, table.g_t, table.psi0[ti], table.ops[ti],
            ti, tasks.policies, tasks.vstar, tasks.vtrue, tasks.vopt, True, beta, p.iterations, 0)


GROUP_RUN = "UMT-PSR run: 4 tasks, 31 x 3 candidates, 30 iterations (H = 4)"


def test_run_omle_numba(benchmark):
    args = _learner_args()
    kernels.run_omle(*args)
    benchmark.group = GROUP_RUN
    benchmark(kernels.run_omle, *args)


def test_run_omle_numpy(benchmark):
    args = _learner_args()
    benchmark.group = GROUP_RUN
    benchmark.pedantic(reference.run_omle, args=args, rounds=3, iterations=1)
