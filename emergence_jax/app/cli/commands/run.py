"""``emergence-jax run EXPERIMENT.py [--set ...] [--out RUN_DIR]``: sweep, fit and report in one
command; rerunning resumes whatever is already done."""

from __future__ import annotations

from emergence_jax.app.cli.commands.common import (add_experiment_arguments,
                                                   add_nest_argument, load)

HELP = "sweep, fit and report an experiment in one command, resuming whatever is already done"


def add_arguments(parser) -> None:
    add_experiment_arguments(parser)
    parser.add_argument("--out", default=None, help="run directory (default: runs/<experiment name>)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start over when the run directory holds a different config")
    parser.add_argument("--refit", action="store_true", help="fit again even if a fit exists")
    parser.add_argument("--break-lock", action="store_true",
                        help="take over the run store's writer lock from a process that no "
                             "longer runs (see docs/run-store.md)")
    add_nest_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def run(args) -> int:
    cfg = load(args)
    from emergence_jax.app.study import run_study

    run_study(cfg, args.out, overwrite=args.overwrite, refit=args.refit,
              progress=not args.no_progress, break_lock=args.break_lock)
    return 0
