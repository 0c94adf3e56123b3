"""``emergence-jax train EXPERIMENT.py [--set ...]``: train one population at the experiment's base
scale point (ignoring ``sweep.axes``) and print a table of per-seed results."""

from __future__ import annotations

import time

import numpy as np

from emergence_jax.app.cli.commands.common import add_experiment_arguments, load

HELP = "train one population (the experiment's base scale point) and print per-seed results"


def add_arguments(parser) -> None:
    add_experiment_arguments(parser)
    parser.add_argument("--metrics", nargs="*", default=None,
                        help="metrics to print (default: loss and exact match of every eval set)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def format_seed_table(seed_ids, final: dict[str, np.ndarray], diverged: np.ndarray,
                      names: list[str]) -> str:
    header = ["seed"] + names + ["diverged"]
    rows = [[str(s)] + [f"{final[n][i]:.3f}" for n in names] + ["yes" if diverged[i] else ""]
            for i, s in enumerate(seed_ids)]
    widths = [max(len(r[j]) for r in [header] + rows) for j in range(len(header))]
    line = lambda r: "  ".join(c.rjust(w) for c, w in zip(r, widths))  # noqa: E731
    return "\n".join([line(header)] + [line(r) for r in rows])


def run(args) -> int:
    cfg = load(args)
    from emergence_jax.core.population import Population  # heavy import after the config is valid
    from emergence_jax.core.sizing import check_memory

    check_memory(cfg, host_copies=False)  # before anything is allocated
    pop = Population(cfg)
    sizes = pop.sizes()
    print(f"{cfg.name}: {pop.num_seeds} seeds on {pop.mesh.devices.size} device(s), "
          f"{sizes['params']:,} params, {cfg.train.steps} steps")
    names = args.metrics or [n for n in pop.metric_names
                             if n.endswith(("/loss", "/exact_match")) and not n.startswith("train/")]
    unknown = [n for n in names if n not in pop.metric_names]
    if unknown:  # checked before any training
        from emergence_jax.core.errors import ConfigError
        raise ConfigError(f"--metrics: unknown metric {unknown[0]!r}; allowed: "
                          f"{', '.join(pop.metric_names)}")
    start = time.perf_counter()
    state, metrics = pop.train(progress=not args.no_progress)
    elapsed = time.perf_counter() - start
    status = pop.seed_status(state)
    final = {n: metrics[n][:, -1] for n in names}
    print(format_seed_table(pop.seed_ids, final, status["diverged"], names))
    summary = "  ".join(f"{n} mean {np.nanmean(final[n]):.3f}" for n in names)
    print(f"{summary}\n{int(status['diverged'].sum())} diverged; "
          f"{pop.num_seeds * cfg.train.steps / elapsed:,.0f} seed-steps/s "
          f"({elapsed:.1f} s incl. compilation)")
    return 0
