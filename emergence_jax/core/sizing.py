"""Memory estimates of a population, made before anything is allocated.

``estimate_memory(cfg, seeds_per_device)`` is arithmetic on shapes: the per-seed state (parameters,
optimizer state, step, keys, flags) comes from ``jax.eval_shape`` of the population's own
``init`` (nothing is computed or allocated) for a one- and a two-block model, extended linearly to
the model's depth, the evaluation sets from ``eval_shape`` of the task's, and the activations
from the transformer's dimensions:

    training step, per seed   saved activations of the forward pass for the backward pass:
                              per block B·T·W·(12 + 2·mlp_ratio) values in the compute dtype and
                              B·H·T² attention scores and weights (float32 and compute dtype),
                              plus the logits and their gradient (3·B·T·V float32), plus three
                              parameter-sized temporaries (gradients, updates, new parameters)
    evaluation, per seed      one forward pass over each evaluation set at once (E examples):
                              the live activations of one block, the attention weights of every
                              block when the task reads them, and the logits (2·E·T·V float32)

(B batch size, T sequence length, W width, H heads, V vocabulary, E evaluation examples). A device
holds the state of all its seeds and the activations of the seeds it computes at once
(``population.seed_group``, default all of them). The host holds two copies of the population
state while a checkpoint is written or restored. The figures are estimates of the dominant
terms, meant to refuse what clearly cannot fit — a width of 10⁶, 10⁹ seeds — in seconds, with the
numbers; XLA's compiled memory analysis is the exact figure for what does compile.

``check_memory(cfg)`` compares the estimate with the memory of the devices the population would
run on (``memory_stats()['bytes_limit']`` on accelerators; the host's available memory for CPU
devices, which share it) and of the host, and raises ``ConfigError`` with the numbers when it
does not fit. ``seeds_that_fit`` turns the same estimate into the largest number of seeds per
device computed at once, e.g. to choose ``population.seed_group``.
"""

from __future__ import annotations

import dataclasses
import math
import os

import jax
import jax.numpy as jnp

from emergence_jax.core.config import ExperimentConfig, validate
from emergence_jax.core.errors import ConfigError

__all__ = ["DEVICE_MEMORY_FRACTION", "MemoryEstimate", "available_host_memory", "check_memory",
           "choose_seed_group", "device_memory", "estimate_memory", "format_bytes",
           "group_that_fits", "memory_budget", "out_of_memory_error", "seeds_that_fit"]

_DTYPE_BYTES = {"float32": 4, "bfloat16": 2}
# The share of an accelerator's memory a population may use when population.memory_budget is 0;
# the rest is left to XLA's own buffers and fragmentation.
DEVICE_MEMORY_FRACTION = 0.9


def format_bytes(n: float) -> str:
    """``1234567`` -> ``"1.2 MB"`` (decimal units)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB", "EB"):
        if abs(n) < 1000 or unit == "EB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} EB"


def _tree_bytes(tree) -> int:
    return sum(math.prod(x.shape) * jnp.dtype(x.dtype).itemsize
               for x in jax.tree_util.tree_leaves(tree))


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Bytes, per seed unless said otherwise (see the module docstring)."""
    params: int                # parameters of one seed
    state: int                 # the whole per-seed state: parameters, optimizer state, keys, flags
    train_step: int            # activations and temporaries of one training step
    evaluation: int            # activations of one evaluation
    eval_sets: int             # the evaluation sets, once per device
    seeds_per_device: int
    group: int                 # seeds per device computed at once
    num_seeds: int             # the whole population

    @property
    def optimizer(self) -> int:
        """Optimizer state and the small per-seed entries (step, keys, flags)."""
        return self.state - self.params

    @property
    def working(self) -> int:
        """Activations of one seed while it computes: the larger of a training step and an
        evaluation."""
        return max(self.train_step, self.evaluation)

    @property
    def per_device(self) -> int:
        return (self.seeds_per_device * self.state + self.group * self.working
                + self.eval_sets)

    @property
    def host(self) -> int:
        """Two host copies of the population state (written or restored checkpoints)."""
        return 2 * self.num_seeds * self.state

    def describe(self) -> str:
        return (f"per seed: parameters {format_bytes(self.params)}, optimizer state "
                f"{format_bytes(self.optimizer)}, training-step activations "
                f"{format_bytes(self.train_step)}, evaluation {format_bytes(self.evaluation)}; "
                f"{self.seeds_per_device:,} seed(s) per device, computed {self.group:,} at a time")


