"""``emergence-jax fit SOURCE``: fit the distribution of seed outcomes across scales."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "fit how the distribution of seed outcomes changes with scale (NumPyro mixture vs unimodal)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a run-store directory or a long-format CSV "
                        "(columns scale, seed, value[, n_eval, group])")
    parser.add_argument("--metric", default=None, help="metric name in the run store (default: "
                        "the experiment's analysis.metric, else its task's success metric)")
    parser.add_argument("--scale-variable", default=None, help="run store: derived size to use as "
                        "scale (params, non_embedding_params, tokens, flops)")
    parser.add_argument("--out", default=None, help="write the fit to this directory")
    parser.add_argument("--model", default="mixture",
                        choices=["mixture", "unimodal", "hierarchical", "hierarchical-unimodal"])
    parser.add_argument("--method", default="nuts", choices=["nuts", "svi"])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--svi-steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, default=None,
                        help="success threshold (default: the run's analysis.threshold; 0.2 for "
                             "a CSV)")
    parser.add_argument("--chance", type=float, default=None,
                        help="pin the failure component near this chance level")
    parser.add_argument("--n-eval", type=int, default=None,
                        help="evaluation examples per seed (enables BetaBinomial counts)")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip the unimodal-vs-mixture LOO comparison (halves the time)")
    parser.add_argument("--no-progress", action="store_true")


def _load(args):
    from emergence_jax.errors import DataError
    from emergence_jax.stats.data import SeedData
    src = Path(args.source)
    if src.is_dir():
        from emergence_jax.store import load_run
        from emergence_jax.tasks import success_criterion
        run = load_run(src)
        default_metric, default_threshold = success_criterion(run.config)
        if args.threshold is None:
            args.threshold = default_threshold
        data = SeedData.from_run(run, args.metric or default_metric, args.scale_variable)
    elif src.is_file():
        data = SeedData.from_csv(src)
        if args.threshold is None:
            args.threshold = 0.2
    else:
        raise DataError(f"{src}: no such file or run directory")
    if args.n_eval is not None:
        if args.n_eval < 1:
            raise DataError("--n-eval must be a positive integer")
        data = SeedData.from_arrays(data.scale, data.value, data.seed, n_eval=args.n_eval,
                                    group=data.group, metric=data.metric,
                                    scale_variable=data.scale_variable)
    return data


def run(args) -> int:
    from emergence_jax.stats.fitted import fit_distribution
    data = _load(args)
    fit = fit_distribution(data, model=args.model, method=args.method, chains=args.chains,
                           warmup=args.warmup, samples=args.samples, seed=args.seed,
                           chance=args.chance, threshold=args.threshold,
                           compare=not args.no_compare, progress=not args.no_progress,
                           svi_steps=args.svi_steps, warn=False)
    if args.out:
        path = fit.save(args.out)
        print(f"fit written to {path}")
    print(fit.summary())
    return 0
