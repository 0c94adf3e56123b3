"""Multi-process runs on one machine: the job named by JAX_COORDINATOR_ADDRESS / JAX_NUM_PROCESSES /
JAX_PROCESS_ID, a 2-process sweep over localhost writing the same run store as one process, and a
killed process stopping the others (then a restart of all resumes)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from emergence_jax.core.distributed import distributed_args
from emergence_jax.core.errors import ConfigError
from emergence_jax.io.location import Location
from emergence_jax.io.run_store import load_run, read_metadata

REPO = Path(__file__).resolve().parents[1]

# One scale point, two chunks of one evaluation, two seeds: the smallest sweep that writes
# several chunks and checkpoints.
EXPERIMENT = textwrap.dedent('''
    from emergence_jax.core.config import (ExperimentConfig, ModelConfig, OptimizerConfig,
                                           PopulationConfig, TrainConfig, set_field)

    def get_config():
        cfg = ExperimentConfig(
            name="tiny_mp",
            model=ModelConfig(depth=1, width=8, heads=1),
            optimizer=OptimizerConfig(warmup_steps=1),
            train=TrainConfig(steps=8, batch_size=4, eval_every=2, evals_per_chunk=1,
                              checkpoint_every_chunks=2),
            population=PopulationConfig(num_seeds=4))
        return set_field(cfg, "task.eval_examples", 8)
''')


def test_distributed_args_from_the_environment():
    env = {"JAX_COORDINATOR_ADDRESS": "10.0.0.2:1234", "JAX_NUM_PROCESSES": "4",
           "JAX_PROCESS_ID": "3"}
    args = distributed_args(env)
    assert (args["coordinator_address"], args["num_processes"], args["process_id"]) == (
        "10.0.0.2:1234", 4, 3)
    assert args["heartbeat_timeout_seconds"] > 0 and args["shutdown_timeout_seconds"] > 0
    # None set: left to JAX's detection (Cloud TPU, SLURM); only the timeouts are passed.
    assert set(distributed_args({"EMERGENCE_JAX_HEARTBEAT_TIMEOUT": "7"})) == {
        "heartbeat_timeout_seconds", "shutdown_timeout_seconds"}
    assert distributed_args({"EMERGENCE_JAX_HEARTBEAT_TIMEOUT": "7"})[
        "heartbeat_timeout_seconds"] == 7
    with pytest.raises(ConfigError, match="JAX_NUM_PROCESSES, JAX_PROCESS_ID not set"):
        distributed_args({"JAX_COORDINATOR_ADDRESS": "10.0.0.2:1234"})
    for key, value, match in [("JAX_PROCESS_ID", "4", r"JAX_PROCESS_ID=4: .*0\.\.3"),
                              ("JAX_NUM_PROCESSES", "two", "JAX_NUM_PROCESSES='two'"),
                              ("JAX_COORDINATOR_ADDRESS", "10.0.0.2", "expected HOST:PORT")]:
        with pytest.raises(ConfigError, match=match):
            distributed_args(dict(env, **{key: value}))
    with pytest.raises(ConfigError, match="EMERGENCE_JAX_SHUTDOWN_TIMEOUT='0'"):
        distributed_args(dict(env, EMERGENCE_JAX_SHUTDOWN_TIMEOUT="0"))


# launch/multihost.py, optionally slowed down: CHUNK_DELAY seconds after each metrics chunk
# process 0 writes (the others wait for it in the next chunk), so that a signal sent after the
# first chunk lands mid-run.
DRIVER = textwrap.dedent('''
    import os, runpy, sys, time
    delay = float(os.environ.get("CHUNK_DELAY", "0"))
    if delay:
        from emergence_jax.io.run_store import RunStore
        write_chunk = RunStore.write_chunk

        def slow_write_chunk(*a, **k):
            write_chunk(*a, **k)
            time.sleep(delay)
        RunStore.write_chunk = slow_write_chunk
    sys.argv = [os.environ["MULTIHOST"], *sys.argv[1:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(cache: Path, devices: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_")}
    return dict(env, JAX_PLATFORMS="cpu", JAX_COMPILATION_CACHE_DIR=str(cache),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
                EMERGENCE_JAX_HEARTBEAT_TIMEOUT="5", EMERGENCE_JAX_SHUTDOWN_TIMEOUT="10",
                PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def start_processes(n: int, experiment: Path, out: Path, cache: Path, devices: int = 1,
                    extra: tuple[str, ...] = (), delay: float = 0) -> list[subprocess.Popen]:
    """``n`` processes of ``launch/multihost.py sweep`` joined over localhost."""
    port = _free_port()
    driver = out.parent / "multihost_driver.py"
    driver.write_text(DRIVER)
    procs = []
    for i in range(n):
        env = dict(_env(cache, devices), JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}",
                   JAX_NUM_PROCESSES=str(n), JAX_PROCESS_ID=str(i), CHUNK_DELAY=str(delay),
                   MULTIHOST=str(REPO / "launch" / "multihost.py"))
        procs.append(subprocess.Popen(
            [sys.executable, str(driver), "sweep", str(experiment),
             "--out", str(out), "--no-progress", *extra],
            cwd=out.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return procs


def finish(procs: list[subprocess.Popen], timeout: float = 300) -> list[tuple[int, str]]:
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        results.append((p.returncode, out + err))
    return results


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    """The sweep run by one process with two devices."""
    tmp = tmp_path_factory.mktemp("multiprocess")
    (tmp / "tiny.py").write_text(EXPERIMENT)
    cache = tmp / "cache"
    proc = subprocess.run([sys.executable, "-m", "emergence_jax.app.cli", "sweep",
                           str(tmp / "tiny.py"), "--out", str(tmp / "single"), "--no-progress"],
                          cwd=tmp, env=_env(cache, 2), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return tmp, load_run(tmp / "single")


def assert_same_store(run, ref) -> None:
    assert run.completed.all()
    np.testing.assert_allclose(run.metrics, ref.metrics, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(run.diverged, ref.diverged)
    assert run.seeds == ref.seeds and run.eval_steps == ref.eval_steps


def test_two_processes_write_the_same_store_as_one(single):
    tmp, ref = single
    out = tmp / "two"
    results = finish(start_processes(2, tmp / "tiny.py", out, tmp / "cache"))
    for rc, text in results:
        assert rc == 0, text[-3000:]
        assert "run store:" in text  # every process ends with the loaded run
    # the point's line is printed once per job, by process 0, the writer
    assert ["(base config) | params" in text for _, text in results] == [True, False]
    assert_same_store(load_run(out), ref)
    # process 0 alone wrote the store: no writer lock left behind, one metadata file
    assert not [p for p in out.iterdir() if "lock" in p.name]


def wait_for_first_chunk(out: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        meta = read_metadata(Location(out)) if (out / "zarr.json").exists() else None
        if meta and meta["completion"][0] >= 1:
            return
        time.sleep(0.05)
    raise AssertionError(f"no chunk written to {out} in {timeout} s")


@pytest.mark.slow
def test_sigterm_to_one_process_stops_all_with_75_then_resumes(single):
    """SIGTERM to process 1 only: every process stops after the same chunk with exit status 75,
    and restarting both finishes the same store as one process."""
    tmp, ref = single
    out = tmp / "preempted"
    procs = start_processes(2, tmp / "tiny.py", out, tmp / "cache", delay=2)
    wait_for_first_chunk(out)
    procs[1].send_signal(signal.SIGTERM)
    results = finish(procs)
    assert [rc for rc, _ in results] == [75, 75], [text[-2000:] for _, text in results]
    assert "stopped by another process after evaluation" in results[0][1]
    assert "stopped by SIGTERM after evaluation" in results[1][1]
    assert not load_run(out).completed.all()
    results = finish(start_processes(2, tmp / "tiny.py", out, tmp / "cache"))
    for rc, text in results:
        assert rc == 0, text[-3000:]
    assert_same_store(load_run(out), ref)


@pytest.mark.slow
def test_killed_process_stops_the_job_and_a_restart_resumes(single):
    """SIGKILL of process 1 after the first chunk: process 0 stops with an error within the
    heartbeat timeout instead of waiting forever; restarting both finishes the same store."""
    tmp, ref = single
    out = tmp / "killed"
    procs = start_processes(2, tmp / "tiny.py", out, tmp / "cache", delay=2)
    wait_for_first_chunk(out)
    procs[1].send_signal(signal.SIGKILL)
    start = time.monotonic()
    procs[0].wait(timeout=120)
    assert procs[0].returncode != 0
    assert time.monotonic() - start < 60
    finish(procs)
    assert not load_run(out).completed.all()
    results = finish(start_processes(2, tmp / "tiny.py", out, tmp / "cache"))
    for rc, text in results:
        assert rc == 0, text[-3000:]
    assert_same_store(load_run(out), ref)


def test_stop_request_is_noted_and_the_handler_restored():
    """The SIGTERM handler only notes the signal (acted on between chunks) and is removed
    afterwards; off the main thread nothing is installed."""
    import threading

    from emergence_jax.app.sweep.preemption import StopRequest

    before = signal.getsignal(signal.SIGTERM)
    stop = StopRequest()
    with stop.installed():
        assert not stop.requested()
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # Python runs the handler at the next bytecode boundary
        assert stop.requested() and stop.name() == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is before

    seen = []
    worker = threading.Thread(target=lambda: seen.append(
        StopRequest().installed().__enter__().requested()))
    worker.start()
    worker.join()
    assert seen == [False] and signal.getsignal(signal.SIGTERM) is before