def estimate_memory(cfg: ExperimentConfig, seeds_per_device: int | None = None,
                    task=None, group: int | None = None) -> MemoryEstimate:
    """The memory estimate of ``cfg``'s population with ``seeds_per_device`` seeds on each
    device (default: all of them on one), computing ``group`` of them at once (default:
    ``population.seed_group``)."""
    from emergence_jax.core.population import make_seed_fns
    from emergence_jax.core.tasks import make_task

    cfg = validate(cfg)
    task = make_task(cfg.task) if task is None else task
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)

    def state_bytes(depth: int) -> tuple[int, int]:
        """(parameters, whole state) of one seed of a ``depth``-block model."""
        shallow = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, depth=depth))
        state = jax.eval_shape(make_seed_fns(shallow, task).init, key, key,
                               jax.ShapeDtypeStruct((), jnp.int32))
        return _tree_bytes(state.params), _tree_bytes(state)

    # Blocks are identical, so the state is linear in depth: two shallow models give it without
    # tracing a deep one (tracing costs about 0.1 s per block).
    (p1, s1), (p2, s2) = state_bytes(1), state_bytes(2)
    params = p1 + (cfg.model.depth - 1) * (p2 - p1)
    state_total = s1 + (cfg.model.depth - 1) * (s2 - s1)
    eval_sets = jax.eval_shape(task.eval_sets, key)

    m, t = cfg.model, cfg.train
    b = _DTYPE_BYTES[m.dtype]
    r = 0 if m.attention_only else m.mlp_ratio
    T, W, H, L, V = task.seq_len, m.width, m.heads, m.depth, task.vocab_size

    def forward(batch: int, saved: bool) -> int:
        per_block = batch * T * W * b * ((12 + 2 * r) if saved else (4 + r)) \
            + batch * H * T * T * (8 + b)
        ends = batch * T * W * (8 + 2 * b) + (3 if saved else 2) * batch * T * V * 4
        return (L if saved else 1) * per_block + ends

    train_step = forward(t.batch_size, saved=True) + 3 * params
    evaluation = 0
    for batch in eval_sets.values():
        e = batch.inputs.shape[0]
        evaluation += forward(e, saved=False)
        if task.eval_uses_attention:
            evaluation += L * e * H * T * T * 4
    p = cfg.population
    spd = p.num_seeds if seeds_per_device is None else int(seeds_per_device)
    group = group if group is not None else p.seed_group
    group = spd if group == 0 else min(group, spd)
    return MemoryEstimate(params=params, state=state_total, train_step=train_step,
                          evaluation=evaluation, eval_sets=_tree_bytes(eval_sets),
                          seeds_per_device=spd, group=group, num_seeds=p.num_seeds)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def available_host_memory() -> int | None:
    """Bytes of host memory available now: ``MemAvailable`` on Linux, or less when a container's
    memory limit (cgroup v2 or v1) leaves less; None where unknown."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    if not found:
        try:
            found.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError, AttributeError):
            pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        cap, used = _read_int(limit), _read_int(usage)
        if cap is not None and used is not None and cap < 2**60:  # "max": no limit
            found.append(max(0, cap - used))
    return min(found) if found else None


def device_memory(device) -> int | None:
    """Bytes one accelerator can allocate (``memory_stats()['bytes_limit']``); None for CPU
    devices and where the runtime does not say."""
    try:
        stats = device.memory_stats()
    except Exception:  # noqa: BLE001 - not every backend implements it
        return None
    if not stats:
        return None
    limit = stats.get("bytes_limit") or stats.get("bytes_reservable_limit")
    return int(limit) if limit else None


def seeds_that_fit(estimate: MemoryEstimate, limit: int) -> int:
    """The most seeds one device holds and computes at once within ``limit`` bytes (0: not
    even one)."""
    per_seed = estimate.state + estimate.working
    return max(0, (limit - estimate.eval_sets) // per_seed) if per_seed else 0


def group_that_fits(estimate: MemoryEstimate, limit: int) -> int:
    """The most seeds one device computes at once within ``limit`` bytes while holding the
    state of all its ``seeds_per_device`` seeds (0: not even one)."""
    room = limit - estimate.eval_sets - estimate.seeds_per_device * estimate.state
    if room < estimate.working:
        return 0
    return min(estimate.seeds_per_device, room // max(estimate.working, 1))


def memory_budget(cfg: ExperimentConfig, device) -> int | None:
    """Bytes per device a population may use: ``population.memory_budget``, else
    ``DEVICE_MEMORY_FRACTION`` of an accelerator's memory; None for CPU devices without an
    explicit budget (they share the host's memory, which ``check_memory`` guards)."""
    if cfg.population.memory_budget:
        return int(cfg.population.memory_budget)
    limit = device_memory(device)
    return None if limit is None else int(DEVICE_MEMORY_FRACTION * limit)


def choose_seed_group(population) -> int:
    """Seeds a device computes at once for ``population`` (a ``Population`` being built):
    ``population.seed_group`` when set; otherwise 0 (all at once) when the compiled chunk fits
    the memory budget (``memory_budget``), else the largest group the estimate says fits —
    halved while XLA's compiled memory analysis of the chunk exceeds the budget. The compiled
    chunk is analysed only when the estimate comes within a factor of 2 of the budget, so a
    population that clearly fits costs no extra compilation."""
    cfg = population.cfg
    if cfg.population.seed_group:
        return cfg.population.seed_group
    budget = memory_budget(cfg, population.mesh.devices.flat[0])
    if budget is None:
        return 0
    spd = population.padded_seeds // population.mesh.devices.size
    est = estimate_memory(cfg, spd, task=population.task)
    if spd == 1 or est.per_device <= budget / 2:
        return 0
    whole = population.chunk_memory(0)
    if whole is None or whole <= budget:
        return 0
    group = max(1, min(spd - 1, group_that_fits(est, budget)))
    while group > 1 and (population.chunk_memory(group) or 0) > budget:
        group //= 2
    return group


def _devices(cfg: ExperimentConfig, mesh) -> list:
    if mesh is not None:
        return list(mesh.devices.flat)
    devices = jax.devices()
    if jax.process_count() == 1:  # as Population: fewer seeds than devices use fewer devices
        devices = devices[: cfg.population.num_seeds]
    return devices


def check_memory(cfg: ExperimentConfig, *, mesh=None, what: str = "",
                 host_copies: bool = True) -> MemoryEstimate:
    """Refuses (``ConfigError`` with the numbers) a population that cannot fit on the devices it
    would run on, or whose state cannot be copied to the host (``host_copies``: checkpoints);
    returns the estimate otherwise. Runs before anything is allocated."""
    cfg = validate(cfg)
    devices = _devices(cfg, mesh)
    spd = math.ceil(cfg.population.num_seeds / len(devices))
    est = estimate_memory(cfg, spd)
    budget = memory_budget(cfg, devices[0]) if cfg.population.seed_group == 0 else None
    if budget is not None and est.per_device > budget and group_that_fits(est, budget):
        # The population will compute its seeds in groups that fit (choose_seed_group).
        est = estimate_memory(cfg, spd, group=group_that_fits(est, budget))
    where = f"{what}: " if what else ""
    advice = ("reduce the model (model.width, model.depth), train.batch_size or "
              "population.num_seeds, set population.seed_group to compute fewer seeds at once, "
              "or use more devices")
    host = available_host_memory()
    limit = device_memory(devices[0])
    sharing = 1
    if limit is None:  # CPU devices share the host's memory
        sharing = len([d for d in devices if d.process_index == jax.process_index()])
        needed, limit = est.per_device * sharing, host
        label = f"the host's available memory ({len(devices)} CPU device(s))"
    else:
        needed, label = est.per_device, f"{devices[0].device_kind} {devices[0].id}"
    if limit is not None and needed > limit:
        fit = seeds_that_fit(est, limit // sharing)
        hint = (f"at most about {fit:,} seed(s) per device fit" if fit else
                "not even one seed fits")
        raise ConfigError(f"{where}the population needs about {format_bytes(needed)}, more than "
                          f"the {format_bytes(limit)} of {label} ({est.describe()}); {hint}. "
                          f"To fix: {advice}")
    if host_copies and host is not None and est.host > host:
        raise ConfigError(f"{where}copying the population state to the host (checkpoints) needs "
                          f"about {format_bytes(est.host)} (2 copies of {est.num_seeds:,} seeds "
                          f"x {format_bytes(est.state)}), more than the "
                          f"{format_bytes(host)} of host memory available. To fix: {advice}")
    return est


def out_of_memory_error(cfg: ExperimentConfig, error: Exception, doing: str) -> ConfigError | None:
    """A ``ConfigError`` with the estimate for a device's out-of-memory failure (None for other
    failures), so an allocation that fails despite the estimate surfaces as a named error."""
    text = str(error)
    if "RESOURCE_EXHAUSTED" not in text and "out of memory" not in text.lower():
        return None
    try:
        est = estimate_memory(cfg, math.ceil(cfg.population.num_seeds / jax.device_count()))
        numbers = f" (estimated {format_bytes(est.per_device)} per device; {est.describe()})"
    except Exception:  # noqa: BLE001 - the device's message is the one that matters
        numbers = ""
    first = text.strip().splitlines()[0][:300] if text.strip() else type(error).__name__
    return ConfigError(f"the device ran out of memory while {doing}{numbers}: {first}. Reduce the "
                       "model, train.batch_size or population.num_seeds, or set "
                       "population.seed_group")
