"""analysis.skill_theory against Arora & Goyal (arXiv 2307.15936): the closed-form bound and its
worked numbers, the k′-tuple rule θ → k′θ, the Chinchilla-driven scaling, and the Monte Carlo
skill graph (the bound holds for random and adversarial failure sets)."""

import math

import numpy as np
import pytest

from emergence_jax.analysis import skill_theory as st
from emergence_jax.core.errors import DataError


def test_entropy_and_divergence_by_hand():
    assert st.binary_entropy(0.5) == pytest.approx(math.log(2))
    assert st.binary_entropy(0.1) == pytest.approx(-0.1 * math.log(0.1) - 0.9 * math.log(0.9))
    assert st.binary_entropy(0.0) == 0.0 and st.binary_entropy(1.0) == 0.0
    assert st.bernoulli_kl(0.3, 0.3) == pytest.approx(0.0)
    assert st.bernoulli_kl(1.0, 0.25) == pytest.approx(math.log(4))
    assert st.bernoulli_kl(0.9, 0.5) == pytest.approx(0.9 * math.log(1.8) + 0.1 * math.log(0.2))


@pytest.mark.parametrize("alpha, beta, competence", [
    (0.5, 1.833, 0.817), (0.2, 3.067, 0.693), (0.1, 4.502, 0.550), (0.05, 6.756, 0.324)])
def test_min_beta_matches_the_worked_numbers(alpha, beta, competence):
    """k = 8 skills per piece, failure measure θ = 0.1."""
    b = st.min_beta(0.1, alpha, 8)
    assert b == pytest.approx(beta, abs=1e-3)
    assert st.guaranteed_competence(0.1, alpha, 8) == pytest.approx(competence, abs=1e-3)
    # β* is where the bound's gap changes sign.
    assert st.bound_gap(0.1, alpha, b + 1e-3, 8) < 0 < st.bound_gap(0.1, alpha, b - 1e-3, 8)


def test_infeasible_and_bad_arguments():
    assert math.isnan(st.min_beta(0.01, 0.5, 8))
    with pytest.raises(DataError, match="theta"):
        st.min_beta(1.5, 0.5, 8)
    with pytest.raises(DataError, match="alpha"):
        st.min_beta(0.1, 0.0, 8)
    with pytest.raises(DataError, match="tuple_size"):
        st.competent_fraction(0.1, 0.8, 8, tuple_size=0)


@pytest.mark.parametrize("theta, fractions", [
    (0.1, (0.566, None, None)), (0.05, (0.856, 0.566, 0.0)), (0.025, (0.948, 0.856, 0.566))])
def test_competent_fraction_of_tuples(theta, fractions):
    """Share of k′-tuples (k′ = 1, 2, 4) with competence ≥ 0.8 at k = 8; the worked numbers were
    read off an α grid of step 0.001, hence the tolerance."""
    for kp, expected in zip((1, 2, 4), fractions):
        if expected is not None:
            assert st.competent_fraction(theta, 0.8, 8, kp) == pytest.approx(expected, abs=2e-3)
    # k′-tuples at θ behave like single skills at k′θ (the super-piece rule).
    assert st.competent_fraction(theta, 0.8, 8, 2) == st.competent_fraction(2 * theta, 0.8, 8, 1)


def test_finite_size_term_and_monotonicity():
    # Fewer pieces per skill (a larger |S|/|T|) can only weaken the guarantee.
    assert st.min_beta(0.1, 0.2, 8, skill_ratio=0.05) > st.min_beta(0.1, 0.2, 8)
    assert st.competent_fraction(0.05, 0.8, 8, skill_ratio=0.05) < st.competent_fraction(0.05,
                                                                                        0.8, 8)
    shares = [st.competent_fraction(t, 0.8, 8) for t in (0.2, 0.1, 0.05, 0.025)]
    assert shares == sorted(shares)


