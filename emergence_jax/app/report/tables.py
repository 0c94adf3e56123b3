"""The numbers behind a report: empirical per-point rows and the fit along a scale grid."""

from __future__ import annotations

import math

import numpy as np

from emergence_jax.analysis.nonparametric import bootstrap_ci, dip_p_value, wasserstein2
from emergence_jax.analysis.outcomes import PointOutcome, scale_of
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.sweep.console import human_size

__all__ = ["SCALE_LABELS", "empirical_rows", "fit_rows", "point_label", "scale_grid"]

SCALE_LABELS = {
    "params": "parameters",
    "non_embedding_params": "non-embedding parameters",
    "tokens": "training tokens",
    "flops": "training FLOPs",
}


def point_label(run, point: int) -> str:
    """Two lines naming a scale point: its swept coordinates and its scale."""
    entry = run.scale_points[point]
    coords = {k: entry[k] for k in run.axes if k in entry}
    short = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in coords.items())
    variable = run.scale_variable
    if variable in coords:      # the scale is one of the swept fields: already named
        return short
    size = f"{human_size(float(entry[variable]))} {SCALE_LABELS.get(variable, variable)}"
    return f"{short}\n{size}" if short else size


def empirical_rows(run, outcomes: list[PointOutcome], criterion: SuccessCriterion) -> list[dict]:
    """Per counted scale point: seeds, divergences, the success fraction with a 95% bootstrap
    interval, the means of successful and failed seeds, the median, the dip test's p-value for
    unimodality of the seeds' values (small: more than one mode; from 4 seeds) and the
    Wasserstein-2 distance from the values of the point of the next smaller scale (Zhao et al.'s
    per-scale statistics; NaN for the smallest)."""
    rows = []
    order = sorted(range(len(outcomes)), key=lambda i: scale_of(run, outcomes[i].point))
    smaller = {order[j]: order[j - 1] for j in range(1, len(order))}
    for i, o in enumerate(outcomes):
        values = o.kept_values
        success = criterion.succeeded(values)
        if values.size:
            p, lo, hi = bootstrap_ci(success.astype(float), lambda a: a.mean(-1))
        else:
            p = lo = hi = math.nan
        rows.append({
            "scale_point": o.point, "scale": scale_of(run, o.point),
            "label": point_label(run, o.point).replace("\n", "; "),
            "seeds": int(values.size), "diverged": int(o.diverged.sum()),
            "p_success": p, "p_success_lower": lo, "p_success_upper": hi,
            "success_mean": float(values[success].mean()) if success.any() else math.nan,
            "failure_mean": float(values[~success].mean()) if (~success).any() else math.nan,
            "median": float(np.median(values)) if values.size else math.nan,
            "dip_p_value": dip_p_value(values),
            "w2_from_previous": _w2(outcomes[smaller[i]].kept_values, values)
            if i in smaller else math.nan,
        })
    return rows


def _w2(a: np.ndarray, b: np.ndarray) -> float:
    return wasserstein2(a, b) if a.size and b.size else math.nan


def fit_rows(fit, scales: np.ndarray) -> list[dict]:
    """The fit's P(success) and success mean (with credible bounds; NaN for a unimodal fit,
    which has no success component) at ``scales``."""
    ps = fit.p_success(scales)
    nan = np.full(len(scales), math.nan)
    sm = fit.success_mean(scales) if fit.spec.kind != "unimodal" else None
    mean, lower, upper = (nan, nan, nan) if sm is None else (sm.mean, sm.lower, sm.upper)
    return [{"scale": float(s), "p_success": float(ps.mean[i]),
             "p_success_lower": float(ps.lower[i]), "p_success_upper": float(ps.upper[i]),
             "success_mean": float(mean[i]), "success_mean_lower": float(lower[i]),
             "success_mean_upper": float(upper[i])}
            for i, s in enumerate(scales)]


def scale_grid(scales: np.ndarray, n: int = 60) -> np.ndarray:
    """A log-spaced grid spanning ``scales`` with a margin on both sides."""
    lo, hi = np.log(scales.min()), np.log(scales.max())
    pad = 0.15 * max(hi - lo, 0.5)
    return np.exp(np.linspace(lo - pad, hi + pad, n))
