"""Reports: PNG figures, an index (Markdown + HTML) and ``tables.json`` for a run store and its fit.

``write_report(run, fit, out_dir)`` writes

    distributions.png, p_success.png, predictive_check.png (with a fit), success_mean.png,
    learning_curves.png[, probes.png]
    emergence_times.png, aligned.png[, family_*.png, skills.png]   (``report.emergence``)
    loss_axis.png        (with a loss metric) the metric against the pre-training loss, with the
                         threshold fit and the per-size offset test   (``report.loss_axis``)
    metric_comparison.png  (exact-match metrics) exact match against the same set's token
                         accuracy and loss: means, learning curves, bimodality, abruptness
                         (``report.metric_comparison``)
    index.md / index.html   the fit summary, the predictive check, bimodality verdict,
                            diagnostics, breakthrough scale, the figures with captions and the
                            numbers behind them
    tables.json             the same numbers (empirical per point, the fit at the points and
                            along a fine scale grid, the predictive check, one table per panel:
                            ``emergence_times``, ``aligned``, ``loss_axis``,
                            ``metric_comparison``, …)

The modules: ``tables`` (numbers), ``figures`` (plots), ``emergence`` (the emergence-time,
aligned-metric, metric-family and skill-composition panels), ``loss_axis`` and
``metric_comparison`` (the panels of the same names), ``page`` (Markdown and HTML). The fit
is a ``FittedDistribution`` (the outcome panels show its curves) or an ``EmergenceTimeFit`` (the
time-to-emergence panel shows its curves).

A report writes only these files (``REPORT_FILES`` and ``family_*.png``), each atomically, into
its folder, which may hold other files. ``tables.json`` is written first and marks the folder's
report files as a report's: a file of one of these names that is not (someone's own
``index.md``) is never replaced — the report is refused, naming it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from emergence_jax.analysis import FittedDistribution, load_fit
from emergence_jax.analysis.outcomes import curves, point_outcomes
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.report import figures
from emergence_jax.app.report.emergence import emergence_panels
from emergence_jax.app.report.loss_axis import loss_axis_panels, resolve_loss_metric
from emergence_jax.app.report.metric_comparison import metric_comparison_panels
from emergence_jax.app.report.page import markdown_table, to_html
from emergence_jax.app.report.tables import (SCALE_LABELS, empirical_rows, fit_rows,
                                             scale_grid)
from emergence_jax.core.config import validate_settings
from emergence_jax.core.errors import DataError, StoreError
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import load_run

__all__ = ["REPORT_FILES", "write_report"]

REPORT_FILES = ("tables.json", "distributions.png", "p_success.png", "predictive_check.png",
                "success_mean.png", "learning_curves.png", "probes.png", "emergence_times.png",
                "aligned.png", "skills.png", "loss_axis.png", "metric_comparison.png", "index.md",
                "index.html")
REPORT_FORMAT = "emergence_jax.report"


def _check_report_target(out: Path) -> None:
    """Refuses a folder holding a file named like a report's that no report wrote."""
    loc = Location(out)
    if out.exists() and not out.is_dir():
        raise StoreError(f"{out} is a file; a report is written into a directory")
    present = [name for name in REPORT_FILES if (out / name).exists()]
    if out.is_dir():
        present += sorted(p.name for p in out.glob("family_*.png"))
    if not present:
        loc.check_writable()
        return
    try:
        tables = json.loads((out / "tables.json").read_text(encoding="utf-8"))
        ours = isinstance(tables, dict) and (tables.get("format") == REPORT_FORMAT
                                             or "empirical" in tables)  # earlier reports
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        ours = False
    if not ours:
        raise StoreError(f"{out} holds {', '.join(present)}, not written by an emergence_jax "
                         "report; they are not replaced. Choose another --out")
    loc.check_writable()

_EMPIRICAL_COLUMNS = ["scale_point", "label", "scale", "seeds", "diverged", "p_success",
                      "p_success_lower", "p_success_upper", "success_mean", "failure_mean",
                      "median", "dip_p_value", "w2_from_previous"]
_FIT_COLUMNS = ["scale", "p_success", "p_success_lower", "p_success_upper", "success_mean",
                "success_mean_lower", "success_mean_upper"]


_CHECK_COLUMNS = ["scale", "seeds", "successes", "observed", "predicted", "interval", "p_value",
                  "inside"]


