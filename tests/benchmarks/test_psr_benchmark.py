"""PSR kernels vs their NumPy twins: the log-space forward over many candidate models and trajectories, and
the optimistic learner on the joint class, UMT-PSR (widest TV pair) and its pair searches, and the machine's
memory bandwidth (the log-likelihood accumulation of the learner loops is bound by it).

Run: ``pytest tests/benchmarks/test_psr_benchmark.py -m bench --benchmark-timer time.process_time``;
throughput is in each benchmark's ``extra_info``.  Everything runs with one Numba and one BLAS thread, as
every sweep task does.
"""

import numpy as np

from theorylab.core.sweep import single_threaded
from theorylab.psr import kernels, model, reference

# the paper-scale class: 351 x 3 candidates, every leaf trajectory of horizon 4 (648)
PARAMS = model.FamilyParams()
GROUP_LL = "log-space forward, 1053 models x 648 trajectories (H = 4)"


def _ll_inputs():
    table = PARAMS.table()
    obs, act = kernels.leaf_trajectories(PARAMS.horizon, model.A, model.O)
    return table.psi0, table.ops, obs, act


def _time_numba(benchmark, group, kernel, *args):
    """Compile ``kernel`` on ``args``, then time it with one BLAS thread (as a sweep task runs)."""
    kernel(*args)
    benchmark.group = group
    with single_threaded():
        benchmark(kernel, *args)


def _time_twin(benchmark, group, rounds, twin, *args):
    """Time a NumPy twin over a few rounds (it is slow)."""
    benchmark.group = group
    benchmark.pedantic(twin, args=args, rounds=rounds, iterations=1)


def _record(benchmark, evaluations):
    benchmark.extra_info["likelihoods_per_second"] = evaluations / benchmark.stats.stats.mean


def test_loglik_table_numba(benchmark):
    args = _ll_inputs()
    _time_numba(benchmark, GROUP_LL, kernels.loglik_table, *args)
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
    _time_numba(benchmark, GROUP_RUN, kernels.run_omle, *_learner_args())


def test_run_omle_numpy(benchmark):
    _time_twin(benchmark, GROUP_RUN, 3, reference.run_omle, *_learner_args())


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
    _time_numba(benchmark, GROUP_UMT, kernels.run_umt, *_umt_args(2, 10, 11))


def test_run_umt_numpy(benchmark):
    _time_twin(benchmark, GROUP_UMT, 2, reference.run_umt, *_umt_args(2, 10, 11))


GROUP_PAIR = "widest TV pair of the joint set before any data: 4 tasks, 351 x 3 candidates (paper class)"


def _pair_args(n_tasks):
    table = PARAMS.table()
    M = table.psi0.shape[0]
    return np.zeros((n_tasks, M)), model.tv_table(table), np.ones(M, bool), table.g_s, table.g_t, 10.0


def test_tv_pair_joint_numba(benchmark):
    _time_numba(benchmark, GROUP_PAIR, kernels.tv_pair_joint, *_pair_args(4))


def _state_after(n_tasks, iterations, shared_points, mode=kernels.MODE_JOINT):
    """The log-likelihood table after ``iterations`` UMT-PSR iterations (the pair search's input then)."""
    args = list(_umt_args(n_tasks, iterations, shared_points))
    args[12] = mode
    return kernels.run_umt(*args)[-1], args


GROUP_PAIR_HARD = "widest TV pair of the joint set after 4 iterations: 8 tasks, 351 x 3 candidates (hardest state)"


def test_tv_pair_joint_hard_state_numba(benchmark):
    """At iterations 3-5 of the paper's 8-task runs every level is still plausible but the widest combination
    is not: the search's costliest calls.  (The NumPy twin enumerates all pairs of 351 x 3^8 tuples: not run.)"""
    ll, args = _state_after(8, 4, 351)
    tv, g_s, g_t, beta = args[2], args[4], args[5], args[13]
    allowed = np.ones(tv.shape[0], bool)
    pair_max = kernels.pair_max_table(tv, allowed, g_s, g_t)
    _time_numba(benchmark, GROUP_PAIR_HARD, kernels._tv_pair_joint, ll, tv, pair_max, allowed, g_s, g_t, beta)


GROUP_PAIR_SMALL = "widest TV pair of the joint set after 4 iterations: 2 tasks, 11 x 3 candidates"


def _small_pair_args():
    ll, args = _state_after(2, 4, 11)
    return ll, args[2], np.ones(args[2].shape[0], bool), args[4], args[5], args[13]


def test_tv_pair_joint_small_numba(benchmark):
    _time_numba(benchmark, GROUP_PAIR_SMALL, kernels.tv_pair_joint, *_small_pair_args())


def test_tv_pair_joint_small_numpy(benchmark):
    _time_twin(benchmark, GROUP_PAIR_SMALL, 3, reference.tv_pair_joint, *_small_pair_args())


GROUP_SINGLE = "widest TV pair of one task's set before any data: 351 x 3 candidates (the whole class)"


def _single_args():
    table = PARAMS.table()
    M = table.psi0.shape[0]
    return np.zeros(M), model.tv_table(table), np.ones(M, bool), 10.0


def test_tv_pair_single_numba(benchmark):
    ll, tv, allowed, beta = _single_args()
    rmax, rarg = kernels.row_max_table(tv, allowed)
    _time_numba(benchmark, GROUP_SINGLE, kernels._tv_pair_single, ll, tv, rmax, rarg, allowed, beta)


def test_tv_pair_single_numpy(benchmark):
    _time_twin(benchmark, GROUP_SINGLE, 1, reference.tv_pair_single, *_single_args())


# --- memory bandwidth: the likelihood accumulation --------------------------------------------------

GROUP_BW = "log-likelihood accumulation vs memory bandwidth (one thread)"
ACC_ITER = 2000


def _acc_args():
    """One task, optimistic MLE over the paper class for 2000 iterations: per iteration H episodes, each adding
    a leaf's row of 1053 log-likelihoods to the table (read row, read and write table: 24 bytes per model)."""
    p = model.UpstreamParams(tasks=1, iterations=ACC_ITER)
    table = p.table()
    ti = np.array([p.shared_index(table) * table.g_t])
    tasks = model.task_tables(table, ti, np.array([0]), p.switch_cost)
    beta = model.upstream_beta(p, table, 1, "single")
    return (table.leaf_ll, np.ones(table.psi0.shape[0], bool), table.g_s, table.g_t, table.psi0[ti], table.ops[ti],
            ti, tasks.policies, tasks.vstar, tasks.vtrue, tasks.vopt, False, beta, ACC_ITER, 0)


def test_learner_loop_bytes_per_second(benchmark):
    args = _acc_args()
    _time_numba(benchmark, GROUP_BW, kernels.run_omle, *args)
    M, H = args[0].shape[0], PARAMS.horizon
    # accumulation (24 B per model and episode) and the confidence set's two passes over the table (16 B)
    moved = ACC_ITER * (H * M * 24 + M * 16)
    benchmark.extra_info["GB/s"] = moved / benchmark.stats.stats.mean / 1e9


def test_memory_bandwidth(benchmark):
    """c = a + b on 3 x 64 MB arrays: the machine's streaming limit for one thread."""
    a, b = np.ones(1 << 23), np.ones(1 << 23)
    c = np.empty_like(a)
    benchmark.group = GROUP_BW
    with single_threaded():
        benchmark(np.add, a, b, out=c)
    benchmark.extra_info["GB/s"] = 3 * a.nbytes / benchmark.stats.stats.mean / 1e9
