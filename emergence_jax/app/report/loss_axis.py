"""The report's loss-axis panel (Du et al., "Understanding Emergent Abilities of Language Models
from the Loss Perspective", arXiv 2403.15796): the downstream metric against the pre-training loss
instead of training steps.

    loss_axis.png   left: the metric over training, per scale point (thick: mean over seeds; thin:
                    each seed); right: the same (seed, checkpoint) points against the loss metric,
                    coloured by scale point, with binned means per scale point, the fitted
                    threshold curve (band) and logistic, the threshold η and the chance level

Drawn when a loss metric is named (``analysis.loss_metric``, ``emergence-jax report
--loss-metric``; ``loss_metric``). The points come from ``analysis.loss.loss_points`` and the fits
(threshold, logistic and per-size offsets, compared by PSIS-LOO) from
``analysis.loss.fit_loss_threshold``, with the sampler settings of the fit (or of the run's
analysis section).
"""

from __future__ import annotations

import numpy as np

from emergence_jax.analysis.loss import (LABELS, MAX_POINTS, MODELS, binned_means,
                                         fit_loss_threshold, group_thresholds, loss_curve,
                                         loss_points)
from emergence_jax.analysis.outcomes import curves, scale_of
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.report.figures import COLORS, _pyplot, _save, point_colors
from emergence_jax.app.report.tables import point_label
from emergence_jax.core.errors import DataError

__all__ = ["COLUMNS", "loss_axis_panels", "loss_axis_rows", "resolve_loss_metric"]

COLUMNS = ["model", "elpd", "elpd_se", "delta_elpd", "se_delta", "parameters", "diagnostics",
           "verdict", "points"]
_SYMBOLS = {"eta": "η", "kappa": "κ", "gamma": "γ", "r": "r", "phi": "φ", "a": "a", "b": "b"}


def resolve_loss_metric(run, fit=None, loss_metric: str | None = None) -> str:
    """The loss metric a report plots against: ``loss_metric`` when given ('' = none), else the
    fit's ``analysis.loss_metric``, else the run's; '' when none is named. A named metric that the
    run lacks is a ``DataError`` naming the setting and listing the run's metrics."""
    if loss_metric is None:
        settings = getattr(fit, "settings", None)
        loss_metric = (getattr(settings, "loss_metric", "")
                       or (run.config.get("analysis", {}) or {}).get("loss_metric", ""))
    if loss_metric:
        try:
            curves(run, loss_metric)
        except DataError as e:
            raise DataError(f"analysis.loss_metric (--loss-metric): {e}") from None
    return loss_metric


def _interval(s: dict) -> str:
    return f"{s['mean']:.3g} [{s['lower']:.3g}, {s['upper']:.3g}]"


def _parameters(summary: dict) -> str:
    return "; ".join(f"{_SYMBOLS.get(k, k)} = {_interval(v)}" for k, v in summary.items())


def loss_axis_rows(result: dict, points) -> list[dict]:
    """One row per fitted model: elpd (PSIS-LOO) with its SE, the difference from the shared
    threshold model with the SE of the difference, the parameters (mean and 90% interval; for the
    per-size offsets the threshold η_g of each scale point), the diagnostics and the verdicts."""
    used = (f"{len(points)} of {points.total} (seed, checkpoint) points, a fixed random subset"
            if points.thinned else f"all {len(points)} (seed, checkpoint) points")
    rows = []
    for model in MODELS:
        if model not in result:
            continue
        fit = result[model]
        if model == "threshold":
            delta, se, verdict = 0.0, 0.0, result["threshold_verdict"]
        elif model == "smooth":
            delta, se, verdict = -result["delta_elpd"], result["se_delta"], ""
        else:
            delta, se = result["size_delta_elpd"], result["size_se_delta"]
            verdict = result["size_verdict"]
        if model == "offsets":
            params = "; ".join(f"η[point {g}] = {_interval(s)}"
                               for g, s in group_thresholds(result).items())
        else:
            params = _parameters(fit["summary"])
        rows.append({"model": LABELS[model], "elpd": fit["loo"]["elpd"],
                     "elpd_se": fit["loo"]["se"], "delta_elpd": float(delta),
                     "se_delta": float(se), "parameters": params,
                     "diagnostics": "ok" if fit["diagnostics"].ok else "FAILED",
                     "verdict": verdict, "points": used})
    return rows


