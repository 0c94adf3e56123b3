"""``emergence-jax simulate OUT.csv``: write a simulated seed population (long-format CSV)."""

from __future__ import annotations

import argparse

HELP = "write a simulated seed population CSV from the generative mixture (presets: emergent, inverse, unimodal)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", help="CSV file to write (an existing file is replaced only with "
                        "--overwrite)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing OUT file")
    parser.add_argument("--preset", default="emergent", choices=["emergent", "inverse", "unimodal"])
    parser.add_argument("--scales", default=None,
                        help="comma-separated raw scales (default 1e5,3e5,1e6,3e6,1e7,3e7)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per scale (default 200)")
    parser.add_argument("--n-eval", type=int, default=None,
                        help="evaluation examples per seed (default 200); 0 = continuous values")
    for name in ("alpha", "beta", "gamma", "delta"):
        parser.add_argument(f"--{name}", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)


def run(args) -> int:
    from emergence_jax.core.errors import DataError
    from emergence_jax.analysis.simulate import preset, simulate_population
    over = {}
    if args.scales:
        try:
            over["scales"] = tuple(float(s) for s in args.scales.split(","))
        except ValueError:
            raise DataError(f"--scales: not a comma-separated list of numbers: {args.scales!r}") from None
    if args.seeds is not None:
        over["seeds_per_scale"] = args.seeds
    if args.n_eval is not None:
        over["n_eval"] = None if args.n_eval == 0 else args.n_eval
    for name in ("alpha", "beta", "gamma", "delta"):
        if getattr(args, name) is not None:
            over[name] = getattr(args, name)
    from emergence_jax.io.location import Location
    target = Location(args.out).require_local("simulate")
    if target.is_dir():
        raise DataError(f"{target} is a directory; give the name of the CSV file to write")
    if target.exists() and not args.overwrite:
        raise DataError(f"{target} exists; simulate does not replace a file unless you pass "
                        "--overwrite (or choose another name)")
    Location(target.parent).check_writable()
    params = preset(args.preset, **over)
    data = simulate_population(params, seed=args.seed)
    data.to_csv(args.out)
    print(f"wrote {len(data)} seeds ({len(data.scales)} scales, preset {args.preset}) to {args.out}")
    return 0
