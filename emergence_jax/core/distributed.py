"""Meshes over devices and moving per-seed arrays between devices and hosts.

The seed axis of a population is sharded over a one-dimensional mesh axis named ``seed`` that spans
every device of every process: on one host, all local devices; on a multi-host TPU slice, call
``jax.distributed.initialize()`` first (see ``launch/``) and the same code spans all hosts. Nothing
inside the model knows about devices: shardings are stated only at the jit boundary.
"""

from __future__ import annotations

import math

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

SEED_AXIS = "seed"


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


def to_host(tree):
    """Fetches a pytree of (possibly multi-host) seed-sharded arrays as NumPy arrays, whole."""
    if jax.process_count() > 1:
        return multihost_utils.process_allgather(tree, tiled=True)
    return jax.device_get(tree)


def put_seed_sharded(tree, mesh: Mesh):
    """Places whole host arrays (leading seed axis, already padded) on the mesh, split over seeds.
    Every process holds the whole array and contributes the shards of its own devices, so this
    works unchanged on multi-host meshes."""
    sharding = seed_sharding(mesh)

    def put(x):
        x = np.asarray(x)
        return jax.make_array_from_callback(x.shape, sharding, lambda index: x[index])

    return jax.tree_util.tree_map(put, tree)
