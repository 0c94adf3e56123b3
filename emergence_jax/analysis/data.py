"""Per-seed results across scales: the one input every statistical fit takes.

``SeedData`` holds flat arrays, one entry per (seed, scale point[, group]):

    scale   raw scale (parameters, tokens, FLOPs, ...), > 0
    value   the metric, in [0, 1]
    n_eval  number of evaluation examples behind ``value`` (optional; enables BetaBinomial counts)
    group   task / metric name (optional; several groups are fitted by the hierarchical model)
    seed    seed id

Constructors: ``SeedData.from_arrays`` (where every value is checked) and ``SeedData.from_csv`` (a
long-format CSV read by ``emergence_jax.io.seed_table``); a run store's outcomes come from
``emergence_jax.analysis.outcomes.seed_data(run, metric)``, which drops and counts diverged seeds.
Malformed input raises ``DataError`` naming the row and column; a NaN in a user's data is an
error. Two more rules say what the rows mean:

* each (scale, seed[, group]) appears once: a repeated one is refused naming both rows, unless
  ``duplicates="mean"`` merges them (their values averaged; with ``n_eval``, their evaluations
  pooled: value = total correct / total ``n_eval``, ``n_eval`` = the sum);
* with ``n_eval``, a value is a fraction k / n_eval of the evaluation examples: one more than
  ``GRID_TOLERANCE`` of an example away from such a fraction is refused naming the row (a 0.347
  from 2 examples is not silently rounded to 0.5).
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np

from emergence_jax.core.errors import DataError
from emergence_jax.io.seed_table import read_seed_table, write_seed_table

__all__ = ["DUPLICATES", "GRID_TOLERANCE", "SeedData", "stack"]

DUPLICATES = ("error", "mean")
# How far value * n_eval may be from a whole count: values written with a few decimals (1/3 as
# 0.333, 1/7 as 0.14) are accepted, a value that is no fraction of n_eval is not.
GRID_TOLERANCE = 0.05


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

    def digest(self) -> str:
        """SHA-256 of the data itself (scales, values, seeds, n_eval, groups, in order): equal
        digests mean a fit made on one was made on the other."""
        h = hashlib.sha256()
        for arr in (self.scale, self.value, self.seed, self.n_eval, self.group):
            h.update(b"-" if arr is None else np.ascontiguousarray(arr).tobytes())
            h.update(b"|")
        return h.hexdigest()

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
                    metric: str = "value", scale_variable: str = "scale",
                    source: str | None = None, rows=None,
                    duplicates: str = "error") -> "SeedData":
        """Validates and copies plain arrays. ``n_eval`` may be a scalar (shared by every row).
        Errors name the row: entry i is "row i", or ``rows[i]`` of the file ``source``.
        ``duplicates``: ``"error"`` refuses a repeated (scale, seed[, group]), ``"mean"``
        merges them (see the module docstring)."""
        if duplicates not in DUPLICATES:
            raise DataError(f"duplicates: got {duplicates!r}; allowed values: "
                            f"{', '.join(map(repr, DUPLICATES))}")
        where = _RowNamer(source, rows)
        value = _as_float(value, "value", where)
        n = value.shape[0]
        scale = _as_float(np.broadcast_to(np.asarray(scale), (n,)) if np.ndim(scale) == 0 else scale,
                          "scale", where)
        if scale.shape != (n,):
            raise DataError(f"column 'scale' has {scale.shape[0]} entries but 'value' has {n}")
        if seed is None:
            seed = np.arange(n)
        seed = np.asarray(seed)
        if seed.shape != (n,):
            raise DataError(f"column 'seed' has {seed.size} entries but 'value' has {n}")
        seed_i = _as_int64(seed, "seed", where)
        for i in np.flatnonzero(~np.isfinite(scale) | (scale <= 0))[:1]:
            raise DataError(f"{where(i)}, column 'scale': {float(scale[i])!r} is not a positive finite "
                            "number")
        for i in np.flatnonzero(np.isnan(value))[:1]:
            raise DataError(f"{where(i)}, column 'value': NaN (remove the row, or drop diverged "
                            "seeds, or give a value in [0, 1])")
        for i in np.flatnonzero((value < 0) | (value > 1) | ~np.isfinite(value))[:1]:
            raise DataError(f"{where(i)}, column 'value': {float(value[i])!r} is outside [0, 1]")
        ne = None
        if n_eval is not None:
            ne = np.asarray(n_eval)
            if ne.ndim == 0:
                ne = np.full(n, ne)
            if ne.shape != (n,):
                raise DataError(f"column 'n_eval' has {ne.size} entries but 'value' has {n}")
            ne = _as_int64(ne, "n_eval", where)
            bad = np.flatnonzero(ne < 1)
            if bad.size:
                raise DataError(f"{where(bad[0])}, column 'n_eval': {int(ne[bad[0]])} is not a "
                                "positive integer")
            counts = value * ne
            off = np.flatnonzero(np.abs(counts - np.round(counts)) > GRID_TOLERANCE)
            if off.size:
                i = off[0]
                raise DataError(
                    f"{where(i)}, column 'value': {float(value[i])!r} is not a fraction of the row's "
                    f"n_eval = {ne[i]} evaluation examples ({float(value[i])!r} x {ne[i]} = "
                    f"{counts[i]:.4g}, not a whole count; the nearest such value is "
                    f"{np.round(counts[i]) / ne[i]:.6g}); with n_eval, a value is k / n_eval. "
                    f"{off.size} row(s) like this; fit them without n_eval if they are "
                    "continuous scores")
        grp = None
        if group is not None:
            grp = np.asarray(group).astype(str)
            if grp.ndim == 0:
                grp = np.full(n, str(grp))
            if grp.shape != (n,):
                raise DataError(f"column 'group' has {grp.size} entries but 'value' has {n}")
            empty = np.flatnonzero(np.char.strip(grp) == "")
            if empty.size:
                raise DataError(f"{where(empty[0])}, column 'group': empty group name")
        scale, value, seed_i, ne, grp = _one_row_per_seed(scale, value, seed_i, ne, grp, where,
                                                          duplicates)
        return cls(scale=scale, value=value, seed=seed_i, n_eval=ne, group=grp, metric=metric,
                   scale_variable=scale_variable)

    @classmethod
    def from_csv(cls, path: str | Path, *, metric: str | None = None,
                 duplicates: str = "error") -> "SeedData":
        """Long-format CSV with columns ``scale``, ``seed``, ``value`` and optionally ``n_eval``,
        ``group`` (see ``emergence_jax.io.seed_table`` and ``docs/seed-csv.md``). Row numbers in
        errors count the header as row 1 (as a spreadsheet shows them)."""
        t = read_seed_table(path)
        return cls.from_arrays(t["scale"], t["value"], t["seed"], n_eval=t["n_eval"],
                               group=t["group"], metric=metric or "value", source=str(path),
                               rows=t["row"], duplicates=duplicates)

    def to_csv(self, path: str | Path) -> None:
        write_seed_table(path, self.scale, self.seed, self.value, self.n_eval, self.group)


# ---------------------------------------------------------------------- validation helpers


class _RowNamer:
    """Names entry i in messages: "row i", or "FILE: row N" for data read from a file."""

    def __init__(self, source: str | None, rows):
        self.source, self.rows = source, None if rows is None else np.asarray(rows)

    def __call__(self, i: int) -> str:
        return self.row(i) if self.source is None else f"{self.source}: {self.row(i)}"

    def row(self, i: int) -> str:
        return f"row {int(i) if self.rows is None else int(self.rows[i])}"


def _as_int64(x, name: str, where: _RowNamer) -> np.ndarray:
    """Integers in the int64 range (floats with an integer value accepted), naming the first
    row that is not one."""
    arr = np.asarray(x)
    if arr.dtype.kind in "iu" and (arr.dtype.kind == "i" or arr.size == 0
                                   or arr.max() <= np.iinfo(np.int64).max):
        return arr.astype(np.int64)
    for i, v in enumerate(arr.tolist()):
        try:
            exact = int(v) == v and not isinstance(v, bool)
        except (TypeError, ValueError, OverflowError):
            exact = False
        if not exact:
            raise DataError(f"{where(i)}, column {name!r}: {v!r} is not an integer")
        if not -2**63 <= int(v) < 2**63:
            raise DataError(f"{where(i)}, column {name!r}: {int(v)} is outside the int64 range")
    return np.array([int(v) for v in arr.tolist()], np.int64)


def _one_row_per_seed(scale, value, seed, n_eval, group, where: _RowNamer, duplicates: str):
    """Refuses (``"error"``) or merges (``"mean"``) rows that repeat a (scale, seed[, group])."""
    n = value.shape[0]
    group_ids = (np.unique(group, return_inverse=True)[1] if group is not None
                 else np.zeros(n, np.int64))
    order = np.lexsort((np.arange(n), seed, scale, group_ids))
    same = ((scale[order][1:] == scale[order][:-1]) & (seed[order][1:] == seed[order][:-1])
            & (group_ids[order][1:] == group_ids[order][:-1]))
    if not same.any():
        return scale, value, seed, n_eval, group
    if duplicates == "error":
        j = int(np.flatnonzero(same)[0])
        first, second = int(order[j]), int(order[j + 1])
        key = f"(scale {scale[first]:g}, seed {seed[first]}" + (
            f", group {str(group[first])!r})" if group is not None else ")")
        repeated = int(same.sum())
        raise DataError(f"{where(first)} and {where.row(second)} have the same {key}; "
                        f"each seed has one value per scale{' and group' if group is not None else ''} "
                        f"({repeated} repeated row(s) in all). Remove the repeats, or merge them "
                        "with --duplicates mean (duplicates='mean')")
    # "mean": one row per key, in the order of each key's first row.
    starts = np.concatenate([[True], ~same])
    key_of_sorted = np.cumsum(starts) - 1
    keys = np.empty(n, np.int64)
    keys[order] = key_of_sorted
    first_rows = order[starts]
    weight = np.ones(n) if n_eval is None else n_eval.astype(np.float64)
    total_weight = np.bincount(keys, weights=weight)
    merged_value = np.bincount(keys, weights=value * weight) / total_weight
    merged_n = None if n_eval is None else np.bincount(keys, weights=n_eval).astype(np.int64)
    keep = np.argsort(first_rows, kind="stable")
    pick = first_rows[keep]
    return (scale[pick], np.clip(merged_value[keep], 0.0, 1.0), seed[pick],
            None if merged_n is None else merged_n[keep],
            None if group is None else group[pick])


def _as_float(x, name: str, where: _RowNamer) -> np.ndarray:
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
                raise DataError(f"{where(i)}, column {name!r}: {v!r} is not a number") from None
        raise DataError(f"column {name!r} is not numeric") from None


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
