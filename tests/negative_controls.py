"""Building blocks of negative controls: plausible wrong Datasets made from a study's real one.

Each factory returns ``corrupt(ds) -> Dataset``, a deep copy of ``ds`` changed only in the named variable.
"""


def mislabelled(a, b, var="regret", dim="algorithm"):
    """Results of ``a`` reported under ``b`` and vice versa."""
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var].loc[{dim: a}] = ds[var].sel({dim: b}).values
        out[var].loc[{dim: b}] = ds[var].sel({dim: a}).values
        return out
    return corrupt


def replaced(target, source, var="regret", dim="algorithm"):
    """The results of ``target`` replaced by those of ``source`` (e.g. a shared learner that gains nothing)."""
    def corrupt(ds):
        out = ds.copy(deep=True)
        out[var].loc[{dim: target}] = ds[var].sel({dim: source}).values
        return out
    return corrupt
