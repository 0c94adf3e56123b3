"""Per-seed results across scales: the one input every statistical fit takes.

``SeedData`` holds flat arrays, one entry per (seed, scale point[, group]):

    scale   raw scale (parameters, tokens, FLOPs, ...), > 0
    value   the metric, in [0, 1]
    n_eval  number of evaluation examples behind ``value`` (optional; enables BetaBinomial counts)
    group   task / metric name (optional; several groups are fitted by the hierarchical model)
    seed    seed id

Constructors: ``SeedData.from_arrays``, ``SeedData.from_csv`` (long format, csv module) and
``SeedData.from_run`` (a run store opened with ``emergence_jax.load_run``). Malformed input raises
``DataError`` naming the row and column. Seeds whose metric is NaN in a run store (diverged runs) are
dropped and counted in ``excluded``; a NaN in a user CSV is an error.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from emergence_jax.errors import DataError

__all__ = ["SeedData"]

_REQUIRED = ("scale", "seed", "value")
_OPTIONAL = ("n_eval", "group")


@dataclasses.dataclass(frozen=True)
class SeedData:
    scale: np.ndarray                 # float64 [N], raw scale > 0
    value: np.ndarray                 # float64 [N], in [0, 1]
    seed: np.ndarray                  # int64 [N]
    n_eval: np.ndarray | None = None  # int64 [N] (>= 1) or None
    group: np.ndarray | None = None   # str [N] or None
    metric: str = "value"
    scale_variable: str = "scale"
    excluded: int = 0                 # diverged / NaN seeds dropped when reading a run
    notes: tuple = ()

    def __post_init__(self):
        n = self.value.shape[0]
        for name in ("scale", "seed"):
            if getattr(self, name).shape != (n,):
                raise DataError(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")
        if n == 0:
            raise DataError("no data: every seed was excluded or the input is empty")

    # ------------------------------------------------------------------ basic views
    def __len__(self) -> int:
        return int(self.value.shape[0])

    @property
    def scales(self) -> np.ndarray:
        """Distinct raw scales, ascending."""
        return np.unique(self.scale)

    @property
    def groups(self) -> list[str]:
        if self.group is None:
            return [self.metric]
        return sorted(set(self.group.tolist()))

    def group_index(self) -> np.ndarray:
        if self.group is None:
            return np.zeros(len(self), np.int64)
        names = self.groups
        lookup = {g: i for i, g in enumerate(names)}
        return np.array([lookup[g] for g in self.group.tolist()], np.int64)

    def select(self, mask: np.ndarray) -> "SeedData":
        mask = np.asarray(mask, bool)
        return dataclasses.replace(
            self, scale=self.scale[mask], value=self.value[mask], seed=self.seed[mask],
            n_eval=None if self.n_eval is None else self.n_eval[mask],
            group=None if self.group is None else self.group[mask])

    def only_group(self, name: str) -> "SeedData":
        if self.group is None:
            if name != self.metric:
                raise DataError(f"no group {name!r}; this data has one group {self.metric!r}")
            return self
        if name not in self.groups:
            raise DataError(f"no group {name!r}; groups are {self.groups}")
        out = self.select(self.group == name)
        return dataclasses.replace(out, group=None, metric=name)

    def curves(self, group: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-seed curves over the scale grid: (seed ids [S], scales [K], values [S, K]).

        Only seeds observed at every scale are kept (curve statistics need the full grid)."""
        d = self if group is None and self.group is None else self.only_group(
            group if group is not None else self.groups[0])
        scales = d.scales
        seeds = np.unique(d.seed)
        table = np.full((seeds.size, scales.size), np.nan)
        si = np.searchsorted(seeds, d.seed)
        ki = np.searchsorted(scales, d.scale)
        table[si, ki] = d.value
        keep = ~np.isnan(table).any(axis=1)
        return seeds[keep], scales, table[keep]

    def summary(self) -> dict:
        out = {"n": len(self), "metric": self.metric, "scale_variable": self.scale_variable,
               "scales": [float(s) for s in self.scales], "groups": self.groups,
               "n_eval": None if self.n_eval is None else sorted({int(v) for v in self.n_eval}),
               "excluded": int(self.excluded),
               "value_min": float(self.value.min()), "value_max": float(self.value.max()),
               "exact_zeros": int((self.value == 0).sum()), "exact_ones": int((self.value == 1).sum())}
        out["per_scale_n"] = [int((self.scale == s).sum()) for s in self.scales]
        return out

    # ------------------------------------------------------------------ constructors
    @classmethod
    def from_arrays(cls, scale, value, seed=None, n_eval=None, group=None, *,
                    metric: str = "value", scale_variable: str = "scale") -> "SeedData":
        """Validates and copies plain arrays. ``n_eval`` may be a scalar (shared by every row)."""
        value = _as_float(value, "value")
        n = value.shape[0]
        scale = _as_float(np.broadcast_to(np.asarray(scale), (n,)) if np.ndim(scale) == 0 else scale,
                          "scale")
        if scale.shape != (n,):
            raise DataError(f"column 'scale' has {scale.shape[0]} entries but 'value' has {n}")
        if seed is None:
            seed = np.arange(n)
        seed = np.asarray(seed)
        if seed.shape != (n,):
            raise DataError(f"column 'seed' has {seed.size} entries but 'value' has {n}")
        try:
            seed_i = seed.astype(np.int64)
        except (TypeError, ValueError):
            raise DataError("column 'seed' must hold integers") from None
        if not np.all(seed_i == seed):
            raise DataError("column 'seed' must hold integers")
        _check_rows(scale, value, None if n_eval is None else n_eval)
        ne = None
        if n_eval is not None:
            ne = np.asarray(n_eval)
            if ne.ndim == 0:
                ne = np.full(n, ne)
            if ne.shape != (n,):
                raise DataError(f"column 'n_eval' has {ne.size} entries but 'value' has {n}")
            try:
                nef = ne.astype(np.float64)
            except (TypeError, ValueError):
                raise DataError("column 'n_eval' must hold positive integers") from None
            bad = np.flatnonzero(~np.isfinite(nef) | (nef < 1) | (nef != np.round(nef)))
            if bad.size:
                raise DataError(f"row {bad[0]}, column 'n_eval': {ne[bad[0]]!r} is not a positive "
                                "integer")
            ne = nef.astype(np.int64)
        grp = None
        if group is not None:
            grp = np.asarray(group).astype(str)
            if grp.ndim == 0:
                grp = np.full(n, str(grp))
            if grp.shape != (n,):
                raise DataError(f"column 'group' has {grp.size} entries but 'value' has {n}")
            empty = np.flatnonzero(np.char.strip(grp) == "")
            if empty.size:
                raise DataError(f"row {empty[0]}, column 'group': empty group name")
        return cls(scale=scale, value=value, seed=seed_i, n_eval=ne, group=grp, metric=metric,
                   scale_variable=scale_variable)

    @classmethod
    def from_csv(cls, path: str | Path, *, metric: str | None = None) -> "SeedData":
        """Long-format CSV with columns ``scale``, ``seed``, ``value`` and optionally ``n_eval``,
        ``group``. Row numbers in errors count the header as row 1 (as a spreadsheet shows them)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: no such CSV file")
        with open(path, newline="") as f:
            reader = csv.reader(f)
            try:
                header = next(reader)
            except StopIteration:
                raise DataError(f"{path}: empty file (expected a header row)") from None
            except csv.Error as e:
                raise DataError(f"{path}: row 1: {e}") from None
            header = [h.strip() for h in header]
            missing = [c for c in _REQUIRED if c not in header]
            if missing:
                raise DataError(f"{path}: row 1 (header): missing column(s) {', '.join(missing)}; "
                                f"required {', '.join(_REQUIRED)}, optional {', '.join(_OPTIONAL)}")
            col = {c: header.index(c) for c in _REQUIRED + _OPTIONAL if c in header}
            scale, value, seed, n_eval, group = [], [], [], [], []
            try:
                for rownum, row in enumerate(reader, start=2):
                    if not row or all(not c.strip() for c in row):
                        continue
                    if len(row) < len(header):
                        raise DataError(f"{path}: row {rownum}: {len(row)} fields, header has "
                                        f"{len(header)}")
                    scale.append(_parse_float(path, rownum, "scale", row[col["scale"]]))
                    v = _parse_float(path, rownum, "value", row[col["value"]])
                    value.append(v)
                    seed.append(_parse_int(path, rownum, "seed", row[col["seed"]]))
                    if "n_eval" in col:
                        ne = _parse_int(path, rownum, "n_eval", row[col["n_eval"]])
                        if ne < 1:
                            raise DataError(f"{path}: row {rownum}, column 'n_eval': {ne} is not a "
                                            "positive integer")
                        n_eval.append(ne)
                    if "group" in col:
                        g = row[col["group"]].strip()
                        if not g:
                            raise DataError(f"{path}: row {rownum}, column 'group': empty")
                        group.append(g)
                    _check_one(path, rownum, scale[-1], v)
            except csv.Error as e:
                raise DataError(f"{path}: row {reader.line_num}: {e}") from None
        if not value:
            raise DataError(f"{path}: no data rows")
        return cls(scale=np.array(scale, np.float64), value=np.array(value, np.float64),
                   seed=np.array(seed, np.int64),
                   n_eval=np.array(n_eval, np.int64) if "n_eval" in col else None,
                   group=np.array(group, dtype=str) if "group" in col else None,
                   metric=metric or "value")

    def to_csv(self, path: str | Path) -> None:
        cols = ["scale", "seed", "value"] + (["n_eval"] if self.n_eval is not None else []) + (
            ["group"] if self.group is not None else [])
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(cols)
            for i in range(len(self)):
                row = [repr(float(self.scale[i])), int(self.seed[i]), repr(float(self.value[i]))]
                if self.n_eval is not None:
                    row.append(int(self.n_eval[i]))
                if self.group is not None:
                    row.append(self.group[i])
                w.writerow(row)

    @classmethod
    def from_run(cls, run: Any, metric: str, scale_variable: str | None = None, *,
                 eval_step: int | None = None, verbose: bool = True) -> "SeedData":
        """Reads one metric from a run store (``emergence_jax.load_run(path)``).

        Uses each scale point's own final eval step (points may have different numbers of evaluations,
        ``run.num_evals``) unless ``eval_step`` names one, only completed scale points, and the
        run's ``scale_variable`` (e.g. "params") unless another derived size is named. Diverged seeds
        and NaN metrics are dropped; their count is printed (``verbose``) and kept in ``excluded``."""
        names = list(run.metric_names)
        if metric not in names:
            raise DataError(f"metric {metric!r} is not in this run; metrics: {', '.join(names)}")
        m = names.index(metric)
        steps = list(run.eval_steps)
        # scale points may have different numbers of evaluations (a sweep over train.steps): point
        # p's eval steps are steps[:num_evals[p]] and later entries are NaN
        num_evals = list(getattr(run, "num_evals", None) or [len(steps)] * len(run.scale_points))
        t_fixed = None
        if eval_step is not None:
            if eval_step not in steps:
                raise DataError(f"eval step {eval_step} not recorded; steps: {steps}")
            t_fixed = steps.index(eval_step)
        var = scale_variable or run.scale_variable
        metrics = np.asarray(run.metrics, np.float64)
        diverged = np.asarray(run.diverged, bool)
        completed = np.asarray(run.completed, bool)
        seeds = np.asarray(run.seeds, np.int64)
        n_eval = getattr(run, "eval_examples", None)
        scale, value, seed = [], [], []
        excluded = 0
        for p, point in enumerate(run.scale_points):
            if not completed[p]:
                continue
            if var not in point:
                raise DataError(f"scale variable {var!r} not found at scale point {p}; keys: "
                                f"{', '.join(sorted(point))}")
            s = float(point[var])
            if not (math.isfinite(s) and s > 0):
                raise DataError(f"scale point {p}: {var} = {s!r} is not a positive number")
            n_p = int(num_evals[p])
            if n_p < 1:
                raise DataError(f"scale point {p} is marked completed but has no evaluations")
            if t_fixed is None:
                t = n_p - 1
            elif t_fixed >= n_p:
                raise DataError(f"eval step {eval_step} is past the end of scale point {p} "
                                f"({var} = {s:g}), whose last eval step is {steps[n_p - 1]}")
            else:
                t = t_fixed
            vals = metrics[p, :, t, m]
            bad = diverged[p] | ~np.isfinite(vals)
            excluded += int(bad.sum())
            keep = ~bad
            scale.extend([s] * int(keep.sum()))
            value.extend(vals[keep].tolist())
            seed.extend(seeds[keep].tolist())
        if not any(completed):
            raise DataError("no completed scale point in this run")
        value_arr = np.array(value, np.float64)
        if value_arr.size and (value_arr.min() < 0 or value_arr.max() > 1):
            raise DataError(f"metric {metric!r} has values outside [0, 1] "
                            f"(min {value_arr.min():g}, max {value_arr.max():g}); fits need a "
                            "bounded metric such as accuracy or exact match")
        if excluded and verbose:
            print(f"excluded {excluded} diverged / non-finite seed result(s) for {metric}")
        notes = (f"excluded {excluded} diverged or non-finite seed results",) if excluded else ()
        ne = None
        if n_eval is not None and int(n_eval) > 0 and value_arr.size:
            ne = np.full(value_arr.size, int(n_eval), np.int64)
        return cls(scale=np.array(scale, np.float64), value=value_arr,
                   seed=np.array(seed, np.int64), n_eval=ne, metric=metric,
                   scale_variable=var, excluded=excluded, notes=notes)


# ---------------------------------------------------------------------- validation helpers


def _as_float(x, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise DataError(f"column {name!r} must be one-dimensional, got shape {arr.shape}")
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError):
        for i, v in enumerate(arr.tolist()):
            try:
                float(v)
            except (TypeError, ValueError):
                raise DataError(f"row {i}, column {name!r}: {v!r} is not a number") from None
        raise DataError(f"column {name!r} is not numeric") from None


def _check_rows(scale: np.ndarray, value: np.ndarray, n_eval) -> None:
    for i in np.flatnonzero(~np.isfinite(scale) | (scale <= 0))[:1]:
        raise DataError(f"row {i}, column 'scale': {scale[i]!r} is not a positive finite number")
    for i in np.flatnonzero(np.isnan(value))[:1]:
        raise DataError(f"row {i}, column 'value': NaN (drop diverged seeds before fitting)")
    for i in np.flatnonzero((value < 0) | (value > 1) | ~np.isfinite(value))[:1]:
        raise DataError(f"row {i}, column 'value': {value[i]!r} is outside [0, 1]")


def _check_one(path, rownum: int, scale: float, value: float) -> None:
    if not (math.isfinite(scale) and scale > 0):
        raise DataError(f"{path}: row {rownum}, column 'scale': {scale!r} is not a positive finite "
                        "number")
    if math.isnan(value):
        raise DataError(f"{path}: row {rownum}, column 'value': NaN (remove the row or give a value "
                        "in [0, 1])")
    if not (0.0 <= value <= 1.0):
        raise DataError(f"{path}: row {rownum}, column 'value': {value!r} is outside [0, 1]")


def _parse_float(path, rownum: int, column: str, text: str) -> float:
    t = text.strip()
    if not t:
        raise DataError(f"{path}: row {rownum}, column {column!r}: empty")
    try:
        return float(t)
    except ValueError:
        raise DataError(f"{path}: row {rownum}, column {column!r}: {t!r} is not a number") from None


def _parse_int(path, rownum: int, column: str, text: str) -> int:
    v = _parse_float(path, rownum, column, text)
    if not math.isfinite(v) or v != round(v):
        raise DataError(f"{path}: row {rownum}, column {column!r}: {text.strip()!r} is not an integer")
    return int(round(v))


def stack(datas: Sequence[SeedData]) -> SeedData:
    """Concatenates several single-group SeedData into one grouped SeedData (group = metric name)."""
    groups = [np.full(len(d), d.metric if d.group is None else "") if d.group is None else d.group
              for d in datas]
    ne = None
    if all(d.n_eval is not None for d in datas):
        ne = np.concatenate([d.n_eval for d in datas])
    return SeedData(scale=np.concatenate([d.scale for d in datas]),
                    value=np.concatenate([d.value for d in datas]),
                    seed=np.concatenate([d.seed for d in datas]), n_eval=ne,
                    group=np.concatenate(groups).astype(str),
                    metric="+".join(d.metric for d in datas),
                    scale_variable=datas[0].scale_variable,
                    excluded=sum(d.excluded for d in datas))
