"""Checkpoints of a population's stacked state, with orbax-checkpoint.

What is saved: every leaf of ``PopulationState`` (params, optimizer state, step, seed ids, data
keys, divergence flags) for the *real* seeds only, as host NumPy arrays, plus a small JSON record
(seed ids, leaf paths, shapes and dtypes). Padding seeds (added so the population divides the
device count) are dropped on save and re-created on restore by repeating a real seed's state, so a
checkpoint written on N devices restores on any number of devices. Padding seeds' results are
discarded anyway.

Orbax writes each checkpoint into a temporary folder and renames it when complete, so a save that
is interrupted leaves nothing that ``latest_step`` reports. A checkpoint whose files were damaged
afterwards raises ``StoreError`` on restore.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import jax
import numpy as np

from emergence_jax.core import distributed
from emergence_jax.core.errors import StoreError
from emergence_jax.io.location import Location, library_error

CHECKPOINT_FORMAT = "emergence_jax.population_state/1"


def _quiet_orbax() -> None:
    for name in ("absl", "orbax", "orbax.checkpoint"):
        logging.getLogger(name).setLevel(logging.WARNING)


def host_state(population, state) -> Any:
    """A host (NumPy) copy of ``state`` holding only the population's real seeds."""
    host = distributed.to_host(state)
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[: population.num_seeds], host)


def pad_state(population, host) -> Any:
    """Pads a real-seeds host state to ``population.padded_seeds`` by repeating seed 0's state."""
    n_real = population.num_seeds
    idx = np.concatenate([np.arange(n_real),
                          np.zeros(population.padded_seeds - n_real, np.int64)])
    return jax.tree_util.tree_map(lambda x: np.asarray(x)[idx], host)


def _leaf_info(tree) -> tuple[list, Any]:
    paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(tree)
    return paths_leaves, treedef