def test_slingshot_scaling_with_chinchilla():
    """About 10× scale halves the excess loss, so 2k′-tuples then reach what k′-tuples had."""
    ratio = st.chinchilla_excess_loss(1e10) / st.chinchilla_excess_loss(1e9)
    assert ratio == pytest.approx(0.5, abs=0.01)
    curves = st.tuple_emergence_curves([1e9, 1e10, 1e11], 0.8, 8, (1, 2, 4), theta_ref=0.05,
                                       params_ref=1e9)
    assert curves[0, 0] == pytest.approx(0.856, abs=2e-3)
    assert curves[1, 1] == pytest.approx(curves[0, 0], abs=0.02)   # 2-tuples at 10× scale
    assert curves[2, 2] == pytest.approx(curves[1, 1], abs=0.02)   # 4-tuples at 100× scale
    assert np.all(np.diff(curves, axis=1) >= 0)                    # every curve rises with scale


def test_predictions_from_single_skill_competence():
    p = st.predict_tuple_competence([1.0, 0.9, 0.5], 2)
    np.testing.assert_allclose(p["guaranteed"], [1.0, 0.8, 0.0])
    np.testing.assert_allclose(p["independent"], [1.0, 0.81, 0.25])
    assert np.all(p["independent"] >= p["guaranteed"])


def test_monte_carlo_single_skills_obey_the_bound():
    """A random graph (200 skills, 40,000 pieces of k = 8 skills): with a random failure set every
    skill's competence is about 1 − θ; with an adversarial one aimed at 10% of the skills the
    share of skills reaching 1 − β*θ is still at least 1 − α (the bound is for every failure
    set)."""
    theta, alpha = 0.1, 0.1
    bar = st.guaranteed_competence(theta, alpha, 8)
    rand = st.simulate_competence(0, num_skills=200, num_pieces=40_000, k=8, theta=theta)
    assert np.nanmean(rand) == pytest.approx(1 - theta, abs=1e-3)
    assert st.competent_share(rand, bar) == 1.0
    for target in (0.05, 0.1, 0.3):
        adv = st.simulate_competence(1, num_skills=200, num_pieces=40_000, k=8, theta=theta,
                                     kind="adversarial", target_share=target)
        assert np.nanmean(adv) == pytest.approx(1 - theta, abs=1e-3)   # same failure measure
        assert st.competent_share(adv, bar) >= 1 - alpha
        assert st.competent_share(adv, 0.8) >= st.competent_fraction(theta, 0.8, 8)
    # The adversary does push some skills below what a random failure set gives.
    adv = st.simulate_competence(1, num_skills=200, num_pieces=40_000, k=8, theta=theta,
                                 kind="adversarial", target_share=0.1)
    assert np.nanmin(adv) < np.nanmin(rand) - 0.1


def test_monte_carlo_tuples():
    """Super pieces of two pieces fail when either does: mean competence on pairs is
    (1 − θ)² under random failures, and the share of pairs with competence ≥ 0.8 is at least the
    bound's θ → 2θ guarantee, also under an adversarial failure set."""
    theta = 0.05
    rand = st.simulate_competence(2, num_skills=40, num_pieces=40_000, k=8, theta=theta,
                                  tuple_size=2)
    assert rand.shape == (40 * 40,)
    assert np.nanmean(rand) == pytest.approx((1 - theta) ** 2, abs=2e-3)
    bound = st.competent_fraction(theta, 0.8, 8, 2)
    adv = st.simulate_competence(2, num_skills=40, num_pieces=40_000, k=8, theta=theta,
                                 tuple_size=2, kind="adversarial", target_share=0.3)
    assert st.competent_share(rand, 0.8) >= bound and st.competent_share(adv, 0.8) >= bound
    with pytest.raises(DataError, match="too many"):
        st.simulate_competence(0, num_skills=100, num_pieces=100, k=4, theta=0.1, tuple_size=4)
    with pytest.raises(DataError, match="kind"):
        st.simulate_competence(0, num_skills=10, num_pieces=100, k=4, theta=0.1, kind="worst")
