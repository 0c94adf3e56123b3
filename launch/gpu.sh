#!/usr/bin/env bash
# Run a sweep (or the whole sweep + fit + report job) on a machine with one or more NVIDIA GPUs.
#
#   bash launch/gpu.sh experiments/quickstart.py [--set population.num_seeds=1024 ...]
#
# The seed axis is sharded over every visible GPU; restrict with CUDA_VISIBLE_DEVICES.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -e ".[cuda]"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
exec emergence-jax run "$@"
