"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

import numpy as np

from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "moe"
# Han & Zhong's theorems are known from the abstract only: a claim is DeepSeek's (paper) or derived
SOURCES = {"paper", "derived"}


def _copy(ds):
    return ds.copy(deep=True)


def _flip_increments(ds):
    """Sign error of the update: underloaded experts pushed down."""
    out = _copy(ds)
    out["increment"] = -out.increment
    return out


def _raise_opt(ds):
    """A wrong comparator: OPT 0.1% too high (e.g. an LP without the box x <= 1)."""
    out = _copy(ds)
    out["opt_value"] = out.opt_value + 1e-3 * np.abs(out.opt_value)
    return out


def _dual_without_shift(ds):
    """D computed without its -L sum_k p_k term."""
    out = _copy(ds)
    out["dual_value"] = out.dual_value + ds.attrs["target_load"] * out.bias.sum("expert")
    return out


def _reverse_dual(ds):
    out = _copy(ds)
    out["dual_value"] = out.dual_value.isel(iter=slice(None, None, -1)).assign_coords(iter=out.iter.values)
    return out


def _transpose_flow(ds):
    """Moves counted from entered to left expert."""
    out = _copy(ds)
    out["flow"] = out.flow.transpose(..., "status_to", "status_from").rename(
        status_to="status_from", status_from="status_to").assign_coords(
        status_from=ds.status_from.values, status_to=ds.status_to.values)
    return out


def _delta_in_wrong_units(ds):
    """delta reported 1000x too small (the bound then counts almost only the tied tokens)."""
    out = _copy(ds)
    out["delta_inf"] = out.delta_inf * 1e-3
    return out


def _suboptimal_kernel(ds):
    out = _copy(ds)
    out["kernel_value"] = out.kernel_value - 1e-6
    return out


def _replace_policies(targets, source):
    """Each target policy reported with the regret of ``source``."""
    def corrupt(ds):
        out = _copy(ds)
        for target in targets:
            out["regret"].loc[{"policy": target}] = ds.regret.sel(policy=source).values
        return out
    return corrupt


def _swap_variants(a, b):
    """Mislabelled methods: the results of variant a reported under b and vice versa."""
    def corrupt(ds):
        out = _copy(ds)
        for name, var in ds.data_vars.items():
            if "variant" in var.dims:
                out[name].loc[{"variant": a}] = ds[name].sel(variant=b).values
                out[name].loc[{"variant": b}] = ds[name].sel(variant=a).values
        return out
    return corrupt


def _raise_lp_opt(ds):
    out = _copy(ds)
    out["lp_opt"] = out.lp_opt * 1.01
    return out


def _best_at_equal_loads(ds):
    """The wrong comparator: the exactly balanced LP instead of the LP at each variant's own loads."""
    out = _copy(ds)
    out["lp_batch_best_at_loads"] = out.lp_batch_best_at_loads * 0 + out.lp_opt
    return out


def _bias_in_gate(ds):
    """What a kernel that adds the bias to the gate value would measure: d loss / d u = d loss / d g."""
    out = _copy(ds)
    out["fd_bias"] = ds.fd_gate.copy()
    return out


def _reverse_alphas(ds):
    """The aux-loss weights listed in reverse order (a mislabelled sweep)."""
    out = _copy(ds)
    is_aux = ds.family.values == "aux"
    hyper = ds.hyper.values.copy()
    hyper[is_aux] = hyper[is_aux][::-1]
    return out.assign_coords(hyper=("variant", hyper, ds.hyper.attrs))


# a plausible wrong answer for each claim: a sign error, a missing term, a mislabelled axis, a bad comparator
NEGATIVE = {
    "moe.sign-rule-is-dual-step": _flip_increments,
    "moe.weak-duality": _raise_opt,
    "moe.sandwich-inequality": _dual_without_shift,
    "moe.monotone-without-overshoot": _reverse_dual,
    "moe.preference-rule": _transpose_flow,
    "moe.balance-bound": _delta_in_wrong_units,
    "moe.topk-maximises-lagrangian": _suboptimal_kernel,
    "moe.log-regret": _replace_policies(["grad-theory"], "grad-harmonic"),
    "moe.constant-step-linear-regret": _replace_policies(["grad-const", "sign-const"], "grad-theory"),
    "moe.small-step-polynomial-regret": _replace_policies(["grad-harmonic"], "grad-theory"),
    "moe.deepseek-lossfree-vs-aux": _swap_variants("loss-free u=0.001", "aux alpha=0.001"),
    "moe.deepseek-update-rate": _swap_variants("loss-free u=0.0001", "loss-free u=0.01"),
    "moe.lossfree-price-of-balance": _raise_lp_opt,
    "moe.lossfree-best-at-own-loads": _best_at_equal_loads,
    "moe.trained-lossfree-vs-aux": _swap_variants("loss-free u=0.001", "aux alpha=1"),
    "moe.trained-aux-loss-grows-with-alpha": _reverse_alphas,
    "moe.lossfree-bias-outside-gates": _bias_in_gate,
}