def _model_line(fit) -> str:
    """Which model was fitted and what its P(success) means."""
    if fit.spec.kind == "hurdle":
        return (f"hurdle — P(success) is the probability that a seed lands on the success side "
                f"({fit.criterion}), by construction; P(success) curve: {fit._curve_text()}")
    if fit.spec.kind == "mixture":
        return (f"{fit.model} (latent success/failure components) — P(success) is the success "
                "component's weight, which need not equal the share of seeds past the "
                "threshold; see the predictive check")
    return f"{fit.model} — P(success) is the probability of the success side ({fit.criterion})"


def write_report(run, fit=None, out_dir: str | os.PathLike | None = None,
                 metric: str | None = None, threshold: float | None = None,
                 aligned: list[str] | None = None, loss_metric: str | None = None) -> Path:
    """Writes the report folder; returns the path of ``index.md``.

    ``run`` is a ``Run`` (``emergence_jax.load_run``) or its path; ``fit`` a
    ``FittedDistribution`` (``emergence_jax.load_fit``), a path to one, or None (figures without
    the fitted curves); an ``EmergenceTimeFit`` adds its curves to the time-to-emergence panel.
    Success is the fit's criterion, else the run's (``SuccessCriterion.from_config``); ``metric``
    / ``threshold`` override it. ``aligned`` names the metrics aligned at the emergence step
    (default: ``report.emergence.companion_metrics``). ``loss_metric`` names the pre-training
    loss of the loss-axis panel ('' = none; default: the fit's, else the run's
    ``analysis.loss_metric``), fitted with the fit's sampler settings (else the run's)."""
    if not hasattr(run, "metric_names"):
        run = load_run(run)
    if isinstance(fit, (str, os.PathLike)):
        fit = load_fit(fit)
    outcome_fit = fit if isinstance(fit, FittedDistribution) else None
    base = fit.criterion if fit is not None else SuccessCriterion.from_config(run.config)
    criterion = SuccessCriterion(metric or base.metric,
                                 base.threshold if threshold is None else float(threshold),
                                 base.direction)
    if out_dir is None:
        out = run.location.require_local("a report next to the run (pass --out)") / "report"
    else:
        out = Location(out_dir).require_local("a report")
    outcomes = point_outcomes(run, criterion.metric)
    if not outcomes:
        raise DataError("the run has no completed scale point yet; nothing to report")
    loss_metric = resolve_loss_metric(run, fit, loss_metric)
    _check_report_target(out)
    loc = Location(out)
    rows = empirical_rows(run, outcomes, criterion)
    scales = np.array([r["scale"] for r in rows])
    curve_rows = fit_rows(outcome_fit, scale_grid(scales)) if outcome_fit is not None else []
    at_points = fit_rows(outcome_fit, scales) if outcome_fit is not None else []
    check = outcome_fit.check() if outcome_fit is not None else None
    tables = {"format": REPORT_FORMAT, "empirical": rows, "fit_at_scale_points": at_points,
              "fit_curve": curve_rows,
              "predictive_check": check.to_json() if check is not None else None}
    loc.write_atomic("tables.json", json.dumps(tables, indent=2).encode())

    figures.plot_distributions(run, outcome_fit, outcomes, rows, criterion,
                               out / "distributions.png")
    figures.plot_p_success(run, curve_rows, rows, criterion, out / "p_success.png")
    if check is not None:
        figures.plot_predictive_check(run, check, curve_rows, criterion,
                                      out / "predictive_check.png")
    figures.plot_success_mean(run, curve_rows, rows, criterion, out / "success_mean.png")
    figures.plot_learning_curves(run, curves(run, criterion.metric), outcomes, criterion,
                                 out / "learning_curves.png")
    model = outcome_fit.model if outcome_fit is not None else "model"
    meaning = ("the probability that a seed lands on the success side of the threshold"
               if outcome_fit is None or outcome_fit.spec.kind != "mixture"
               else "the success-component weight")
    shown = [
        ("distributions.png", "Seed distributions per scale",
         f"Histogram of the final metric across seeds at each scale point; blue: the fitted "
         f"{model}'s predictive density; dashed: the success threshold."),
        ("p_success.png", "P(success) vs scale",
         f"Posterior mean and credible band of P(success) ({meaning}); dots: empirical fraction "
         "of successful seeds with 95% bootstrap intervals."),
        ("success_mean.png", "Mean of successful runs vs scale",
         "Fitted success-component mean with its credible band; dots: empirical means of "
         "successful and failed seeds."),
        ("learning_curves.png", "Learning curves by outcome",
         "Each line is one seed; green: final metric past the threshold, red: not, grey: "
         "diverged."),
    ]
    probes = figures.probe_metrics(run)
    if probes:
        figures.plot_probes(run, {n: curves(run, n) for n in probes}, outcomes, criterion,
                            out / "probes.png")
        shown.append(("probes.png", "Attention probes over training",
                      "Per-seed attention-pattern scores during training; green: seeds that "
                      "succeed at the end."))

    if check is not None:
        shown.insert(2, ("predictive_check.png", "Predictive check",
                         "Left: each scale's observed success fraction (dot) against its "
                         f"{100 * check.level:.0f}% posterior predictive interval for a "
                         "population of that many seeds (bar: binomial noise included); red dots "
                         "fall outside. Right: the metric's observed 10/50/90% quantiles against "
                         "their predictive intervals."))
    scale_variable = (run.config.get("analysis", {}) or {}).get("scale_variable") or None
    panels, panel_tables = emergence_panels(run, fit, criterion, out, aligned=aligned,
                                            scale_variable=scale_variable)
    loss_note = []
    if loss_metric:
        settings = getattr(fit, "settings", None) or validate_settings(
            run.config.get("analysis", {}) or {})
        try:
            more, more_tables = loss_axis_panels(run, criterion, loss_metric, settings, out,
                                                 scale_variable=scale_variable)
        except DataError as e:  # data the loss fit cannot use: the rest of the report stands
            more, more_tables = [], {"loss_axis": {"error": str(e)}}
            loss_note = [f"**Loss axis ({loss_metric}):** not drawn — {e}", ""]
        panels, panel_tables = panels + more, {**panel_tables, **more_tables}
    more, more_tables = metric_comparison_panels(run, criterion, out,
                                                 scale_variable=scale_variable)
    panels, panel_tables = panels + more, {**panel_tables, **more_tables}
    shown += [panel[:3] for panel in panels]
    if panel_tables:
        loc.write_atomic("tables.json", json.dumps({**tables, **panel_tables}, indent=2).encode())
    name = run.config.get("name", "run")
    md = [f"# emergence_jax report: {name}", "",
          f"Run: `{run.path}`  ·  metric: `{criterion.metric}`  ·  success: {criterion}  ·  "
          f"scale: {SCALE_LABELS.get(run.scale_variable, run.scale_variable)}", ""]
    if fit is not None:
        md += ["## Fit", ""]
        if outcome_fit is not None:
            md += [f"**Model:** {_model_line(outcome_fit)}", ""]
        md += ["```", fit.summary(), "```", ""]
        if check is not None:
            md += [f"**Predictive check:** {'passed' if check.ok else 'FAILED'} — "
                   f"{check.message}", "",
                   markdown_table([dict(c, interval=f"[{c['lower']:.3f}, {c['upper']:.3f}]")
                                   for c in check.to_json(brief=True)["scales"]],
                                  _CHECK_COLUMNS), ""]
        if getattr(fit, "comparison", None):
            label = "Bimodality" if outcome_fit is not None else "Spread vs scale"
            md += [f"**{label}:** {fit.comparison['verdict']}", ""]
        md += [f"**Diagnostics:** {'ok' if fit.diagnostics_ok else 'FAILED'} — "
               f"{fit.diagnostics.message}", ""]
        if outcome_fit is not None:
            md += [f"**Breakthrough scale (P(success) = 0.5):** "
                   f"{outcome_fit.breakthrough_scale(0.5)}", ""]
    md += loss_note
    for file, title, caption in shown:
        md += [f"## {title}", "", f"![{title}]({file})", "", caption, ""]
    md += ["## Numbers behind the figures", "", "Empirical, per scale point:", "",
           markdown_table(rows, _EMPIRICAL_COLUMNS), ""]
    if at_points:
        md += ["Fitted, at the scale points:", "", markdown_table(at_points, _FIT_COLUMNS), ""]
    for file, title, _, panel_rows, columns in panels:
        if panel_rows:
            md += [f"{title} (`{file}`):", "", markdown_table(panel_rows, columns), ""]
    md += ["All numbers, including the fitted curves, are in `tables.json`.", ""]
    text = "\n".join(md)
    loc.write_atomic("index.html", to_html(text, f"report: {name}").encode())
    loc.write_atomic("index.md", text.encode())  # last: the report is complete
    return out / "index.md"
