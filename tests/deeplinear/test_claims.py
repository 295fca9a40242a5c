"""Every claim of the study at quick scale, a negative control per claim showing its check can fail,
and every figure rendered from quick-scale data (shared checks: tests/study_contract.py)."""

from tests.study_contract import *  # noqa: F403  the shared checks, parametrized by STUDY

STUDY = "deeplinear"


def _swap_pathways(ds):
    out = ds.copy(deep=True)
    out["K"] = out.K.isel(pathway=[1, 0]).assign_coords(pathway=out.pathway.values)
    return out


def _scale_k(factor, **where):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out["K"].loc[where] = out.K.loc[where] * factor
        return out
    return corrupt


def _nudge(var, amount):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var] = out[var] + amount
        return out
    return corrupt


def _reverse(dim):
    def corrupt(ds):
        out = ds.copy(deep=True)
        out["K"] = out.K.isel({dim: slice(None, None, -1)}).assign_coords({dim: out[dim].values})
        return out
    return corrupt


def _replace_finest_lr_by_coarsest(ds):
    out = ds.copy(deep=True)
    out["K"].loc[{"lr": out.lr.min()}] = out.K.sel(lr=out.lr.max()).values
    return out


def _relabel_activations(ds):
    """tanh and ReLU swapped: the claim must tell which activation breaks the even split."""
    out = ds.copy(deep=True)
    acts = list(out.activation.values)
    return out.assign_coords(activation=[{"tanh": "relu", "relu": "tanh"}.get(a, a) for a in acts])


# a plausible wrong answer for each claim: a sign error, a mislabelled axis, a 2-10% bias
NEGATIVE = {
    "deeplinear.gd-equals-mode-map": _nudge("K", 1e-7),
    "deeplinear.early-deficit-permanent": _swap_pathways,
    "deeplinear.late-deficit-harmless": _scale_k(0.9, pathway="b"),
    "deeplinear.window-per-feature": _swap_pathways,
    "deeplinear.lesion-reallocated": _scale_k(0.97, pathway="b"),
    "deeplinear.gd-first-order-flow": _replace_finest_lr_by_coarsest,
    "deeplinear.depth-amplifies-early-deficit": _reverse("depth"),
    "deeplinear.invariant-final-split": _scale_k(1.02, pathway="a"),
    "deeplinear.critical-window-closes": _reverse("deficit_onset"),
    "deeplinear.saxe-learning-time": _scale_k(1.1),
    "deeplinear.phase-depth-amplifies": _reverse("depth"),
    "deeplinear.phase-small-invariant": _scale_k(1.05, pathway="a"),
    "deeplinear.nonlinear-early-deficit-permanent": _swap_pathways,
    "deeplinear.nonlinear-late-deficit-harmless": _scale_k(0.97, pathway="b"),
    "deeplinear.relu-middle-deficit-uneven": _relabel_activations,
}
