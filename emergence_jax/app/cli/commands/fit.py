"""``emergence-jax fit SOURCE``: fit the distribution of seed outcomes across scales."""

from __future__ import annotations

import argparse
from emergence_jax.app.cli.commands.common import add_settings_arguments, settings_overrides

HELP = ("fit how the distribution of seed outcomes (or, with --model emergence-time, of the step "
        "at which seeds emerge) changes with scale (NumPyro: hurdle, latent mixture, unimodal or "
        "emergence-time models), check the fit against the data")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a run store (a directory or a URL such as "
                        "gs://bucket/run) or a long-format CSV (columns scale, seed, value"
                        "[, n_eval, group])")
    parser.add_argument("--out", default=None, help="write the fit to this directory")
    parser.add_argument("--n-eval", type=int, default=None,
                        help="CSV: evaluation examples per seed (enables BetaBinomial counts)")
    parser.add_argument("--duplicates", choices=["error", "mean"], default="error",
                        help="CSV: a (scale, seed[, group]) given on several rows is an error "
                             "(default), or merged: values averaged, evaluations pooled "
                             "(see docs/seed-csv.md)")
    parser.add_argument("--no-progress", action="store_true")
    add_settings_arguments(parser, "the run's analysis section (a run store) or the defaults "
                                   "(a CSV)")


def _load(args):
    """(data, settings): the outcomes to fit and the settings to fit them with."""
    from emergence_jax.analysis import SeedData, resolve_settings
    from emergence_jax.analysis.fitting import fit_data, settings_for_run
    from emergence_jax.core.config import EMERGENCE_TIME_MODELS
    from emergence_jax.core.errors import DataError
    from emergence_jax.io.location import Location
    overrides = settings_overrides(args)
    loc = Location(args.source)
    src = loc.local
    if src is None or src.is_dir():  # a run store: a directory or a URL such as gs://bucket/run
        from emergence_jax.io.run_store import load_run
        run = load_run(loc)
        settings = settings_for_run(run, resolve_settings(settings_for_run(run), **overrides))
        data = fit_data(run, settings)
    elif src.is_file():
        settings = resolve_settings(None, **overrides)
        if settings.model in EMERGENCE_TIME_MODELS:
            raise DataError(f"{src}: --model {settings.model} reads learning curves; give a run "
                            "store, not a CSV of final outcomes")
        data = SeedData.from_csv(src, metric=settings.metric or None,
                                 duplicates=args.duplicates)
    else:
        raise DataError(f"{src}: no such file or run directory")
    if args.n_eval is not None and isinstance(data, SeedData):
        if args.n_eval < 1:
            raise DataError("--n-eval must be a positive integer")
        data = SeedData.from_arrays(data.scale, data.value, data.seed, n_eval=args.n_eval,
                                    group=data.group, metric=data.metric,
                                    scale_variable=data.scale_variable)
    return data, settings


def run(args) -> int:
    import sys

    from emergence_jax.analysis import fit_distribution
    from emergence_jax.io.fit_store import check_fit_target
    data, settings = _load(args)
    if args.out:
        check_fit_target(args.out)  # before fitting: a fit is never lost for want of a place
    fit = fit_distribution(data, settings, progress=not args.no_progress, warn=False)
    if args.out:
        path = fit.save(args.out)
        print(f"fit written to {path}")
    print(fit.summary())
    for message in fit.warnings():      # failed diagnostics and failed predictive checks
        print(f"WARNING: {message}", file=sys.stderr)
    return 0
