"""Theory of the two-pathway model against closed forms and long-time scipy solutions."""

import numpy as np
import pytest

from theorylab.deeplinear import theory


def test_hierarchical_data_singular_values_closed_form():
    _, U, S, V = theory.hierarchical_data()
    want = np.array([np.sqrt(15), np.sqrt(7), np.sqrt(3), np.sqrt(3), 1, 1, 1, 1]) / 8
    np.testing.assert_allclose(S, want, rtol=1e-12)
    np.testing.assert_allclose(U.T @ U, np.eye(15), atol=1e-12)
    np.testing.assert_allclose(theory.target_strengths(), 8 * want, rtol=1e-12)


@pytest.mark.parametrize("s, k0", [(np.sqrt(15), 0.01), (2.0, 0.05)])
def test_half_time_closed_forms(s, k0):
    # D = 1: K_tot relaxes as s + (2k0 - s) e^{-2t}; D = 2: logistic at rate 2s
    assert theory.half_time(1, s, k0) == pytest.approx(0.5 * np.log(2 * (s - 2 * k0) / s), rel=1e-10)
    assert theory.half_time(2, s, k0) == pytest.approx(np.log(s / (2 * k0) - 1) / (2 * s), rel=1e-10)
    times = [theory.half_time(d, s, k0) for d in (1, 2, 3, 4)]
    assert np.all(np.diff(times) > 0)


def test_half_time_rejects_bad_k0():
    with pytest.raises(ValueError, match="k0 must be"):
        theory.half_time(2, 1.0, 0.3)


@pytest.mark.parametrize("depth", [1, 2])
def test_flow_single_pathway_closed_form(depth):
    """b frozen for the whole run at K_b: pathway a alone follows the Saxe closed form with s' = s - K_b."""
    s, ka0, kb0 = 3.0, 0.02, 0.01
    t = np.linspace(0, 4, 41)
    ka, kb = theory.flow_modes([s], [ka0 ** (1 / depth)], [kb0 ** (1 / depth)], depth, t, gate=(0.0, 5.0))
    s_eff = s - kb0
    if depth == 1:
        want = s_eff + (ka0 - s_eff) * np.exp(-t)
    else:
        want = s_eff / (1 + (s_eff / ka0 - 1) * np.exp(-2 * s_eff * t))
    np.testing.assert_allclose(ka[:, 0], want, rtol=1e-7)
    np.testing.assert_allclose(kb[:, 0], kb0, rtol=1e-14)


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_invariant_conserved_and_final_split_matches_long_flow(depth):
    """After the deficit H(p_a) - H(p_b) is conserved (< 1e-6 drift) and fixes the split."""
    s, k0 = np.sqrt(15), 0.01
    t_half = theory.half_time(depth, s, k0)
    gate = (0.0, 0.25 * t_half)
    t = np.concatenate([[0.0], np.linspace(gate[1], 60 * t_half, 400)])
    p0 = [k0 ** (1 / depth)]
    ka, kb = theory.flow_modes([s], p0, p0, depth, t, gate=gate)
    pa, pb = theory.layer_value(ka[1:, 0], depth), theory.layer_value(kb[1:, 0], depth)
    invariant = theory.invariant_h(pa, depth) - theory.invariant_h(pb, depth)
    assert np.abs(invariant / invariant[0] - 1).max() < 1e-6
    predicted = theory.final_split(ka[1, 0], kb[1, 0], s, depth)
    np.testing.assert_allclose([ka[-1, 0], kb[-1, 0]], predicted, atol=1e-6 * s)
    assert abs(sum(predicted) - s) < 1e-12 * s


def test_flow_field_small_init_formula():
    ka, kb = np.array([[0.5, 2.0]]), np.array([[1.0, 0.3]])
    dka, dkb = theory.flow_field(ka, kb, 5.0, 3, c=0.0)
    omega = 5.0 - ka - kb
    np.testing.assert_allclose(dka, 3 * ka ** (4 / 3) * omega, rtol=1e-12)
    np.testing.assert_allclose(dkb, 3 * kb ** (4 / 3) * omega, rtol=1e-12)


def test_large_init_strength_inverse():
    k = np.array([0.1, 1.0, 7.0])
    np.testing.assert_allclose(theory.strength(theory.layer_value(k, 5, c=1.0), 5, c=1.0), k, rtol=1e-10)
