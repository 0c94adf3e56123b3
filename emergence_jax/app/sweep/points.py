"""Scale points: the grid of a sweep and the run-store metadata that describes it.

``expand(cfg)`` turns ``cfg.sweep.axes`` into scale points (every combination for
``mode='product'``, i-th values paired for ``mode='zip'``, the base config alone when empty), each a
validated ``ExperimentConfig``; every point is checked before anything trains. Points may differ
in any field, training length (``train.steps``) included, but must share ``train.eval_every`` and
the seeds: every point's eval steps are then a prefix of the longest point's, which is the store's
eval_step axis (a shorter point's later entries stay NaN).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from typing import Any

from emergence_jax.core.config import ExperimentConfig, get_field, set_field, to_dict, validate
from emergence_jax.core.errors import ConfigError
from emergence_jax.io.run_store import config_fingerprint, library_versions

__all__ = ["ScalePoint", "build_metadata", "default_out", "expand", "format_coords",
           "nest_sources"]


@dataclasses.dataclass(frozen=True)
class ScalePoint:
    """One point of the scale grid: its index, its swept coordinates and its validated config."""
    index: int
    coords: dict[str, Any]       # swept field -> value at this point
    config: ExperimentConfig     # the validated config of this point


def format_coords(coords: dict) -> str:
    """``{"model.width": 64}`` -> ``"model.width=64"`` (``"(base config)"`` when empty)."""
    return " ".join(f"{k}={v}" for k, v in coords.items()) or "(base config)"


def expand(cfg: ExperimentConfig) -> list[ScalePoint]:
    """The scale points of ``cfg.sweep``; raises ConfigError naming the point that is invalid."""
    cfg = validate(cfg)
    axes = cfg.sweep.axes
    names = list(axes)
    if not names:
        combos: list[tuple] = [()]
    elif cfg.sweep.mode == "product":
        combos = list(itertools.product(*(axes[n] for n in names)))
    else:
        combos = list(zip(*(axes[n] for n in names)))
    points = []
    for i, values in enumerate(combos):
        coords = dict(zip(names, values))
        point_cfg = cfg
        try:
            for name, value in coords.items():
                point_cfg = set_field(point_cfg, name, value)
            point_cfg = validate(point_cfg)
        except ConfigError as e:
            raise ConfigError(f"scale point {i} ({format_coords(coords)}): {e}") from None
        points.append(ScalePoint(i, coords, point_cfg))
    first = points[0].config
    same = {"train.eval_every": lambda c: c.train.eval_every,
            "population seeds": lambda c: (c.population.first_seed, c.population.num_seeds)}
    for p in points[1:]:
        for what, get in same.items():
            if get(p.config) != get(first):
                raise ConfigError(
                    f"scale point {p.index} ({format_coords(p.coords)}): {what} differs from "
                    f"scale point 0 ({get(p.config)!r} vs {get(first)!r}); every point of a sweep "
                    "shares train.eval_every (so its eval steps line up with the others') and "
                    "the seeds")
    for name in names:
        get_field(cfg, name)
    return points


def nest_sources(points: list[ScalePoint]) -> list[int]:
    """For each point, the point whose training run produces its results: itself, or (with
    ``sweep.nest``) the longest point whose config differs from its own only in ``train.steps``
    and whose learning rates agree with its own over its steps (``schedule_is_prefix``), and
    whose chunks are of one evaluation exactly when its own are (see below). Such a
    point's trajectory is a prefix of the longer one's — seeds, data order and updates are the
    same step for step — so its evaluations, flags and final state are read from that run."""
    sources = [p.index for p in points]
    if not points or not points[0].config.sweep.nest:
        return sources
    from emergence_jax.core.population import schedule_is_prefix  # JAX only when nesting

    def rest(p: ScalePoint) -> ExperimentConfig:
        return dataclasses.replace(p.config, train=dataclasses.replace(p.config.train, steps=0))

    def one_block_chunks(p: ScalePoint) -> bool:
        # XLA inlines a loop of one iteration, which can change the float rounding of a chunk
        # of one evaluation against that of a longer chunk by an ulp; nesting across the two
        # would then not reproduce training alone bit for bit.
        return p.config.train.chunk_evals == 1

    for p in points:
        lead = max((q for q in points if rest(q) == rest(p)),
                   key=lambda q: (q.config.train.steps, -q.index))
        if (lead.index != p.index and one_block_chunks(p) == one_block_chunks(lead)
                and schedule_is_prefix(p.config, lead.config)):
            sources[p.index] = lead.index
    return sources


def default_out(cfg: ExperimentConfig) -> str:
    """The run directory of an experiment when no ``--out`` is given."""
    return f"runs/{cfg.name}"


def build_metadata(cfg: ExperimentConfig, points: list[ScalePoint], populations: list) -> dict:
    """The run store's metadata for ``points`` (see ``emergence_jax.io.run_store``): config and
    fingerprint, each point's coordinates and derived sizes, metric names, eval steps, seeds."""
    # Every metric any point reports, in order of first appearance: points may differ (the
    # linear map's per-position losses grow with its number of bits); a point's values of a
    # metric it does not report stay NaN, which outcomes read as "not measured".
    names = list(dict.fromkeys(n for pop in populations for n in pop.metric_names))
    config = to_dict(cfg)
    num_evals = [int(p.config.train.num_evals) for p in points]
    longest = max(range(len(points)), key=lambda i: num_evals[i])
    # Every point writes chunks of its own chunk_evals evaluations; a zarr chunk that divides all
    # of them keeps each write aligned to whole chunks.
    chunk = 0
    for p in points:
        chunk = math.gcd(chunk, int(p.config.train.chunk_evals))
    return {
        "config": config,
        "fingerprint": config_fingerprint(config),
        "name": cfg.name,
        "axes": list(cfg.sweep.axes),
        "sweep_mode": cfg.sweep.mode,
        "scale_points": [{"coords": dict(p.coords),
                          "sizes": {k: float(v) for k, v in pop.sizes().items()}}
                         for p, pop in zip(points, populations)],
        "metric_names": names,
        "eval_steps": [int(s) for s in points[longest].config.train.eval_steps],
        "num_evals": num_evals,
        "chunk_evals": chunk,
        "seeds": [int(s) for s in populations[0].seed_ids],
        "scale_variable": cfg.sweep.scale_variable,
        "eval_examples": int(cfg.task.eval_examples),
        "versions": library_versions(),
    }
