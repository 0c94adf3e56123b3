"""The launch scripts: shellcheck-clean, and each one's --dry-run prints the commands it would run
(gcloud, sbatch/srun, pip, emergence-jax) without running anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "launch").glob("*.sh"))


def test_scripts_exist():
    assert {p.name for p in SCRIPTS} >= {"common.sh", "gpu.sh", "tpu_vm.sh", "tpu_queued.sh",
                                         "slurm_gpu.sh"}


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="shellcheck is not installed (apt-get install shellcheck)")
def test_shellcheck():
    proc = subprocess.run(["shellcheck", "-x", *[str(p.relative_to(REPO)) for p in SCRIPTS]],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def tools(tmp_path_factory) -> str:
    """A PATH with only the shell tools the scripts use: no gcloud, sbatch, srun, pip or
    emergence-jax, so a command that --dry-run failed to hold back fails instead of running."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for name in ("bash", "dirname", "mktemp", "tee", "grep", "rm", "cat"):
        (bin_dir / name).symlink_to(shutil.which(name))
    return str(bin_dir)


def dry_run(tools: str, script: str, *args: str, **env: str) -> list[str]:
    """The command lines (``+ ...``) printed by ``script --dry-run``, with no SLURM job or TPU
    settings inherited from the environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TPU", "ZONE"))}
    base["PATH"] = tools
    proc = subprocess.run([f"{tools}/bash", str(REPO / "launch" / script), "--dry-run", *args],
                          cwd=REPO, env=dict(base, **env), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not list(REPO.glob("emergence-jax-*.log"))
    return [line[2:] for line in proc.stdout.splitlines() if line.startswith("+ ")]


def test_gpu_dry_run(tools):
    lines = dry_run(tools, "gpu.sh", "experiments/quickstart.py", "--set", "population.num_seeds=8")
    assert lines == ["python3 -m pip install -q -e '.[cuda]'",
                     "emergence-jax run experiments/quickstart.py --set population.num_seeds=8"]


TPU_ENV = dict(TPU="my-tpu", ZONE="us-central2-b", EXPERIMENT="experiments/count.py",
               OUT="gs://bucket/runs/count")


def test_tpu_vm_dry_run(tools):
    lines = dry_run(tools, "tpu_vm.sh", "--set", "population.num_seeds=64", **TPU_ENV)
    assert lines[1] == ("gcloud compute tpus tpu-vm scp /tmp/emergence_jax.tgz my-tpu:/tmp/ "
                        "--zone us-central2-b --worker=all")
    ssh = lines[2]
    assert ssh.startswith("gcloud compute tpus tpu-vm ssh my-tpu --zone us-central2-b "
                          "--worker=all --command ")
    assert ("python3 launch/multihost.py sweep experiments/count.py --out gs://bucket/runs/count "
            "--no-progress --set population.num_seeds=64") in ssh


def test_tpu_queued_dry_run(tools):
    lines = dry_run(tools, "tpu_queued.sh", ACCELERATOR_TYPE="v4-32",
                    RUNTIME_VERSION="tpu-ubuntu2204-base", **TPU_ENV)
    assert lines[0] == ("gcloud compute tpus queued-resources create my-tpu --zone us-central2-b "
                        "--node-id my-tpu --accelerator-type v4-32 --runtime-version "
                        "tpu-ubuntu2204-base --spot")
    assert any("tpu-vm ssh my-tpu" in line and "launch/multihost.py sweep" in line
               for line in lines)
    assert "(while the sweep exits 75" in lines[-2]
    assert lines[-1] == ("gcloud compute tpus queued-resources delete my-tpu --zone us-central2-b "
                         "--force --quiet")
    on_demand = dry_run(tools, "tpu_queued.sh", ACCELERATOR_TYPE="v4-8",
                        RUNTIME_VERSION="tpu-ubuntu2204-base", SPOT="0", **TPU_ENV)
    assert not on_demand[0].endswith("--spot")


def test_slurm_dry_run(tools):
    env = dict(EXPERIMENT="experiments/count.py", OUT="/shared/runs/count")
    lines = dry_run(tools, "slurm_gpu.sh", "--nodes=4", "--partition=gpu", "--", "--set",
                    "population.num_seeds=64", **env)
    assert lines == [
        "sbatch --nodes=4 --partition=gpu --export=ALL,EXPERIMENT=experiments/count.py,"
        "OUT=/shared/runs/count launch/slurm_gpu.sh -- --set population.num_seeds=64",
        "srun python3 launch/multihost.py sweep experiments/count.py --out /shared/runs/count "
        "--no-progress --set population.num_seeds=64"]
    # inside the job (as sbatch starts it): srun only
    in_job = dry_run(tools, "slurm_gpu.sh", "--", "--set", "population.num_seeds=64",
                     SLURM_JOB_ID="7", SLURM_SUBMIT_DIR=str(REPO), **env)
    assert in_job == lines[1:]


def test_missing_settings_are_named(tools):
    proc = subprocess.run([f"{tools}/bash", str(REPO / "launch" / "tpu_vm.sh"), "--dry-run"], cwd=REPO,
                          env={"PATH": tools}, capture_output=True, text=True)
    assert proc.returncode != 0 and "set TPU" in proc.stderr
