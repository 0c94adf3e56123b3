"""Time to emergence: per-seed emergence steps from learning curves, and Kaplan–Meier curves.

Emergence step of a seed: the first evaluation step at which it succeeds (its metric is past the
success threshold, ``SuccessCriterion``) and keeps succeeding at every later evaluation. The seed
emerged somewhere in (previous evaluation step, that step]: ``EmergenceTimes`` keeps both ends, so
a model can treat the step as interval-censored by the evaluation grid. Seeds that never do are
right-censored at their scale point's last evaluation step (they are never dropped).

``EmergenceTimes`` is the input of the emergence-time fit (``emergence_jax.analysis.emergence_fit``,
``analysis.model = 'emergence-time'``); ``emergence_times(run, criterion)`` builds it from a run
store's learning curves (``analysis.outcomes.curves``: completed points, kept seeds).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math

import numpy as np

from emergence_jax.analysis.outcomes import curves, scale_of
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.core.errors import DataError

__all__ = ["EmergenceTimes", "emergence_steps", "emergence_times", "kaplan_meier"]


def _first_lasting(curves, steps, criterion: SuccessCriterion | float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of the first evaluation from which a curve succeeds for good [...], event [...],
    steps as float64)."""
    if not isinstance(criterion, SuccessCriterion):
        criterion = SuccessCriterion("value", float(criterion))
    y = np.asarray(curves, np.float64)
    steps = np.asarray(steps, np.float64)
    if y.shape[-1] != steps.size:
        raise DataError(f"curves have {y.shape[-1]} eval steps but {steps.size} steps were given")
    above = criterion.succeeded(y)
    # stays above from t on  <=>  reverse cumulative AND
    stays = np.flip(np.cumprod(np.flip(above, -1), axis=-1), -1).astype(bool)
    return np.argmax(stays, axis=-1), stays.any(-1), steps