def _figure(run, points, result, criterion: SuccessCriterion, path) -> None:
    plt = _pyplot()
    from matplotlib.transforms import blended_transform_factory
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6), constrained_layout=True)
    metric_curves = curves(run, criterion.metric)
    colors = dict(zip([c.point for c in metric_curves], point_colors(len(metric_curves))))
    for c in metric_curves:
        v = c.values[c.kept]
        for row in v:
            ax.plot(c.steps, row, color=colors[c.point], lw=0.5, alpha=0.25)
        if v.size:
            ax.plot(c.steps, v.mean(0), color=colors[c.point], lw=2.2,
                    label=point_label(run, c.point).replace("\n", "; "))
    ax.set_xlabel("training step")
    ax.set_ylabel(criterion.metric)
    ax.set_title("Over training (thick: mean over seeds)", fontsize=9)
    ax.legend(fontsize=7, loc="best")

    for p in np.unique(points.point):
        m = points.point == p
        bx.scatter(points.loss[m], points.value[m], s=4, color=colors[int(p)], alpha=0.15,
                   linewidths=0)
        b = binned_means(points.loss[m], points.value[m])
        bx.plot(b["loss"], b["value"], "o-", color=colors[int(p)], ms=4, lw=1.4,
                label=f"{point_label(run, int(p)).splitlines()[0]}: binned mean")
    grid = np.linspace(points.loss.min(), points.loss.max(), 200)
    band = loss_curve(result, "threshold", grid)
    bx.fill_between(grid, band["lower"], band["upper"], color=COLORS["fit"], alpha=0.2)
    bx.plot(grid, band["mean"], color=COLORS["fit"], lw=2, label="threshold model (90% band)")
    bx.plot(grid, loss_curve(result, "smooth", grid)["mean"], color="black", ls="--", lw=1.2,
            label="logistic in loss")
    eta = result["threshold"]["summary"]["eta"]
    bx.axvspan(eta["lower"], eta["upper"], color=COLORS["fit"], alpha=0.1)
    bx.axvline(eta["mean"], color=COLORS["fit"], ls=":", lw=1.5, label=f"η = {eta['mean']:.3g}")
    # each scale point's own threshold (per-size offsets model): 90% interval and mean, stacked
    # along the top edge (x in loss, y in axes fractions)
    top = blended_transform_factory(bx.transData, bx.transAxes)
    for j, (g, s) in enumerate(group_thresholds(result).items()):
        y = 0.97 - 0.035 * j
        bx.plot([s["lower"], s["upper"]], [y, y], color=colors[int(g)], lw=2.5, transform=top)
        bx.plot([s["mean"]], [y], "|", color=colors[int(g)], ms=9, mew=2, transform=top)
    chance = result["threshold"]["summary"].get("r", {"mean": result["chance"]})["mean"]
    bx.axhline(chance, color="grey", ls="-.", lw=1, label=f"chance r = {chance:.2g}")
    bx.invert_xaxis()   # loss falls to the right, as training and scale progress
    bx.set_xlabel(f"{points.loss_metric} (pre-training loss, decreasing →)")
    bx.set_ylabel(criterion.metric)
    verdicts = result["threshold_verdict"] + (f"; {result['size_verdict']}"
                                              if "size_verdict" in result else "")
    bx.set_title(f"Against the loss\n{verdicts}", fontsize=9)
    bx.set_ylim(top=max(bx.get_ylim()[1], 1.0) + 0.12)   # room for the thresholds at the top
    bx.legend(fontsize=6, loc="center left")
    fig.suptitle(f"{criterion.metric} against training and against {points.loss_metric}",
                 fontsize=11)
    _save(plt, fig, path)


def loss_axis_panels(run, criterion: SuccessCriterion, loss_metric: str, settings, out, *,
                     scale_variable: str | None = None) -> tuple[list, dict]:
    """Fits and draws the loss-axis panel into ``out``; returns ([(file, title, caption, table
    rows, columns)], {"loss_axis": numbers}). ``settings``: an ``AnalysisConfig`` giving the
    sampler (chains, warmup, samples, seed) and the chance level."""
    points = loss_points(run, criterion.metric, loss_metric, max_points=MAX_POINTS)
    groups = points.point if np.unique(points.point).size >= 2 else None
    result = fit_loss_threshold(points.loss, points.k, points.n, group=groups,
                                chance=settings.chance, chains=settings.chains,
                                warmup=settings.warmup, samples=settings.samples,
                                seed=settings.seed, progress=False)
    _figure(run, points, result, criterion, out / "loss_axis.png")
    rows = loss_axis_rows(result, points)
    by_point = group_thresholds(result)
    numbers = {
        "metric": criterion.metric, "loss_metric": loss_metric, "points": len(points),
        "points_total": points.total, "thinned": points.thinned, "max_points": MAX_POINTS,
        "n_eval": points.n, "exact_counts": points.exact_counts, "models": rows,
        "threshold_preferred": result["threshold_preferred"],
        "threshold_verdict": result["threshold_verdict"], "delta_elpd": result["delta_elpd"],
        "se_delta": result["se_delta"],
        "parameters": {LABELS[m]: result[m]["summary"] for m in MODELS
                       if m in result},
        "diagnostics": {LABELS[m]: result[m]["diagnostics"].to_json()
                        for m in MODELS if m in result},
        "thresholds_by_scale_point": [
            {"scale_point": int(g), "scale": scale_of(run, int(g), scale_variable), **s}
            for g, s in by_point.items()]}
    if "size_verdict" in result:
        numbers.update({k: result[k] for k in ("size_matters", "size_verdict",
                                                 "size_delta_elpd", "size_se_delta")})
    counts = ("k = metric × n examples" if points.exact_counts else
              f"k = {criterion.metric} × n as a pseudo-count (the metric is not a whole number "
              "of examples)")
    caption = (
        f"Left: {criterion.metric} over training per scale point (thin: each seed; thick: the "
        f"mean). Right: every (seed, checkpoint) point against {loss_metric} (loss decreasing to "
        "the right), coloured by scale point, with binned means per scale point; blue: the "
        "threshold model p(L) = r + (1 − r)(1 − exp(−κ·relu(η − L)^γ)) with its 90% band and η "
        "(dotted, band: 90% interval); dashed: a logistic in the loss; dash-dot: the chance "
        "level r; bars along the top: each scale point's own threshold η_g (90% interval and "
        "mean) under the per-size offsets model. BetaBinomial likelihood on "
        f"{counts}, n = {points.n}; models compared by PSIS-LOO (preferred when Δelpd > max(4, "
        "2·SE)). Size matters when per-size thresholds are preferred over one shared threshold.")
    return ([("loss_axis.png", "Performance against pre-training loss", caption, rows, COLUMNS)],
            {"loss_axis": numbers})
