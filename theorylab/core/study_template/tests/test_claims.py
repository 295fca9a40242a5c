"""Every claim holds at quick scale and fails on a plausible wrong Dataset; figures render; golden values."""

from theorylab.testing import *  # noqa: F403  the shared checks, parametrized by STUDY

from __study__ import theory

STUDY = "__study__"


def _biased(ds):
    """An estimator with a bias of 0.02: its error stops falling once n is large."""
    return ds.assign(estimate=ds.estimate + 0.02)


def _inflated(ds):
    """An estimator whose errors are 1.5 times too large (variance 2.25 times the CLT's)."""
    exact = theory.expectation(float(ds.attrs["t"]))
    return ds.assign(estimate=exact + 1.5 * (ds.estimate - exact))


NEGATIVE = {
    "__study__.clt-rate": _biased,
    "__study__.clt-variance": _inflated,
}
