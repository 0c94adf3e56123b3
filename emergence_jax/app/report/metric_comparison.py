"""The report's continuous-against-discontinuous panel (Schaeffer, Miranda & Koyejo, "Are Emergent
Abilities of Large Language Models a Mirage?", arXiv 2304.15004): is the jump of exact match a
property of the model or of the metric? The same evaluation set's token accuracy (a share of answer
tokens) and loss change continuously where exact match (every answer token right) jumps.

    metric_comparison.png   (a) per scale point, the mean over seeds of exact match, token
                            accuracy and (own axis) the loss, against scale; (b) for a few seeds of
                            a few scale points, the metrics over training; (c) per scale point,
                            the dip-test p-value of each metric's final distribution across seeds
                            (small: more than one mode)

Drawn when the success metric is ``<set>/exact_match`` and the run also has ``<set>/token_accuracy``
or ``<set>/loss``. Abruptness is ``analysis.nonparametric.abruptness`` (breakthroughness and the
largest step's share of the range): per seed over its evaluations, and of the per-scale mean over
scale.
"""

from __future__ import annotations

import math

import numpy as np

from emergence_jax.analysis.nonparametric import abruptness, dip_p_value
from emergence_jax.analysis.outcomes import curves, point_outcomes, scale_of
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.report.figures import COLORS, _pyplot, _save
from emergence_jax.app.report.tables import SCALE_LABELS, point_label

__all__ = ["BIMODAL_P", "COLUMNS", "comparison_metrics", "metric_comparison_panels",
           "metric_comparison_rows"]

BIMODAL_P = 0.05       # a dip-test p-value below this marks a final distribution as bimodal
COLUMNS = ["scale_point", "scale", "metric", "seeds", "mean", "dip_p_value", "bimodal",
           "seed_breakthroughness", "seed_step_share"]
_STYLES = {"exact_match": "-", "token_accuracy": "--", "loss": ":"}
_COLORS = {"exact_match": "black", "token_accuracy": COLORS["fit"], "loss": "grey"}


def comparison_metrics(run, criterion: SuccessCriterion) -> dict[str, bool]:
    """{metric: falls as it improves} for ``<set>/exact_match`` (the criterion's metric) and the
    same set's ``token_accuracy`` and ``loss`` that the run records; empty when the criterion's
    metric is not an exact match or the run has neither companion."""
    prefix, _, leaf = criterion.metric.rpartition("/")
    if leaf != "exact_match" or not prefix:
        return {}
    names = set(run.metric_names)
    found = {f"{prefix}/{m}": m == "loss" for m in ("token_accuracy", "loss")
             if f"{prefix}/{m}" in names}
    return {criterion.metric: False, **found} if found else {}


def _median(x: np.ndarray) -> float:
    return float(np.median(x)) if x.size else math.nan


def metric_comparison_rows(run, metrics: dict[str, bool], scale_variable: str | None = None
                           ) -> tuple[list[dict], list[dict]]:
    """(per scale point × metric, per metric). Per scale point: the kept seeds' final mean, the
    dip-test p-value of the final values (NaN under 4 seeds) and whether it is
    below ``BIMODAL_P``, and the medians over seeds of each seed's breakthroughness and largest-step
    share over its evaluations. Per metric: the abruptness of the per-scale mean over scale (NaN
    with one scale point). Losses are oriented so that improvement counts as positive."""
    rows, over_scale = [], []
    for name, falling in metrics.items():
        outcomes = point_outcomes(run, name)
        by_point = {c.point: c for c in curves(run, name)}
        means = []
        for o in outcomes:
            v = o.kept_values
            c = by_point[o.point]
            seeds = c.values[c.kept]
            stats = (abruptness(seeds, falling=falling) if seeds.size and c.steps.size >= 2
                     else {"breakthroughness": np.array([]), "step_share": np.array([])})
            p = dip_p_value(v)
            bimodal = None if math.isnan(p) else bool(p < BIMODAL_P)
            means.append(float(v.mean()) if v.size else math.nan)
            rows.append({"scale_point": o.point, "scale": scale_of(run, o.point, scale_variable),
                         "metric": name, "seeds": int(v.size), "mean": means[-1],
                         "dip_p_value": p, "bimodal": bimodal,
                         "seed_breakthroughness": _median(stats["breakthroughness"]),
                         "seed_step_share": _median(stats["step_share"])})
        scales = np.array([r["scale"] for r in rows if r["metric"] == name])
        mean = np.array(means)[np.argsort(scales, kind="stable")]
        ok = np.isfinite(mean)
        stats = abruptness(mean[ok], falling=falling) if ok.sum() >= 2 else None
        over_scale.append({"metric": name, "scale_points": int(ok.sum()),
                           **{k: float(stats[k][0]) if stats else math.nan
                              for k in ("I", "breakthroughness", "linearity", "step_share")}})
    return rows, over_scale


def _look(name: str) -> tuple[str, str]:
    """(line style, colour) of a metric, by its kind."""
    leaf = name.rpartition("/")[2]
    return _STYLES.get(leaf, "-"), _COLORS.get(leaf, "black")


