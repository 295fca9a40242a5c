"""Statistics helpers of the claims module, against known answers."""

import numpy as np
import pytest

from theorylab.core.claims import Claim, is_monotone, loglog_slope, ratio, within


def test_loglog_slope_recovers_power_law_and_ci_covers_it():
    rng = np.random.default_rng(0)
    x = np.array([10, 20, 40, 80, 160, 320])
    # 40 replicates of y = 3 x^0.5 with 5% multiplicative noise: the slope's standard error is
    # ~0.05 / sqrt(40) / std(log x) ~ 0.006, so a 95% CI must cover 0.5 and be narrower than 0.05
    y = 3 * x ** 0.5 * np.exp(0.05 * rng.standard_normal((40, x.size)))
    fit = loglog_slope(x, y, seed=1)
    assert fit.low <= 0.5 <= fit.high
    assert fit.high - fit.low < 0.05
    assert abs(fit.slope - 0.5) < 0.02


def test_loglog_slope_exact_and_bad_input():
    x = np.array([1.0, 2.0, 4.0])
    assert loglog_slope(x, 2 * x ** -1.5).slope == pytest.approx(-1.5, abs=1e-12)
    with pytest.raises(ValueError, match="positive"):
        loglog_slope(x, np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="columns"):
        loglog_slope(x, np.ones(4))


def test_monotone_within_ratio():
    assert is_monotone([3, 2, 1], increasing=False)
    assert not is_monotone([3, 3, 1], increasing=False)
    assert is_monotone([3, 3, 1], increasing=False, strict=False)
    assert within(1.05, 1.0, rtol=0.06) and not within(1.05, 1.0, rtol=0.04)
    assert ratio(1, 4) == 0.25
    with pytest.raises(ValueError):
        ratio(1, 0)


def test_claim_source_is_validated():
    with pytest.raises(ValueError, match="source must be one of"):
        Claim("x.y", "s", "folklore", "e", lambda ds: ("", "", "", True, ""))


def test_claims_table_row_escapes_pipes_and_keeps_the_detail():
    from theorylab.core.claims import Claim
    from theorylab.core.pipeline import Verdict, claims_markdown

    claim = Claim("s.x", "a | b", "derived", "exp", lambda ds: ("1", "2", "3", False, "why\nnot"))
    table = claims_markdown("s", [Verdict(claim, claim.evaluate(None), "quick")])
    row = table.splitlines()[-1]
    assert row == "| `s.x` | derived | a \\| b | 1 | 2 | 3 | quick | **FAIL** | why not |"
    assert table.splitlines()[2].count("|") == row.count("|") - row.count("\\|")
