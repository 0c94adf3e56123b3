"""The report's figures (matplotlib, non-interactive backend, so they render on headless machines).

    distributions.png    per scale point: histogram of the outcome across seeds, the fitted
                         predictive density, the success threshold
    p_success.png        P(success) vs scale: posterior band and empirical fractions
    predictive_check.png the fit against its data: each scale's observed success fraction inside
                         (or outside) its predictive interval for that many seeds, and the
                         metric's observed quantiles against their predictive intervals
    success_mean.png     mean metric of successful / failed seeds vs scale
    learning_curves.png  every seed's metric over training, coloured by its outcome
    probes.png           attention-probe scores over training, coloured by outcome

Every function takes what ``analysis.outcomes`` and ``tables`` computed; none of them decides
which seeds or evaluations count.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from emergence_jax.analysis.outcomes import PointCurves, PointOutcome
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.report.tables import SCALE_LABELS, point_label
from emergence_jax.app.sweep.console import human_size
from emergence_jax.io.location import Location

__all__ = ["COLORS", "plot_distributions", "plot_learning_curves", "plot_p_success",
           "plot_predictive_check", "plot_probes", "plot_success_mean", "point_colors",
           "probe_metrics"]

COLORS = {"success": "#1b7837", "failure": "#b2182b", "diverged": "#7f7f7f", "fit": "#2166ac"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def point_colors(n: int) -> list:
    """One colour per scale point, small to large (viridis, without its palest yellow)."""
    cmap = _pyplot().get_cmap("viridis")
    return [cmap(0.85 * i / max(n - 1, 1)) for i in range(n)]


def _panel_grid(n: int, **shared):
    """A figure with one panel per scale point, at most four per row; unused panels hidden."""
    plt = _pyplot()
    cols = min(n, 4)
    nrows = int(math.ceil(n / cols))
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.0 * nrows), squeeze=False,
                             constrained_layout=True, **shared)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return plt, fig, axes


def _compact_log_ticks(ax) -> None:
    """Short tick labels (``3k``, ``20M``) on a logarithmic x axis: matplotlib's default labels
    minor ticks as ``3×10³`` when the axis spans less than a couple of decades, and neighbours
    then overlap. Minor ticks are labelled only on a short axis: every one within a decade, those
    at 2× and 5× within two."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    lo, hi = sorted(ax.get_xlim())
    label = FuncFormatter(lambda x, _: human_size(x))
    ax.xaxis.set_major_formatter(label)
    decades = math.log10(hi / lo) if lo > 0 else math.inf
    if decades <= 2:
        subs = tuple(range(2, 10)) if decades <= 1 else (2, 5)
        ax.xaxis.set_minor_locator(LogLocator(base=10, subs=[float(v) for v in subs]))
        ax.xaxis.set_minor_formatter(label)
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())