def _figure(run, metrics: dict[str, bool], rows: list[dict], path, scale_variable,
            seeds_shown: int = 3, points_shown: int = 4) -> None:
    plt = _pyplot()
    points = sorted({r["scale_point"] for r in rows})
    picks = np.linspace(0, len(points) - 1, min(points_shown, len(points)))
    shown = [points[i] for i in sorted({round(j) for j in picks})]
    fig = plt.figure(figsize=(3.6 * max(len(shown), 3), 7.6), constrained_layout=True)
    outer = fig.add_gridspec(2, 1)
    top = outer[0].subgridspec(1, 2)
    bottom = outer[1].subgridspec(1, len(shown))
    ax, cx = fig.add_subplot(top[0]), fig.add_subplot(top[1])
    loss_ax = None
    for name, falling in metrics.items():
        mine = sorted((r for r in rows if r["metric"] == name), key=lambda r: r["scale"])
        style, color = _look(name)
        xs = [r["scale"] for r in mine]
        target = ax
        if falling:
            if loss_ax is None:
                loss_ax = ax.twinx()
            target = loss_ax
            loss_ax.set_ylabel(f"{name} (mean over seeds)", fontsize=8)
        target.plot(xs, [r["mean"] for r in mine], style, marker="o", color=color, label=name)
        cx.plot(xs, [r["dip_p_value"] for r in mine], style, marker="o", color=color,
                label=name)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("mean over seeds")
    ax.set_title("(a) Mean over seeds against scale", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    if loss_ax is not None:
        more = loss_ax.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    ax.legend(handles, labels, fontsize=7, loc="best")
    cx.axhline(BIMODAL_P, color="#b2182b", ls="-", lw=1, label=f"p = {BIMODAL_P}")
    cx.set_yscale("log")
    cx.set_ylabel("dip-test p-value of the final values")
    cx.set_title("(c) Bimodality across seeds (below the red line: more than one mode)",
                 fontsize=9)
    cx.legend(fontsize=7, loc="best")
    variable = scale_variable or run.scale_variable
    for a in (ax, cx):
        a.set_xscale("log")
        a.set_xlabel(f"scale: {SCALE_LABELS.get(variable, variable)} (log scale)")
    per_metric = {name: {c.point: c for c in curves(run, name)} for name in metrics}
    seed_colors = plt.get_cmap("tab10").colors
    for j, point in enumerate(shown):
        bx = fig.add_subplot(bottom[j])
        twin = None
        for name, falling in metrics.items():
            c = per_metric[name][point]
            target = bx
            if falling:
                if twin is None:
                    twin = bx.twinx()
                target = twin
            for color, s in zip(seed_colors, np.flatnonzero(c.kept)[:seeds_shown]):
                target.plot(c.steps, c.values[s], _look(name)[0], color=color, lw=1.2)
        bx.set_ylim(-0.02, 1.02)
        bx.set_xlabel("training step")
        bx.set_title(f"(b) {point_label(run, point).replace(chr(10), '; ')}", fontsize=8)
        if twin is not None and j == len(shown) - 1:
            twin.set_ylabel(f"{next(n for n, f in metrics.items() if f)} ({_STYLES['loss']})",
                            fontsize=8)
        if j == 0:
            bx.set_ylabel("share", fontsize=8)
            keys = [plt.Line2D([], [], color="black", ls=_look(n)[0], label=n) for n in metrics]
            bx.legend(handles=keys, fontsize=6, loc="best")
    fig.suptitle(f"Exact match against continuous metrics of the same evaluation set (b: first "
                 f"{seeds_shown} seeds, one colour each)", fontsize=11)
    _save(plt, fig, path)


def metric_comparison_panels(run, criterion: SuccessCriterion, out, *,
                             scale_variable: str | None = None) -> tuple[list, dict]:
    """Draws ``metric_comparison.png`` into ``out`` when ``comparison_metrics`` finds the metrics;
    returns ([(file, title, caption, table rows, columns)], {"metric_comparison": {"per_point",
    "over_scale"}}) — empty when it does not apply."""
    metrics = comparison_metrics(run, criterion)
    if not metrics:
        return [], {}
    rows, over_scale = metric_comparison_rows(run, metrics, scale_variable)
    _figure(run, metrics, rows, out / "metric_comparison.png", scale_variable)
    abrupt = ", ".join(f"{r['metric']} {r['breakthroughness']:.3g} (largest step "
                       f"{r['step_share']:.0%} of the range)" for r in over_scale)
    caption = (
        "(a) The mean over seeds of each metric of the same evaluation set against scale (loss "
        "on the right axis); (b) a few seeds' learning curves of each metric, for a few scale "
        "points (one colour per seed; line style per metric); (c) the dip-test p-value of each "
        f"metric's final values across seeds (bimodal below {BIMODAL_P}). In the table, "
        "`seed_breakthroughness` and `seed_step_share` are medians over seeds of each seed's "
        "curve over training: breakthroughness = range / sqrt(median squared step) (inf: most "
        "steps are flat, the rise is a jump) and the largest single step's share of the range; "
        "losses are negated so that improvement counts as positive. Breakthroughness of the "
        f"per-scale mean over scale: {abrupt}.")
    return ([("metric_comparison.png", "Exact match against continuous metrics", caption, rows,
              COLUMNS)], {"metric_comparison": {"per_point": rows, "over_scale": over_scale}})
