"""The study contract's fixtures and parametrization, and the study registered from this folder."""

from theorylab.core import registry
from theorylab.testing import pytest_generate_tests, quick_dataset, quick_store  # noqa: F401

if "__study__" not in registry.studies():  # not installed (no entry point yet): use the source folder
    registry.register("__study__", "__study__")