def _save(plt, fig, path) -> None:
    """Writes the figure atomically (a reader never sees half a PNG)."""
    for ax in fig.axes:
        if ax.get_xscale() == "log":
            _compact_log_ticks(ax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    path = Path(path)
    Location(path.parent).write_atomic(path.name, buffer.getvalue())


def _scale_panel(fit_rows: list[dict], key: str, label: str):
    """A figure with one panel against scale, holding the fit's band for ``key`` (if fitted)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    if fit_rows:
        xs = [r["scale"] for r in fit_rows]
        ax.fill_between(xs, [r[f"{key}_lower"] for r in fit_rows],
                        [r[f"{key}_upper"] for r in fit_rows], color=COLORS["fit"], alpha=0.2,
                        label=f"{label} (credible band)")
        ax.plot(xs, [r[key] for r in fit_rows], color=COLORS["fit"], lw=2,
                label=f"{label} (mean)")
    return plt, fig, ax


def _finish_scale_panel(plt, fig, ax, run, ylabel: str, title: str, path) -> None:
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"scale: {SCALE_LABELS.get(run.scale_variable, run.scale_variable)} "
                  "(log scale)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="best")
    _save(plt, fig, path)


def _outcome_colors(outcome: PointOutcome, criterion: SuccessCriterion) -> list[str]:
    """Per seed: the colour of its outcome (success, failure, or diverged / not counted)."""
    success = criterion.succeeded(outcome.values)
    return [COLORS["diverged"] if not kept else COLORS["success" if ok else "failure"]
            for kept, ok in zip(outcome.kept, success)]


def plot_distributions(run, fit, outcomes: list[PointOutcome], rows: list[dict],
                       criterion: SuccessCriterion, path) -> None:
    plt, fig, axes = _panel_grid(len(rows), sharex=True)
    grid = np.linspace(0.0, 1.0, 201)
    bins = np.linspace(0.0, 1.0, 21)
    for ax, row, outcome in zip(axes.flat, rows, outcomes):
        heights, _, _ = ax.hist(outcome.kept_values, bins=bins, density=True, color="#bbbbbb",
                                edgecolor="white", label=f"{row['seeds']} seeds")
        top = 1.3 * max(float(np.max(heights, initial=0.0)), 1.0)
        if fit is not None:
            density = np.asarray(fit.density(row["scale"], grid), dtype=float)
            ax.plot(grid, density, color=COLORS["fit"], lw=2, label=f"fitted {fit.model}")
            if np.nanmax(density) > top:
                # A sharp component (e.g. seeds piled up at 1.0) would flatten the histogram:
                # keep the histogram's scale and say that the curve is clipped.
                ax.text(0.5, 0.97, "(fitted density clipped)", transform=ax.transAxes,
                        ha="center", va="top", fontsize=7, color=COLORS["fit"])
        ax.set_ylim(0, top)
        ax.axvline(criterion.threshold, color="black", ls="--", lw=1,
                   label=f"success {criterion.symbol} {criterion.threshold:g}")
        ax.set_title(point_label(run, outcome.point), fontsize=9)
        ax.set_xlabel(f"{criterion.metric} (final)")
        ax.set_ylabel("density of seeds")
    # Seeds pile up near the ends of [0, 1]; the middle of the first panel is the emptiest place.
    axes.flat[0].legend(fontsize=7, loc="center")
    fig.suptitle(f"Seed distribution of {criterion.metric} at each scale", fontsize=11)
    _save(plt, fig, path)


def plot_p_success(run, fit_rows: list[dict], rows: list[dict], criterion: SuccessCriterion,
                   path) -> None:
    plt, fig, ax = _scale_panel(fit_rows, "p_success", "posterior P(success)")
    xs = np.array([r["scale"] for r in rows])
    ys = np.array([r["p_success"] for r in rows])
    err = np.array([[y - r["p_success_lower"], r["p_success_upper"] - y]
                    for y, r in zip(ys, rows)]).T
    ax.errorbar(xs, ys, yerr=err, fmt="o", color="black", capsize=3,
                label=f"empirical fraction {criterion.symbol} {criterion.threshold:g} "
                      "(95% bootstrap)")
    _finish_scale_panel(plt, fig, ax, run, "P(success)", "Probability that a seed succeeds",
                        path)


def plot_predictive_check(run, check, curve_rows: list[dict], criterion: SuccessCriterion,
                          path) -> None:
    """Left: per scale, the observed success fraction (dot; red when outside) and its
    predictive interval for that many seeds (bar), over the fitted P(success) band. Right: the
    metric's observed 10/50/90% quantiles against their predictive intervals."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    pct = f"{100 * check.level:.0f}%"
    if curve_rows:
        xs = [r["scale"] for r in curve_rows]
        left.fill_between(xs, [r["p_success_lower"] for r in curve_rows],
                          [r["p_success_upper"] for r in curve_rows], color=COLORS["fit"],
                          alpha=0.15, label="posterior P(success)")
    xs = np.array([c.scale for c in check.scales])
    lo = np.array([c.lower for c in check.scales])
    hi = np.array([c.upper for c in check.scales])
    obs = np.array([c.observed for c in check.scales])
    left.vlines(xs, lo, hi, color=COLORS["fit"], lw=6, alpha=0.5,
                label=f"{pct} predictive interval (n seeds)")
    inside = np.array([c.inside for c in check.scales])
    left.plot(xs[inside], obs[inside], "o", color="black", label="observed fraction")
    if (~inside).any():
        left.plot(xs[~inside], obs[~inside], "o", color=COLORS["failure"], label="outside")
    left.set_ylabel(f"fraction {criterion.symbol} {criterion.threshold:g}")
    left.set_title("Success fraction: observed vs predicted", fontsize=10)
    levels = check.scales[0].quantile_levels
    shown = [i for i, q in enumerate(levels) if q in (0.1, 0.5, 0.9)]
    width = 0.04 * (np.log(xs.max()) - np.log(xs.min()) if xs.size > 1 else 1.0)
    for j, i in enumerate(shown):
        shift = np.exp((j - 1) * width)
        qlo = np.array([c.quantile_lower[i] for c in check.scales])
        qhi = np.array([c.quantile_upper[i] for c in check.scales])
        qobs = np.array([c.observed_quantiles[i] for c in check.scales])
        color = ["#4393c3", "#2166ac", "#053061"][j]
        right.vlines(xs * shift, qlo, qhi, color=color, lw=5, alpha=0.4)
        right.plot(xs * shift, qobs, "o", ms=4, color=color,
                   label=f"{100 * levels[i]:.0f}% quantile (bar: {pct} predictive)")
    right.axhline(criterion.threshold, color="black", ls="--", lw=1)
    right.set_ylabel(criterion.metric)
    right.set_title("Metric quantiles: observed vs predicted", fontsize=10)
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"scale: {SCALE_LABELS.get(run.scale_variable, run.scale_variable)}")
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(("Predictive check passed" if check.ok else "Predictive check FAILED")
                 + f" ({criterion})", fontsize=11)
    _save(plt, fig, path)


