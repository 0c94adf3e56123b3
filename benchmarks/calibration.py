"""Calibration study: draw true (alpha, beta, gamma, delta), simulate a population, fit with NUTS,
and count how often the central 50% / 90% / 95% posterior intervals cover the truth.

Usage: python benchmarks/calibration.py [--datasets 100] [--workers 1] [--seeds 60] [--scales 6]
Writes benchmarks/results/calibration.json (with machine info) and prints a table.
"""
import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

LEVELS = (0.5, 0.9, 0.95)
PARAMS = ("alpha", "beta", "gamma", "delta")


def run_chunk(args):
    indices, seeds, n_scales, chains, warmup, samples = args
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from emergence_jax.analysis import fit_distribution
    from emergence_jax.analysis.simulate import SimParams, simulate_population
    out = []
    for i in indices:
        rng = np.random.default_rng(10_000 + i)
        truth = dict(alpha=rng.uniform(-1, 1), beta=rng.uniform(-1.5, 1.5),
                     gamma=rng.uniform(0.0, 1.5), delta=rng.uniform(-0.5, 0.8))
        p = SimParams(scales=tuple(np.logspace(5, 7.5, n_scales)), seeds_per_scale=seeds,
                      n_eval=50, **truth)
        fit = fit_distribution(simulate_population(p, seed=i), compare=False, seed=i,
                               chains=chains, warmup=warmup, samples=samples, progress=False,
                               warn=False)
        row = {"index": i, "truth": truth, "diagnostics_ok": fit.diagnostics.ok, "cover": {}}
        for name in PARAMS:
            d = fit.params[name][:, 0]
            row["cover"][name] = {str(lv): bool(np.quantile(d, (1 - lv) / 2) <= truth[name] <=
                                                np.quantile(d, (1 + lv) / 2)) for lv in LEVELS}
        out.append(row)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=60, help="seeds per scale")
    ap.add_argument("--scales", type=int, default=6)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "calibration.json"))
    a = ap.parse_args()
    t0 = time.perf_counter()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    chunks = [list(range(w, a.datasets, a.workers)) for w in range(a.workers)]
    jobs = [(c, a.seeds, a.scales, a.chains, a.warmup, a.samples) for c in chunks if c]
    rows = []
    if a.workers == 1:
        rows = run_chunk(jobs[0])
    else:
        with ProcessPoolExecutor(a.workers) as ex:
            for r in ex.map(run_chunk, jobs):
                rows.extend(r)
    n = len(rows)
    table = {name: {str(lv): float(np.mean([r["cover"][name][str(lv)] for r in rows]))
                    for lv in LEVELS} for name in PARAMS}
    print(f"coverage over {n} simulated datasets ({a.scales} scales x {a.seeds} seeds, n_eval 50, "
          f"NUTS {a.chains}x{a.warmup}+{a.samples})")
    print(f"{'param':8s}" + "".join(f"{f'{int(lv * 100)}%':>8s}" for lv in LEVELS))
    for name in PARAMS:
        print(f"{name:8s}" + "".join(f"{table[name][str(lv)]:8.2f}" for lv in LEVELS))
    ok = float(np.mean([r["diagnostics_ok"] for r in rows]))
    print(f"fits passing diagnostics: {100 * ok:.0f}%; {time.perf_counter() - t0:.0f} s")
    import jax
    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "jax": jax.__version__,
            "workers": a.workers, "seconds": time.perf_counter() - t0,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "date": time.strftime("%Y-%m-%d %H:%M")}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"machine": info, "settings": vars(a), "coverage": table,
                                       "diagnostics_ok_fraction": ok, "datasets": rows}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
