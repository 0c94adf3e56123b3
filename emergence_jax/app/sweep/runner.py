"""Running a sweep: one population per scale point, trained into a run store, resumable.

``run_sweep(cfg, out)`` trains the points one after another, each as one ``Population`` (one
compiled program) driven by ``Population.train`` — the one training loop — with an ``on_chunk``
writer that, after every chunk of evaluations,

1. writes that chunk of per-seed metrics (and divergence flags) to the store and waits for it,
2. saves a checkpoint of the population state (every ``train.checkpoint_every_chunks`` chunks and
   after the last one; orbax finalises a checkpoint atomically),
3. records in the metadata (atomically) how many evaluations of the point are written.

SIGTERM (a spot VM's or a scheduler's preemption notice) stops the sweep after the chunk in flight:
that chunk is written, a checkpoint is saved whatever ``checkpoint_every_chunks`` says, and
``Preempted`` is raised (the CLI exits with status 75, ``EXIT_PREEMPTED``); see ``preemption``.

A restart with the same config resumes every unfinished point from its latest checkpoint and skips
finished ones. Training is deterministic (a seed's batch at step t depends only on its data key and
t), so evaluations between that checkpoint and the interruption are recomputed identically. Chunks
the store has lost since they were written (``RunStore.repairs``) are re-trained from the nearest
checkpoint before them (or from the start) and only they are written again.

Before anything is allocated or created, every point's memory is estimated against the devices
(``emergence_jax.core.sizing``); then process 0, the one writer, takes the store's writer lock for
the whole sweep (a second sweep on the same store is refused, naming the holder).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from emergence_jax.analysis.outcomes import PointOutcome
from emergence_jax.analysis.success import SuccessCriterion
from emergence_jax.app.sweep.console import headline_metrics, point_summary
from emergence_jax.app.sweep.points import build_metadata, default_out, expand, format_coords
from emergence_jax.app.sweep.preemption import StopRequest
from emergence_jax.core.config import ExperimentConfig, validate
from emergence_jax.core.errors import Preempted, StoreError
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import Run, RunStore, load_run

__all__ = ["run_sweep"]


def run_sweep(cfg: ExperimentConfig, out: str | None = None, *, overwrite: bool = False,
              progress: bool = True, log: Callable[[str], None] | None = print,
              mesh=None, break_lock: bool = False) -> Run:
    """Trains every scale point of ``cfg`` into the run store at ``out`` (default
    ``runs/<name>``), resuming a previous run of the same config there; returns the loaded
    ``Run``. Raises ConfigError for an invalid point or one that does not fit in memory (before
    anything is allocated) and StoreError for a store that cannot be resumed or that another
    process is writing (``break_lock`` takes over its lock: see ``RunStore.lock``). On SIGTERM,
    stops after the current chunk with a checkpoint and raises ``Preempted``."""
    import jax

    from emergence_jax.core.population import Population
    from emergence_jax.core.sizing import check_memory

    cfg = validate(cfg)
    points = expand(cfg)
    loc = Location(out or default_out(cfg))
    for p in points:
        check_memory(p.config, mesh=mesh, what=f"scale point {p.index} ({format_coords(p.coords)})"
                     if p.coords else "")
    populations = [Population(p.config, mesh=mesh) for p in points]
    meta = build_metadata(cfg, points, populations)
    writer = jax.process_index() == 0
    lock, store = _open_store(loc, meta, overwrite, writer, break_lock, log)
    try:
        with StopRequest().installed() as stop:
            return _sweep(cfg, points, populations, meta, loc, store, writer, progress, log, stop)
    finally:
        if lock is not None:
            lock.release()


def _open_store(loc: Location, meta: dict, overwrite: bool, writer: bool, break_lock: bool,
                log) -> tuple:
    """(lock, store): the writer takes the lock and opens (or creates) the store; on several
    processes the others then open it. A refusal reaches every process, so none waits forever."""
    import jax

    lock = store = error = None
    if writer:
        try:
            lock = RunStore.lock(loc, break_lock=break_lock, log=log)
            store = RunStore.open_or_create(loc, meta, overwrite)
        except StoreError as e:
            if lock is not None:
                lock.release()
            error = e
    if jax.process_count() > 1:  # every process must see the store before training starts
        from jax.experimental import multihost_utils
        ok = multihost_utils.broadcast_one_to_all(np.int32(error is None))
        if not int(ok):
            raise error or StoreError(f"{loc}: process 0 could not open the run store (see its "
                                      "error)")
        if not writer:
            store = RunStore.open(loc)
            store.find_repairs()  # the same damaged chunks as the writer found
    elif error is not None:
        raise error
    return lock, store


def _sweep(cfg, points, populations, meta, loc, store, writer, progress, log,
           stop: StopRequest) -> Run:
    import jax

    criterion = SuccessCriterion.from_config(cfg)
    num_evals = meta["num_evals"]  # per point
    eval_every = points[0].config.train.eval_every
    bar = None
    if progress and writer:  # one bar per job, not per process
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(p.config.train.steps for p in points),
                   initial=_steps_done(store.completion, num_evals, eval_every), unit="step",
                   dynamic_ncols=True)
    # Lines are printed by process 0 only: it is the writer, so what it reads back for a point's
    # summary is in the store (another process could read it before process 0 has written).
    emit = ((lambda _line: None) if log is None or not writer
            else (bar.write if bar is not None else log))

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
            repairs = store.repairs.get(p, [])
            if store.completion[p] >= num_evals[p] and not repairs:
                if writer and log is not None:
                    emit(summary(p) + " (already complete)")
                continue
            if stop.requested():  # asked between two points: the next has not started
                raise Preempted(f"stopped by {stop.name()} before scale point {p + 1}/"
                                f"{len(points)}; the points before it are saved in {loc}")
            if repairs:
                spans = ", ".join(f"{a + 1}..{b}" for a, b in repairs)
                emit(f"[{p + 1}/{len(points)}] {format_coords(point.coords)}: re-training the lost "
                     f"evaluations {spans}")
            start = time.perf_counter()
            _train_point(pop, p, store, loc, meta, writer, bar, len(points), repairs, stop)
            if writer and log is not None:
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
                 total_points: int, repairs: list[tuple[int, int]] = (),
                 stop: StopRequest | None = None) -> None:
    """Trains scale point ``p`` from its latest checkpoint (or from scratch) with
    ``Population.train``; after each chunk: metrics written and committed -> checkpoint (when
    due) -> completion recorded. The point's own ``train.chunk_evals`` evaluations are written
    per chunk. Chunks to ``repairs`` (evaluation ranges the store lost) start training at the
    nearest checkpoint before them; of the chunks already counted, only those are written. When
    ``stop`` is requested after a chunk that is not the point's last, that chunk is checkpointed
    and recorded and ``Preempted`` is raised."""
    from emergence_jax.io.checkpoint import PopulationCheckpointer

    train = pop.cfg.train
    every = train.checkpoint_every_chunks
    names = meta["metric_names"]
    ckpt_loc = loc.child(f"checkpoints/point_{p:04d}") if every > 0 else None
    ckpt = (PopulationCheckpointer(ckpt_loc)
            if ckpt_loc is not None and ckpt_loc.orbax_path() is not None else None)
    try:
        done = store.completion[p]
        latest = ckpt.latest_step() if ckpt is not None else None
        if latest is not None and latest // train.eval_every > done:
            # Interrupted after the checkpoint became final but before the metadata update;
            # its metrics were committed before the checkpoint was saved.
            done = latest // train.eval_every
            if writer:
                store.set_completion(p, done)
        counted = done // train.chunk_evals  # chunks written and counted
        ce = train.chunk_evals
        lost = sorted({c for a, b in repairs for c in range(a // ce, (b - 1) // ce + 1)})
        if counted >= pop.num_chunks and not lost:
            return  # finished: only its completion had not been recorded
        start = min(lost + [counted]) * pop.chunk_steps
        start_step = max((s for s in (ckpt.steps() if ckpt is not None else []) if s <= start),
                         default=None)
        state = pop.init() if start_step is None else ckpt.restore(pop, start_step)
        end_chunk = pop.num_chunks if counted < pop.num_chunks else max(lost) + 1
        first_chunk = pop.steps_done(state) // pop.chunk_steps
        if bar is not None:
            bar.set_description(f"scale point {p + 1}/{total_points}")
            bar.n = _steps_done(store.completion, meta["num_evals"], train.eval_every, skip=p) \
                + first_chunk * pop.chunk_steps
            bar.refresh()
        clock = {"start": time.perf_counter()}

        def on_chunk(c: int, state, metrics: dict) -> None:
            if c < counted and c not in lost:
                return  # intact in the store: recomputed only on the way to a lost chunk
            block = np.stack([metrics[n] for n in names], axis=-1)  # [S, chunk_evals, M]
            # The flags are the point's latest: a repaired earlier chunk leaves them alone.
            status = (pop.seed_status(state) if c >= counted or c + 1 == pop.num_chunks
                      else {"diverged": None, "diverged_at": None})
            if writer:
                store.write_chunk(p, c * train.chunk_evals, block, status["diverged"],
                                  status["diverged_at"])
            # Asked only between chunks of this run, so every process asks at the same chunks.
            stopping = stop is not None and c + 1 < end_chunk and stop.requested()
            if ckpt is not None and c >= counted and ((c + 1) % every == 0 or stopping
                                                      or c + 1 == pop.num_chunks):
                ckpt.save(pop, state)
            if writer:
                store.set_completion(p, max(store.completion[p], (c + 1) * train.chunk_evals))
            if stopping:
                saved = ("saved" if ckpt is not None else
                         "written, but this store keeps no checkpoints, so the point restarts")
                raise Preempted(f"stopped by {stop.name()} after evaluation "
                                f"{(c + 1) * train.chunk_evals}/{pop.cfg.train.num_evals} of "
                                f"scale point {p + 1}/{total_points}; progress {saved} in {loc}")
            if bar is not None:
                if c == first_chunk:  # the first chunk includes compilation: rate from the next
                    clock["start"] = time.perf_counter()
                else:
                    elapsed = max(time.perf_counter() - clock["start"], 1e-9)
                    rate = (c - first_chunk) * pop.chunk_steps * pop.num_seeds / elapsed
                    bar.set_postfix_str(f"{rate:,.0f} seed-steps/s")
                bar.update(pop.chunk_steps)

        pop.train(state, on_chunk=on_chunk, collect=False, end_chunk=end_chunk)
    finally:
        if ckpt is not None:
            ckpt.close()
