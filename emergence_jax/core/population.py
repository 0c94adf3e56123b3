"""Population training: S seeds of one configuration as one compiled program.

The functional core follows PureJaxRL: ``make_seed_fns(cfg)`` returns pure per-seed functions
``init(seed_id)`` and ``chunk(state, eval_sets) -> (state, metrics)``, so ``vmap`` turns them into
population functions. ``Population`` adds the seed-axis sharding at the jit boundary and the host
loop (one round-trip per chunk).

Inside a chunk, ``lax.scan`` runs ``chunk_evals`` blocks of ``eval_every`` optimizer steps, each
followed by an evaluation on the task's fixed evaluation sets, all compiled; nothing returns to the
host until the chunk ends. Every chunk has the same shape, so one compiled program serves the whole
run.

Seeds are independent: seed ``i``'s init key is ``fold_in(PRNGKey(init_seed), i)`` and its batch at
step ``t`` comes from ``fold_in(fold_in(PRNGKey(data_seed), i), t)`` (with ``train.dataset_size``
set, that key picks examples from the seed's own finite pool). Its numbers therefore do not
depend on the population size, the device count or where a run was resumed.

A seed whose loss, gradients or parameters become non-finite keeps its last finite parameters,
stops updating, is flagged (``diverged``, ``diverged_at``) and reports NaN metrics from then on;
the other seeds are untouched.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import time
from typing import Any, Callable, Mapping

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import PartitionSpec

from emergence_jax.core import distributed
from emergence_jax.core.config import ExperimentConfig, validate
from emergence_jax.core.model import Transformer, count_params
from emergence_jax.core.tasks import make_task
from emergence_jax.core.tasks.base import Batch, masked_mean, token_nll

Array = jax.Array


@flax.struct.dataclass
class PopulationState:
    """The whole population; every leaf has a leading seed axis."""
    params: Any
    opt_state: Any
    step: Array         # int32 [S]: optimizer steps taken (diverged seeds keep counting)
    seed_id: Array      # int32 [S]
    data_key: Array     # uint32 [S, 2]: the seed's data-order key
    diverged: Array     # bool [S]
    diverged_at: Array  # int32 [S]: step at which the seed diverged, -1 if it has not


def learning_rate_schedule(cfg: ExperimentConfig) -> optax.Schedule:
    """Linear warmup then cosine decay to ``end_lr_fraction`` of the peak at ``train.steps``."""
    o, t = cfg.optimizer, cfg.train
    # optax counts the warmup inside decay_steps; keep at least one cosine step.
    warmup = min(o.warmup_steps, t.steps - 1)
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0, peak_value=o.learning_rate, warmup_steps=warmup,
        decay_steps=max(t.steps, warmup + 1), end_value=o.learning_rate * o.end_lr_fraction)


def make_optimizer(cfg: ExperimentConfig) -> optax.GradientTransformation:
    """AdamW with linear warmup then cosine decay and global-norm clipping (``cfg.optimizer``)."""
    o = cfg.optimizer
    parts = [optax.clip_by_global_norm(o.grad_clip)] if o.grad_clip > 0 else []
    parts.append(optax.adamw(learning_rate_schedule(cfg), b1=o.b1, b2=o.b2,
                             weight_decay=o.weight_decay))
    return optax.chain(*parts)


def schedule_is_prefix(short: ExperimentConfig, long: ExperimentConfig) -> bool:
    """True when ``short``'s learning rate at each of its steps is bit-for-bit ``long``'s at the
    same step, so that (everything else equal) training ``short`` retraces the first
    ``short.train.steps`` steps of ``long``. Holds for a constant rate after the warmup
    (``end_lr_fraction=1``) with the warmup inside the shorter run, not for a decay that ends
    with each run."""
    steps = jnp.arange(short.train.steps, dtype=jnp.int32)
    rates = [np.asarray(jax.jit(jax.vmap(learning_rate_schedule(c)))(steps))
             for c in (short, long)]
    return bool(np.array_equal(rates[0], rates[1]))


def seed_keys(cfg: ExperimentConfig, seed_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-seed (init_key, data_key), uint32 [S, 2]. ``population.vary`` decides which differ."""
    p = cfg.population
    ids = jnp.asarray(seed_ids, dtype=jnp.uint32)
    zeros = jnp.zeros_like(ids)
    fold = jax.vmap(jax.random.fold_in, in_axes=(None, 0))
    init_keys = fold(jax.random.PRNGKey(p.init_seed), ids if p.vary in ("both", "init") else zeros)
    data_keys = fold(jax.random.PRNGKey(p.data_seed), ids if p.vary in ("both", "data") else zeros)
    return np.asarray(init_keys), np.asarray(data_keys)


