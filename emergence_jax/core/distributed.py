"""Meshes over devices and moving per-seed arrays between devices and hosts.

The seed axis of a population is sharded over a one-dimensional mesh axis named ``seed`` that spans
every device of every process: on one host, all local devices; with several processes (a TPU pod
slice, several GPU hosts, or several processes on one machine), call ``initialize()`` first (see
``launch/multihost.py``) and the same code spans all of them. Nothing inside the model knows about
devices: shardings are stated only at the jit boundary.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Mapping

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

SEED_AXIS = "seed"

# The variables that name a multi-process job explicitly (the names JAX's own docs use).
DISTRIBUTED_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
# A process whose heartbeats stop for this long counts as dead, and every other process then
# stops with an error instead of waiting for it forever; at shutdown, processes wait this long
# for each other. Both can be set through the environment (seconds).
HEARTBEAT_TIMEOUT_ENV = "EMERGENCE_JAX_HEARTBEAT_TIMEOUT"
SHUTDOWN_TIMEOUT_ENV = "EMERGENCE_JAX_SHUTDOWN_TIMEOUT"
DEFAULT_HEARTBEAT_TIMEOUT_S = 60
DEFAULT_SHUTDOWN_TIMEOUT_S = 60


def distributed_args(env: Mapping[str, str] | None = None) -> dict:
    """The arguments of ``jax.distributed.initialize`` named by ``env`` (default: the process
    environment): coordinator_address, num_processes and process_id from ``DISTRIBUTED_ENV`` when
    all three are set, none of them when none is set (JAX then detects Cloud TPU, SLURM, Open MPI
    ...), plus the heartbeat and shutdown timeouts. A partial or malformed set is a ConfigError
    naming the variable."""
    from emergence_jax.core.errors import ConfigError

    env = os.environ if env is None else env
    given = {k: env[k].strip() for k in DISTRIBUTED_ENV if env.get(k, "").strip()}
    if given and len(given) < len(DISTRIBUTED_ENV):
        missing = [k for k in DISTRIBUTED_ENV if k not in given]
        raise ConfigError(f"{', '.join(missing)} not set: a multi-process job is named by all of "
                          f"{', '.join(DISTRIBUTED_ENV)} (set: {', '.join(given)}), or by none "
                          "of them on Cloud TPU / SLURM, where JAX finds the job itself")

    def integer(name: str, value: str, low: int, what: str) -> int:
        try:
            n = int(value)
        except ValueError:
            n = low - 1
        if n < low:
            raise ConfigError(f"{name}={value!r}: expected {what}")
        return n

    args: dict = {}
    if given:
        address = given["JAX_COORDINATOR_ADDRESS"]
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"JAX_COORDINATOR_ADDRESS={address!r}: expected HOST:PORT, e.g. "
                              "10.0.0.2:1234 (process 0's host and a free port)")
        num = integer("JAX_NUM_PROCESSES", given["JAX_NUM_PROCESSES"], 1,
                      "a positive number of processes")
        pid = integer("JAX_PROCESS_ID", given["JAX_PROCESS_ID"], 0,
                      f"a process index 0..{num - 1}")
        if pid >= num:
            raise ConfigError(f"JAX_PROCESS_ID={pid}: expected a process index 0..{num - 1} "
                              f"(JAX_NUM_PROCESSES={num})")
        args.update(coordinator_address=address, num_processes=num, process_id=pid)
    for name, key, default in ((HEARTBEAT_TIMEOUT_ENV, "heartbeat_timeout_seconds",
                                DEFAULT_HEARTBEAT_TIMEOUT_S),
                               (SHUTDOWN_TIMEOUT_ENV, "shutdown_timeout_seconds",
                                DEFAULT_SHUTDOWN_TIMEOUT_S)):
        value = env.get(name, "").strip()
        args[key] = integer(name, value, 1, "a positive number of seconds") if value else default
    return args


def initialize(env: Mapping[str, str] | None = None) -> None:
    """Joins this process to a multi-process job (``jax.distributed.initialize`` with
    ``distributed_args(env)``), before any other JAX call. On CPU, cross-process collectives
    use gloo. A process that dies makes the others stop with an error after the heartbeat
    timeout, so a job never hangs on a lost member; restarting every process resumes the run."""
    args = distributed_args(env)
    if "jax_cpu_collectives_implementation" in jax.config.values:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(**args)


def seed_mesh(devices=None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (SEED_AXIS,))


def padded_size(num_seeds: int, mesh: Mesh) -> int:
    """The population size rounded up to a multiple of the device count. Extra seeds are computed
    and discarded, so any number of seeds runs on any number of devices."""
    n = mesh.devices.size
    return int(math.ceil(num_seeds / n) * n)


def seed_sharding(mesh: Mesh) -> NamedSharding:
    """Leading axis split over ``seed``; the rest replicated."""
    return NamedSharding(mesh, P(SEED_AXIS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


@functools.lru_cache(maxsize=None)
def _gather(mesh: Mesh):
    """One compiled program that replicates a whole pytree on ``mesh`` (cached per mesh and, by
    jit, per tree structure)."""
    return jax.jit(lambda tree: tree, out_shardings=replicated(mesh))


def to_host(tree):
    """Fetches a pytree of (possibly multi-host) seed-sharded arrays as NumPy arrays, whole.
    With several processes every process receives every shard: the tree is replicated over its
    mesh in one program (not one ``process_allgather`` per leaf, which traces and compiles a
    program for each leaf shape: dozens for a population state)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    meshes = {x.sharding.mesh for x in jax.tree_util.tree_leaves(tree)
              if isinstance(x, jax.Array) and isinstance(x.sharding, NamedSharding)}
    if len(meshes) != 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    whole = _gather(meshes.pop())(tree)
    return jax.tree_util.tree_map(lambda x: np.asarray(x.addressable_data(0)), whole)


def put_seed_sharded(tree, mesh: Mesh):
    """Places whole host arrays (leading seed axis, already padded) on the mesh, split over seeds.
    Every process holds the whole array and contributes the shards of its own devices, so this
    works unchanged on multi-host meshes."""
    sharding = seed_sharding(mesh)

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree_util.tree_map(put, tree)
