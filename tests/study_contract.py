"""The study contract, kept here for the studies' tests: it lives in :mod:`theorylab.testing`
(installed with the package, so plugin studies use the same checks)."""

from theorylab.testing import *  # noqa: F401,F403
from theorylab.testing import (SIMULATOR_TESTS, SOURCES, __all__, assert_labelled_with_provenance,  # noqa: F401
                               claim_cases, figure_experiments, golden_entries,
                               test_bad_parameters_raise_naming_them, test_provenance_and_labelled_layout,
                               test_same_seed_identical_other_seed_different)
