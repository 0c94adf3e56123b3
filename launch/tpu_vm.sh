#!/usr/bin/env bash
# Run a sweep on every worker of an existing Cloud TPU VM (single host or pod slice).
#
#   TPU=my-tpu ZONE=us-central2-b EXPERIMENT=experiments/count.py OUT=gs://my-bucket/runs/count \
#     bash launch/tpu_vm.sh [--dry-run] [--set population.num_seeds=1024 ...]
#
# Copies this checkout to every worker, installs it with the [tpu] extra, and starts
# launch/multihost.py sweep on all workers at once (JAX's multi-controller runtime finds the other
# workers itself). Exits with the sweep's status: 75 means it was preempted with its progress
# saved (rerun to resume; launch/tpu_queued.sh does that on spot capacity). --dry-run prints the
# commands instead of running them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=launch/common.sh
. "$here/common.sh"
parse_dry_run "$@"
set -- "${ARGS[@]}"
: "${TPU:?set TPU to the TPU VM name}" "${ZONE:?set ZONE}" "${EXPERIMENT:?set EXPERIMENT}" "${OUT:?set OUT (gs://...)}"
extra=""
if (($#)); then extra=$(printf ' %q' "$@"); fi
archive=/tmp/emergence_jax.tgz
run tar -C "$repo" --exclude=.git --exclude=runs --exclude=.venv -czf "$archive" .
run gcloud compute tpus tpu-vm scp "$archive" "$TPU":/tmp/ --zone "$ZONE" --worker=all
# The remote shell prints the sweep's exit status, because gcloud reports only success or
# failure of the ssh sessions; 75 on any worker is passed on.
remote="set -o pipefail; mkdir -p ~/emergence_jax && tar -C ~/emergence_jax -xzf $archive \
&& cd ~/emergence_jax && python3 -m pip install -q -e '.[tpu]' \
&& python3 launch/multihost.py sweep $(printf '%q' "$EXPERIMENT") --out $(printf '%q' "$OUT") --no-progress$extra; \
rc=\$?; echo \"emergence-jax exit status \$rc\"; exit \$rc"
log=$(mktemp)
status=0
run gcloud compute tpus tpu-vm ssh "$TPU" --zone "$ZONE" --worker=all --command "$remote" \
  2>&1 | tee "$log" || status=$?
if grep -q "emergence-jax exit status $EXIT_PREEMPTED" "$log"; then status=$EXIT_PREEMPTED; fi
rm -f "$log"
exit "$status"