def _tree_where(cond: Array, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(cond, a, b), new, old)


def _all_finite(tree) -> Array:
    leaves = jax.tree_util.tree_leaves(tree)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


@dataclasses.dataclass(frozen=True)
class SeedFns:
    """Pure per-seed functions (no seed axis); ``vmap`` them for a population."""
    init: Callable[[Array, Array, Array], PopulationState]   # (init_key, data_key, seed_id)
    train_batch: Callable[[Array, Array], Batch]               # (data_key, step) -> batch
    chunk: Callable[[PopulationState, Mapping[str, Batch]], tuple[PopulationState, dict]]
    evaluate: Callable[[Any, Mapping[str, Batch]], dict]       # (params, eval_sets) -> metrics


def make_seed_fns(cfg: ExperimentConfig, task=None) -> SeedFns:
    """The pure per-seed functions of ``cfg`` (see ``SeedFns``); ``vmap`` them for a population."""
    task = make_task(cfg.task) if task is None else task
    model = Transformer(cfg.model, vocab_size=task.vocab_size, max_len=task.seq_len)
    optimizer = make_optimizer(cfg)
    t = cfg.train

    def init(init_key, data_key, seed_id):
        dummy = jnp.zeros((1, task.seq_len), jnp.int32)
        params = model.init(init_key, dummy)["params"]
        return PopulationState(params=params, opt_state=optimizer.init(params),
                               step=jnp.zeros((), jnp.int32), seed_id=seed_id.astype(jnp.int32),
                               data_key=data_key, diverged=jnp.zeros((), bool),
                               diverged_at=jnp.full((), -1, jnp.int32))

    def loss_fn(params, batch: Batch):
        logits = model.apply({"params": params}, batch.inputs)
        return masked_mean(token_nll(logits, batch.targets), batch.loss_mask)

    def train_batch(data_key, step) -> Batch:
        step_key = jax.random.fold_in(data_key, step)
        if not t.dataset_size:
            return task.train_batch(step_key, t.batch_size)
        # A finite dataset: example i is generated from fold_in(pool_key, i), and each step draws
        # batch_size indices with replacement. The pool key lies outside the per-step keys.
        pool_key = jax.random.fold_in(data_key, np.uint32(2**32 - 1))
        index = jax.random.randint(step_key, (t.batch_size,), 0, t.dataset_size)
        keys = jax.vmap(lambda i: jax.random.fold_in(pool_key, i))(index)
        examples = jax.vmap(lambda k: task.train_batch(k, 1))(keys)
        return jax.tree_util.tree_map(lambda x: x[:, 0], examples)

    def train_step(s: PopulationState, _):
        batch = train_batch(s.data_key, s.step)
        loss, grads = jax.value_and_grad(loss_fn)(s.params, batch)
        updates, opt_state = optimizer.update(grads, s.opt_state, s.params)
        params = optax.apply_updates(s.params, updates)
        finite = jnp.isfinite(loss) & _all_finite(params)
        apply = finite & ~s.diverged
        newly_diverged = ~finite & ~s.diverged
        s = s.replace(params=_tree_where(apply, params, s.params),
                      opt_state=_tree_where(apply, opt_state, s.opt_state),
                      step=s.step + 1,
                      diverged=s.diverged | newly_diverged,
                      diverged_at=jnp.where(newly_diverged, s.step, s.diverged_at))
        return s, loss

    def evaluate(params, eval_sets: Mapping[str, Batch]) -> dict[str, Array]:
        metrics = {}
        for split, batch in eval_sets.items():
            if task.eval_uses_attention:
                logits, attention = model.apply({"params": params}, batch.inputs,
                                                return_attention=True)
            else:
                logits, attention = model.apply({"params": params}, batch.inputs), None
            for name, value in task.metrics(split, logits, batch, attention).items():
                metrics[f"{split}/{name}"] = value.astype(jnp.float32)
        return metrics

    def block(s: PopulationState, eval_sets):
        s, losses = jax.lax.scan(train_step, s, None, length=t.eval_every)
        metrics = evaluate(s.params, eval_sets)
        metrics["train/loss"] = jnp.mean(losses)
        # A diverged seed has no valid result: report NaN rather than its frozen parameters' scores.
        metrics = {k: jnp.where(s.diverged, jnp.nan, v) for k, v in metrics.items()}
        return s, metrics

    def chunk(s: PopulationState, eval_sets):
        return jax.lax.scan(lambda carry, _: block(carry, eval_sets), s, None,
                            length=t.chunk_evals)

    return SeedFns(init=init, train_batch=train_batch, chunk=chunk, evaluate=evaluate)


