"""Sweeps: train one population per scale point and write everything to a run store.

``expand(cfg)`` turns ``cfg.sweep.axes`` into scale points (every combination for
``mode='product'``, i-th values paired for ``mode='zip'``, the base config alone when empty), each a
validated ``ExperimentConfig``; every point is checked before anything trains. Points may differ
in any field, training length (``train.steps``) included, but must share ``train.eval_every`` and
the seeds: every point's eval steps are then a prefix of the longest point's, which is the store's
eval_step axis (a shorter point's later entries stay NaN).

``run_sweep(cfg, out)`` trains the points one after another, each as one ``Population`` (one
compiled program), and after every chunk of evaluations:

1. writes that chunk of per-seed metrics (and divergence flags) to the store and waits for it,
2. saves a checkpoint of the population state (every ``train.checkpoint_every_chunks`` chunks and
   after the last one; orbax finalises a checkpoint atomically),
3. records in the metadata (atomically) how many evaluations of the point are written.

A restart with the same config resumes every unfinished point from its latest checkpoint and skips
finished ones. Training is deterministic (a seed's batch at step t depends only on its data key and
t), so evaluations between that checkpoint and the interruption are recomputed identically.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from typing import Any, Callable

import numpy as np

from emergence_jax.config import ExperimentConfig, get_field, set_field, to_dict, validate
from emergence_jax.errors import ConfigError, StoreError
from emergence_jax.store import (GROUP_KEY, Location, Run, RunStore, config_differences,
                                 config_fingerprint, library_versions, load_run, point_num_evals,
                                 read_metadata, write_metadata)
from emergence_jax.tasks import success_criterion



@dataclasses.dataclass(frozen=True)
class ScalePoint:
    index: int
    coords: dict[str, Any]       # swept field -> value at this point
    config: ExperimentConfig     # the validated config of this point


def _format_coords(coords: dict) -> str:
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
            raise ConfigError(f"scale point {i} ({_format_coords(coords)}): {e}") from None
        points.append(ScalePoint(i, coords, point_cfg))
    first = points[0].config
    same = {"train.eval_every": lambda c: c.train.eval_every,
            "population seeds": lambda c: (c.population.first_seed, c.population.num_seeds)}
    for p in points[1:]:
        for what, get in same.items():
            if get(p.config) != get(first):
                raise ConfigError(
                    f"scale point {p.index} ({_format_coords(p.coords)}): {what} differs from "
                    f"scale point 0 ({get(p.config)!r} vs {get(first)!r}); every point of a sweep "
                    "shares train.eval_every (so its eval steps line up with the others') and "
                    "the seeds")
    for name in names:
        get_field(cfg, name)
    return points


def default_out(cfg: ExperimentConfig) -> str:
    return f"runs/{cfg.name}"


# --------------------------------------------------------------------------------------------
# Summaries (shared with ``emergence-jax inspect``).


def headline_metrics(names: list[str]) -> list[str]:
    """The metrics a one-line summary shows: exact-match scores and the training loss."""
    picked = [n for n in names if n.endswith("/exact_match")]
    if "train/loss" in names:
        picked.append("train/loss")
    return picked or names[:2]


def human_size(x: float) -> str:
    """1.23e4 -> '12.3k' (3 significant digits, k/M/G/T suffixes)."""
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def point_summary(coords: dict, sizes: dict, metric_names: list[str], values: np.ndarray,
                  diverged: np.ndarray, seconds: float | None = None,
                  evals: tuple[int, int] | None = None,
                  success: tuple[str, float] | None = None) -> str:
    """One line: coordinates, params, headline metric means over seeds, success fraction
    (``success`` = (metric, threshold)), divergence count and time. ``values`` is [S, M] (the last
    written evaluation)."""
    parts = [_format_coords(coords), f"params {human_size(float(sizes.get('params', 0)))}"]
    if evals is not None and evals[0] < evals[1]:
        parts.append(f"evals {evals[0]}/{evals[1]}")
    headline = headline_metrics(metric_names)
    if success is not None and success[0] in metric_names and success[0] not in headline:
        headline.insert(0, success[0])
    for name in headline:
        col = values[:, metric_names.index(name)]
        finite = col[np.isfinite(col)]
        mean = f"{finite.mean():.3f}" if finite.size else "nan"
        parts.append(f"{name} {mean}")
    if success is not None and success[0] in metric_names:
        metric, threshold = success
        col = values[:, metric_names.index(metric)]
        ok = int(np.sum(np.nan_to_num(col, nan=-np.inf) > threshold))
        parts.append(f"{metric}>{threshold:g} {ok}/{len(col)}")
    parts.append(f"diverged {int(np.sum(diverged))}/{len(diverged)}")
    if seconds is not None:
        parts.append(f"{seconds:.1f}s")
    return " | ".join(parts)


def run_summary_lines(run: Run) -> list[str]:
    """One summary line per scale point of a stored run (the last written evaluation)."""
    lines = []
    for p, point in enumerate(run.scale_points):
        done = run.completion[p]
        coords = {k: point[k] for k in run.axes if k in point}
        sizes = {k: point[k] for k in point if k not in run.axes}
        if done == 0:
            lines.append(f"[{p + 1}/{len(run.scale_points)}] {_format_coords(coords)} | "
                         f"params {human_size(float(sizes.get('params', 0)))} | not started")
            continue
        values = run.metrics[p, :, done - 1, :]
        lines.append(f"[{p + 1}/{len(run.scale_points)}] " + point_summary(
            coords, sizes, run.metric_names, values, run.diverged[p],
            evals=(done, run.num_evals[p]), success=success_criterion(run.config)))
    return lines


# --------------------------------------------------------------------------------------------
# The sweep.


def _store_entries_only(loc: Location) -> bool:
    """True when a local directory holds nothing but (pieces of) a run store."""
    known = {GROUP_KEY, "metrics", "diverged", "diverged_at", "checkpoints"}
    return all(p.name in known or p.name.startswith(f".{GROUP_KEY}.") for p in loc.local.iterdir())


def open_or_create_store(loc: Location, meta: dict, overwrite: bool) -> RunStore:
    """Opens the store at ``loc`` to resume it, or creates it. Refuses to resume a store written
    with a different config (unless ``overwrite``) and to write into a foreign directory."""
    if loc.local is not None and loc.local.exists() and not loc.local.is_dir():
        raise StoreError(f"{loc} is a file, not a run directory; choose another output path")
    try:
        existing = read_metadata(loc)
    except StoreError as e:
        if not overwrite:
            raise StoreError(f"{e}. Use --overwrite (overwrite=True) to replace it with a new "
                             "run") from None
        existing = None
    if overwrite:
        loc.delete_store()
        existing = None
    if existing is not None:
        # Compared through the current ignore rules (RESUME_IGNORED), not the stored fingerprint.
        if config_fingerprint(existing["config"]) != meta["fingerprint"]:
            diffs = config_differences(existing["config"], meta["config"])
            detail = "; ".join(diffs[:10]) + (f"; ... ({len(diffs)} fields)" if len(diffs) > 10
                                              else "")
            raise StoreError(f"{loc} holds a run with a different config "
                             f"({detail or 'fingerprint differs'}). "
                             "Resume with the same config, choose another output path, or "
                             "start over with --overwrite (overwrite=True)")
        stored = dict(existing, num_evals=point_num_evals(existing))
        wanted = dict(meta, num_evals=point_num_evals(meta))
        for key in ("metric_names", "eval_steps", "num_evals", "seeds", "chunk_evals"):
            if stored[key] != wanted[key]:
                raise StoreError(f"{loc}: stored {key} {stored[key]!r} differ from this "
                                 f"code's {wanted[key]!r}; start over with --overwrite")
        store = RunStore.open(loc)
        if existing["fingerprint"] != meta["fingerprint"]:
            # Same numbers, fingerprint from older rules on which fields are ignored: refresh it.
            store.meta = dict(store.meta, fingerprint=meta["fingerprint"])
            write_metadata(loc, store.meta)
        return store
    if loc.local is not None and loc.local.exists() and any(loc.local.iterdir()) \
            and not _store_entries_only(loc) and not overwrite:
        raise StoreError(f"{loc} exists and is not a run store; choose an empty or new output "
                         "path (or --overwrite to write a run store into it)")
    if loc.local is None and loc.exists_nonempty() and not overwrite:
        raise StoreError(f"{loc} is not empty and is not a run store; choose another location "
                         "(or --overwrite)")
    loc.delete_store()  # leftovers of a creation that was interrupted before its metadata
    return RunStore.create(loc, meta)


def _build_metadata(cfg: ExperimentConfig, points: list[ScalePoint], populations: list) -> dict:
    first = populations[0]
    names = list(first.metric_names)
    for p, pop in zip(points, populations):
        if list(pop.metric_names) != names:
            raise ConfigError(f"scale point {p.index} ({_format_coords(p.coords)}) reports metrics "
                              f"{pop.metric_names}, unlike scale point 0 ({names})")
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
        "seeds": [int(s) for s in first.seed_ids],
        "scale_variable": cfg.sweep.scale_variable,
        "eval_examples": int(cfg.task.eval_examples),
        "versions": library_versions(),
    }


def run_sweep(cfg: ExperimentConfig, out: str | None = None, *, overwrite: bool = False,
              progress: bool = True, log: Callable[[str], None] | None = print,
              mesh=None) -> Run:
    """Trains every scale point of ``cfg`` into the run store at ``out`` (default
    ``runs/<name>``), resuming a previous run of the same config there; returns the loaded
    ``Run``. Raises ConfigError for an invalid point (before training anything) and StoreError
    for a store that cannot be resumed."""
    from emergence_jax.checkpoint import PopulationCheckpointer
    from emergence_jax.population import Population
    import jax

    cfg = validate(cfg)
    points = expand(cfg)
    loc = Location(out or default_out(cfg))
    populations = [Population(p.config, mesh=mesh) for p in points]
    meta = _build_metadata(cfg, points, populations)
    writer = jax.process_index() == 0
    store = open_or_create_store(loc, meta, overwrite) if writer else None
    if jax.process_count() > 1:  # every process must see the store before training starts
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("emergence_jax.run_store_ready")
        if not writer:
            store = RunStore.open(loc)

    names = meta["metric_names"]
    success = success_criterion(meta["config"])
    num_evals = meta["num_evals"]  # per point
    every = cfg.train.checkpoint_every_chunks
    total_points = len(points)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        done_steps = _steps_done(store.completion, num_evals, points[0].config.train.eval_every)
        bar = tqdm(total=sum(p.config.train.steps for p in points), initial=done_steps,
                   unit="step", dynamic_ncols=True)
        emit = bar.write
    else:
        emit = log or (lambda _line: None)
    if log is None:
        emit = lambda _line: None  # noqa: E731

    try:
        for point, pop in zip(points, populations):
            p = point.index
            tag = f"[{p + 1}/{total_points}]"
            last = num_evals[p] - 1
            if store.completion[p] >= num_evals[p]:
                run_values = store.arrays["metrics"][p, :, last, :].read().result()
                div = store.arrays["diverged"][p, :].read().result()
                emit(f"{tag} " + point_summary(point.coords, meta["scale_points"][p]["sizes"],
                                               names, np.asarray(run_values), np.asarray(div),
                                               success=success)
                     + " (already complete)")
                continue
            start = time.perf_counter()
            ckpt_dir = loc.checkpoint_dir(f"point_{p:04d}") if every > 0 else None
            ckpt = PopulationCheckpointer(ckpt_dir) if ckpt_dir else None
            try:
                state = _train_point(pop, p, store, ckpt, writer, every, bar, names,
                                     num_evals, total_points)
            finally:
                if ckpt is not None:
                    ckpt.close()
            final = np.asarray(store.arrays["metrics"][p, :, last, :].read().result())
            emit(f"{tag} " + point_summary(point.coords, meta["scale_points"][p]["sizes"], names,
                                           final, pop.seed_status(state)["diverged"],
                                           seconds=time.perf_counter() - start, success=success))
            del state
    finally:
        if bar is not None:
            bar.close()
    if jax.process_count() > 1:  # the writer's last metadata update lands before anyone reads
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("emergence_jax.run_store_done")
    return load_run(str(loc) if loc.local is not None else loc.url)


def _steps_done(completion: list[int], num_evals: list[int], eval_every: int,
                skip: int | None = None) -> int:
    return sum(min(c, n) * eval_every for i, (c, n) in enumerate(zip(completion, num_evals))
               if i != skip)


def _train_point(pop, p: int, store: RunStore, ckpt, writer: bool, every: int, bar,
                 names: list[str], num_evals: list[int], total_points: int):
    """Trains scale point ``p`` from its latest checkpoint (or from scratch). After each chunk:
    metrics written and committed -> checkpoint (when due) -> completion recorded. Returns the
    final state. The point's own ``train.chunk_evals`` evaluations are written per chunk."""
    chunk_evals = pop.cfg.train.chunk_evals
    eval_every = pop.cfg.train.eval_every
    state = None
    if ckpt is not None and ckpt.latest_step() is not None:
        state = ckpt.restore(pop)
        resumed = pop.steps_done(state) // eval_every
        if writer and resumed > store.completion[p]:
            # Interrupted after the checkpoint became final but before the metadata update; its
            # metrics were committed before the checkpoint was saved.
            store.set_completion(p, resumed)
    if state is None:
        state = pop.init()
    first_chunk = pop.steps_done(state) // pop.chunk_steps
    if bar is not None:
        bar.set_description(f"scale point {p + 1}/{total_points}")
        bar.n = _steps_done(store.completion, num_evals, eval_every, skip=p) \
            + first_chunk * pop.chunk_steps
        bar.refresh()
    chunk_start = time.perf_counter()
    for c in range(first_chunk, pop.num_chunks):
        state, metrics = pop.train_chunk(state)
        block = np.stack([metrics[n] for n in names], axis=-1)  # [S, chunk_evals, M]
        status = pop.seed_status(state)
        if writer:
            store.write_chunk(p, c * chunk_evals, block, status["diverged"],
                              status["diverged_at"])
        if ckpt is not None and ((c + 1) % every == 0 or c + 1 == pop.num_chunks):
            ckpt.save(pop, state)
        if writer:
            store.set_completion(p, max(store.completion[p], (c + 1) * chunk_evals))
        if bar is not None:
            if c == first_chunk:  # the first chunk includes compilation: rate from the second
                chunk_start = time.perf_counter()
            else:
                elapsed = max(time.perf_counter() - chunk_start, 1e-9)
                rate = (c - first_chunk) * pop.chunk_steps * pop.num_seeds / elapsed
                bar.set_postfix_str(f"{rate:,.0f} seed-steps/s")
            bar.update(pop.chunk_steps)
    return state


__all__ = ["ScalePoint", "default_out", "expand", "headline_metrics", "point_summary",
           "run_summary_lines", "run_sweep"]
