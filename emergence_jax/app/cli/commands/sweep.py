"""``emergence-jax sweep EXPERIMENT.py``: train every scale point into a run store (resumable)."""

from __future__ import annotations

import argparse

from emergence_jax.app.cli.commands.common import (add_experiment_arguments,
                                                   add_nest_argument, load)

HELP = "train every scale point of an experiment into a run store; rerun to resume"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_experiment_arguments(parser)
    parser.add_argument("--out", default=None, metavar="RUN_DIR",
                        help="run store: a directory or a URL such as gs://bucket/run "
                             "(default: runs/<experiment name>)")
    parser.add_argument("--overwrite", action="store_true",
                        help="delete a run store already at --out and start over (otherwise a "
                             "run with the same config resumes and a different one is refused)")
    parser.add_argument("--break-lock", action="store_true",
                        help="take over the run store's writer lock from a process that no "
                             "longer runs (e.g. on another host); see docs/run-store.md")
    add_nest_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from emergence_jax.app.sweep import default_out, run_sweep

    cfg = load(args)
    out = args.out or default_out(cfg)
    result = run_sweep(cfg, out, overwrite=args.overwrite, progress=not args.no_progress,
                       break_lock=args.break_lock)
    print(f"run store: {result.path} ({int(result.completed.sum())}/{len(result.completed)} "
          "scale points complete)")
    return 0
