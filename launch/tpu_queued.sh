#!/usr/bin/env bash
# Run a sweep to completion on spot (preemptible) Cloud TPU capacity through a queued resource:
# request the TPU, wait until it is ACTIVE, run the sweep on all its workers (launch/tpu_vm.sh),
# and when the TPU is preempted (the sweep exits 75, or the VM is gone), delete the request and
# queue a new one; repeat until the sweep exits 0. The run store (gs://) keeps the progress.
#
#   TPU=my-tpu ZONE=us-central2-b ACCELERATOR_TYPE=v4-32 RUNTIME_VERSION=tpu-ubuntu2204-base \
#   EXPERIMENT=experiments/count.py OUT=gs://my-bucket/runs/count \
#     bash launch/tpu_queued.sh [--dry-run] [--set population.num_seeds=1024 ...]
#
# ACCELERATOR_TYPE picks a single host (v4-8, v5litepod-8) or a pod slice (v4-32, ...);
# SPOT=0 asks for on-demand capacity instead; MAX_ATTEMPTS (default 20) bounds the re-queues.
# --dry-run prints the commands of one attempt instead of running them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=launch/common.sh
. "$here/common.sh"
parse_dry_run "$@"
set -- "${ARGS[@]}"
: "${TPU:?set TPU (the TPU VM and queued-resource name)}" "${ZONE:?set ZONE}"
: "${ACCELERATOR_TYPE:?set ACCELERATOR_TYPE (e.g. v4-8, v4-32)}" "${RUNTIME_VERSION:?set RUNTIME_VERSION (e.g. tpu-ubuntu2204-base)}"
: "${EXPERIMENT:?set EXPERIMENT}" "${OUT:?set OUT (gs://...)}"
export TPU ZONE EXPERIMENT OUT
spot=()
if [[ ${SPOT:-1} == 1 ]]; then spot=(--spot); fi
max_attempts=${MAX_ATTEMPTS:-20}

state() {
  gcloud compute tpus queued-resources describe "$TPU" --zone "$ZONE" \
    --format='value(state.state)' 2>/dev/null || echo MISSING
}

queue() {
  run gcloud compute tpus queued-resources create "$TPU" --zone "$ZONE" --node-id "$TPU" \
    --accelerator-type "$ACCELERATOR_TYPE" --runtime-version "$RUNTIME_VERSION" "${spot[@]}"
  if ((DRY_RUN)); then
    echo "+ (poll: gcloud compute tpus queued-resources describe $TPU --zone $ZONE until ACTIVE)"
    return
  fi
  local s
  while true; do
    s=$(state)
    case $s in
      ACTIVE) return ;;
      FAILED|SUSPENDED|MISSING) echo "queued resource $TPU is $s" >&2; return 1 ;;
      *) sleep 60 ;;
    esac
  done
}

release() {
  run gcloud compute tpus queued-resources delete "$TPU" --zone "$ZONE" --force --quiet
}

dry=()
if ((DRY_RUN)); then dry=(--dry-run); fi
for ((attempt = 1; attempt <= max_attempts; attempt++)); do
  if ((DRY_RUN)) || [[ $(state) != ACTIVE ]]; then
    if ((!DRY_RUN)) && [[ $(state) != MISSING ]]; then release; fi
    queue || continue
  fi
  status=0
  bash "$here/tpu_vm.sh" "${dry[@]}" "$@" || status=$?
  if ((DRY_RUN)); then
    echo "+ (while the sweep exits $EXIT_PREEMPTED or the TPU is preempted: delete, queue again, rerun)"
    release
    exit 0
  fi
  if ((status == 0)); then
    echo "sweep complete: $OUT"
    release
    exit 0
  fi
  if ((status != EXIT_PREEMPTED)) && [[ $(state) == ACTIVE ]]; then
    echo "the sweep failed with exit status $status on a live TPU; not retrying" >&2
    exit "$status"
  fi
  echo "attempt $attempt: preempted (exit status $status, TPU $(state)); queueing again" >&2
done
echo "gave up after $max_attempts attempts; rerun this script to continue" >&2
exit "$EXIT_PREEMPTED"
