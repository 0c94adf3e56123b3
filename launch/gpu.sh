#!/usr/bin/env bash
# Run the whole job (sweep + fit + report) on one machine with one or more NVIDIA GPUs.
#
#   bash launch/gpu.sh [--dry-run] EXPERIMENT.py [--out RUN_DIR] [--set population.num_seeds=1024 ...]
#
# The seed axis is sharded over every visible GPU (one process; restrict with
# CUDA_VISIBLE_DEVICES). Exit status 75: stopped by SIGTERM with its progress saved; run the same
# command again to resume. --dry-run prints the commands instead of running them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=launch/common.sh
. "$here/common.sh"
parse_dry_run "$@"
set -- "${ARGS[@]}"
if (($# < 1)); then
  echo "usage: bash launch/gpu.sh [--dry-run] EXPERIMENT.py [emergence-jax run options]" >&2
  exit 2
fi
cd "$here/.."
run python3 -m pip install -q -e ".[cuda]"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
run emergence-jax run "$@"
