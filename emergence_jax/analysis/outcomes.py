"""From a run store to per-seed outcomes — the one place that decides

* which scale points count: completed ones (``include_incomplete=True`` adds unfinished points at
  their last written evaluation, for progress views such as ``emergence-jax inspect``);
* which evaluation of a point is its outcome: the point's own last evaluation (points of a
  ``train.steps`` sweep have different numbers of evaluations), or a named eval step;
* which seeds are left out: a seed that diverged, or whose metric is not finite, is excluded and
  counted (never silently treated as a failure);
* what happens for a metric the run does not have: a ``DataError`` listing the run's metrics.

Fits (``seed_data``), emergence times and reports (``point_outcomes``, ``curves``) and the sweep's
summary lines all read runs through these functions. A ``run`` is an
``emergence_jax.io.run_store.Run`` or anything with its attributes.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from emergence_jax.analysis.data import SeedData
from emergence_jax.core.errors import DataError

__all__ = ["PointCurves", "PointOutcome", "curves", "point_outcomes", "scale_of", "seed_data"]


@dataclasses.dataclass(frozen=True)
class PointOutcome:
    """One metric of one scale point's seeds at the evaluation that is the point's outcome."""
    point: int               # scale point index
    eval_index: int          # index into run.eval_steps
    eval_step: int
    complete: bool
    seeds: np.ndarray        # int64 [S], every seed of the run
    values: np.ndarray       # float64 [S]
    diverged: np.ndarray     # bool [S]

    @property
    def kept(self) -> np.ndarray:
        """bool [S]: seeds whose outcome counts (not diverged, finite metric)."""
        return ~self.diverged & np.isfinite(self.values)

    @property
    def kept_values(self) -> np.ndarray:
        return self.values[self.kept]

    @property
    def excluded(self) -> int:
        return int((~self.kept).sum())

    def success_fraction(self, criterion) -> float:
        """Share of the kept seeds that succeed under ``criterion`` (NaN when none is kept)."""
        kept = self.kept_values
        return float(criterion.succeeded(kept).mean()) if kept.size else math.nan


@dataclasses.dataclass(frozen=True)
class PointCurves:
    """One metric of one scale point's seeds over training (the point's own evaluations)."""
    point: int
    steps: np.ndarray        # int64 [E_p]
    complete: bool
    seeds: np.ndarray        # int64 [S]
    values: np.ndarray       # float64 [S, E_p]
    diverged: np.ndarray     # bool [S]

    @property
    def kept(self) -> np.ndarray:
        """bool [S]: seeds with a whole finite curve that did not diverge."""
        return ~self.diverged & np.isfinite(self.values).all(axis=-1)


def _metric_index(run, metric: str) -> int:
    names = list(run.metric_names)
    if metric not in names:
        raise DataError(f"metric {metric!r} is not in the run (not in this run's metrics: "
                        f"{', '.join(names)})")
    return names.index(metric)


def _num_evals(run) -> list[int]:
    """Evaluations of each point (older stores, and duck-typed runs, may not say: all of them)."""
    n = getattr(run, "num_evals", None)
    return [int(x) for x in n] if n else [len(run.eval_steps)] * len(run.scale_points)


def _evals_to_read(run, include_incomplete: bool) -> list[int]:
    """Per point, how many evaluations count: all of a completed point's; for an unfinished one
    the written ones when ``include_incomplete`` (else 0: it does not count)."""
    num_evals = _num_evals(run)
    completed = np.asarray(run.completed, bool)
    completion = getattr(run, "completion", None)
    out = []
    for p, n in enumerate(num_evals):
        if completed[p]:
            out.append(n)
        elif include_incomplete and completion is not None:
            out.append(min(int(completion[p]), n))
        else:
            out.append(0)
    return out


def point_outcomes(run, metric: str, *, eval_step: int | None = None,
                   include_incomplete: bool = False) -> list[PointOutcome]:
    """Per counted scale point, the seeds' ``metric`` at the point's outcome evaluation: its last
    one, or ``eval_step`` (which every counted point must have reached)."""
    m = _metric_index(run, metric)
    steps = [int(s) for s in run.eval_steps]
    fixed = None
    if eval_step is not None:
        if eval_step not in steps:
            raise DataError(f"eval step {eval_step} not recorded; steps: {steps}")
        fixed = steps.index(eval_step)
    metrics = np.asarray(run.metrics)
    diverged = np.asarray(run.diverged, bool)
    seeds = np.asarray(run.seeds, np.int64)
    completed = np.asarray(run.completed, bool)
    out = []
    for p, n_read in enumerate(_evals_to_read(run, include_incomplete)):
        if n_read < 1:
            if completed[p]:
                raise DataError(f"scale point {p} is marked completed but has no evaluations")
            continue
        if fixed is None:
            t = n_read - 1
        elif fixed >= n_read:
            raise DataError(f"eval step {eval_step} is past the end of scale point {p}, whose "
                            f"last eval step is {steps[n_read - 1]}")
        else:
            t = fixed
        out.append(PointOutcome(point=p, eval_index=t, eval_step=steps[t],
                                complete=bool(completed[p]), seeds=seeds,
                                values=metrics[p, :, t, m].astype(np.float64),
                                diverged=diverged[p]))
    return out


def curves(run, metric: str, *, include_incomplete: bool = False) -> list[PointCurves]:
    """Per counted scale point, every seed's ``metric`` at each of the point's evaluations."""
    m = _metric_index(run, metric)
    steps = np.asarray(run.eval_steps, np.int64)
    metrics = np.asarray(run.metrics)
    diverged = np.asarray(run.diverged, bool)
    seeds = np.asarray(run.seeds, np.int64)
    completed = np.asarray(run.completed, bool)
    return [PointCurves(point=p, steps=steps[:n], complete=bool(completed[p]), seeds=seeds,
                        values=metrics[p, :, :n, m].astype(np.float64), diverged=diverged[p])
            for p, n in enumerate(_evals_to_read(run, include_incomplete)) if n >= 1]


def scale_of(run, point: int, scale_variable: str | None = None) -> float:
    """The scale of one point: a derived size (default: the run's scale variable) or a swept
    coordinate; a ``DataError`` unless it is a positive number."""
    var = scale_variable or run.scale_variable
    entry = run.scale_points[point]
    if var not in entry:
        raise DataError(f"scale variable {var!r} not found at scale point {point}; keys: "
                        f"{', '.join(sorted(entry))}")
    s = float(entry[var])
    if not (math.isfinite(s) and s > 0):
        raise DataError(f"scale point {point}: {var} = {s!r} is not a positive number")
    return s


def seed_data(run, metric: str, scale_variable: str | None = None, *,
              eval_step: int | None = None, verbose: bool = True) -> SeedData:
    """The outcomes of ``metric`` at every completed point as ``SeedData`` (the input of fits),
    on the scale ``scale_variable`` (default: the run's). Excluded seeds are counted in
    ``excluded`` (and printed when ``verbose``); ``n_eval`` is the run's evaluation examples."""
    points = point_outcomes(run, metric, eval_step=eval_step)
    if not points:
        raise DataError("no completed scale point in this run")
    var = scale_variable or run.scale_variable
    scale = np.concatenate([np.full(int(o.kept.sum()), scale_of(run, o.point, var))
                            for o in points])
    value = np.concatenate([o.kept_values for o in points])
    seed = np.concatenate([o.seeds[o.kept] for o in points])
    excluded = sum(o.excluded for o in points)
    if value.size and (value.min() < 0 or value.max() > 1):
        raise DataError(f"metric {metric!r} has values outside [0, 1] "
                        f"(min {value.min():g}, max {value.max():g}); fits need a "
                        "bounded metric such as accuracy or exact match")
    if excluded and verbose:
        print(f"excluded {excluded} diverged / non-finite seed result(s) for {metric}")
    notes = (f"excluded {excluded} diverged or non-finite seed results",) if excluded else ()
    n_eval = getattr(run, "eval_examples", None)
    ne = (np.full(value.size, int(n_eval), np.int64)
          if n_eval is not None and int(n_eval) > 0 and value.size else None)
    return SeedData(scale=scale, value=value, seed=seed, n_eval=ne, metric=metric,
                    scale_variable=var, excluded=excluded, notes=notes)