class Population:
    """S seeds of one config, sharded over a ``seed`` mesh axis. For example::

        pop = Population(cfg)
        state = pop.init()
        state, metrics = pop.train(state)     # metrics: {name: float array [S, num_evals]}
    """

    def __init__(self, cfg: ExperimentConfig, mesh=None, seed_ids=None):
        self.cfg = validate(cfg)
        self.task = make_task(self.cfg.task)
        self.fns = make_seed_fns(self.cfg, self.task)
        p = self.cfg.population
        if seed_ids is None:
            seed_ids = np.arange(p.first_seed, p.first_seed + p.num_seeds)
        self.seed_ids = np.asarray(seed_ids, dtype=np.int64)
        self.num_seeds = len(self.seed_ids)
        if mesh is None:
            devices = jax.devices()
            if jax.process_count() == 1:  # fewer seeds than devices: no device computes padding
                devices = devices[: self.num_seeds]
            mesh = distributed.seed_mesh(devices)
        self.mesh = mesh
        self.padded_seeds = distributed.padded_size(self.num_seeds, self.mesh)
        pad = self.padded_seeds - self.num_seeds
        # Padding seeds get ids past the real ones; they are computed and then dropped.
        self._all_ids = np.concatenate([self.seed_ids, self.seed_ids.max() + 1 + np.arange(pad)])

        shard = distributed.seed_sharding(self.mesh)
        rep = distributed.replicated(self.mesh)
        self._eval_sets = jax.device_put(
            self.task.eval_sets(jax.random.PRNGKey(self.cfg.task.eval_seed)), rep)
        self._init = jax.jit(jax.vmap(self.fns.init), in_shardings=(shard, shard, shard),
                             out_shardings=shard)
        from emergence_jax.core.sizing import choose_seed_group
        # Seeds computed at once per device: population.seed_group, or (0) as many as the memory
        # budget lets the compiled chunk hold.
        self.seed_group = choose_seed_group(self)
        self._chunk = self._compiled_chunk(self.seed_group)
        self.chunk_steps = self.cfg.train.eval_every * self.cfg.train.chunk_evals
        self.num_chunks = self.cfg.train.steps // self.chunk_steps

    def _compiled_chunk(self, group: int):
        """The jitted chunk computing ``group`` seeds per device at once (0: all of them)."""
        shard = distributed.seed_sharding(self.mesh)
        rep = distributed.replicated(self.mesh)
        return jax.jit(functools.partial(self._sharded_chunk, group=group),
                       in_shardings=(shard, rep), out_shardings=(shard, shard),
                       donate_argnums=(0,))

    def chunk_memory(self, group: int) -> int | None:
        """Bytes per device of the compiled chunk with ``group`` seeds computed at once, from
        XLA's memory analysis (arguments + outputs + temporaries - donated aliases); compiles
        without allocating. None where the backend gives no analysis."""
        compiled = self._compiled_chunk(group).lower(self.state_shape(), self._eval_sets).compile()
        a = compiled.memory_analysis()
        if a is None:
            return None
        return int(a.argument_size_in_bytes + a.output_size_in_bytes + a.temp_size_in_bytes
                   - a.alias_size_in_bytes)

    def _local_chunk(self, states: PopulationState, eval_sets, group: int):
        """One chunk for the seeds held by one device: all at once (vmap), or in groups of
        ``group`` seeds one after another (lax.map over vmapped groups)."""
        one_seed = lambda s: self.fns.chunk(s, eval_sets)  # noqa: E731
        if group == 0 or group >= states.step.shape[0]:
            return jax.vmap(one_seed)(states)
        return jax.lax.map(one_seed, states, batch_size=group)

    def _sharded_chunk(self, states: PopulationState, eval_sets, group: int):
        # shard_map makes the per-device program explicit: each device runs _local_chunk on its
        # own seeds, with no communication between devices.
        spec = PartitionSpec(distributed.SEED_AXIS)
        local = functools.partial(self._local_chunk, group=group)
        return jax.shard_map(local, mesh=self.mesh, in_specs=(spec, PartitionSpec()),
                             out_specs=(spec, spec))(states, eval_sets)

    # ------------------------------------------------------------------ state
    def init(self) -> PopulationState:
        init_keys, data_keys = seed_keys(self.cfg, self._all_ids)
        ids = self._all_ids.astype(np.int32)
        with self._device_errors("initialising the population"):
            args = distributed.put_seed_sharded((init_keys, data_keys, ids), self.mesh)
            return jax.block_until_ready(self._init(*args))

    @contextlib.contextmanager
    def _device_errors(self, doing: str):
        """A device's out-of-memory failure becomes a ``ConfigError`` with the memory estimate
        (``emergence_jax.core.sizing``) instead of a runtime error, or a wait on a buffer that
        never arrives."""
        try:
            yield
        except jax.errors.JaxRuntimeError as e:
            from emergence_jax.core.sizing import out_of_memory_error
            named = out_of_memory_error(self.cfg, e, doing)
            if named is None:
                raise
            raise named from None

    def state_shape(self) -> PopulationState:
        """Shapes/dtypes of the (padded) state, without computing it."""
        n = self.padded_seeds
        key = jax.ShapeDtypeStruct((n, 2), jnp.uint32)
        return jax.eval_shape(self._init, key, key, jax.ShapeDtypeStruct((n,), jnp.int32))

    def place(self, host_state: PopulationState) -> PopulationState:
        """Puts a host copy of a state (e.g. restored from a checkpoint) back onto this mesh."""
        return distributed.put_seed_sharded(host_state, self.mesh)

    def steps_done(self, state: PopulationState) -> int:
        return int(np.asarray(distributed.to_host(state.step))[0])

    # ------------------------------------------------------------------ training
    def train_chunk(self, state: PopulationState) -> tuple[PopulationState, dict[str, np.ndarray]]:
        """Runs one compiled chunk; returns the new state and host metrics {name: [S, chunk_evals]}
        for the real (unpadded) seeds."""
        with self._device_errors("training a chunk"):
            state, metrics = self._chunk(state, self._eval_sets)
            metrics = distributed.to_host(metrics)
        return state, {k: np.asarray(v)[: self.num_seeds] for k, v in metrics.items()}

    def train(self, state: PopulationState | None = None, progress: bool = False,
              on_chunk: Callable[[int, PopulationState, dict], None] | None = None,
              collect: bool = True, end_chunk: int | None = None):
        """Trains from ``state`` (default: a fresh init) to ``train.steps`` (or to the end of
        chunk ``end_chunk - 1``), one compiled chunk after another; the host sees the population
        only between chunks.

        ``on_chunk(chunk_index, state, chunk_metrics)`` runs on the host after each chunk (the
        sweep writes metrics and checkpoints there; ``chunk_metrics`` is {name: [S, chunk_evals]}).
        Returns ``(state, metrics)`` with metrics {name: float array [S, evals run here]}, or
        ``(state, None)`` with ``collect=False`` (nothing is kept on the host).
        """
        state = self.init() if state is None else state
        first_chunk = self.steps_done(state) // self.chunk_steps
        bar = None
        if progress:
            from tqdm.auto import tqdm
            bar = tqdm(total=self.cfg.train.steps, initial=first_chunk * self.chunk_steps,
                       unit="step", desc=f"{self.num_seeds} seeds", leave=False)
        history: list[dict] = []
        start = time.perf_counter()
        last = self.num_chunks if end_chunk is None else min(end_chunk, self.num_chunks)
        for chunk_index in range(first_chunk, last):
            state, metrics = self.train_chunk(state)
            if collect:
                history.append(metrics)
            if on_chunk is not None:
                on_chunk(chunk_index, state, metrics)
            if bar is not None:
                done = (chunk_index + 1 - first_chunk) * self.chunk_steps
                rate = done * self.num_seeds / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix_str(f"{rate:,.0f} seed-steps/s")
                bar.update(self.chunk_steps)
        if bar is not None:
            bar.close()
        if not collect:
            return state, None
        names = self.metric_names
        merged = {k: (np.concatenate([h[k] for h in history], axis=1) if history
                      else np.zeros((self.num_seeds, 0), np.float32)) for k in names}
        return state, merged

    # ------------------------------------------------------------------ descriptions
    @functools.cached_property
    def metric_names(self) -> list[str]:
        shapes = jax.eval_shape(jax.vmap(self.fns.chunk, in_axes=(0, None)),
                                self.state_shape(), self._eval_sets)[1]
        return sorted(shapes)

    def seed_status(self, state: PopulationState) -> dict[str, np.ndarray]:
        """Host copies of the per-seed flags, for the real seeds."""
        host = distributed.to_host({"diverged": state.diverged, "diverged_at": state.diverged_at})
        return {k: np.asarray(v)[: self.num_seeds] for k, v in host.items()}

    def sizes(self) -> dict[str, float]:
        """Derived sizes of this scale point: parameter counts, training tokens, training FLOPs.

        FLOPs follow Kaplan et al. (2020): 6 per parameter per token for the matmuls (forward +
        backward; the embedding lookup is free but the unembedding matmul is not), plus the
        attention term 6 * depth * seq_len * width per token.
        """
        one = jax.eval_shape(self.fns.init, jax.ShapeDtypeStruct((2,), jnp.uint32),
                             jax.ShapeDtypeStruct((2,), jnp.uint32),
                             jax.ShapeDtypeStruct((), jnp.int32)).params
        counts = count_params(one)
        unembed = sum(x.size for x in jax.tree_util.tree_leaves(one["unembed"]))
        c, t = self.cfg.model, self.cfg.train
        tokens = t.steps * t.batch_size * self.task.seq_len
        per_token = 6 * (counts["non_embedding_params"] + unembed) + 6 * c.depth * self.task.seq_len * c.width
        return {**counts, "tokens": float(tokens), "flops": float(per_token * tokens)}


__all__ = ["Population", "PopulationState", "SeedFns", "learning_rate_schedule",
           "make_optimizer", "make_seed_fns", "schedule_is_prefix", "seed_keys"]