class PopulationCheckpointer:
    """Saves and restores one population's state in ``directory`` (a local path or ``gs://``).

    Steps are optimizer steps; the latest ``max_to_keep`` checkpoints are kept.
    """

    def __init__(self, directory: str | os.PathLike | Location, max_to_keep: int = 1):
        path = Location(directory).orbax_path()
        if path is None:
            raise StoreError(f"{directory}: checkpoints need a local directory or a gs:// URL")
        self.directory = path
        self.max_to_keep = max_to_keep
        self._mgr = None

    def _manager(self):
        if self._mgr is None:
            _quiet_orbax()
            import orbax.checkpoint as ocp
            options = ocp.CheckpointManagerOptions(max_to_keep=self.max_to_keep, create=True,
                                                   enable_async_checkpointing=False)
            try:
                self._mgr = ocp.CheckpointManager(self.directory, options=options,
                                                  item_names=("state", "info"))
            except Exception as e:  # noqa: BLE001
                raise StoreError(f"cannot open the checkpoint folder {self.directory}: "
                                 f"{library_error(e)}") from None
        return self._mgr

    def latest_step(self) -> int | None:
        try:
            mgr = self._manager()
            mgr.reload()
            return mgr.latest_step()
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"cannot list checkpoints in {self.directory}: {library_error(e)}") from None

    def steps(self) -> list[int]:
        """The steps of every checkpoint kept, ascending."""
        try:
            mgr = self._manager()
            mgr.reload()
            return sorted(int(s) for s in mgr.all_steps())
        except StoreError:
            raise
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"cannot list checkpoints in {self.directory}: {library_error(e)}") from None

    def save(self, population, state) -> int:
        """Saves the real seeds of ``state``; returns the step (blocks until it is final)."""
        import orbax.checkpoint as ocp
        host = host_state(population, state)
        paths_leaves, _ = _leaf_info(host)
        step = int(host.step[0])
        flat = {f"leaf_{i:05d}": leaf for i, (_, leaf) in enumerate(paths_leaves)}
        info = {"format": CHECKPOINT_FORMAT, "step": step,
                "seed_ids": [int(s) for s in population.seed_ids],
                "leaves": [{"path": jax.tree_util.keystr(p), "shape": list(x.shape[1:]),
                            "dtype": str(x.dtype)} for p, x in paths_leaves]}
        mgr = self._manager()
        try:
            mgr.save(step, args=ocp.args.Composite(state=ocp.args.PyTreeSave(flat),
                                                   info=ocp.args.JsonSave(info)), force=True)
            mgr.wait_until_finished()
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"saving a checkpoint to {self.directory} failed: {library_error(e)}") \
                from None
        return step

    def restore(self, population, step: int | None = None):
        """Restores a checkpoint (default: the latest) onto ``population``'s mesh, re-padding
        the seed axis for the current device count."""
        try:
            return self._restore(population, step)
        except StoreError:
            try:
                self.close()
            except Exception:  # noqa: BLE001 - the StoreError is the error worth reporting
                self._mgr = None
            raise

    def _restore(self, population, step: int | None):
        import orbax.checkpoint as ocp
        step = self.latest_step() if step is None else step
        if step is None:
            raise StoreError(f"no checkpoint in {self.directory}")
        where = f"checkpoint {self.directory}/{step}"
        mgr = self._manager()
        try:
            info = mgr.restore(step, args=ocp.args.Composite(info=ocp.args.JsonRestore()))["info"]
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"{where} cannot be read ({library_error(e)}); it is damaged: delete it "
                             "(the scale point then restarts) or start the run over") from None
        template = population.state_shape()
        paths_leaves, treedef = _leaf_info(template)
        n = population.num_seeds
        if not isinstance(info, dict) or info.get("format") != CHECKPOINT_FORMAT:
            raise StoreError(f"{where} is not a population checkpoint of this format")
        if info.get("seed_ids") != [int(s) for s in population.seed_ids]:
            raise StoreError(f"{where} holds seeds {info.get('seed_ids')}, but this population "
                             f"has seeds {[int(s) for s in population.seed_ids]}")
        expected = [{"path": jax.tree_util.keystr(p), "shape": list(x.shape[1:]),
                     "dtype": str(np.dtype(x.dtype))} for p, x in paths_leaves]
        if info.get("leaves") != expected:
            raise StoreError(f"{where} does not match this population's state (different model "
                             "or optimizer shapes)")
        restore_args = {f"leaf_{i:05d}": ocp.RestoreArgs(restore_type=np.ndarray)
                        for i in range(len(paths_leaves))}
        abstract = {f"leaf_{i:05d}": np.zeros((0,), x.dtype)
                    for i, (_, x) in enumerate(paths_leaves)}
        try:
            flat = mgr.restore(step, args=ocp.args.Composite(state=ocp.args.PyTreeRestore(
                item=abstract, restore_args=restore_args)))["state"]
        except Exception as e:  # noqa: BLE001
            raise StoreError(f"{where} cannot be read ({library_error(e)}); it is damaged: delete it "
                             "(the scale point then restarts) or start the run over") from None
        leaves = []
        for i, (_, x) in enumerate(paths_leaves):
            leaf = np.asarray(flat.get(f"leaf_{i:05d}"))
            if leaf.shape != (n, *x.shape[1:]) or leaf.dtype != np.dtype(x.dtype):
                raise StoreError(f"{where}: leaf {i} has shape {leaf.shape} {leaf.dtype}, "
                                 f"expected {(n, *x.shape[1:])} {np.dtype(x.dtype)}")
            leaves.append(leaf)
        host = jax.tree_util.tree_unflatten(treedef, leaves)
        if int(host.step[0]) != step:
            raise StoreError(f"{where} records step {int(host.step[0])}, not {step}")
        return population.place(pad_state(population, host))

    def close(self) -> None:
        if self._mgr is not None:
            try:
                self._mgr.close()
            finally:
                self._mgr = None


__all__ = ["PopulationCheckpointer", "host_state", "pad_state"]
