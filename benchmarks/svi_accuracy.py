"""SVI against NUTS on the same data: how far SVI's P(success) and success-side mean are from
NUTS's, in units of NUTS's 90% interval width, and how wide SVI's intervals are relative to
NUTS's. The populations are the fit-speed benchmark's (``simulate_population('emergent')``, 10
scales, seed 0; counts out of 100, or continuous values with 30% of the failures at exactly 0);
both methods use the default settings with the logistic curve.

    python benchmarks/svi_accuracy.py [--sizes 1000,10000] [--outcomes counts,continuous]

Prints a table and writes benchmarks/results/svi_accuracy_cpu.json.
"""
import argparse
import time

import numpy as np

from common import write_results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--outcomes", default="counts,continuous")
    a = ap.parse_args()
    from emergence_jax.analysis import fit_distribution, simulate_population
    rows = []
    print(f"{'outcomes':10s} {'seeds':>14s} {'max |ΔP|/width':>15s} {'width ratio':>12s} "
          f"{'max |Δmean|':>12s} {'NUTS s':>7s} {'SVI s':>6s}")
    for outcomes in a.outcomes.split(","):
        for seeds in (int(s) for s in a.sizes.split(",")):
            counts = outcomes == "counts"
            data = simulate_population("emergent", seed=0, seeds_per_scale=seeds,
                                       n_eval=100 if counts else None,
                                       p_zero_fail=0.0 if counts else 0.3,
                                       scales=tuple(np.logspace(5, 8, 10)))
            res = {}
            for method in ("nuts", "svi"):
                t = time.perf_counter()
                f = fit_distribution(data, method=method, curve="logistic", compare=False,
                                     progress=False, warn=False)
                p = f.p_success(data.scales)
                res[method] = dict(seconds=time.perf_counter() - t, p=p.mean,
                                   width=p.upper - p.lower,
                                   mean=f.success_mean(data.scales).mean,
                                   ok=bool(f.diagnostics.ok))
            n, s = res["nuts"], res["svi"]
            row = {"outcomes": outcomes, "scales": 10, "seeds_per_scale": seeds,
                   "max_abs_dp_over_width": float(np.max(np.abs(s["p"] - n["p"]) / n["width"])),
                   "max_abs_dp": float(np.max(np.abs(s["p"] - n["p"]))),
                   "mean_width_ratio": float(np.mean(s["width"] / n["width"])),
                   "max_abs_dmean": float(np.max(np.abs(s["mean"] - n["mean"]))),
                   "nuts_seconds": n["seconds"], "svi_seconds": s["seconds"],
                   "nuts_ok": n["ok"], "svi_ok": s["ok"]}
            rows.append(row)
            print(f"{outcomes:10s} {f'10 x {seeds}':>14s} {row['max_abs_dp_over_width']:15.3f} "
                  f"{row['mean_width_ratio']:12.2f} {row['max_abs_dmean']:12.4f} "
                  f"{n['seconds']:7.1f} {s['seconds']:6.1f}", flush=True)
    print("wrote", write_results("svi_accuracy", rows, suffix="cpu"))


if __name__ == "__main__":
    main()
