"""``emergence-jax inspect RUN_DIR``: what a run store holds and how far it got."""

from __future__ import annotations

import argparse

HELP = "show what a run store holds: scale points, seeds, eval steps, completion, headline metrics"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="run store directory or URL (e.g. gs://bucket/run)")
    parser.add_argument("--verify", action="store_true",
                        help="check every written chunk against the store's chunk ledger and "
                             "list the missing or corrupt ones (exit status 1 if any)")


def verify(run_dir: str) -> int:
    from emergence_jax.io.run_store import verify_run
    meta, problems = verify_run(run_dir)
    chunks = sum(c // meta["chunk_evals"] for c in meta["completion"])
    if not problems:
        print(f"verify        ok: all {chunks} written metrics chunks and the seeds' flags are "
              "present and hold what was written")
        return 0
    print(f"verify        {len(problems)} damaged chunk(s) of {chunks} written:")
    for line in problems:
        print(f"  {line}")
    print("rerun the sweep with the same config to re-train them (they are re-trained from the "
          "nearest checkpoint)")
    return 1


def run(args: argparse.Namespace) -> int:
    from emergence_jax.io.run_store import load_run
    from emergence_jax.app.sweep import run_summary_lines

    if args.verify:
        return verify(args.run_dir)
    run_ = load_run(args.run_dir)
    p, s, e, m = run_.metrics.shape
    cfg = run_.config
    print(f"run store     {run_.path}")
    print(f"experiment    {run_.meta.get('name', cfg.get('name'))}  (task "
          f"{cfg.get('task', {}).get('name')}, fingerprint {run_.fingerprint[:12]})")
    axes = ", ".join(run_.axes) or "none (one scale point)"
    print(f"scale points  {p}  (axes: {axes}; mode {run_.meta.get('sweep_mode')}; scale variable "
          f"{run_.scale_variable})")
    print(f"seeds         {s}  ({run_.seeds[0]}..{run_.seeds[-1]})" if s else "seeds         0")
    steps = run_.eval_steps
    print(f"eval steps    {e}  ({steps[0]}..{steps[-1]} every {steps[0]})" if e else
          "eval steps    0")
    if len(set(run_.num_evals)) > 1:  # points trained for different numbers of steps
        ends = ", ".join(str(run_.eval_steps[n - 1]) for n in run_.num_evals)
        print(f"last eval     per scale point: {ends}")
    print(f"metrics       {m}  ({', '.join(run_.metric_names)})")
    print(f"eval examples {run_.eval_examples}")
    print(f"complete      {int(run_.completed.sum())}/{p} scale points")
    for line in run_summary_lines(run_):
        print(line)
    return 0
