"""Running a sweep: one population per scale point, trained into a run store, resumable.

``run_sweep(cfg, out)`` trains the points one after another, each as one ``Population`` (one
compiled program) driven by ``Population.train`` — the one training loop — with an ``on_chunk``
writer that, after every chunk of evaluations,

1. writes that chunk of per-seed metrics (and divergence flags) to the store and waits for it,
2. saves a checkpoint of the population state (every ``train.checkpoint_every_chunks`` chunks and
   after the last one; orbax finalises a checkpoint atomically),
3. records in the metadata (atomically) how many evaluations of the point are written.

A restart with the same config resumes every unfinished point from its latest checkpoint and skips
finished ones. Training is deterministic (a seed's batch at step t depends only on its data key and
t), so evaluations between that checkpoint and the interruption are recomputed identically.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from emergence_jax.analysis.outcomes import PointOutcome
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.sweep.console import headline_metrics, point_summary
from emergence_jax.app.sweep.points import build_metadata, default_out, expand
from emergence_jax.core.config import ExperimentConfig, validate
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import Run, RunStore, load_run

__all__ = ["run_sweep"]


def run_sweep(cfg: ExperimentConfig, out: str | None = None, *, overwrite: bool = False,
              progress: bool = True, log: Callable[[str], None] | None = print,
              mesh=None) -> Run:
    """Trains every scale point of ``cfg`` into the run store at ``out`` (default
    ``runs/<name>``), resuming a previous run of the same config there; returns the loaded
    ``Run``. Raises ConfigError for an invalid point (before training anything) and StoreError
    for a store that cannot be resumed."""
    import jax

    from emergence_jax.core.population import Population

    cfg = validate(cfg)
    points = expand(cfg)
    loc = Location(out or default_out(cfg))
    populations = [Population(p.config, mesh=mesh) for p in points]
    meta = build_metadata(cfg, points, populations)
    writer = jax.process_index() == 0
    store = RunStore.open_or_create(loc, meta, overwrite) if writer else None
    if jax.process_count() > 1:  # every process must see the store before training starts
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("emergence_jax.run_store_ready")
        if not writer:
            store = RunStore.open(loc)

    criterion = SuccessCriterion.from_config(cfg)
    num_evals = meta["num_evals"]  # per point
    eval_every = points[0].config.train.eval_every
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(p.config.train.steps for p in points),
                   initial=_steps_done(store.completion, num_evals, eval_every), unit="step",
                   dynamic_ncols=True)
    emit = (lambda _line: None) if log is None else (bar.write if bar is not None else log)

    def summary(p: int, **extra) -> str:
        """The point's line, from what the store holds at its last evaluation."""
        values, diverged = store.read_point(p, num_evals[p] - 1)
        outcomes = {n: PointOutcome(point=p, eval_index=num_evals[p] - 1,
                                    eval_step=meta["eval_steps"][num_evals[p] - 1],
                                    complete=True, seeds=np.asarray(meta["seeds"]),
                                    values=values[:, meta["metric_names"].index(n)]
                                    .astype(np.float64), diverged=diverged)
                    for n in headline_metrics(meta["metric_names"], criterion)}
        return (f"[{p + 1}/{len(points)}] "
                + point_summary(points[p].coords, meta["scale_points"][p]["sizes"], outcomes,
                                criterion, **extra))

    try:
        for point, pop in zip(points, populations):
            p = point.index
            if store.completion[p] >= num_evals[p]:
                emit(summary(p) + " (already complete)")
                continue
            start = time.perf_counter()
            _train_point(pop, p, store, loc, meta, writer, bar, len(points))
            emit(summary(p, seconds=time.perf_counter() - start))
    finally:
        if bar is not None:
            bar.close()
    if jax.process_count() > 1:  # the writer's last metadata update lands before anyone reads
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("emergence_jax.run_store_done")
    return load_run(loc)


def _steps_done(completion: list[int], num_evals: list[int], eval_every: int,
                skip: int | None = None) -> int:
    return sum(min(c, n) * eval_every for i, (c, n) in enumerate(zip(completion, num_evals))
               if i != skip)


def _train_point(pop, p: int, store: RunStore, loc: Location, meta: dict, writer: bool, bar,
                 total_points: int) -> None:
    """Trains scale point ``p`` from its latest checkpoint (or from scratch) with
    ``Population.train``; after each chunk: metrics written and committed -> checkpoint (when
    due) -> completion recorded. The point's own ``train.chunk_evals`` evaluations are written
    per chunk."""
    from emergence_jax.io.checkpoint import PopulationCheckpointer

    train = pop.cfg.train
    every = train.checkpoint_every_chunks
    names = meta["metric_names"]
    ckpt_loc = loc.child(f"checkpoints/point_{p:04d}") if every > 0 else None
    ckpt = (PopulationCheckpointer(ckpt_loc)
            if ckpt_loc is not None and ckpt_loc.orbax_path() is not None else None)
    try:
        state = None
        if ckpt is not None and ckpt.latest_step() is not None:
            state = ckpt.restore(pop)
            resumed = pop.steps_done(state) // train.eval_every
            if writer and resumed > store.completion[p]:
                # Interrupted after the checkpoint became final but before the metadata update;
                # its metrics were committed before the checkpoint was saved.
                store.set_completion(p, resumed)
        if state is None:
            state = pop.init()
        first_chunk = pop.steps_done(state) // pop.chunk_steps
        if bar is not None:
            bar.set_description(f"scale point {p + 1}/{total_points}")
            bar.n = _steps_done(store.completion, meta["num_evals"], train.eval_every, skip=p) \
                + first_chunk * pop.chunk_steps
            bar.refresh()
        clock = {"start": time.perf_counter()}

        def on_chunk(c: int, state, metrics: dict) -> None:
            block = np.stack([metrics[n] for n in names], axis=-1)  # [S, chunk_evals, M]
            status = pop.seed_status(state)
            if writer:
                store.write_chunk(p, c * train.chunk_evals, block, status["diverged"],
                                  status["diverged_at"])
            if ckpt is not None and ((c + 1) % every == 0 or c + 1 == pop.num_chunks):
                ckpt.save(pop, state)
            if writer:
                store.set_completion(p, max(store.completion[p], (c + 1) * train.chunk_evals))
            if bar is not None:
                if c == first_chunk:  # the first chunk includes compilation: rate from the next
                    clock["start"] = time.perf_counter()
                else:
                    elapsed = max(time.perf_counter() - clock["start"], 1e-9)
                    rate = (c - first_chunk) * pop.chunk_steps * pop.num_seeds / elapsed
                    bar.set_postfix_str(f"{rate:,.0f} seed-steps/s")
                bar.update(pop.chunk_steps)

        pop.train(state, on_chunk=on_chunk, collect=False)
    finally:
        if ckpt is not None:
            ckpt.close()
