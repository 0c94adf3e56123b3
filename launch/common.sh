# Shared by the launch scripts (sourced, not run): --dry-run handling and the exit status that
# means "preempted, rerun".
# shellcheck shell=bash

# Exit status of an emergence-jax command stopped by SIGTERM after saving its progress
# (EX_TEMPFAIL; emergence_jax.core.errors.EXIT_PREEMPTED): rerunning the same command resumes it.
# shellcheck disable=SC2034  # used by the scripts that source this file
EXIT_PREEMPTED=75
DRY_RUN=0

# Removes a leading --dry-run from the arguments: call as `parse_dry_run "$@"; set -- "${ARGS[@]}"`.
parse_dry_run() {
  ARGS=()
  for a in "$@"; do
    if [[ $a == --dry-run ]]; then DRY_RUN=1; else ARGS+=("$a"); fi
  done
}

# Runs a command, or with --dry-run prints it (shell-quoted) instead.
run() {
  if ((DRY_RUN)); then
    local line="+" a
    for a in "$@"; do
      if [[ $a =~ ^[A-Za-z0-9_./:=,@%+-]+$ ]]; then line+=" $a"
      else line+=" '${a//\'/\'\\\'\'}'"; fi
    done
    printf '%s\n' "$line"
  else
    "$@"
  fi
}
