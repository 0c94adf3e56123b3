"""Sweeps: scale-point expansion, resumable run stores, SIGKILL at several points then restart
gives the same metrics as an uninterrupted sweep, refusal of a different config."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from emergence_jax.app import cli
from emergence_jax.core.config import ConfigError, load_experiment, set_field
from emergence_jax.core.errors import StoreError
from emergence_jax.io.run_store import load_run
from emergence_jax.analysis.outcomes import point_outcomes
from emergence_jax.app.sweep import expand, run_sweep

REPO = Path(__file__).resolve().parents[1]

EXPERIMENT = textwrap.dedent('''
    from emergence_jax.core.config import (ExperimentConfig, ModelConfig, OptimizerConfig,
                                      PopulationConfig, SweepConfig, TrainConfig, set_field)

    def get_config():
        cfg = ExperimentConfig(
            name="tiny",
            model=ModelConfig(depth=1, width=16, heads=2),
            optimizer=OptimizerConfig(warmup_steps=2),
            train=TrainConfig(steps=24, batch_size=8, eval_every=4, evals_per_chunk=2,
                              checkpoint_every_chunks=2),
            population=PopulationConfig(num_seeds=4),
            sweep=SweepConfig(axes={"model.width": (16, 24)}))
        return set_field(cfg, "task.eval_examples", 16)
''')

# Runs the sweep CLI, and SIGKILLs itself at the n-th call of a chosen step of the write protocol
# (KILL_AT="target:n:before|after"): a metrics chunk write, a checkpoint's final rename, or a
# metadata completion update.
DRIVER = textwrap.dedent('''
    import os, signal, sys
    from emergence_jax.io import checkpoint, run_store as store

    def die():
        os.kill(os.getpid(), signal.SIGKILL)

    spec = os.environ.get("KILL_AT")
    if spec:
        target, n, when = spec.split(":")
        n = int(n)
        if target == "finalize":
            from orbax.checkpoint._src.path import atomicity
            classes = [atomicity.AtomicRenameTemporaryPath, atomicity.CommitFileTemporaryPath]
            attr = "finalize"
        else:
            classes, attr = [store.RunStore], target
        calls = [0]
        for cls in classes:
            original = getattr(cls, attr)
            if target == "finalize":
                async def wrapped(*a, _original=original, **k):
                    calls[0] += 1
                    if calls[0] == n and when == "before":
                        die()
                    result = await _original(*a, **k)
                    if calls[0] == n and when == "after":
                        die()
                    return result
            else:
                def wrapped(*a, _original=original, **k):
                    calls[0] += 1
                    if calls[0] == n and when == "before":
                        die()
                    result = _original(*a, **k)
                    if calls[0] == n and when == "after":
                        die()
                    return result
            setattr(cls, attr, wrapped)

    delay = float(os.environ.get("CHUNK_DELAY", "0"))  # seconds after each metrics chunk
    if delay:
        import time
        write_chunk = store.RunStore.write_chunk

        def slow_write_chunk(*a, **k):
            write_chunk(*a, **k)
            time.sleep(delay)
        store.RunStore.write_chunk = slow_write_chunk

    from emergence_jax.app import cli
    sys.exit(cli.main(sys.argv[1:]))
''')


def _env(cache: Path) -> dict:
    return dict(os.environ, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sweep")
    (tmp / "tiny.py").write_text(EXPERIMENT)
    (tmp / "driver.py").write_text(DRIVER)
    return tmp


@pytest.fixture(scope="module")
def reference(workdir, tmp_path_factory):
    """An uninterrupted sweep, written by the CLI in a subprocess (which also warms the
    compilation cache that the kill/restart runs reuse)."""
    cache = tmp_path_factory.mktemp("jax_cache")
    out = workdir / "reference"
    proc = subprocess.run([sys.executable, "-m", "emergence_jax.app.cli", "sweep",
                           str(workdir / "tiny.py"), "--out", str(out)],
                          cwd=workdir, env=_env(cache), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out, cache, proc


def test_expand_product_zip_and_validation():
    from emergence_jax.core.config import ExperimentConfig, SweepConfig
    base = ExperimentConfig(sweep=SweepConfig(axes={"model.width": (32, 64),
                                                    "model.depth": (1, 2)}))
    points = expand(base)
    assert [p.coords for p in points] == [{"model.width": 32, "model.depth": 1},
                                          {"model.width": 32, "model.depth": 2},
                                          {"model.width": 64, "model.depth": 1},
                                          {"model.width": 64, "model.depth": 2}]
    assert points[3].config.model.width == 64 and points[3].config.model.depth == 2
    zipped = expand(set_field(base, "sweep.mode", "zip"))
    assert [(p.config.model.width, p.config.model.depth) for p in zipped] == [(32, 1), (64, 2)]
    assert len(expand(ExperimentConfig())) == 1 and expand(ExperimentConfig())[0].coords == {}
    bad = set_field(base, "sweep.axes", {"model.width": (32, 30)})  # 30 % 4 heads != 0
    with pytest.raises(ConfigError, match=r"scale point 1 \(model.width=30\).*width"):
        expand(bad)
    steps = expand(set_field(base, "sweep.axes", {"train.steps": (1000, 2000)}))
    assert [p.config.train.num_evals for p in steps] == [10, 20]
    every = set_field(base, "sweep.axes", {"train.eval_every": (100, 200)})
    with pytest.raises(ConfigError, match=r"scale point 1 .*train.eval_every"):
        expand(every)


def test_uninterrupted_sweep_output(reference):
    out, _, proc = reference
    run = load_run(out)
    assert run.metrics.shape == (2, 4, 6, len(run.metric_names))
    assert run.completed.all() and np.isfinite(run.metrics).all()
    assert run.eval_steps == [4, 8, 12, 16, 20, 24] and run.seeds == [0, 1, 2, 3]
    assert [p["model.width"] for p in run.scale_points] == [16, 24]
    assert run.scale_points[1]["params"] > run.scale_points[0]["params"] > 0
    assert {"params", "non_embedding_params", "tokens", "flops"} <= set(run.scale_points[0])
    assert run.eval_examples == 16 and run.scale_variable == "params"
    assert "[1/2] model.width=16 | params" in proc.stderr + proc.stdout
    assert "ood/exact_match>0.2" in proc.stderr + proc.stdout


def test_sweep_store_opens_with_zarr_python(reference):
    zarr = pytest.importorskip("zarr")
    out, _, _ = reference
    group = zarr.open_group(str(out), mode="r")
    metrics = group["metrics"]
    assert metrics.metadata.dimension_names == ("scale_point", "seed", "eval_step", "metric")
    assert zarr.open_array(str(out / "diverged"), mode="r").metadata.dimension_names == (
        "scale_point", "seed")
    np.testing.assert_array_equal(metrics[:], load_run(out).metrics)
    assert group.attrs["emergence_jax"]["scale_variable"] == "params"


def test_sigkill_at_several_points_then_resume(workdir, reference):
    ref_out, cache, _ = reference
    out = workdir / "killed"
    # 3 chunks per scale point; checkpoints after chunks 2 and 3 of each point.
    kills = [
        "write_chunk:2:after",     # point 0: second chunk written, before its checkpoint
        "finalize:1:before",       # point 0: checkpoint files written, not yet renamed final
        "set_completion:5:before", # point 1: checkpoint saved, completion not yet recorded
    ]
    cmd = [sys.executable, str(workdir / "driver.py"), "sweep", str(workdir / "tiny.py"),
           "--out", str(out), "--no-progress"]
    for kill in kills:
        proc = subprocess.run(cmd, cwd=workdir, env=dict(_env(cache), KILL_AT=kill),
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == -signal.SIGKILL, (kill, proc.returncode, proc.stderr[-3000:])
        partial = load_run(out)
        assert not partial.completed.all()
    proc = subprocess.run(cmd, cwd=workdir, env=_env(cache), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "(already complete)" in proc.stdout  # point 0 finished before the last kill
    resumed, ref = load_run(out), load_run(ref_out)
    assert resumed.completed.all()
    np.testing.assert_allclose(resumed.metrics, ref.metrics, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(resumed.diverged, ref.diverged)


def test_sigterm_stops_with_a_checkpoint_and_exit_75_then_resumes(workdir, reference):
    """SIGTERM after the first chunk is in the store: the sweep finishes the chunk in flight,
    checkpoints it, says how to resume and exits with 75; rerunning gives the uninterrupted
    sweep's numbers."""
    from emergence_jax.io.location import Location
    from emergence_jax.io.run_store import read_metadata

    ref_out, cache, _ = reference
    out = workdir / "preempted"
    # A checkpoint is due only after a point's last chunk (chunk 3 of 3).
    cmd = [sys.executable, str(workdir / "driver.py"), "sweep", str(workdir / "tiny.py"),
           "--out", str(out), "--no-progress", "--set", "train.checkpoint_every_chunks=3"]
    proc = subprocess.Popen(cmd, cwd=workdir, env=dict(_env(cache), CHUNK_DELAY="1"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        meta = read_metadata(Location(out)) if (out / "zarr.json").exists() else None
        if meta and meta["completion"][0] >= 2:  # the first chunk (2 evaluations) is written
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 75, (proc.returncode, stderr[-3000:])
    lines = [line for line in stderr.splitlines() if "preempted" in line]
    assert len(lines) == 1 and "rerun the same command to resume: emergence-jax sweep" in lines[0]
    assert "stopped by SIGTERM after evaluation 4/6 of scale point 1/2" in lines[0]
    completion = read_metadata(Location(out))["completion"]
    assert completion == [4, 0]
    # stopped after chunk 2 (of 3; step 16): checkpointed there, although none was due
    assert sorted(p.name for p in (out / "checkpoints" / "point_0000").iterdir()) == ["16"]
    proc = subprocess.run(cmd, cwd=workdir, env=_env(cache), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    resumed, ref = load_run(out), load_run(ref_out)
    assert resumed.completed.all()
    np.testing.assert_array_equal(resumed.metrics, ref.metrics)
    np.testing.assert_array_equal(resumed.diverged, ref.diverged)


def test_resume_refuses_a_different_config(workdir, reference, capsys):
    out, _, _ = reference
    before = (out / "zarr.json").read_bytes()
    cfg = load_experiment(workdir / "tiny.py", ["optimizer.learning_rate=0.003"])
    with pytest.raises(StoreError, match=r"optimizer.learning_rate: 0.001 -> 0.003"):
        run_sweep(cfg, str(out), progress=False)
    code = cli.main(["sweep", str(workdir / "tiny.py"), "--out", str(out),
                     "--set", "model.heads=4", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "model.heads: 2 -> 4" in err and "--overwrite" in err
    assert "Traceback" not in err
    assert (out / "zarr.json").read_bytes() == before  # untouched


def test_same_config_resume_of_finished_run_trains_nothing(reference, workdir):
    out, _, _ = reference
    copy = workdir / "finished_copy"
    shutil.copytree(out, copy)
    cfg = load_experiment(workdir / "tiny.py", ["name='renamed'",
                                                "train.checkpoint_every_chunks=3"])
    lines = []
    run = run_sweep(cfg, str(copy), progress=False, log=lines.append)
    assert all("(already complete)" in line for line in lines) and len(lines) == 2
    np.testing.assert_array_equal(run.metrics, load_run(out).metrics)


def test_foreign_or_corrupt_run_directories(workdir, reference, capsys):
    out, _, _ = reference
    tiny = str(workdir / "tiny.py")
    foreign = workdir / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("my data")
    assert cli.main(["sweep", tiny, "--out", str(foreign), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "is not a run store" in err and "Traceback" not in err
    assert (foreign / "notes.txt").read_text() == "my data"

    garbage = workdir / "garbage_meta"
    shutil.copytree(out, garbage)
    (garbage / "zarr.json").write_text("\x00\x01 not json")
    assert cli.main(["sweep", tiny, "--out", str(garbage), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err and "--overwrite" in err and "Traceback" not in err

    a_file = workdir / "a_file"
    a_file.write_text("x")
    assert cli.main(["sweep", tiny, "--out", str(a_file), "--no-progress"]) == 2
    assert "is a file" in capsys.readouterr().err


def test_truncated_checkpoint_gives_store_error_in_cli(workdir, reference, capsys):
    _, cache, _ = reference
    damaged = workdir / "damaged_ckpt"
    # Killed before point 0's third chunk: its first two chunks and their checkpoint (step 16)
    # are final, so the resume must restore that checkpoint, whose files are then truncated.
    cmd = [sys.executable, str(workdir / "driver.py"), "sweep", str(workdir / "tiny.py"),
           "--out", str(damaged), "--no-progress"]
    proc = subprocess.run(cmd, cwd=workdir, env=dict(_env(cache), KILL_AT="write_chunk:3:before"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert load_run(damaged).completion[0] == 4
    truncated = 0
    for f in (damaged / "checkpoints" / "point_0000").rglob("*"):
        if f.is_file() and "/d/" in str(f):
            f.write_bytes(f.read_bytes()[:5])
            truncated += 1
    assert truncated > 0
    code = cli.main(["sweep", str(workdir / "tiny.py"), "--out", str(damaged), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "damaged" in err and "Traceback" not in err


def test_sweep_over_training_steps(workdir, reference):
    """train.steps as an axis: points of 12 and 24 steps (3 and 6 evals, chunks of 1 and 2
    evals). The shorter point's later evals stay NaN, final() takes each point's own last eval,
    and a sweep killed in the longer point resumes. The 24-step point has exactly the config of
    the reference sweep's first point (and reuses its compiled program), so its numbers match."""
    ref_out, cache, _ = reference
    out = workdir / "steps"
    cmd = [sys.executable, str(workdir / "driver.py"), "sweep", str(workdir / "tiny.py"),
           "--out", str(out), "--no-progress", "--set", 'sweep.axes={"train.steps": [12, 24]}']
    # Point 1's second chunk is written and checkpointed (every 2 chunks); killed before its
    # completion is recorded.
    kill = dict(_env(cache), KILL_AT="set_completion:5:before")
    proc = subprocess.run(cmd, cwd=workdir, env=kill, capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    partial = load_run(out)
    assert partial.completion == [3, 2] and partial.completed.tolist() == [True, False]
    proc = subprocess.run(cmd, cwd=workdir, env=_env(cache), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "[1/2] train.steps=12" in proc.stdout and "(already complete)" in proc.stdout

    run, ref = load_run(out), load_run(ref_out)
    assert run.completed.all() and run.completion == [3, 6] and run.num_evals == [3, 6]
    assert run.eval_steps == [4, 8, 12, 16, 20, 24] and run.point_eval_steps(0) == [4, 8, 12]
    assert run.meta["chunk_evals"] == 1  # gcd of the points' chunk_evals (1 and 2)
    assert np.isfinite(run.metrics[0, :, :3]).all() and np.isnan(run.metrics[0, :, 3:]).all()
    np.testing.assert_allclose(run.metrics[1], ref.metrics[0], rtol=1e-6, atol=1e-7)
    loss = run.metric("train/loss")
    np.testing.assert_array_equal([o.values for o in point_outcomes(run, "train/loss")],
                                  np.stack([loss[0, :, 2], loss[1, :, 5]]))
    assert run.scale_points[1]["tokens"] == 2 * run.scale_points[0]["tokens"]

    # A finished run resumed with other analysis settings trains nothing.
    cfg = load_experiment(workdir / "tiny.py", ['sweep.axes={"train.steps": [12, 24]}',
                                                "analysis.threshold=0.7"])
    lines = []
    again = run_sweep(cfg, str(out), progress=False, log=lines.append)
    assert len(lines) == 2 and all("(already complete)" in line for line in lines)
    np.testing.assert_array_equal(again.metrics, run.metrics)


def test_two_sweeps_on_one_store(workdir, reference):
    """Two sweeps started together on one directory (named through '..'): exactly one runs, the
    other is refused at once naming the holder; the store is that of one uninterrupted sweep."""
    ref_out, cache, _ = reference
    out = f"{workdir}/not_there/../two_writers"
    cmd = [sys.executable, "-m", "emergence_jax.app.cli", "sweep", str(workdir / "tiny.py"),
           "--out", out, "--no-progress"]
    procs = [subprocess.Popen(cmd, cwd=workdir, env=_env(cache), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    ref = load_run(ref_out)
    reads = 0
    while any(p.poll() is None for p in procs):  # a reader meanwhile sees only complete data
        try:
            partial = load_run(workdir / "two_writers")
        except StoreError as e:
            assert "not a run store" in str(e) or "does not exist" in str(e), str(e)
        else:
            reads += 1
            for point, done in enumerate(partial.completion):
                np.testing.assert_array_equal(partial.metrics[point, :, :done],
                                              ref.metrics[point, :, :done])
                assert np.isnan(partial.metrics[point, :, done:]).all()
        time.sleep(0.5)
    results = [(p, *p.communicate(timeout=600)) for p in procs]
    assert sorted(p.returncode for p, _, _ in results) == [0, 2], [r[2][-2000:] for r in results]
    (winner, _, _), = [r for r in results if r[0].returncode == 0]
    (_, _, refused), = [r for r in results if r[0].returncode == 2]
    assert "Traceback" not in refused
    assert (f"two_writers is being written by another process (host {socket.gethostname()}, "
            f"PID {winner.pid}, since") in refused
    run = load_run(workdir / "two_writers")
    assert reads > 0 and run.completed.all() and not (workdir / "not_there").exists()
    np.testing.assert_array_equal(run.metrics, ref.metrics)
    np.testing.assert_array_equal(run.diverged, ref.diverged)
    assert run.meta["digests"] == ref.meta["digests"]
    assert not (workdir / "two_writers" / "writer.lock").exists()


def test_lost_chunks_are_reported_refused_and_retrained(workdir, reference, capsys):
    """A deleted chunk and an undecodable one: `inspect --verify` lists both, `fit` refuses the
    store, and the sweep (through a symlinked directory) re-trains exactly those chunks from the
    nearest checkpoint, ending identical to the uninterrupted sweep."""
    ref_out, cache, _ = reference
    damaged = workdir / "lost_chunk"
    shutil.copytree(ref_out, damaged)
    link = workdir / "lost_chunk_link"
    link.symlink_to(damaged, target_is_directory=True)
    (damaged / "metrics/c/0/0/1/0").unlink()                  # point 0, evaluations 3..4
    (damaged / "metrics/c/1/0/2/0").write_bytes(b"garbage")   # point 1, evaluations 5..6
    intact = damaged / "metrics/c/0/0/2/0"
    before = intact.stat().st_ino

    assert cli.main(["inspect", "--verify", str(link)]) == 1
    out = capsys.readouterr().out
    assert "metrics of evaluations 3..4 (metrics/c/0/0/1/0) missing" in out
    assert "metrics of evaluations 5..6 (metrics/c/1/0/2/0) corrupt (cannot be decoded)" in out
    assert cli.main(["fit", str(damaged), "--method", "svi"]) == 2
    err = capsys.readouterr().err
    assert "corrupt" in err and "inspect --verify" in err and "Traceback" not in err

    proc = subprocess.run([sys.executable, "-m", "emergence_jax.app.cli", "sweep",
                           str(workdir / "tiny.py"), "--out", str(link), "--no-progress"],
                          cwd=workdir, env=_env(cache), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "[1/2] model.width=16: re-training the lost evaluations 3..4" in proc.stdout
    assert "[2/2] model.width=24: re-training the lost evaluations 5..6" in proc.stdout
    run, ref = load_run(damaged), load_run(ref_out)
    np.testing.assert_array_equal(run.metrics, ref.metrics)
    np.testing.assert_array_equal(run.diverged_at, ref.diverged_at)
    assert run.meta["digests"] == ref.meta["digests"]
    assert intact.stat().st_ino == before  # an intact chunk is not written again
    assert cli.main(["inspect", "--verify", str(damaged)]) == 0
    assert "verify        ok" in capsys.readouterr().out


@pytest.mark.slow
def test_sigkill_at_random_times_then_resume(workdir, reference):
    """Kills from outside at random moments (whatever the process is doing), several times."""
    ref_out, cache, _ = reference
    out = workdir / "random_kills"
    cmd = [sys.executable, "-m", "emergence_jax.app.cli", "sweep", str(workdir / "tiny.py"),
           "--out", str(out), "--no-progress"]
    rng = random.Random(0)
    for _ in range(5):
        proc = subprocess.Popen(cmd, cwd=workdir, env=_env(cache), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(3.0, 12.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc = subprocess.run(cmd, cwd=workdir, env=_env(cache), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    np.testing.assert_allclose(load_run(out).metrics, load_run(ref_out).metrics,
                               rtol=1e-6, atol=1e-7)


@pytest.mark.slow
def test_memory_url_sweep_in_process(workdir):
    cfg = load_experiment(workdir / "tiny.py", ["sweep.axes={}", "train.steps=8",
                                                "population.num_seeds=2"])
    run = run_sweep(cfg, "memory://sweep_test", progress=False, log=None)
    assert run.completed.all() and run.metrics.shape[:3] == (1, 2, 2)


def _final_params(run_dir: Path, point: int, cfg) -> list[np.ndarray]:
    from emergence_jax.core.population import Population
    from emergence_jax.io.checkpoint import PopulationCheckpointer, host_state

    pop = Population(cfg)
    ckpt = PopulationCheckpointer(str(run_dir / "checkpoints" / f"point_{point:04d}"))
    try:
        state = host_state(pop, ckpt.restore(pop))
    finally:
        ckpt.close()
    return [np.asarray(x) for x in jax_leaves(state)]


def jax_leaves(tree):
    import jax
    return jax.tree_util.tree_leaves(tree)


def test_nested_steps_points_equal_separate_training(workdir, reference):
    """train.steps [8, 12, 24] with a constant learning rate: the 8- and 12-step points are read
    from the 24-step run (killed once, then resumed) and every stored number — metrics, flags,
    digests, final checkpoints — equals training each point alone (--no-nest)."""
    _, cache, _ = reference
    sets = ['sweep.axes={"train.steps": [8, 12, 24]}', "optimizer.end_lr_fraction=1.0",
            "train.evals_per_chunk=3"]
    nested, alone = workdir / "nested", workdir / "alone"
    cmd = [sys.executable, str(workdir / "driver.py"), "sweep", str(workdir / "tiny.py"),
           "--no-progress", *[x for v in sets for x in ("--set", v)]]
    # One run of 2 chunks of 3 evaluations writes point 0 (1 chunk of 2 evaluations), point 1
    # (1 of 3) and point 2 (2 of 3); killed after point 1's checkpoint (its last step is the
    # run's first chunk end), before its completion is recorded.
    proc = subprocess.run(cmd + ["--out", str(nested)], cwd=workdir,
                          env=dict(_env(cache), KILL_AT="set_completion:2:before"),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert ("scale point 3/3 (train.steps=24) is trained once; point(s) 1 (train.steps=8), "
            "2 (train.steps=12) are read from its run") in proc.stdout
    assert load_run(nested).completion == [2, 0, 0]
    proc = subprocess.run(cmd + ["--out", str(nested)], cwd=workdir, env=_env(cache),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "[1/3] train.steps=8" in proc.stdout and "(already complete)" in proc.stdout
    assert "(read from the run of point 3)" in proc.stdout
    proc = subprocess.run(cmd + ["--out", str(alone), "--no-nest"], cwd=workdir, env=_env(cache),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "read from" not in proc.stdout

    a, b = load_run(nested), load_run(alone)
    assert a.completed.all() and b.completed.all()
    np.testing.assert_array_equal(a.metrics, b.metrics)
    np.testing.assert_array_equal(a.diverged, b.diverged)
    np.testing.assert_array_equal(a.diverged_at, b.diverged_at)
    assert a.meta["digests"] == b.meta["digests"]
    np.testing.assert_array_equal(a.metrics[1, :, :3], a.metrics[2, :, :3])  # a prefix
    # Point 0 ends inside the run's first chunk, so only points 1 and 2 have final checkpoints.
    assert not [c for c in (nested / "checkpoints" / "point_0000").glob("*") if c.name.isdigit()]
    points = expand(load_experiment(workdir / "tiny.py", sets))
    for p in points[1:]:
        for x, y in zip(_final_params(nested, p.index, p.config),
                        _final_params(alone, p.index, p.config)):
            np.testing.assert_array_equal(x, y)


def test_which_points_nest():
    """Points nest into the longest point of equal config when its learning rates agree over
    their steps: a constant rate after warmup does, a decay that ends with each run does not,
    nor a point whose chunks hold one evaluation against a longer chunk (XLA rounds those
    differently); sweep.nest=false trains each alone."""
    from emergence_jax.app.sweep.points import nest_sources
    from emergence_jax.app.sweep.runner import plan_lines

    quick = load_experiment(REPO / "experiments" / "quickstart.py")
    points = expand(quick)
    assert nest_sources(points) == [5] * 6
    (line,) = plan_lines(points, nest_sources(points))
    assert line.startswith("scale point 6/6 (train.steps=300) is trained once; point(s) 1 "
                           "(train.steps=50), 2 (train.steps=75)")
    assert nest_sources(expand(set_field(quick, "sweep.nest", False))) == list(range(6))
    decaying = expand(set_field(quick, "optimizer.end_lr_fraction", 0.5))
    assert nest_sources(decaying) == list(range(6)) and plan_lines(decaying, list(range(6))) == []
    # Two widths x two lengths: each width's shorter point nests into its own longer one.
    grid = set_field(quick, "sweep.axes", {"model.width": (32, 64), "train.steps": (100, 200)})
    assert nest_sources(expand(grid)) == [1, 1, 3, 3]
    # 50 steps = 2 evaluations in chunks of 1 (evals_per_chunk=1) vs 300 steps in chunks of 1:
    # both loops of one iteration, so they nest; with chunks of 4 for 300 steps they would not.
    ones = set_field(set_field(quick, "train.evals_per_chunk", 1), "sweep.axes",
                     {"train.steps": (50, 300)})
    assert nest_sources(expand(ones)) == [1, 1]
    mixed = set_field(quick, "sweep.axes", {"train.steps": (25, 300)})  # 1 evaluation vs chunks of 4
    assert nest_sources(expand(mixed)) == [0, 1]


def test_points_reporting_different_metrics_store_their_union(tmp_path):
    """The linear map reports one loss per state bit, so a sweep over its number of bits has
    points with different metrics: the store holds every metric any point reports, NaN where a
    point does not report it, and outcomes count no seed for such a metric there."""
    from emergence_jax.core.config import (ExperimentConfig, LinearMapConfig, ModelConfig,
                                           PopulationConfig, SweepConfig, TrainConfig)
    cfg = ExperimentConfig(
        name="bits", model=ModelConfig(depth=1, width=16, heads=2, pos_encoding="learned"),
        task=LinearMapConfig(num_bits=3, ones_per_row=1, eval_examples=16, probe_examples=4),
        train=TrainConfig(steps=8, batch_size=8, eval_every=4, evals_per_chunk=2),
        population=PopulationConfig(num_seeds=2),
        sweep=SweepConfig(axes={"task.num_bits": (3, 4)}, scale_variable="task.num_bits"))
    run = run_sweep(cfg, str(tmp_path / "run"), progress=False, log=lambda _: None)
    assert "test/loss_pos2" in run.metric_names and "test/loss_pos3" in run.metric_names
    last = run.metric("test/loss_pos3")
    assert np.isnan(last[0]).all() and np.isfinite(last[1]).all()
    assert np.isfinite(run.metric("test/loss_pos2")).all()
    per_point = point_outcomes(run, "test/loss_pos3")
    assert [o.kept.sum() for o in per_point] == [0, 2]
    # The report's per-position panel reads each point's own positions.
    from emergence_jax.app.report.emergence import family_rows, metric_families
    rows = family_rows(run, metric_families(run)["test/loss_pos"])
    assert [(r["members"], r["seeds"]) for r in rows] == [(3, 2), (4, 2)]
