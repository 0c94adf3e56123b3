"""P(success) curve forms: priors and transforms, shapes, numerics (no sampling)."""
import math

import numpy as np
import pytest
from scipy import stats

from emergence_jax.analysis import curve_forms as cf
from emergence_jax.core.errors import DataError


def _numeric_log_jacobian(form, theta, n_knots):
    """log |det d(constrained free coordinates)/dθ| by central differences."""
    def free(th):
        p, _ = cf.unpack(form, th, n_knots)
        names = cf.param_names(form, n_knots)
        if form == "monotone":
            names = names[:-1]          # the last increment is 1 minus the others
        return np.array([float(p[n]) for n in names])
    D = cf.dims(form, n_knots)
    J = np.empty((D, D))
    for i in range(D):
        e = np.zeros_like(theta)
        e[i] = 1e-6
        J[:, i] = (free(theta + e) - free(theta - e)) / 2e-6
    return math.log(abs(np.linalg.det(J)))


@pytest.mark.parametrize("form", ["logistic", "quadratic", "asymptotes", "monotone"])
def test_log_prior_is_the_stated_prior_times_the_jacobian(form):
    rng = np.random.default_rng(0)
    K = 6
    for _ in range(3):
        theta = rng.normal(size=cf.dims(form, K))
        p, lp = cf.unpack(form, theta, K)
        if form in ("logistic", "quadratic"):
            ref = stats.norm(0, 2).logpdf(p[f"{form}_a"]) + sum(
                stats.norm(0, 5).logpdf(p[f"{form}_{n}"]) for n in "bc" if f"{form}_{n}" in p)
            assert lp == pytest.approx(ref)
            continue
        ref = stats.beta(1, 1).logpdf(p[f"{form}_lo"]) + stats.beta(1, 1).logpdf(p[f"{form}_hi"])
        if form == "asymptotes":
            ref += stats.lognorm(1.0, scale=5.0).logpdf(p[f"{form}_steep"])
            ref += stats.norm(0, 1).logpdf(p[f"{form}_mid"])
        else:
            steps = np.array([p[f"monotone_step{j}"] for j in range(K - 1)])
            assert steps.sum() == pytest.approx(1.0) and np.all(steps > 0)
            ref += stats.dirichlet(np.ones(K - 1)).logpdf(steps)
        assert lp == pytest.approx(ref + _numeric_log_jacobian(form, theta, K), abs=1e-5)


def test_shapes_of_the_forms():
    z = np.linspace(-3, 3, 121)
    inside = np.abs(z) <= 1
    # asymptotes: from lo to hi, never beyond; falling when hi < lo
    p = {"asymptotes_lo": np.array([0.1, 0.9]), "asymptotes_hi": np.array([0.8, 0.2]),
         "asymptotes_steep": np.array([8.0, 3.0]), "asymptotes_mid": np.array([0.0, 0.3])}
    P = cf.probability("asymptotes", p, z)
    assert np.all(np.diff(P[0]) >= 0) and np.all(np.diff(P[1]) <= 0)
    assert P[0, 0] == pytest.approx(0.1, abs=1e-3) and P[0, -1] == pytest.approx(0.8, abs=1e-3)
    assert P.min() >= 0.1 - 1e-9 and P.max() <= 0.9 + 1e-9
    # monotone spline: monotone, ends at lo and hi, constant beyond the observed range
    rng = np.random.default_rng(1)
    steps = rng.dirichlet(np.ones(5), size=4)
    p = {"monotone_lo": np.array([0.05, 0.9, 0.3, 0.5]),
         "monotone_hi": np.array([0.95, 0.1, 0.31, 0.5])}
    p.update({f"monotone_step{j}": steps[:, j] for j in range(5)})
    P = cf.probability("monotone", p, z, 6)
    for row, lo, hi in zip(P, p["monotone_lo"], p["monotone_hi"]):
        d = np.diff(row)
        assert np.all(d >= -1e-12) or np.all(d <= 1e-12)
        assert row[z <= -1] == pytest.approx(lo) and row[z >= 1] == pytest.approx(hi)
    knot_z = np.linspace(-1, 1, 6)
    Pk = cf.probability("monotone", p, knot_z, 6)[0]
    np.testing.assert_allclose(Pk, 0.05 + 0.9 * np.r_[0, np.cumsum(steps[0])])
    # quadratic: non-monotone inside the range
    q = cf.probability("quadratic", {"quadratic_a": np.array([-1.0]), "quadratic_b": np.array(
        [0.0]), "quadratic_c": np.array([3.0])}, z[inside])[0]
    assert q.argmin() not in (0, q.size - 1)


def test_log_probs_do_not_cancel():
    big = {"logistic_a": np.array([60.0]), "logistic_b": np.array([0.0])}
    lp, lq = cf.log_probs("logistic", big, np.zeros(1))
    assert lq[0, 0] == pytest.approx(-60.0, rel=1e-9) and lp[0, 0] == pytest.approx(0, abs=1e-20)
    p = {"asymptotes_lo": np.array([1e-12]), "asymptotes_hi": np.array([1 - 1e-12]),
         "asymptotes_steep": np.array([5.0]), "asymptotes_mid": np.array([0.0])}
    lp, lq = cf.log_probs("asymptotes", p, np.array([-50.0, 50.0]))
    assert np.all(np.isfinite(lp)) and np.all(np.isfinite(lq))
    assert lp[0, 0] == pytest.approx(math.log(1e-12), rel=1e-3)


def test_forms_for_and_errors():
    assert cf.forms_for("auto", 1) == ("constant",)
    assert cf.forms_for("auto", 2) == ("logistic",)
    assert cf.forms_for("auto", 5) == cf.FORMS
    assert cf.forms_for("asymptotes", 4) == ("asymptotes",)
    with pytest.raises(DataError, match="analysis.curve: 'monotone' needs at least 3"):
        cf.forms_for("monotone", 2)
    assert cf.knots(4) == 4 and cf.knots(40) == cf.MONOTONE_KNOTS
