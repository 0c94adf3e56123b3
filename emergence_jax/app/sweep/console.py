"""What a sweep prints: one line per scale point, during the sweep and in ``emergence-jax inspect``.

    [2/3] model.width=64 | params 52.1k | id/exact_match 0.981 | ood/exact_match 0.240 |
          train/loss 0.412 | ood/exact_match>0.2 27/63 | diverged 1/64 | 84.2s

Means and the success count are over the seeds whose outcome counts (``analysis.outcomes``:
diverged and non-finite seeds are left out and shown as diverged); success is the experiment's
``SuccessCriterion``.
"""

from __future__ import annotations

import numpy as np

from emergence_jax.analysis.outcomes import PointOutcome, point_outcomes
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.sweep.points import format_coords

__all__ = ["headline_metrics", "human_size", "point_summary", "run_summary_lines"]


def human_size(x: float) -> str:
    """1.23e4 -> '12.3k' (3 significant digits, k/M/G/T suffixes)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def headline_metrics(names: list[str], criterion: SuccessCriterion | None = None) -> list[str]:
    """The metrics a one-line summary shows: the success metric, exact-match scores and the
    training loss."""
    picked = [n for n in names if n.endswith("/exact_match")]
    if "train/loss" in names:
        picked.append("train/loss")
    picked = picked or names[:2]
    if criterion is not None and criterion.metric in names and criterion.metric not in picked:
        picked.insert(0, criterion.metric)
    return picked


def point_summary(coords: dict, sizes: dict, outcomes: dict[str, PointOutcome],
                  criterion: SuccessCriterion | None = None, seconds: float | None = None,
                  evals: tuple[int, int] | None = None) -> str:
    """One line: coordinates, params, the mean of each headline metric's ``outcomes`` over the
    seeds that count, how many of them succeed, divergence count and time."""
    parts = [format_coords(coords), f"params {human_size(float(sizes.get('params', 0)))}"]
    if evals is not None and evals[0] < evals[1]:
        parts.append(f"evals {evals[0]}/{evals[1]}")
    for name, outcome in outcomes.items():
        kept = outcome.kept_values
        parts.append(f"{name} {kept.mean():.3f}" if kept.size else f"{name} nan")
    if criterion is not None and criterion.metric in outcomes:
        outcome = outcomes[criterion.metric]
        ok = int(criterion.succeeded(outcome.kept_values).sum())
        parts.append(f"{criterion.metric}{criterion.symbol}{criterion.threshold:g} "
                     f"{ok}/{int(outcome.kept.sum())}")
    diverged = next(iter(outcomes.values())).diverged if outcomes else np.zeros(0, bool)
    parts.append(f"diverged {int(np.sum(diverged))}/{len(diverged)}")
    if seconds is not None:
        parts.append(f"{seconds:.1f}s")
    return " | ".join(parts)


def run_summary_lines(run) -> list[str]:
    """One summary line per scale point of a stored run (unfinished points at their last written
    evaluation)."""
    criterion = SuccessCriterion.from_config(run.config)
    names = headline_metrics(run.metric_names, criterion)
    by_metric = {n: {o.point: o for o in point_outcomes(run, n, include_incomplete=True)}
                 for n in names}
    lines = []
    for p, point in enumerate(run.scale_points):
        coords = {k: point[k] for k in run.axes if k in point}
        sizes = {k: point[k] for k in point if k not in run.axes}
        tag = f"[{p + 1}/{len(run.scale_points)}]"
        if p not in by_metric[names[0]]:
            lines.append(f"{tag} {format_coords(coords)} | "
                         f"params {human_size(float(sizes.get('params', 0)))} | not started")
            continue
        outcomes = {n: by_metric[n][p] for n in names}
        done = outcomes[names[0]].eval_index + 1
        lines.append(f"{tag} " + point_summary(coords, sizes, outcomes, criterion,
                                               evals=(done, run.num_evals[p])))
    return lines
