"""Auxiliary-loss-free load balancing (ALF-LB) of MoE routing: parameters and simulators.

ALF-LB (Wang et al. 2024, DeepSeek) routes every token to the top-K experts of its
affinities plus a per-expert bias and, after each batch, moves each bias by
``u sign(L - A_k)`` (L = K T / E the balanced load, A_k the load).  That is one
subgradient step on the dual of the assignment problem (the primal-dual reading of
Han & Zhong 2025); :mod:`theory` holds the exact comparators.

* :func:`simulate_fixed`: the deterministic setting, one fixed batch, with the LP
  optimum, the optimal dual prices and every per-iteration diagnostic (sandwich,
  preference rule, balance bound).
* :func:`simulate_topk`: tiny instances; top-K routing against brute-force maximisation
  of the Lagrangian.
* :func:`simulate_regret`: the online Gumbel K = 1 testbed, regret against the
  closed-form expected dual for several step schedules.
* :func:`simulate_router`: every routing method on one drifting synthetic sigmoid router
  (the DeepSeek comparisons), batch by batch on identical data.
* :func:`simulate_trained`: a small MoE layer trained by SGD on a clustered regression
  task with no balancing, loss-free balancing and an auxiliary loss (held-out loss and
  MaxVio, the DeepSeek headline on a task we train).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
import xarray as xr

from theorylab.core.params import Params, param
from theorylab.core.provenance import stamp
from theorylab.moe import kernels, theory

STUDY = "moe"
RULES = {"sign": (kernels.RULE_SIGN, False), "sign_centered": (kernels.RULE_SIGN, True),
         "prop": (kernels.RULE_PROP, False), "grad": (kernels.RULE_GRAD, False),
         "mult": (kernels.RULE_MULT, False)}
RULE_FORMULA = {"sign": "p_k += u sign(L - A_k)",
                "sign_centered": "p_k += u sign(L - A_k) - mean_j u sign(L - A_j)",
                "prop": "p_k += u (L - A_k) / L",
                "grad": "p_k += eta (L - A_k)",
                "mult": "b_k += u sign(L - A_k), selection by top-K of gamma_ik b_k, b_0 = 1"}
SCHEDULES = {"const": kernels.SCHED_CONST, "harmonic": kernels.SCHED_HARMONIC, "theory": kernels.SCHED_THEORY}
NOISES = {"gumbel": kernels.NOISE_GUMBEL, "gauss": kernels.NOISE_GAUSS}
STATUS = ["over", "balanced", "under"]
PREF_ATOL = 1e-12   # float64 rounding of bias increments of O(1) size
BOUND_ATOL = 1e-12  # float64 rounding of gamma + p when comparing gaps with 2 delta
ITER_ATTRS = {"units": "iteration (batch)", "long_name": "training iteration n"}
EXPERT_ATTRS = {"units": "1", "long_name": "expert index k"}


def _check_sizes(tokens: int, experts: int, top_k: int) -> None:
    if top_k >= experts:
        raise ValueError(f"top_k must be < experts (got {top_k} >= {experts})")
    if (tokens * top_k) % experts:
        raise ValueError(f"tokens must make tokens * top_k divisible by experts, so that L = KT/E is an "
                         f"integer (got tokens {tokens}, top_k {top_k}, experts {experts})")


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.setflags(write=False)


# --- deterministic setting: one fixed batch ---------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FixedParams(Params):
    tokens: int = param(1024, "tokens T in the fixed batch", ge=2, le=16384)
    experts: int = param(16, "routed experts E", ge=2, le=128)
    top_k: int = param(2, "experts per token K", ge=1, le=16)
    noise: str = param("gauss", "law of the exchangeable score noise", choices=tuple(NOISES))
    noise_scale: float = param(0.1, "noise scale sigma (score units)", gt=0, le=10, unit="score")
    offset_scale: float = param(0.05, "std of the expert offsets c_k (score units)", ge=0, le=10, unit="score")
    rule: str = param("sign", "bias update rule", choices=("sign", "sign_centered", "prop", "grad"))
    schedule: str = param("const", "step schedule: const (step) or harmonic (step / (n + n0))",
                          choices=("const", "harmonic"))
    step: float = param(1e-3, "update rate u (sign, prop) or eta (grad, per token of violation)", gt=0, le=10)
    n0: float = param(0.0, "offset of the harmonic schedule", ge=0, le=1e6)
    n_iter: int = param(3000, "bias updates", ge=1, le=200_000)

    def check(self) -> None:
        _check_sizes(self.tokens, self.experts, self.top_k)
        if self.tokens * self.experts > 2_000_000:
            raise ValueError(f"tokens must keep the LP at <= 2e6 variables (got {self.tokens} x {self.experts})")
        if (self.n_iter + 1) * self.experts > 20_000_000:
            raise ValueError(f"n_iter must keep the bias record <= 2e7 values (got {self.n_iter})")


@functools.lru_cache(maxsize=8)
def _fixed_problem(tokens: int, experts: int, top_k: int, noise: str, noise_scale: float,
                   offset_scale: float, seed: int):
    """The batch, its LP optimum and its optimal-dual set (shared by every rule and step of a sweep)."""
    scores, offsets = kernels.fixed_batch(seed, tokens, experts, offset_scale, noise_scale, NOISES[noise])
    lp = theory.assignment_lp(scores, top_k)
    W = theory.price_constraints(scores, lp.sel)
    lo, hi = theory.price_ranges(W, ref=0)
    gaps = np.sort(theory.token_gaps(scores, lp.sel, lp.prices))
    free = theory.sum_top_k(scores, top_k).sum()
    _readonly(scores, offsets, W, lo, hi, gaps, lp.x, lp.sel, lp.prices)
    return scores, offsets, lp, W, lo, hi, gaps, float(free)


def simulate_fixed(params: FixedParams, seed: int) -> xr.Dataset:
    """ALF-LB on one fixed batch, with the LP optimum, the optimal duals and the per-iteration theory checks."""
    p = params
    scores, offsets, lp, W, lo, hi, gaps, free = _fixed_problem(
        p.tokens, p.experts, p.top_k, p.noise, p.noise_scale, p.offset_scale, seed)
    L = theory.target_load(p.tokens, p.experts, p.top_k)
    rule, centre = RULES[p.rule]
    run = kernels.run_fixed(scores, p.top_k, p.n_iter, rule, SCHEDULES[p.schedule], p.step, p.n0, 1.0, centre,
                            np.zeros(p.experts), lp.prices, gaps, BOUND_ATOL)
    loads, dual = run.loads, run.dual
    imbalance = np.abs(loads - L).max(axis=1)
    n = np.arange(p.n_iter + 1)
    ds = xr.Dataset(
        {
            "bias": (("iter", "expert"), run.bias, {"long_name": "bias p_k^n", "units": "score"}),
            "loads": (("iter", "expert"), loads.astype(np.int32), {"long_name": "load A_k^n", "units": "tokens"}),
            "dual_value": (("iter",), dual, {"long_name": "dual function D(p^n)", "units": "score"}),
            "dual_gap": (("iter",), dual - lp.value, {"long_name": "D(p^n) - OPT", "units": "score"}),
            "affinity": (("iter",), run.affinity, {"long_name": "routed affinity sum gamma x(p^n)", "units": "score"}),
            "maxvio": (("iter",), (loads.max(axis=1) - L) / L, {"long_name": "MaxVio (max_k A_k - L) / L"}),
            "imbalance": (("iter",), imbalance.astype(np.int32),
                          {"long_name": "max_k |A_k - L|", "units": "tokens"}),
            "delta_inf": (("iter",), run.distance, {"long_name": "distance to p* modulo 1, min_c |p - p* - c|_inf",
                                            "units": "score"}),
            "balance_bound": (("iter",), run.bound.astype(np.int32),
                              {"long_name": "M(delta) = #{i: gap_i <= 2 delta}", "units": "tokens"}),
            "step_size": (("update",), run.step_size, {"long_name": "step of update n (u_n or eta_n)"}),
            "increment": (("update", "expert"), run.increment, {"long_name": "bias increment p^{n+1} - p^n",
                                                         "units": "score"}),
            "sandwich_lo": (("update",), run.sandwich_lo, {"long_name": "(A^n - L) . dp^n, lower bound of D^{n+1} - D^n",
                                                "units": "score"}),
            "sandwich_hi": (("update",), run.sandwich_hi, {"long_name": "(A^{n+1} - L) . dp^n, upper bound of D^{n+1} - D^n",
                                                "units": "score"}),
            "violations": (("update",), run.violations, {"long_name": "preference-rule violations (token moves k -> k' "
                                                            "with dp_k' < dp_k)", "units": "pairs"}),
            "neutral_moves": (("update",), run.neutral, {"long_name": "token moves k -> k' with dp_k' = dp_k",
                                                     "units": "pairs"}),
            "flow": (("status_from", "status_to"), run.flow, {"long_name": "token moves by status of the expert "
                                                                      "left and the expert entered",
                                                          "units": "pairs"}),
            "gaps": (("token",), gaps, {"long_name": "LP margins gap_i at the vertex dual, ascending",
                                        "units": "score"}),
            "p_star": (("expert",), lp.prices, {"long_name": "LP optimal dual prices (vertex, centred)",
                                                "units": "score"}),
            "price_lo": (("expert",), lo, {"long_name": "min of p_k - p_0 over the optimal-dual set",
                                           "units": "score"}),
            "price_hi": (("expert",), hi, {"long_name": "max of p_k - p_0 over the optimal-dual set",
                                           "units": "score"}),
            "price_constraint": (("expert", "other"), W,
                                 {"long_name": "W[k, j]: optimal duals are the p with p_j - p_k <= W[k, j] "
                                               "(inf: no constraint)", "units": "score"}),
            "offsets": (("expert",), offsets, {"long_name": "expert offsets c_k", "units": "score"}),
            "opt_value": ((), lp.value, {"long_name": "LP optimum OPT (exactly balanced)", "units": "score"}),
            "dual_at_p_star": ((), theory.dual_function(scores, lp.prices, p.top_k),
                               {"long_name": "D(p*) (equals OPT by strong duality)", "units": "score"}),
            "lp_integrality": ((), lp.integrality_error, {"long_name": "max |x* - round x*| of the LP vertex"}),
            "free_affinity": ((), free, {"long_name": "affinity of unconstrained top-K routing", "units": "score"}),
            "vertex_ties": ((), int(np.sum(gaps <= BOUND_ATOL)),
                            {"long_name": "tokens tied at the LP vertex dual (gap_i <= 1e-12)", "units": "tokens"}),
        },
        coords={
            "iter": ("iter", n, ITER_ATTRS),
            "update": ("update", n[:-1], {"units": "iteration (batch)", "long_name": "update n -> n + 1"}),
            "expert": ("expert", np.arange(p.experts), EXPERT_ATTRS),
            "other": ("other", np.arange(p.experts), {"units": "1", "long_name": "expert index j"}),
            "token": ("token", np.arange(p.tokens), {"units": "1", "long_name": "rank of the token's LP margin"}),
            "status_from": ("status_from", STATUS, {"units": "1", "long_name": "status of the expert left"}),
            "status_to": ("status_to", STATUS, {"units": "1", "long_name": "status of the expert entered"}),
        },
    )
    ds.attrs.update({"target_load": L, "tie_break": "lowest_index", "update_rule": RULE_FORMULA[p.rule],
                     "setting": "deterministic (one fixed batch)"})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- tiny instances: top-K maximises the Lagrangian --------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TopKParams(Params):
    tokens: int = param(5, "tokens per instance", ge=1, le=8)
    experts: int = param(5, "experts per instance", ge=2, le=8)
    top_k: int = param(2, "experts per token K", ge=1, le=7)
    instances: int = param(200, "random instances", ge=1, le=100_000)
    quantum: float = param(0.0, "round scores and biases to multiples of this (0 = continuous; > 0 makes ties)",
                           ge=0, le=1)

    def check(self) -> None:
        _check_sizes(self.tokens, self.experts, self.top_k)
        if math.comb(self.experts, self.top_k) ** self.tokens > 2_000_000:
            raise ValueError(f"tokens must keep C(experts, top_k)^tokens <= 2e6 for the enumeration (got "
                             f"{math.comb(self.experts, self.top_k)}^{self.tokens})")


def simulate_topk(params: TopKParams, seed: int) -> xr.Dataset:
    """Top-K routing by gamma + p (kernel) against brute-force maximisation of L(x, p) over X."""
    p = params
    rng = np.random.default_rng(seed)
    L = theory.target_load(p.tokens, p.experts, p.top_k)
    kernel_value = np.empty(p.instances)
    brute_value = np.empty(p.instances)
    dual_sorted = np.empty(p.instances)
    tied = np.zeros(p.instances, bool)
    for n in range(p.instances):
        gamma = rng.normal(size=(p.tokens, p.experts))
        bias = rng.normal(scale=0.5, size=p.experts)
        if p.quantum > 0:
            gamma = np.round(gamma / p.quantum) * p.quantum
            bias = np.round(bias / p.quantum) * p.quantum
        sel = np.empty((p.tokens, p.top_k), np.int64)
        loads = np.zeros(p.experts, np.int64)
        kernels.route_topk(gamma, bias, p.top_k, sel, loads)
        x = np.zeros((p.tokens, p.experts))
        np.put_along_axis(x, sel, 1.0, axis=1)
        kernel_value[n] = theory.lagrangian(gamma, bias, x, L)
        brute_value[n] = theory.lagrangian_bruteforce(gamma, bias, p.top_k)
        dual_sorted[n] = theory.dual_function(gamma, bias, p.top_k)
        v = np.sort(gamma + bias, axis=1)
        tied[n] = bool(np.any(v[:, -p.top_k] == v[:, -p.top_k - 1]))
    ds = xr.Dataset(
        {"kernel_value": (("instance",), kernel_value, {"long_name": "L(x(p), p), x(p) = kernel top-K routing"}),
         "bruteforce_value": (("instance",), brute_value, {"long_name": "max over X of L(x, p), enumerated"}),
         "dual_sorted": (("instance",), dual_sorted, {"long_name": "D(p) by sorting (NumPy)"}),
         "tied": (("instance",), tied, {"long_name": "some token has a tie at its K-th biased score"})},
        coords={"instance": ("instance", np.arange(p.instances), {"units": "1", "long_name": "instance"})},
    )
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- online Gumbel testbed: regret ------------------------------------------------------------------

POLICIES = {  # name -> (rule, schedule)
    "grad-theory": ("grad", "theory"),
    "grad-harmonic": ("grad", "harmonic"),
    "grad-const": ("grad", "const"),
    "sign-const": ("sign", "const"),
}


@dataclasses.dataclass(frozen=True)
class RegretParams(Params):
    tokens: int = param(256, "tokens T per batch", ge=2, le=65536)
    experts: int = param(8, "experts E (K = 1)", ge=2, le=128)
    noise_scale: float = param(1.0, "Gumbel scale sigma (score units)", gt=0, le=100, unit="score")
    offset_scale: float = param(0.5, "std of the expert offsets c_k (score units)", ge=0, le=100, unit="score")
    policy: str = param("grad-theory", "update rule and schedule: grad with 1/(mu n), grad with eta0/n, grad "
                        "constant, sign constant", choices=tuple(POLICIES))
    eta0_mu: float = param(0.2, "grad-harmonic: eta_n = eta0 / n with eta0 mu equal to this", gt=0, le=100)
    const_mu: float = param(0.05, "grad-const: eta = this / mu", gt=0, le=2)
    sign_step: float = param(0.01, "sign-const: update rate u (score units)", gt=0, le=10)
    n_iter: int = param(10_000, "iterations N (one fresh batch each)", ge=10, le=10_000_000)
    n_records: int = param(60, "log-spaced iterations at which regret is stored", ge=2, le=10_000)

    def check(self) -> None:
        _check_sizes(self.tokens, self.experts, 1)
        if self.n_iter * self.experts > 50_000_000:
            raise ValueError(f"n_iter must keep the bias path <= 5e7 values (got {self.n_iter})")


def regret_iterations(n_iter: int, n_records: int) -> np.ndarray:
    """Distinct log-spaced N in [1, n_iter], always including 1, N/10, N/4, N/2 and N."""
    grid = np.unique(np.rint(np.logspace(0, np.log10(n_iter), n_records)).astype(np.int64))
    marks = [max(1, n_iter // d) for d in (10, 4, 2)]
    return np.union1d(grid, [1, *marks, n_iter])


def simulate_regret(params: RegretParams, seed: int) -> xr.Dataset:
    """Regret R(N) = sum_{n < N} F(p^n) - F(p*) of one step policy, F the closed-form expected dual."""
    p = params
    mu = theory.gumbel_strong_convexity(p.tokens, p.experts, p.noise_scale)
    rule, schedule = POLICIES[p.policy]
    step = {"grad-theory": 1.0 / mu, "grad-harmonic": p.eta0_mu / mu, "grad-const": p.const_mu / mu,
            "sign-const": p.sign_step}[p.policy]
    offsets, bias, sq_grad, maxvio = kernels.run_stream(
        seed, p.tokens, p.experts, 1, p.offset_scale, p.noise_scale, kernels.NOISE_GUMBEL, p.n_iter,
        RULES[rule][0], SCHEDULES[schedule], step, 0.0, mu, False, np.zeros(p.experts), 1)
    f_star = theory.gumbel_objective(offsets, theory.gumbel_optimum(offsets), p.noise_scale, p.tokens)
    excess = theory.gumbel_objective(offsets, bias, p.noise_scale, p.tokens) - f_star  # n = 0..N
    regret = np.cumsum(excess[:-1])                                                 # R(N), N = 1..n_iter
    at = regret_iterations(p.n_iter, p.n_records)
    g2 = theory.gumbel_grad_sq(p.tokens, p.experts)
    ds = xr.Dataset(
        {"regret": (("N",), regret[at - 1], {"long_name": "regret R(N) = sum_{n<N} F(p^n) - F(p*)",
                                              "units": "score"}),
         "excess": (("N",), excess[at], {"long_name": "F(p^N) - F(p*)", "units": "score"}),
         "bias": (("N", "expert"), bias[at] - bias[at].mean(axis=1, keepdims=True),
                  {"long_name": "centred bias p^N", "units": "score"}),
         "maxvio": (("N",), maxvio[at - 1], {"long_name": "MaxVio of batch N - 1"}),
         "grad_sq": ((), float(sq_grad.mean()), {"long_name": "mean ||A^n - L||^2 over the run",
                                                  "units": "tokens^2"}),
         "p_star": (("expert",), theory.gumbel_optimum(offsets), {"long_name": "p* = -c (centred)",
                                                                  "units": "score"}),
         "mu": ((), mu, {"long_name": "strong convexity of F on 1-perp at p* (L / sigma)"}),
         "grad_sq_star": ((), g2, {"long_name": "G^2 = E||A - L||^2 at p* = T (1 - 1/E)", "units": "tokens^2"}),
         "bound_slope": ((), g2 / (2 * mu), {"long_name": "G^2 / (2 mu): regret per unit ln N of the bound",
                                            "units": "score"})},
        coords={"N": ("N", at, {"units": "iteration", "long_name": "iterations N"}),
                "expert": ("expert", np.arange(p.experts), EXPERT_ATTRS)},
    )
    ds.attrs.update({"regret_definition": "population: sum_{n=0}^{N-1} F(p^n) - F(p*), F closed form",
                     "update_rule": RULE_FORMULA[rule], "step": step, "target_load": p.tokens // p.experts})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- synthetic router: every method on the same data -------------------------------------------------

BASELINES = ("none", "sinkhorn", "expert_choice", "capacity")
TOP_K_FAMILIES = ("none", "loss_free", "aux", "sinkhorn")  # every token gets exactly K experts
FAMILY = {"none": kernels.FAM_NONE, "loss_free": kernels.FAM_LOSSFREE, "aux": kernels.FAM_AUX,
          "sinkhorn": kernels.FAM_SINKHORN, "expert_choice": kernels.FAM_EC, "capacity": kernels.FAM_CAPACITY}


@dataclasses.dataclass(frozen=True)
class RouterParams(Params):
    tokens: int = param(4096, "tokens T per batch", ge=2, le=65536)
    experts: int = param(64, "routed experts E", ge=2, le=512)
    top_k: int = param(6, "experts per token K", ge=1, le=32)
    dim: int = param(32, "router feature dimension d", ge=1, le=1024)
    topics: int = param(8, "topics (Gaussian clusters of token features)", ge=1, le=1024)
    beta: float = param(1.0, "router logit scale", gt=0, le=100)
    token_noise: float = param(1.0, "spread of token features around their topic mean", ge=0, le=100)
    offset_scale: float = param(0.3, "std of the expert logit offsets c_k", ge=0, le=100)
    drift: float = param(0.01, "per-iteration random-walk step of the expert centroids", ge=0, le=1)
    offset_drift: float = param(0.002, "per-iteration random-walk step of the logit offsets", ge=0, le=1)
    n_iter: int = param(2000, "training iterations (batches)", ge=1, le=1_000_000)
    rule: str = param("sign", "loss-free update rule", choices=("sign", "prop", "mult"))
    update_rates: tuple[float, ...] = param((1e-4, 1e-3, 1e-2), "loss-free update rates u (score units)",
                                            gt=0, le=1)
    aux_alphas: tuple[float, ...] = param((1e-2, 1e-3, 1e-4), "auxiliary-loss weights alpha", gt=0, le=100)
    aux_lr: float = param(10.0, "learning rate of the aux-loss router offsets q", gt=0, le=1e4)
    aux_pull: float = param(1e-3, "task-loss pull of q towards 0 (weight of |q|^2 / 2)", ge=0, le=1)
    baselines: tuple[str, ...] = param(BASELINES, "further methods", choices=BASELINES)
    sinkhorn_tau: float = param(0.1, "Sinkhorn temperature (score units)", gt=0, le=10)
    sinkhorn_tol: float = param(1e-2, "Sinkhorn relative column-sum tolerance", gt=0, lt=1)
    sinkhorn_sweeps: int = param(20, "maximum Sinkhorn sweeps per batch (warm started)", ge=1, le=10_000)
    capacity_factor: float = param(1.25, "expert capacity C = ceil(cf L) for token dropping", ge=1, le=10)
    eval_batches: int = param(8, "held-out batches with frozen router state (MaxVio_global)", ge=1, le=10_000)
    record_every: int = param(10, "iterations between stored router states", ge=1, le=100_000)

    def check(self) -> None:
        _check_sizes(self.tokens, self.experts, self.top_k)
        for name in ("update_rates", "aux_alphas", "baselines"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat values (got {values!r})")
        if self.n_iter % self.record_every:
            raise ValueError(f"n_iter must be a multiple of record_every = {self.record_every} (got {self.n_iter})")
        if self.tokens * self.experts > 4_000_000:
            raise ValueError(f"tokens must keep a batch at <= 4e6 scores (got {self.tokens} x {self.experts})")


def router_methods(params: RouterParams) -> list[tuple[str, str, float]]:
    """(label, family, hyper-parameter) of every method, in dataset order."""
    out = [("none", "none", 0.0)] if "none" in params.baselines else []
    out += [(f"loss-free u={u:g}", "loss_free", u) for u in params.update_rates]
    out += [(f"aux alpha={a:g}", "aux", a) for a in params.aux_alphas]
    named = {"sinkhorn": f"sinkhorn tau={params.sinkhorn_tau:g}", "expert_choice": "expert choice",
             "capacity": f"capacity cf={params.capacity_factor:g}"}
    out += [(named[b], b, 0.0) for b in BASELINES[1:] if b in params.baselines]
    return out


def simulate_router(params: RouterParams, seed: int) -> xr.Dataset:
    """No balancing, loss-free (u sweep), aux-loss (alpha sweep), Sinkhorn, expert choice, capacity, on one router."""
    p = params
    L = theory.target_load(p.tokens, p.experts, p.top_k)
    methods = router_methods(p)
    fam = np.array([FAMILY[f] for _, f, _ in methods], np.int64)
    rule = np.full(len(methods), RULES[p.rule][0], np.int64)
    hyper = np.array([h for _, _, h in methods], float)
    capacity = int(np.ceil(p.capacity_factor * L - 1e-9))
    run = kernels.run_router(
        seed, p.tokens, p.experts, p.top_k, p.dim, p.topics, p.beta, p.token_noise, p.offset_scale, p.drift,
        p.offset_drift, p.n_iter, fam, rule, hyper, p.aux_lr, p.aux_pull, capacity, p.sinkhorn_tau,
        p.sinkhorn_tol, p.sinkhorn_sweeps, p.eval_batches, p.record_every)
    lp_scores, lp_loads, state = run.lp_scores, run.lp_loads, run.state
    lp = theory.assignment_lp(lp_scores, p.top_k)
    # the best affinity any routing with the same loads could reach (K experts per token: not for
    # expert choice, which gives tokens a variable count, nor for capacity dropping)
    best_at_loads = np.array([theory.assignment_lp(lp_scores, p.top_k, loads).value
                              if f in TOP_K_FAMILIES else np.nan for (_, f, _), loads in zip(methods, lp_loads)])
    final = state[:, -1, :]
    residual = np.where(fam == kernels.FAM_LOSSFREE, ((final - final.mean(axis=1, keepdims=True))
                                                      * (lp_loads - L)).sum(axis=1), np.nan)
    if p.rule == "mult":
        residual[:] = np.nan
    pool = L * p.eval_batches
    ds = xr.Dataset(
        {
            "maxvio_batch": (("variant", "iter"), run.maxvio, {"long_name": "MaxVio_batch (max_k A_k - L) / L"}),
            "quality_batch": (("variant", "iter"), run.affinity / run.affinity_free,
                              {"long_name": "routed affinity / affinity of unconstrained top-K"}),
            "dropped_batch": (("variant", "iter"), run.dropped,
                              {"long_name": "dropped token-expert pairs (capacity) or idle tokens (expert choice)",
                               "units": "fraction"}),
            "interference_batch": (("variant", "iter"), run.interference,
                                   {"long_name": "mean |gate - sigmoid(z)| over selected pairs", "units": "score"}),
            "state": (("variant", "record", "expert"), state,
                      {"long_name": "router state: loss-free bias, aux offsets q, Sinkhorn prices",
                       "units": "score (bias, prices) or logit (q)"}),
            "loads_global": (("variant", "expert"), run.loads_eval,
                             {"long_name": "loads over the held-out pool", "units": "tokens"}),
            "maxvio_global": (("variant",), (run.loads_eval.max(axis=1) - pool) / pool,
                              {"long_name": "MaxVio_global over the held-out pool (frozen state)"}),
            "quality_global": (("variant",), run.affinity_eval / run.affinity_free_eval,
                               {"long_name": "routed affinity / unconstrained top-K affinity (held-out pool)"}),
            "dropped_global": (("variant",), run.dropped_eval, {"long_name": "dropped fraction (held-out pool)",
                                                        "units": "fraction"}),
            "interference_global": (("variant",), run.interference_eval,
                                    {"long_name": "gate interference (held-out pool)", "units": "score"}),
            "score_gap": ((), run.score_gap, {"long_name": "mean gap between each token's K-th and (K+1)-th score",
                                    "units": "score"}),
            "lp_opt": ((), lp.value, {"long_name": "LP optimum (exact balance) on the first held-out batch",
                                      "units": "score"}),
            "lp_free": ((), float(theory.sum_top_k(lp_scores, p.top_k).sum()),
                        {"long_name": "unconstrained top-K affinity on that batch", "units": "score"}),
            "lp_batch_affinity": (("variant",), run.lp_affinity, {"long_name": "routed affinity on the LP batch",
                                                        "units": "score"}),
            "lp_batch_best_at_loads": (("variant",), best_at_loads,
                                       {"long_name": "LP optimum on the LP batch with the variant's own loads "
                                                     "(top-K families only)", "units": "score"}),
            "lp_batch_maxvio": (("variant",), (lp_loads.max(axis=1) - L) / L,
                                {"long_name": "MaxVio on the LP batch"}),
            "dual_residual": (("variant",), residual,
                              {"long_name": "sum_k (p_k - mean p)(A_k - L) on the LP batch (loss-free only)",
                               "units": "score"}),
        },
        coords={
            # not "method": that name would shadow the ``method`` keyword of xarray's ``sel``
            "variant": ("variant", [m for m, _, _ in methods], {"units": "1", "long_name": "routing method"}),
            "family": ("variant", [f for _, f, _ in methods], {"units": "1", "long_name": "method family"}),
            "hyper": ("variant", hyper, {"units": "1", "long_name": "update rate u or aux weight alpha"}),
            "iter": ("iter", np.arange(p.n_iter), ITER_ATTRS),
            "record": ("record", np.arange(state.shape[1]) * p.record_every,
                       {"units": "iteration (batch)", "long_name": "iteration of the stored state"}),
            "expert": ("expert", np.arange(p.experts), EXPERT_ATTRS),
        },
    )
    ds.attrs.update({"target_load": L, "capacity": capacity, "tie_break": "lowest_index",
                     "update_rule": RULE_FORMULA[p.rule],
                     "generator": "sigmoid router: z = beta u.e_k + c_k, u from a topic mixture; e, c random walks",
                     "noise_floor": theory.noise_floor_maxvio(p.tokens, p.experts, p.top_k)})
    return stamp(ds, study=STUDY, params=params, seed=seed)


# --- a trained mixture of experts: held-out loss and balance ------------------------------------------

TRAINED_FAMILIES = ("none", "loss_free", "aux")


@dataclasses.dataclass(frozen=True)
class TrainedParams(Params):
    tokens: int = param(256, "tokens T per training batch", ge=2, le=65536)
    experts: int = param(16, "routed experts E", ge=2, le=256)
    top_k: int = param(2, "experts per token K", ge=1, le=16)
    dim: int = param(8, "input dimension d", ge=1, le=256)
    out_dim: int = param(4, "target dimension m", ge=1, le=64)
    clusters: int = param(8, "clusters of the task, each with its own affine target map", ge=1, le=1024)
    separation: float = param(6.0, "norm scale of the cluster means", ge=0, le=100)
    spread: float = param(1.0, "spread of inputs around their cluster mean", gt=0, le=100)
    noise: float = param(0.1, "target noise standard deviation", ge=0, le=10)
    router_scale: float = param(0.1, "scale of the initial router weights", ge=0, le=10)
    lr: float = param(0.1, "initial SGD learning rate", gt=0, le=10)
    lr_final: float = param(0.01, "final learning rate of the cosine decay", gt=0, le=10)
    n_iter: int = param(10_000, "SGD steps (one fresh batch each)", ge=1, le=1_000_000)
    update_rates: tuple[float, ...] = param((1e-4, 1e-3, 1e-2), "loss-free update rates u (score units)",
                                            gt=0, le=1)
    aux_alphas: tuple[float, ...] = param((1e-3, 1e-2, 1e-1, 1.0), "auxiliary-loss weights alpha", gt=0, le=100)
    eval_tokens: int = param(4096, "held-out tokens (fixed set, drawn before training)", ge=1, le=1_000_000)
    record_every: int = param(100, "steps between held-out evaluations", ge=1, le=1_000_000)
    fd_step: float = param(1e-8, "central-difference step for d loss / d u_k and d loss / d gate_k", gt=0, le=1e-2)

    def check(self) -> None:
        _check_sizes(self.tokens, self.experts, self.top_k)
        if (self.eval_tokens * self.top_k) % self.experts:
            raise ValueError(f"eval_tokens must make eval_tokens * top_k divisible by experts (got {self.eval_tokens})")
        if self.lr_final > self.lr:
            raise ValueError(f"lr_final must be <= lr (got {self.lr_final} > {self.lr})")
        for name in ("update_rates", "aux_alphas"):
            values = getattr(self, name)
            if len(set(values)) != len(values):
                raise ValueError(f"{name} must not repeat values (got {values!r})")
        if self.n_iter % self.record_every:
            raise ValueError(f"n_iter must be a multiple of record_every = {self.record_every} (got {self.n_iter})")
        variants = 1 + len(self.update_rates) + len(self.aux_alphas)
        if variants * self.n_iter > 50_000_000:
            raise ValueError(f"n_iter must keep the per-step records <= 5e7 values (got {self.n_iter})")


def trained_methods(params: TrainedParams) -> list[tuple[str, str, float]]:
    """(label, family, hyper-parameter) of every trained variant, in dataset order."""
    return ([("none", "none", 0.0)] + [(f"loss-free u={u:g}", "loss_free", u) for u in params.update_rates]
            + [(f"aux alpha={a:g}", "aux", a) for a in params.aux_alphas])


def simulate_trained(params: TrainedParams, seed: int) -> xr.Dataset:
    """Train the MoE layer with no balancing, loss-free balancing (u sweep) and an auxiliary loss (alpha
    sweep) on the same batches from the same initial weights; held-out loss and MaxVio along training."""
    p = params
    methods = trained_methods(p)
    fam = np.array([FAMILY[f] for _, f, _ in methods], np.int64)
    hyper = np.array([h for _, _, h in methods], float)
    run = kernels.run_trained(seed, p.tokens, p.experts, p.top_k, p.dim, p.out_dim, p.clusters, p.separation,
                              p.spread, p.noise, p.router_scale, p.lr, p.lr_final, p.n_iter, fam, hyper,
                              p.eval_tokens, p.record_every, p.fd_step)
    pool = p.top_k * p.eval_tokens / p.experts
    ds = xr.Dataset(
        {
            "train_loss": (("variant", "iter"), run.train_loss,
                           {"long_name": "training loss of the batch, 0.5 |y_hat - y|^2 (before the step)"}),
            "maxvio_batch": (("variant", "iter"), run.maxvio_batch,
                             {"long_name": "MaxVio_batch (max_k A_k - L) / L of the training batch"}),
            "eval_loss": (("variant", "record"), run.eval_loss,
                          {"long_name": "held-out loss 0.5 |y_hat - y|^2 (frozen weights and biases)"}),
            "eval_maxvio": (("variant", "record"), run.eval_maxvio,
                            {"long_name": "MaxVio_global over the held-out set (frozen weights and biases)"}),
            "bias": (("variant", "record", "expert"), run.bias,
                     {"long_name": "loss-free bias u_k (0 for the other methods)", "units": "score"}),
            "heldout_loss": (("variant",), run.eval_loss[:, -1], {"long_name": "held-out loss after training"}),
            "maxvio_global": (("variant",), run.eval_maxvio[:, -1],
                              {"long_name": "MaxVio_global over the held-out set after training"}),
            "loads_global": (("variant", "expert"), run.eval_loads,
                             {"long_name": "held-out loads after training", "units": "tokens"}),
            "fd_bias": (("variant", "expert"), run.fd_bias,
                        {"long_name": "central difference of the held-out loss in u_k (step fd_step)"}),
            "fd_gate": (("variant", "expert"), run.fd_gate,
                        {"long_name": "central difference of the held-out loss in a shift of expert k's gate "
                                      "values (what a bias inside the gate would give)"}),
            "fd_changed": (("variant",), run.fd_changed,
                           {"long_name": "u_k perturbations that changed some held-out token's selection",
                            "units": "experts"}),
            "loss_floor": ((), 0.5 * p.out_dim * p.noise ** 2,
                           {"long_name": "Bayes held-out loss 0.5 m noise^2 (exact cluster maps)"}),
        },
        coords={
            "variant": ("variant", [m for m, _, _ in methods], {"units": "1", "long_name": "balancing method"}),
            "family": ("variant", [f for _, f, _ in methods], {"units": "1", "long_name": "method family"}),
            "hyper": ("variant", hyper, {"units": "1", "long_name": "update rate u or aux weight alpha"}),
            "iter": ("iter", np.arange(p.n_iter), {"units": "step", "long_name": "SGD step"}),
            "record": ("record", np.arange(run.eval_loss.shape[1]) * p.record_every,
                       {"units": "step", "long_name": "SGD step of the held-out evaluation"}),
            "expert": ("expert", np.arange(p.experts), EXPERT_ATTRS),
        },
    )
    ds.attrs.update({"target_load": p.top_k * p.tokens / p.experts, "eval_target_load": pool,
                     "tie_break": "lowest_index", "update_rule": RULE_FORMULA["sign"],
                     "gate": "g_ik = sigmoid(z_ik) for the top-K of sigmoid(z_i) + u; y_hat = sum_k g_ik (A_k x + a_k)",
                     "aux_loss": "alpha sum_k f_k P_k, f_k = E A_k / (K T) (no gradient), P_k = mean_i sigmoid(z_ik)",
                     "task": "x = m_c + spread N(0, I/d), y = W_c x + b_c + noise N(0, I_m), c uniform over clusters",
                     "noise_floor": theory.noise_floor_maxvio(p.eval_tokens, p.experts, p.top_k)})
    return stamp(ds, study=STUDY, params=params, seed=seed)
