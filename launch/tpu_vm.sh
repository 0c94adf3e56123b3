#!/usr/bin/env bash
# Run an emergence_jax sweep on every worker of a Cloud TPU VM (single host or pod slice).
#
#   TPU=my-tpu ZONE=us-central2-b EXPERIMENT=experiments/count.py OUT=gs://my-bucket/runs/count \
#     bash launch/tpu_vm.sh [--set population.num_seeds=1024 ...]
#
# Copies this checkout to every worker, installs it with the [tpu] extra, and starts the same
# command on all workers at once (JAX's multi-controller runtime).
set -euo pipefail
: "${TPU:?set TPU to the TPU VM name}" "${ZONE:?set ZONE}" "${EXPERIMENT:?set EXPERIMENT}" "${OUT:?set OUT (gs://...)}"
repo=$(cd "$(dirname "$0")/.." && pwd)
tar -C "$repo" --exclude=.git --exclude=runs -czf /tmp/emergence_jax.tgz .
gcloud compute tpus tpu-vm scp /tmp/emergence_jax.tgz "$TPU":/tmp/ --zone "$ZONE" --worker=all
gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command "
  set -e; mkdir -p ~/emergence_jax && tar -C ~/emergence_jax -xzf /tmp/emergence_jax.tgz
  cd ~/emergence_jax && python3 -m pip install -q -e '.[tpu]'
  python3 launch/multihost.py sweep $EXPERIMENT --out $OUT $*"
