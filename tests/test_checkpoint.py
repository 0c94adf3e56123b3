"""Population checkpoints: saved on N devices, restored on M, training continues identically;
damaged checkpoints raise StoreError."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from emergence_jax.core.errors import StoreError

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import sys
    import numpy as np
    import jax
    from emergence_jax.io.checkpoint import PopulationCheckpointer
    from emergence_jax.core.config import (ExperimentConfig, ModelConfig, OptimizerConfig,
                                      PopulationConfig, TrainConfig, set_field, validate)
    from emergence_jax.core.population import Population

    def tiny_config():
        cfg = ExperimentConfig(
            name="ckpt", model=ModelConfig(depth=1, width=16, heads=2),
            optimizer=OptimizerConfig(warmup_steps=2),
            train=TrainConfig(steps=16, batch_size=8, eval_every=4, evals_per_chunk=2),
            population=PopulationConfig(num_seeds=5))
        return validate(set_field(cfg, "task.eval_examples", 16))

    def save(pop, ckpt_dir, ref_path):
        state, _ = pop.train_chunk(pop.init())
        PopulationCheckpointer(ckpt_dir).save(pop, state)
        _, metrics = pop.train_chunk(state)
        np.savez(ref_path, **metrics)

    def restore(pop, ckpt_dir, out_path):
        state = PopulationCheckpointer(ckpt_dir).restore(pop)
        assert pop.steps_done(state) == pop.chunk_steps
        _, metrics = pop.train_chunk(state)
        np.savez(out_path, **metrics)

    if __name__ == "__main__":
        pop = Population(tiny_config())
        assert jax.device_count() == int(sys.argv[1]), jax.device_count()
        for action, ckpt_dir, path in zip(sys.argv[2::3], sys.argv[3::3], sys.argv[4::3]):
            {"save": save, "restore": restore}[action](pop, ckpt_dir, path)
''')


def _run(tmp: Path, devices: int, *actions: str, cache: Path) -> None:
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
               PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, str(tmp / "ckpt_script.py"), str(devices), *actions],
                          cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


def _load(path: Path) -> dict:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].shape == (5, 2), (k, a[k].shape)  # the 5 real seeds, 2 evals per chunk
        np.testing.assert_allclose(a[k], b[k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.fixture(scope="module")
def device_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ckpt")
    cache = tmp_path_factory.mktemp("jax_cache")
    (tmp / "ckpt_script.py").write_text(SCRIPT)
    # 4 devices (5 seeds padded to 8): save after chunk 1, reference chunk 2.
    _run(tmp, 4, "save", "ck4", "ref4.npz", cache=cache)
    # 1 device: restore the 4-device checkpoint; save its own checkpoint and reference.
    _run(tmp, 1, "restore", "ck4", "r4to1.npz", "save", "ck1", "ref1.npz", cache=cache)
    # 4 devices again: restore the 1-device checkpoint.
    _run(tmp, 4, "restore", "ck1", "r1to4.npz", cache=cache)
    return tmp


def test_restore_across_device_counts(device_runs):
    ref4, ref1 = _load(device_runs / "ref4.npz"), _load(device_runs / "ref1.npz")
    _assert_same(_load(device_runs / "r4to1.npz"), ref4)
    _assert_same(_load(device_runs / "r4to1.npz"), ref1)
    _assert_same(_load(device_runs / "r1to4.npz"), ref1)
    _assert_same(ref1, ref4)


def _population():
    namespace: dict = {}
    exec(compile(SCRIPT.replace('if __name__ == "__main__":', "if False:"), "ckpt_script", "exec"),
         namespace)
    from emergence_jax.core.population import Population
    return Population(namespace["tiny_config"]())


def test_checkpoint_holds_only_real_seeds_and_restores_here(device_runs):
    import jax
    from emergence_jax.io.checkpoint import PopulationCheckpointer
    pop = _population()
    ckpt = PopulationCheckpointer(str(device_runs / "ck4"))
    assert ckpt.latest_step() == pop.chunk_steps
    state = ckpt.restore(pop)  # saved from an 8-seed padded population, restored with 5 + padding
    assert all(x.shape[0] == pop.padded_seeds for x in jax.tree_util.tree_leaves(state))
    assert np.asarray(state.seed_id)[: pop.num_seeds].tolist() == [0, 1, 2, 3, 4]
    assert pop.steps_done(state) == pop.chunk_steps


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_truncated_checkpoint_is_a_store_error(device_runs, tmp_path):
    from emergence_jax.io.checkpoint import PopulationCheckpointer
    pop = _population()
    damaged = tmp_path / "ck"
    shutil.copytree(device_runs / "ck4", damaged)
    files = sorted((p for p in damaged.rglob("*") if p.is_file() and "/d/" in str(p)),
                   key=lambda p: p.stat().st_size)
    assert files, list(damaged.rglob("*"))
    for f in files:
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 3])
    with pytest.raises(StoreError, match="damaged"):
        PopulationCheckpointer(str(damaged)).restore(pop)


def test_garbage_checkpoint_metadata_is_a_store_error(device_runs, tmp_path):
    from emergence_jax.io.checkpoint import PopulationCheckpointer
    pop = _population()
    damaged = tmp_path / "ck"
    shutil.copytree(device_runs / "ck4", damaged)
    for f in damaged.rglob("*"):
        if f.is_file() and not f.name.startswith("commit_success"):
            f.write_bytes(b"\x00\x01garbage")
    with pytest.raises(StoreError):
        PopulationCheckpointer(str(damaged)).restore(pop)


def test_checkpoint_of_other_population_is_refused(device_runs):
    import dataclasses
    from emergence_jax.io.checkpoint import PopulationCheckpointer
    from emergence_jax.core.population import Population
    cfg = _population().cfg
    wider = Population(dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, width=24)))
    with pytest.raises(StoreError, match="does not match"):
        PopulationCheckpointer(str(device_runs / "ck4")).restore(wider)
