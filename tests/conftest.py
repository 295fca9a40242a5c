"""Shared fixtures (quick-scale experiment Datasets, computed once per session and cached) and the
parametrization of the study contract: both live in :mod:`theorylab.testing`."""

from theorylab.testing import pytest_generate_tests, quick_dataset, quick_store  # noqa: F401

from hypothesis import settings  # noqa: E402

# Property tests draw the same examples on every run (CI included): a failure is reproducible, never luck.
settings.register_profile("theorylab", derandomize=True)
settings.load_profile("theorylab")
