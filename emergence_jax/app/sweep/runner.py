"""Running a sweep: one population per scale point, trained into a run store, resumable.

``run_sweep(cfg, out)`` trains the points one after another, each as one ``Population`` (one
compiled program) driven by ``Population.train`` — the one training loop. Points that differ only
in ``train.steps`` and whose schedules nest (``points.nest_sources``) are one run of the longest,
which writes the shorter ones too (``_train_group``). The ``on_chunk`` writer, after every chunk
of a point's own evaluations,

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
from emergence_jax.app.sweep.points import (build_metadata, default_out, expand, format_coords,
                                            nest_sources)
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


def _groups(points, sources: list[int]) -> list[list[int]]:
    """Training runs: the points each one writes, shortest first and its own point last, in the
    order of their first point."""
    groups: dict[int, list[int]] = {}
    for p in points:
        groups.setdefault(sources[p.index], []).append(p.index)
    return [sorted(g, key=lambda i: (points[i].config.train.steps, i == lead))
            for lead, g in groups.items()]


def plan_lines(points, sources: list[int]) -> list[str]:
    """What the sweep prints before training: which points are read from which run."""
    lines = []
    total = len(points)
    for group in _groups(points, sources):
        if len(group) == 1:
            continue
        lead, rest = group[-1], group[:-1]
        lines.append(f"scale point {lead + 1}/{total} ({format_coords(points[lead].coords)}) is "
                     f"trained once; point(s) "
                     + ", ".join(f"{i + 1} ({format_coords(points[i].coords)})" for i in rest)
                     + " are read from its run (sweep.nest; --no-nest trains each alone)")
    return lines


def _sweep(cfg, points, populations, meta, loc, store, writer, progress, log,
           stop: StopRequest) -> Run:
    import jax

    criterion = SuccessCriterion.from_config(cfg)
    num_evals = meta["num_evals"]  # per point
    eval_every = points[0].config.train.eval_every
    sources = nest_sources(points)
    groups = _groups(points, sources)
    bar = None
    if progress and writer:  # one bar per job, not per process
        from tqdm.auto import tqdm
        bar = tqdm(total=sum(points[g[-1]].config.train.steps for g in groups),
                   initial=_steps_done(store.completion, num_evals, eval_every, groups),
                   unit="step", dynamic_ncols=True)
    # Lines are printed by process 0 only: it is the writer, so what it reads back for a point's
    # summary is in the store (another process could read it before process 0 has written).
    emit = ((lambda _line: None) if log is None or not writer
            else (bar.write if bar is not None else log))
    for line in plan_lines(points, sources):
        emit(line)

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
        for gi, group in enumerate(groups):
            lead = group[-1]
            todo = []
            for p in group:
                repairs = store.repairs.get(p, [])
                if store.completion[p] >= num_evals[p] and not repairs:
                    if writer and log is not None:
                        emit(summary(p) + " (already complete)")
                    continue
                todo.append(p)
                if repairs:
                    spans = ", ".join(f"{a + 1}..{b}" for a, b in repairs)
                    emit(f"[{p + 1}/{len(points)}] {format_coords(points[p].coords)}: re-training "
                         f"the lost evaluations {spans}")
            if not todo:
                continue
            if stop.requested():  # asked between two runs: the next has not started
                raise Preempted(f"stopped by {stop.name()} before scale point {lead + 1}/"
                                f"{len(points)}; the points before it are saved in {loc}")
            start = time.perf_counter()
            members = [(p, populations[p]) for p in group]
            _train_group(members, store, loc, meta, writer, bar, len(points), groups, gi, stop)
            seconds = time.perf_counter() - start
            for p in todo if writer and log is not None else ():
                line = summary(p, seconds=seconds)
                emit(line if p == lead else f"{line} (read from the run of point {lead + 1})")
    finally:
        if bar is not None:
            bar.close()
    if jax.process_count() > 1:  # the writer's last metadata update lands before anyone reads
        from jax.experimental import multihost_utils
        multihost_utils.sync_global_devices("emergence_jax.run_store_done")
    return load_run(loc)


def _steps_done(completion: list[int], num_evals: list[int], eval_every: int,
                groups: list[list[int]], skip: int | None = None) -> int:
    """Steps trained so far, counted once per training run (the progress bar's position)."""
    return sum(max(min(completion[p], num_evals[p]) for p in g) * eval_every
               for i, g in enumerate(groups) if i != skip)


def _flags_at(status: dict[str, np.ndarray], step: int) -> dict[str, np.ndarray]:
    """The seeds' flags after ``step`` steps, from their flags at a later step of the same run:
    a seed diverged by then iff it diverged at an earlier step."""
    diverged = status["diverged"] & (status["diverged_at"] < step)
    return {"diverged": diverged, "diverged_at": np.where(diverged, status["diverged_at"], -1)}


def _train_group(members, store: RunStore, loc: Location, meta: dict, writer: bool, bar,
                 total_points: int, groups: list[list[int]], gi: int,
                 stop: StopRequest | None = None) -> None:
    """Trains one run — the last member's population, with its own compiled chunk — and writes
    every member point ``(p, pop)`` from it: a single point on its own, or the nested points of
    one run (shortest first). Each member's stored numbers are those of training it alone:

    * its evaluations are the run's first ``num_evals``, written in chunks of its own
      ``train.chunk_evals``, each once the run has passed it;
    * its flags are those at its chunk's last step (``_flags_at``);
    * its checkpoints: the longest point's as when trained alone; a shorter point's final one
      when its last step is a chunk end of the run (a point's checkpoints serve only to resume
      it; a finished point needs none).

    Per member chunk: metrics written and committed -> checkpoint (when due) -> completion
    recorded. The run resumes at the latest checkpoint of the trajectory (any member's, on a
    chunk end of the run) at or before the first evaluation some member still needs (its
    completion, or a chunk the store lost: ``repairs``), or from scratch; of the chunks already
    counted, only lost ones are written again."""
    from emergence_jax.io.checkpoint import PopulationCheckpointer

    tpop = members[-1][1]
    every = tpop.cfg.train.checkpoint_every_chunks
    ee = tpop.cfg.train.eval_every
    names = meta["metric_names"]
    d = tpop.cfg.train.chunk_evals
    ckpts: dict[int, PopulationCheckpointer | None] = {}
    for p, _ in members:
        ckpt_loc = loc.child(f"checkpoints/point_{p:04d}") if every > 0 else None
        ckpts[p] = (PopulationCheckpointer(ckpt_loc)
                    if ckpt_loc is not None and ckpt_loc.orbax_path() is not None else None)
    try:
        plan = {}  # point -> (own chunks counted, own chunks lost)
        for p, pop in members:
            done = store.completion[p]
            latest = ckpts[p].latest_step() if ckpts[p] is not None else None
            if latest is not None and latest // ee > done:
                # Interrupted after the checkpoint became final but before the metadata update;
                # its metrics were committed before the checkpoint was saved.
                done = latest // ee
                if writer:
                    store.set_completion(p, done)
            ce = pop.cfg.train.chunk_evals
            counted = done // ce
            lost = sorted({c for a, b in store.repairs.get(p, [])
                           for c in range(a // ce, (b - 1) // ce + 1)})
            if counted < pop.num_chunks or lost:
                plan[p] = (counted, lost)
        if not plan:
            return  # finished: only completions had not been recorded
        own = dict(members)
        start_eval = min(min(lost + [counted]) * own[p].cfg.train.chunk_evals
                         for p, (counted, lost) in plan.items())
        end_eval = max(own[p].cfg.train.num_evals if counted < own[p].num_chunks
                       else (max(lost) + 1) * own[p].cfg.train.chunk_evals
                       for p, (counted, lost) in plan.items())
        found = [(s, p) for p, c in ckpts.items() if c is not None for s in c.steps()
                 if s <= start_eval * ee and s % tpop.chunk_steps == 0]
        state = tpop.init() if not found else ckpts[max(found)[1]].restore(tpop, max(found)[0])
        first_chunk = tpop.steps_done(state) // tpop.chunk_steps
        if bar is not None:
            bar.set_description(f"scale point {members[-1][0] + 1}/{total_points}")
            bar.n = _steps_done(store.completion, meta["num_evals"], ee, groups, skip=gi) \
                + first_chunk * tpop.chunk_steps
            bar.refresh()
        clock = {"start": time.perf_counter()}
        end_chunk = -(-end_eval // d)
        columns: dict[int, np.ndarray] = {}  # evaluation index -> metrics [S, M], until written
        next_chunk = {p: 0 for p in plan}    # each member's next own chunk to consider

        def on_chunk(c: int, state, metrics: dict) -> None:
            absent = np.full_like(next(iter(metrics.values())), np.nan)
            block = np.stack([metrics.get(n, absent) for n in names], axis=-1)  # [S, d, M]
            for j in range(d):
                columns[c * d + j] = block[:, j]
            done = (c + 1) * d  # evaluations the run has made
            status = None
            for p, pop in members:
                if p not in plan:
                    continue
                ce, counted, lost = pop.cfg.train.chunk_evals, *plan[p]
                while next_chunk[p] < pop.num_chunks and (next_chunk[p] + 1) * ce <= done:
                    k = next_chunk[p]
                    next_chunk[p] += 1
                    evals = range(k * ce, (k + 1) * ce)
                    if k < counted and k not in lost:
                        continue  # intact in the store (the run starts early enough for others)
                    status = pop.seed_status(state) if status is None else status
                    # The flags are the point's latest: a repaired earlier chunk leaves them alone.
                    flags = (_flags_at(status, evals[-1] * ee + ee)
                             if k >= counted or k + 1 == pop.num_chunks
                             else {"diverged": None, "diverged_at": None})
                    if writer:
                        store.write_chunk(p, k * ce, np.stack([columns[i] for i in evals], axis=1),
                                          flags["diverged"], flags["diverged_at"])
                    last = k + 1 == pop.num_chunks
                    due = (k + 1) % every == 0 or last if pop is tpop else last
                    if ckpts[p] is not None and k >= counted and due and (k + 1) * ce == done:
                        ckpts[p].save(tpop, state)  # the state is at exactly this chunk's end
                    if writer:
                        store.set_completion(p, max(store.completion[p], (k + 1) * ce))
            for i in [i for i in columns if i < min(next_chunk[p] * own[p].cfg.train.chunk_evals
                                                    for p in plan)]:
                del columns[i]  # every member has passed it
            # Asked only between chunks of the run, so every process asks at the same chunks.
            if stop is not None and c + 1 < end_chunk and stop.requested():
                lead = members[-1][0]
                saved = "written, but this store keeps no checkpoints, so the run restarts"
                if ckpts[lead] is not None:
                    if ckpts[lead].latest_step() != (c + 1) * tpop.chunk_steps:
                        ckpts[lead].save(tpop, state)
                    saved = "saved"
                raise Preempted(f"stopped by {stop.name()} after evaluation {done}/"
                                f"{tpop.cfg.train.num_evals} of scale point {lead + 1}/"
                                f"{total_points}; progress {saved} in {loc}")
            if bar is not None:
                if c == first_chunk:  # the first chunk includes compilation: rate from the next
                    clock["start"] = time.perf_counter()
                else:
                    elapsed = max(time.perf_counter() - clock["start"], 1e-9)
                    rate = (c - first_chunk) * tpop.chunk_steps * tpop.num_seeds / elapsed
                    bar.set_postfix_str(f"{rate:,.0f} seed-steps/s")
                bar.update(tpop.chunk_steps)

        tpop.train(state, on_chunk=on_chunk, collect=False, end_chunk=end_chunk)
    finally:
        for c in ckpts.values():
            if c is not None:
                c.close()
