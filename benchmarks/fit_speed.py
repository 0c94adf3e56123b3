"""Fit time and peak memory on CPU: {scales} scales x {100, 1,000, 10,000} seeds, NUTS (4 chains,
500 + 500) and SVI, with the default fit settings (the hurdle model, every P(success) curve form
sampled and compared, no comparison with the unimodal model); ``--models hurdle,mixture`` adds the
latent mixture. Outcomes are counts out of 100 (``counts``, the BetaBinomial likelihood) or
continuous values in [0, 1] (``continuous``: the zero/one-inflated Beta, binned above 20,000
seeds — see ``analysis.value_bins``).

Each configuration runs in a fresh process with an empty persistent compilation cache, so "cold"
includes tracing and compiling the samplers; "warm" is a second fit of new data of the same size
in that process (the compiled samplers are reused); "cached" is the first fit in another fresh
process that finds the cold process's programs in the compilation cache (what the next
``emergence-jax fit`` of data of that size pays: tracing, no compiling; ``core.compilation_cache``).
"peak_rss_gb" is the larger of the two processes' peak resident memory (fits, data and checks
included).
Usage: python benchmarks/fit_speed.py [--sizes 100,1000,10000] [--methods nuts,svi]
           [--models hurdle] [--outcomes counts,continuous] [--scales 10]
The issue targets: continuous, 10 x 10,000 NUTS < 60 s; 100 x 10,000 SVI < 60 s; 200,004 rows
(6 x 33,334, SVI) peak < 4 GB:
    python benchmarks/fit_speed.py --outcomes continuous --sizes 10000 --methods nuts
    python benchmarks/fit_speed.py --outcomes continuous --sizes 10000 --methods svi --scales 100
    python benchmarks/fit_speed.py --outcomes continuous --sizes 33334 --methods svi --scales 6
Writes benchmarks/results/fit_speed_cpu.json (``--out`` to write elsewhere; ``--append`` adds the
rows to the file's existing ones).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from emergence_jax.core.compilation_cache import ENV

CHILD = r"""
import json, resource, sys, time
import numpy as np
from emergence_jax.analysis import fit_distribution, simulate_population
from emergence_jax.core.compilation_cache import enable_compilation_cache
enable_compilation_cache()
seeds, method, model = int(sys.argv[1]), sys.argv[2], sys.argv[3]
outcomes, scales, runs = sys.argv[4], int(sys.argv[5]), sys.argv[6].split(",")
out = {}
for label, s in (("cold", 0), ("warm", 1), ("cached", 0)):
    if label not in runs:
        continue
    d = simulate_population("emergent", seed=s, seeds_per_scale=seeds,
                            n_eval=100 if outcomes == "counts" else None,
                            p_zero_fail=0.0 if outcomes == "counts" else 0.3,
                            scales=tuple(np.logspace(5, 8, scales)))
    t = time.perf_counter()
    f = fit_distribution(d, method=method, model=model, compare=False, progress=False,
                         warn=False)
    out[label] = time.perf_counter() - t
    out[label + "_ok"] = bool(f.diagnostics.ok)
    out[label + "_check_ok"] = bool(f.check().ok)
    if f.diagnostics.method == "nuts":
        out[label + "_ess_bulk_min"] = f.diagnostics.ess_bulk_min
        out[label + "_divergences"] = f.diagnostics.divergences
out["curve"] = f.curve_form
out["value_bins"] = f.spec.bins
out["p_success_middle"] = float(f.p_success(1e6 * 10 ** 0.5).mean)
out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20   # KiB -> GiB
print(json.dumps(out))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--methods", default="nuts,svi")
    ap.add_argument("--models", default="hurdle")
    ap.add_argument("--outcomes", default="counts", help="counts,continuous")
    ap.add_argument("--scales", type=int, default=10)
    ap.add_argument("--append", action="store_true", help="keep the out file's earlier rows")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "fit_speed_cpu.json"))
    a = ap.parse_args()
    import jax
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    rows = []
    if a.append and Path(a.out).exists():
        rows = json.loads(Path(a.out).read_text())["results"]
    for model, method, outcomes in ((m, me, o) for m in a.models.split(",")
                                    for me in a.methods.split(",")
                                    for o in a.outcomes.split(",")):
        for seeds in (int(s) for s in a.sizes.split(",")):
            t = time.perf_counter()
            load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
            with tempfile.TemporaryDirectory() as cache:
                r = {}
                for runs in ("cold,warm", "cached"):
                    res = subprocess.run([sys.executable, "-c", CHILD, str(seeds), method, model,
                                          outcomes, str(a.scales), runs],
                                         env={**env, ENV: cache}, capture_output=True, text=True)
                    if res.returncode != 0:
                        print(res.stderr[-2000:], file=sys.stderr)
                        raise SystemExit(1)
                    part = json.loads(res.stdout.strip().splitlines()[-1])
                    part["peak_rss_gb"] = max(part["peak_rss_gb"], r.get("peak_rss_gb", 0.0))
                    r.update(part)
            r.update({"model": model, "method": method, "outcomes": outcomes,
                      "scales": a.scales, "seeds_per_scale": seeds,
                      "total_seeds": a.scales * seeds, "process_seconds": time.perf_counter() - t,
                      "load_average_before": load_before,
                      "load_average_after": os.getloadavg() if hasattr(os, "getloadavg") else None})
            rows.append(r)
            print(f"{model:8s} {method:5s} {outcomes:10s} {a.scales:3d} x {seeds:>6d} seeds: cold "
                  f"{r['cold']:7.1f} s  cached {r['cached']:7.1f} s  warm {r['warm']:7.1f} s  "
                  f"peak {r['peak_rss_gb']:.2f} GiB  "
                  f"diagnostics ok {r['cold_ok']}/{r['warm_ok']}  "
                  f"check ok {r['cold_check_ok']}/{r['warm_check_ok']}  load "
                  f"{load_before[0] if load_before else float('nan'):.1f}", flush=True)
    info = {"platform": platform.platform(), "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
            "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(), "jax": jax.__version__,
            "load_average_at_end": os.getloadavg() if hasattr(os, "getloadavg") else None,
            "load_note": "os.getloadavg() (1, 5, 15 min) before and after each configuration; the "
                         "2-core machine was shared with other jobs, so a load above ~2 means this "
                         "benchmark had less than the full two cores",
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "settings": "default fit settings: hurdle model, curve auto (4 forms, each its own "
                        "NUTS run of one compiled sampler, and the within-side NUTS run); NUTS 4 "
                        "chains vectorized, 500 warmup + 500 samples, dense mass matrix, chains "
                        "started from the Laplace approximation, float64; SVI AutoNormal 3000 "
                        "steps; counts: BetaBinomial n_eval=100; continuous: zoib (30% of the failures "
                        "at exactly 0), binned to 512 bins per side above 20,000 seeds; "
                        "compare=False; the timed fit includes its "
                        "predictive check; the within-side sampler runs in a second thread; cold = "
                        "first fit in a fresh process with an empty persistent compilation cache "
                        "(tracing and compilation included), warm = second fit of new data in the "
                        "same process, cached = first fit in another fresh process whose "
                        "compilation cache holds the cold process's programs; peak_rss_gb is the "
                        "larger of the two processes'"}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"machine": info, "results": rows}, indent=1))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