def emergence_steps(curves, steps, criterion: SuccessCriterion | float,
                    budget: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """curves [..., T] metric per eval step; ``criterion`` a ``SuccessCriterion`` or a threshold
    (success = metric > threshold). Returns (time [...], event [...] bool): the emergence step, or
    ``budget`` (default: the last eval step) for a seed that never emerged."""
    first, event, steps = _first_lasting(curves, steps, criterion)
    budget = float(steps[-1]) if budget is None else float(budget)
    return np.where(event, steps[first], budget), event


@dataclasses.dataclass(frozen=True)
class EmergenceTimes:
    """Per-seed emergence steps across scales, one entry per (seed, scale point).

    A seed that emerged (``event``) did so in the step interval (``lower``, ``time``]: ``time`` is
    the first evaluation of its lasting success and ``lower`` the evaluation before it (0 before
    the first). A seed that did not is right-censored: ``time`` is its point's last evaluation
    step and ``lower == time``. ``budget`` is every seed's last evaluation step (its training
    budget), whether it emerged or not."""
    scale: np.ndarray                 # float64 [N], raw scale > 0
    time: np.ndarray                  # float64 [N], emergence step or censoring step, > 0
    lower: np.ndarray                 # float64 [N], 0 <= lower < time for events
    event: np.ndarray                 # bool [N]
    seed: np.ndarray                  # int64 [N]
    budget: np.ndarray                # float64 [N], >= time; == time when censored
    metric: str = "value"
    criterion: str = ""
    scale_variable: str = "scale"
    excluded: int = 0
    notes: tuple = ()

    @classmethod
    def from_arrays(cls, scale, time, event, lower=None, seed=None, budget=None, *,
                    metric: str = "value", criterion: str = "", scale_variable: str = "scale",
                    excluded: int = 0, notes: tuple = ()) -> "EmergenceTimes":
        """Checks every entry (``DataError`` naming the array and the first bad row). ``lower``
        defaults to 0 for events (emerged somewhere before ``time``); ``seed`` to 0, 1, …;
        ``budget`` to the largest ``time`` among the seeds of the same scale."""
        time = np.asarray(time, np.float64).reshape(-1)
        n = time.size
        if n == 0:
            raise DataError("no emergence times: every seed was excluded or the input is empty")
        event = np.asarray(event).reshape(-1)
        if event.dtype != bool:
            if not np.all(np.isin(event, (0, 1))):
                raise DataError("event must be true/false (1/0) per seed")
            event = event.astype(bool)
        scale = np.asarray(scale, np.float64).reshape(-1)
        lower = (np.where(event, 0.0, time) if lower is None
                 else np.asarray(lower, np.float64).reshape(-1))
        seed = np.arange(n) if seed is None else np.asarray(seed).reshape(-1)
        if budget is None:
            budget = np.array([time[scale == v].max() for v in scale]) if scale.shape == (n,) \
                else time
        budget = np.asarray(budget, np.float64).reshape(-1)
        for name, arr in (("scale", scale), ("event", event), ("lower", lower), ("seed", seed),
                          ("budget", budget)):
            if arr.shape != (n,):
                raise DataError(f"{name} has {arr.size} entries, time has {n}")
        checks = (("scale", ~(np.isfinite(scale) & (scale > 0)), "a positive number"),
                  ("time", ~(np.isfinite(time) & (time > 0)), "a positive step"),
                  ("lower", ~(np.isfinite(lower) & (lower >= 0) & (lower <= time)),
                   "a step in [0, time]"),
                  ("lower", event & (lower >= time), "below time for a seed that emerged"),
                  ("budget", ~(budget >= time) | (~event & (budget != time)),
                   "at least time, and equal to it for a censored seed"))
        values = {"scale": scale, "time": time, "lower": lower, "budget": budget}
        for name, bad, allowed in checks:
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise DataError(f"{name}[{i}] = {float(values[name][i])!r}; allowed: {allowed}")
        return cls(scale=scale, time=time, lower=np.where(event, lower, time), event=event,
                   seed=seed.astype(np.int64), budget=budget, metric=metric, criterion=criterion,
                   scale_variable=scale_variable, excluded=int(excluded), notes=tuple(notes))

    def __len__(self) -> int:
        return int(self.time.size)

    @property
    def scales(self) -> np.ndarray:
        """Distinct raw scales, ascending."""
        return np.unique(self.scale)

    def at(self, scale: float) -> "EmergenceTimes":
        """The seeds of one scale."""
        m = self.scale == scale
        return dataclasses.replace(self, scale=self.scale[m], time=self.time[m],
                                   lower=self.lower[m], event=self.event[m], seed=self.seed[m],
                                   budget=self.budget[m])

    def digest(self) -> str:
        """SHA-256 of the data itself: equal digests mean a fit made on one was made on the
        other."""
        h = hashlib.sha256()
        for arr in (self.scale, self.time, self.lower, self.event, self.seed, self.budget):
            h.update(np.ascontiguousarray(arr).tobytes())
            h.update(b"|")
        h.update(f"{self.metric}|{self.criterion}|{self.scale_variable}".encode())
        return h.hexdigest()

    def summary(self) -> dict:
        return {"n": len(self), "metric": self.metric, "criterion": self.criterion,
                "scale_variable": self.scale_variable,
                "scales": [float(s) for s in self.scales], "events": int(self.event.sum()),
                "censored": int((~self.event).sum()), "excluded": int(self.excluded)}


def emergence_times(run, criterion: SuccessCriterion, scale_variable: str | None = None, *,
                    verbose: bool = False) -> EmergenceTimes:
    """Per-seed emergence steps of ``criterion`` at every completed scale point of a run store,
    on the scale ``scale_variable`` (default: the run's; a swept field such as
    ``task.ones_per_row`` works too). Each point uses its own evaluations; a seed that has not
    emerged is censored at its point's last eval step; diverged seeds are left out and counted."""
    var = scale_variable or run.scale_variable
    parts, excluded = [], 0
    for c in curves(run, criterion.metric):
        kept = c.kept
        excluded += int((~kept).sum())
        first, event, steps = _first_lasting(c.values[kept], c.steps, criterion)
        previous = np.concatenate([[0.0], steps[:-1]])
        time = np.where(event, steps[first], steps[-1])
        lower = np.where(event, previous[first], time)
        parts.append((np.full(time.size, scale_of(run, c.point, var)), time, lower, event,
                      c.seeds[kept], np.full(time.size, steps[-1])))
    if not parts:
        raise DataError("no completed scale point in this run")
    if excluded and verbose:
        print(f"excluded {excluded} diverged / non-finite seed curve(s) for {criterion.metric}")
    cols = [np.concatenate(col) for col in zip(*parts)]
    notes = (f"excluded {excluded} diverged or non-finite seed curves",) if excluded else ()
    return EmergenceTimes.from_arrays(cols[0], cols[1], cols[3], lower=cols[2], seed=cols[4],
                                      budget=cols[5], metric=criterion.metric, criterion=str(criterion),
                                      scale_variable=var, excluded=excluded, notes=notes)


def kaplan_meier(time, event, level: float = 0.95) -> dict:
    """Kaplan–Meier survival curve ("not yet emerged") with Greenwood log-log intervals."""
    t = np.asarray(time, np.float64)
    e = np.asarray(event, bool)
    times = np.unique(t[e])
    surv, var_sum, s = [], 0.0, 1.0
    lo, hi = [], []
    z = _norm_ppf(0.5 + level / 2)
    for u in times:
        at_risk = np.sum(t >= u)
        d = np.sum((t == u) & e)
        s *= 1 - d / at_risk
        if at_risk > d:
            var_sum += d / (at_risk * (at_risk - d))
        surv.append(s)
        if 0 < s < 1:
            se = math.sqrt(var_sum) / abs(math.log(s))
            lo.append(s ** math.exp(z * se))
            hi.append(s ** math.exp(-z * se))
        else:
            lo.append(s)
            hi.append(s)
    surv = np.array(surv)
    below = np.flatnonzero(surv <= 0.5)
    median = float(times[below[0]]) if below.size else math.inf
    return {"time": times, "survival": surv, "lower": np.array(lo), "upper": np.array(hi),
            "median": median, "n": int(t.size), "events": int(e.sum())}


def _norm_ppf(p: float) -> float:
    from scipy.stats import norm
    return float(norm.ppf(p))