def plot_success_mean(run, fit_rows: list[dict], rows: list[dict], criterion: SuccessCriterion,
                      path) -> None:
    plt, fig, ax = _scale_panel(fit_rows, "success_mean", "successful seeds, fitted")
    ax.plot([r["scale"] for r in rows], [r["success_mean"] for r in rows], "o",
            color=COLORS["success"], label="mean of successful seeds")
    ax.plot([r["scale"] for r in rows], [r["failure_mean"] for r in rows], "s",
            color=COLORS["failure"], label="mean of failed seeds")
    _finish_scale_panel(plt, fig, ax, run, criterion.metric,
                        "Mean metric of successful and failed seeds", path)


def plot_learning_curves(run, curves: list[PointCurves], outcomes: list[PointOutcome],
                         criterion: SuccessCriterion, path) -> None:
    """One panel per scale point: each seed's curve of the success metric, coloured by its
    outcome."""
    plt, fig, axes = _panel_grid(len(curves), sharey=True)
    for ax, c, outcome in zip(axes.flat, curves, outcomes):
        for values, color in zip(c.values, _outcome_colors(outcome, criterion)):
            ax.plot(c.steps, values, color=color, lw=0.8, alpha=0.6)
        ax.set_title(point_label(run, c.point), fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel(criterion.metric)
    legend = {f"final {criterion.symbol} {criterion.threshold:g}": COLORS["success"],
              "fails": COLORS["failure"], "diverged": COLORS["diverged"]}
    handles = [plt.Line2D([], [], color=col, lw=2, label=label) for label, col in legend.items()]
    axes.flat[0].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(f"Learning curves of {criterion.metric}, coloured by final outcome",
                 fontsize=11)
    _save(plt, fig, path)


def probe_metrics(run) -> list[str]:
    """The probe scores worth plotting: each pattern's best head (``*_max``) when recorded."""
    names = [n for n in run.metric_names if n.startswith("probe/") or "/probe/" in n]
    summaries = [n for n in names if n.endswith("_max")]
    return summaries or names[:4]


def plot_probes(run, probe_curves: dict[str, list[PointCurves]], outcomes: list[PointOutcome],
                criterion: SuccessCriterion, path) -> None:
    """Rows: probe scores; columns: scale points; each seed coloured by its outcome."""
    plt = _pyplot()
    names = list(probe_curves)
    n = len(outcomes)
    fig, axes = plt.subplots(len(names), n, figsize=(3.4 * n, 2.6 * len(names)), squeeze=False,
                             sharex=True, constrained_layout=True)
    for i, name in enumerate(names):
        for j, (c, outcome) in enumerate(zip(probe_curves[name], outcomes)):
            ax = axes[i, j]
            for values, color in zip(c.values, _outcome_colors(outcome, criterion)):
                ax.plot(c.steps, values, lw=0.8, alpha=0.6, color=color)
            if i == 0:
                ax.set_title(point_label(run, c.point), fontsize=9)
            if j == 0:
                ax.set_ylabel(name.split("/", 1)[-1], fontsize=8)
            if i == len(names) - 1:
                ax.set_xlabel("training step")
    fig.suptitle("Attention-probe scores over training (green: seeds that succeed)", fontsize=11)
    _save(plt, fig, path)
