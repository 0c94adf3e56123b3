"""Calibration studies.

parameters (the default): draw true (alpha, beta, gamma, delta), simulate a population from the
    latent mixture, fit the mixture with NUTS, and count how often the central 50% / 90% / 95%
    posterior intervals cover the truth.
    python benchmarks/calibration.py [--datasets 100] [--workers 1] [--seeds 60] [--scales 6]
    -> benchmarks/results/calibration.json
generators: populations from generators outside every fitted model's family
    (``emergence_jax.analysis.simulate.GENERATORS``: plateaus, floors, steps, slow rises, 1/n grids
    with exact 0s and 1s, drifting modes, inverse and U-shaped scaling, few seeds per scale),
    fitted with the default settings (hurdle model, curve 'auto', NUTS 4 x 500 + 500). Per
    generator: max over the scales of |posterior mean P(success) - truth| (target <= 0.08) and the
    share of (replicate, scale) pairs whose 90% interval covers the truth (target 80-97%).
    python benchmarks/calibration.py --suite generators [--replicates 6] [--only plateau,grid]
    -> benchmarks/results/calibration_generators.json

Both print a table and write the machine's description with the results.
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


def run_generators(args):
    names, replicates = args
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    from emergence_jax.analysis import fit_distribution
    from emergence_jax.analysis.simulate import simulate_outside
    out = []
    for name in names:
        for rep in range(replicates):
            data, truth = simulate_outside(name, seed=1000 + rep)
            t = time.perf_counter()
            fit = fit_distribution(data, threshold=0.5, compare=False, seed=rep, progress=False,
                                   warn=False)
            ps = fit.p_success(data.scales)
            err = np.abs(ps.mean - truth)
            out.append({"generator": name, "replicate": rep, "seconds": time.perf_counter() - t,
                        "max_abs_error": float(err.max()), "mean_abs_error": float(err.mean()),
                        "covered": int(((ps.lower <= truth) & (truth <= ps.upper)).sum()),
                        "scales": int(truth.size), "curve": fit.curve_form,
                        "diagnostics_ok": fit.diagnostics.ok, "check_ok": fit.check().ok,
                        "truth": truth.tolist(), "p_success": ps.mean.tolist(),
                        "lower": ps.lower.tolist(), "upper": ps.upper.tolist()})
            print(f"{name:10s} #{rep}: max |P - truth| {err.max():.3f}, curve {fit.curve_form}, "
                  f"diagnostics {'ok' if fit.diagnostics.ok else 'FAILED'}, check "
                  f"{'ok' if fit.check().ok else 'FAILED'}, {time.perf_counter() - t:.0f} s",
                  flush=True)
    return out


def generators_main(a, info_base):
    from emergence_jax.analysis.simulate import GENERATORS
    names = a.only.split(",") if a.only else list(GENERATORS)
    jobs = [(names[w::a.workers], a.replicates) for w in range(a.workers)]
    rows = []
    if a.workers == 1:
        rows = run_generators(jobs[0])
    else:
        with ProcessPoolExecutor(a.workers) as ex:
            for r in ex.map(run_generators, [j for j in jobs if j[0]]):
                rows.extend(r)
    table = {}
    for name in names:
        rs = [r for r in rows if r["generator"] == name]
        table[name] = {
            "description": GENERATORS[name].description,
            "max_abs_error_mean": float(np.mean([r["max_abs_error"] for r in rs])),
            "max_abs_error_worst": float(np.max([r["max_abs_error"] for r in rs])),
            "coverage_90": float(sum(r["covered"] for r in rs) / sum(r["scales"] for r in rs)),
            "curves": {c: sum(r["curve"] == c for r in rs) for c in sorted({r["curve"] for r in rs})},
            "diagnostics_ok": float(np.mean([r["diagnostics_ok"] for r in rs])),
            "check_ok": float(np.mean([r["check_ok"] for r in rs])),
            "seconds_mean": float(np.mean([r["seconds"] for r in rs]))}
    print(f"\n{len(rows)} fits (hurdle, curve auto, NUTS 4 x 500 + 500), {a.replicates} "
          "replicates per generator; targets: max |P - truth| <= 0.08, 90% coverage 80-97%")
    print(f"{'generator':10s} {'max err (mean)':>14s} {'(worst)':>8s} {'cover 90%':>9s} "
          f"{'diag ok':>7s} {'check ok':>8s}  curves")
    for name, t in table.items():
        print(f"{name:10s} {t['max_abs_error_mean']:14.3f} {t['max_abs_error_worst']:8.3f} "
              f"{t['coverage_90']:9.2f} {t['diagnostics_ok']:7.2f} {t['check_ok']:8.2f}  "
              f"{t['curves']}")
    out = a.out or str(Path(__file__).parent / "results" / "calibration_generators.json")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    machine = {k: v for k, v in info_base.items() if k != "t0"}
    machine.update(seconds=time.perf_counter() - info_base["t0"],
                   load_average_after=os.getloadavg() if hasattr(os, "getloadavg") else None)
    Path(out).write_text(json.dumps({"machine": machine, "settings": vars(a), "summary": table,
                                     "fits": rows}, indent=1))
    print(f"wrote {out}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", choices=("parameters", "generators"), default="parameters")
    ap.add_argument("--replicates", type=int, default=6, help="generators: datasets per generator")
    ap.add_argument("--only", default="", help="generators: comma-separated subset")
    ap.add_argument("--datasets", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=60, help="seeds per scale")
    ap.add_argument("--scales", type=int, default=6)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    t0 = time.perf_counter()
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    if a.suite == "generators":
        import jax
        return generators_main(a, {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                                   "python": platform.python_version(), "jax": jax.__version__,
                                   "workers": a.workers, "t0": t0,
                                   "load_average_before": load_before,
                                   "date": time.strftime("%Y-%m-%d %H:%M")})
    a.out = a.out or str(Path(__file__).parent / "results" / "calibration.json")
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
