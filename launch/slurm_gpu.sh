#!/usr/bin/env bash
#SBATCH --job-name=emergence-jax
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=8
#SBATCH --gpus-per-node=8
#SBATCH --time=24:00:00
#SBATCH --signal=TERM@120
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=emergence-jax-%j.log
# A sweep on several GPU nodes under SLURM: one process per GPU (srun), which JAX's
# multi-controller runtime finds from SLURM's variables (no JAX_* settings needed).
#
#   EXPERIMENT=experiments/count.py OUT=/shared/runs/count \
#     bash launch/slurm_gpu.sh [--dry-run] [sbatch options ...] -- [--set population.num_seeds=1024 ...]
#
# Run outside a job, it submits itself with sbatch (options before `--` go to sbatch, e.g.
# --nodes=4 --gpus-per-node=4 --ntasks-per-node=4 --partition=gpu); inside the job it runs
# `srun python launch/multihost.py sweep ...`. OUT must be on storage every node sees. SLURM sends
# SIGTERM 120 s before the time limit (--signal): the sweep saves a checkpoint and exits 75, and
# the job requeues itself, resuming where it stopped. --dry-run prints the commands instead.
set -euo pipefail
if [[ -n ${SLURM_SUBMIT_DIR:-} && -f ${SLURM_SUBMIT_DIR}/launch/common.sh ]]; then
  repo=$SLURM_SUBMIT_DIR  # sbatch runs a copy of this file from a spool folder
else
  repo=$(cd "$(dirname "$0")/.." && pwd)
fi
# shellcheck source=launch/common.sh
. "$repo/launch/common.sh"
parse_dry_run "$@"
set -- "${ARGS[@]}"
: "${EXPERIMENT:?set EXPERIMENT}" "${OUT:?set OUT (shared storage)}"
sbatch_args=()
while (($#)) && [[ $1 != -- ]]; do sbatch_args+=("$1"); shift; done
if (($#)); then shift; fi  # the --

if [[ -z ${SLURM_JOB_ID:-} ]]; then
  cd "$repo"
  run sbatch "${sbatch_args[@]}" --export=ALL,EXPERIMENT="$EXPERIMENT",OUT="$OUT" \
    launch/slurm_gpu.sh -- "$@"
  if ((!DRY_RUN)); then exit 0; fi
  echo "# then, in the job:"
fi

cd "$repo"
export XLA_PYTHON_CLIENT_PREALLOCATE=false
status=0
# Every task gets SLURM's SIGTERM (--signal, no B:): each saves and exits 75 after the same chunk.
run srun python3 launch/multihost.py sweep "$EXPERIMENT" --out "$OUT" --no-progress "$@" \
  || status=$?
if ((status == EXIT_PREEMPTED)) && ((!DRY_RUN)); then
  echo "preempted: requeueing job $SLURM_JOB_ID to resume" >&2
  scontrol requeue "$SLURM_JOB_ID"
fi
exit "$status"
