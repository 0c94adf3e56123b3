"""Reports: PNG figures and an index (Markdown + HTML) for one run store and its fit.

``write_report(run, fit, out_dir)`` draws

    distributions.png    per scale point: histogram of the metric across seeds, fitted mixture
                         density overlaid, success threshold marked
    p_success.png        P(success) vs scale: posterior mean and credible band, empirical fractions
                         with 95% bootstrap intervals
    success_mean.png     mean metric of successful runs vs scale (posterior band + empirical)
    learning_curves.png  every seed's metric over training, coloured by final outcome
    probes.png           attention-probe scores over training (when the task records probes)

and writes ``index.md``/``index.html`` with the fit summary, the bimodality verdict, diagnostics and
a table of the numbers behind each figure (also in ``tables.json``). Figures use a non-interactive
backend, so reports render on headless machines.
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path

import numpy as np

from emergence_jax.sweep import human_size

SCALE_LABELS = {
    "params": "parameters",
    "non_embedding_params": "non-embedding parameters",
    "tokens": "training tokens",
    "flops": "training FLOPs",
}
COLORS = {"success": "#1b7837", "failure": "#b2182b", "diverged": "#7f7f7f", "fit": "#2166ac"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _point_label(point: dict, scale_variable: str) -> str:
    coords = point.get("coords") or {k: v for k, v in point.items()
                                      if k not in SCALE_LABELS and not isinstance(v, dict)}
    short = ", ".join(f"{k.split('.')[-1]}={v}" for k, v in coords.items())
    size = f"{human_size(float(point[scale_variable]))} {SCALE_LABELS.get(scale_variable, scale_variable)}"
    return f"{short}\n{size}" if short else size


def _bootstrap_fraction(success: np.ndarray, resamples: int = 1000, seed: int = 0):
    rng = np.random.default_rng(seed)
    if success.size == 0:
        return math.nan, math.nan
    draws = rng.choice(success, size=(resamples, success.size), replace=True).mean(1)
    return float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975))


def summarise(run, metric: str, threshold: float) -> list[dict]:
    """Per completed scale point: the empirical numbers behind the figures."""
    final = run.final(metric)
    scales = run.scale_values()
    rows = []
    for p, point in enumerate(run.scale_points):
        if not run.completed[p]:
            continue
        values = final[p][~run.diverged[p] & np.isfinite(final[p])]
        success = values > threshold
        lo, hi = _bootstrap_fraction(success.astype(float))
        rows.append({
            "scale_point": p, "scale": float(scales[p]),
            "label": _point_label(point, run.scale_variable).replace("\n", "; "),
            "seeds": int(values.size), "diverged": int(run.diverged[p].sum()),
            "p_success": float(success.mean()) if values.size else math.nan,
            "p_success_lower": lo, "p_success_upper": hi,
            "success_mean": float(values[success].mean()) if success.any() else math.nan,
            "failure_mean": float(values[~success].mean()) if (~success).any() else math.nan,
            "median": float(np.median(values)) if values.size else math.nan,
        })
    return rows


def _fit_rows(fit, scales: np.ndarray) -> list[dict]:
    ps, sm = fit.p_success(scales), fit.success_mean(scales)
    return [{"scale": float(s), "p_success": float(ps.mean[i]), "p_success_lower": float(ps.lower[i]),
             "p_success_upper": float(ps.upper[i]), "success_mean": float(sm.mean[i]),
             "success_mean_lower": float(sm.lower[i]), "success_mean_upper": float(sm.upper[i])}
            for i, s in enumerate(scales)]


def _scale_grid(scales: np.ndarray, n: int = 60) -> np.ndarray:
    lo, hi = np.log(scales.min()), np.log(scales.max())
    pad = 0.15 * max(hi - lo, 0.5)
    return np.exp(np.linspace(lo - pad, hi + pad, n))


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


def plot_distributions(run, fit, metric, threshold, rows, path):
    plt, fig, axes = _panel_grid(len(rows), sharex=True)
    final = run.final(metric)
    grid = np.linspace(0.0, 1.0, 201)
    bins = np.linspace(0.0, 1.0, 21)
    for ax, row in zip(axes.flat, rows):
        p = row["scale_point"]
        values = final[p][~run.diverged[p] & np.isfinite(final[p])]
        heights, _, _ = ax.hist(values, bins=bins, density=True, color="#bbbbbb",
                                edgecolor="white", label=f"{row['seeds']} seeds")
        top = 1.3 * max(float(np.max(heights, initial=0.0)), 1.0)
        if fit is not None:
            density = np.asarray(fit.density(row["scale"], grid), dtype=float)
            ax.plot(grid, density, color=COLORS["fit"], lw=2, label="fitted mixture")
            if np.nanmax(density) > top:
                # A sharp component (e.g. seeds piled up at 1.0) would flatten the histogram:
                # keep the histogram's scale and say that the curve is clipped.
                ax.text(0.5, 0.97, "(fitted density clipped)", transform=ax.transAxes,
                        ha="center", va="top", fontsize=7, color=COLORS["fit"])
        ax.set_ylim(0, top)
        ax.axvline(threshold, color="black", ls="--", lw=1, label=f"success > {threshold:g}")
        ax.set_title(_point_label(run.scale_points[p], run.scale_variable), fontsize=9)
        ax.set_xlabel(f"{metric} (final)")
        ax.set_ylabel("density of seeds")
    # Seeds pile up near the ends of [0, 1]; the middle of the first panel is the emptiest place.
    axes.flat[0].legend(fontsize=7, loc="center")
    fig.suptitle(f"Seed distribution of {metric} at each scale", fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _band_plot(ax, fit_rows, key, label):
    xs = [r["scale"] for r in fit_rows]
    ax.fill_between(xs, [r[f"{key}_lower"] for r in fit_rows], [r[f"{key}_upper"] for r in fit_rows],
                    color=COLORS["fit"], alpha=0.2, label=f"{label} (credible band)")
    ax.plot(xs, [r[key] for r in fit_rows], color=COLORS["fit"], lw=2, label=f"{label} (mean)")


def plot_p_success(run, fit_rows, rows, threshold, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    if fit_rows:
        _band_plot(ax, fit_rows, "p_success", "posterior P(success)")
    xs = np.array([r["scale"] for r in rows])
    ys = np.array([r["p_success"] for r in rows])
    err = np.array([[y - r["p_success_lower"], r["p_success_upper"] - y] for y, r in zip(ys, rows)]).T
    ax.errorbar(xs, ys, yerr=err, fmt="o", color="black", capsize=3,
                label=f"empirical fraction > {threshold:g} (95% bootstrap)")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"scale: {SCALE_LABELS.get(run.scale_variable, run.scale_variable)} (log scale)")
    ax.set_ylabel("P(success)")
    ax.set_title("Probability that a seed succeeds")
    ax.legend(fontsize=8, loc="best")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_success_mean(run, fit_rows, rows, metric, path):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    if fit_rows:
        _band_plot(ax, fit_rows, "success_mean", "success component")
    ax.plot([r["scale"] for r in rows], [r["success_mean"] for r in rows], "o", color=COLORS["success"],
            label="mean of successful seeds")
    ax.plot([r["scale"] for r in rows], [r["failure_mean"] for r in rows], "s", color=COLORS["failure"],
            label="mean of failed seeds")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"scale: {SCALE_LABELS.get(run.scale_variable, run.scale_variable)} (log scale)")
    ax.set_ylabel(f"{metric}")
    ax.set_title("Mean metric of successful and failed seeds")
    ax.legend(fontsize=8, loc="best")
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _curve_panels(run, rows, path, title, ylabel, series, legend: dict[str, str]):
    """One panel per scale point; ``series(p)`` yields (curve [E], color) pairs; ``legend`` maps
    labels to colours for a legend on the first panel."""
    plt, fig, axes = _panel_grid(len(rows), sharey=True)
    steps = np.asarray(run.eval_steps)
    for ax, row in zip(axes.flat, rows):
        p = row["scale_point"]
        for curve, color in series(p):
            ax.plot(steps, curve, color=color, lw=0.8, alpha=0.6)
        ax.set_title(_point_label(run.scale_points[p], run.scale_variable), fontsize=9)
        ax.set_xlabel("training step")
        ax.set_ylabel(ylabel)
    handles = [plt.Line2D([], [], color=c, lw=2, label=label) for label, c in legend.items()]
    axes.flat[0].legend(handles=handles, fontsize=7, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_learning_curves(run, metric, threshold, rows, path):
    curves = run.metric(metric)
    final = run.final(metric)

    def series(p):
        for s in range(curves.shape[1]):
            if run.diverged[p, s]:
                outcome = "diverged"
            else:
                outcome = "success" if final[p, s] > threshold else "failure"
            yield curves[p, s], COLORS[outcome]

    _curve_panels(run, rows, path, f"Learning curves of {metric}, coloured by final outcome",
                  metric, series, {f"final > {threshold:g}": COLORS["success"],
                                   f"final <= {threshold:g}": COLORS["failure"],
                                   "diverged": COLORS["diverged"]})


def probe_metrics(run) -> list[str]:
    names = [n for n in run.metric_names if n.startswith("probe/") or "/probe/" in n]
    summaries = [n for n in names if n.endswith("_max")]
    return summaries or names[:4]


def plot_probes(run, metric, threshold, rows, names, path):
    plt = _pyplot()
    final = run.final(metric)
    n = len(rows)
    fig, axes = plt.subplots(len(names), n, figsize=(3.4 * n, 2.6 * len(names)), squeeze=False,
                             sharex=True, constrained_layout=True)
    steps = np.asarray(run.eval_steps)
    for i, name in enumerate(names):
        curves = run.metric(name)
        for j, row in enumerate(rows):
            p = row["scale_point"]
            ax = axes[i, j]
            for s in range(curves.shape[1]):
                good = final[p, s] > threshold and not run.diverged[p, s]
                ax.plot(steps, curves[p, s], lw=0.8, alpha=0.6,
                        color=COLORS["success" if good else "failure"])
            if i == 0:
                ax.set_title(_point_label(run.scale_points[p], run.scale_variable), fontsize=9)
            if j == 0:
                ax.set_ylabel(name.split("/", 1)[-1], fontsize=8)
            if i == len(names) - 1:
                ax.set_xlabel("training step")
    fig.suptitle("Attention-probe scores over training (green: seeds that succeed)", fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _md_table(rows: list[dict], columns: list[str]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return "nan" if math.isnan(v) else (f"{v:.4g}" if abs(v) < 1e4 else f"{v:.3e}")
        return str(v)
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _markdown_to_html(md: str, title: str) -> str:
    """A small converter for the subset of Markdown the report uses (headings, tables, images,
    code blocks, paragraphs), so the index opens in a browser without extra packages."""
    out, in_table, in_code = [], False, False
    for line in md.splitlines():
        if line.startswith("```"):
            out.append("</pre>" if in_code else "<pre>")
            in_code = not in_code
            continue
        if in_code:
            out.append(html.escape(line))
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            if not in_table:
                out.append("<table>")
                in_table = True
                out.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells) + "</tr>")
            else:
                out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.startswith("!["):
            alt, src = line[2:].split("](", 1)
            out.append(f'<p><img src="{html.escape(src.rstrip(")"))}" alt="{html.escape(alt)}" '
                       'style="max-width:100%"></p>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        out.append("</table>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;"
             "font-size:13px}pre{background:#f4f4f4;padding:8px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n")


def write_report(run, fit=None, out_dir: str | os.PathLike | None = None, metric: str | None = None,
                 threshold: float | None = None) -> Path:
    """Writes the report folder; returns the path of ``index.md``.

    ``run`` is a ``Run`` (``emergence_jax.load_run``) or its path; ``fit`` a
    ``FittedDistribution`` (``emergence_jax.load_fit``), a path to one, or None (figures without the
    fitted curves). ``metric`` and ``threshold`` default to the fit's, else to the run's success
    criterion (``analysis.metric``/``threshold`` or the task's success metric)."""
    from emergence_jax.errors import DataError
    from emergence_jax.store import load_run
    if not hasattr(run, "metric_names"):
        run = load_run(run)
    if fit is not None and not hasattr(fit, "p_success"):
        from emergence_jax.stats import load_fit
        fit = load_fit(fit)
    from emergence_jax.tasks import success_criterion
    run_metric, run_threshold = success_criterion(run.config)
    if metric is None:
        metric = getattr(getattr(fit, "data", None), "metric", None) or run_metric
    if threshold is None:
        threshold = getattr(fit, "threshold", None) if fit is not None else run_threshold
        threshold = run_threshold if threshold is None else threshold
    if metric not in run.metric_names:
        raise DataError(f"metric {metric!r} is not in the run; metrics: {', '.join(run.metric_names)}")
    if out_dir is None and "://" in str(run.path) and not str(run.path).startswith("file://"):
        raise DataError(f"{run.path} is not a local directory: pass an output directory (--out)")
    out = Path(out_dir) if out_dir is not None else Path(str(run.path).removeprefix("file://")) / "report"
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(run, metric, threshold)
    if not rows:
        raise DataError("the run has no completed scale point yet; nothing to report")
    scales = np.array([r["scale"] for r in rows])
    fit_rows = _fit_rows(fit, _scale_grid(scales)) if fit is not None else []
    fit_at_points = _fit_rows(fit, scales) if fit is not None else []

    figures = [("distributions.png", "Seed distributions per scale",
                "Histogram of the final metric across seeds at each scale point; blue: the fitted "
                "mixture's predictive density; dashed: the success threshold.")]
    plot_distributions(run, fit, metric, threshold, rows, out / figures[0][0])
    figures.append(("p_success.png", "P(success) vs scale",
                    "Posterior mean and credible band of the mixture weight; dots: empirical "
                    "fraction of successful seeds with 95% bootstrap intervals."))
    plot_p_success(run, fit_rows, rows, threshold, out / figures[-1][0])
    figures.append(("success_mean.png", "Mean of successful runs vs scale",
                    "Fitted success-component mean with its credible band; dots: empirical means "
                    "of successful and failed seeds."))
    plot_success_mean(run, fit_rows, rows, metric, out / figures[-1][0])
    figures.append(("learning_curves.png", "Learning curves by outcome",
                    "Each line is one seed; green: final metric above the threshold, red: below, "
                    "grey: diverged."))
    plot_learning_curves(run, metric, threshold, rows, out / figures[-1][0])
    probes = probe_metrics(run)
    if probes:
        figures.append(("probes.png", "Attention probes over training",
                        "Per-seed attention-pattern scores during training; green: seeds that "
                        "succeed at the end."))
        plot_probes(run, metric, threshold, rows, probes, out / figures[-1][0])

    tables = {"empirical": rows, "fit_at_scale_points": fit_at_points, "fit_curve": fit_rows}
    (out / "tables.json").write_text(json.dumps(tables, indent=2))
    md = [f"# emergence_jax report: {run.config.get('name', 'run')}", "",
          f"Run: `{run.path}`  ·  metric: `{metric}`  ·  success: {metric} > {threshold:g}  ·  "
          f"scale: {SCALE_LABELS.get(run.scale_variable, run.scale_variable)}", ""]
    if fit is not None:
        md += ["## Fit", "", "```", fit.summary(), "```", ""]
        if getattr(fit, "comparison", None):
            md += [f"**Bimodality:** {fit.comparison['verdict']}", ""]
        md += [f"**Diagnostics:** {'ok' if fit.diagnostics_ok else 'FAILED'} — "
               f"{fit.diagnostics.message}", ""]
        bt = fit.breakthrough_scale(0.5)
        md += [f"**Breakthrough scale (P(success) = 0.5):** {bt}", ""]
    for name, title, caption in figures:
        md += [f"## {title}", "", f"![{title}]({name})", "", caption, ""]
    md += ["## Numbers behind the figures", "", "Empirical, per scale point:", "",
           _md_table(rows, ["scale_point", "label", "scale", "seeds", "diverged", "p_success",
                            "p_success_lower", "p_success_upper", "success_mean", "failure_mean",
                            "median"]), ""]
    if fit_at_points:
        md += ["Fitted, at the scale points:", "",
               _md_table(fit_at_points, ["scale", "p_success", "p_success_lower", "p_success_upper",
                                         "success_mean", "success_mean_lower",
                                         "success_mean_upper"]), ""]
    md += ["All numbers, including the fitted curves, are in `tables.json`.", ""]
    text = "\n".join(md)
    (out / "index.md").write_text(text)
    (out / "index.html").write_text(_markdown_to_html(text, f"report: {run.config.get('name', '')}"))
    return out / "index.md"

