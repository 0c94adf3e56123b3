# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Fit your own per-seed results
#
# Bring a CSV in long format — one row per seed and scale — with columns `scale` (raw, e.g. a
# parameter count), `seed`, `value` (a metric in [0, 1]) and optionally `n_eval` (number of
# evaluation examples behind `value`) and `group` (task or metric name). This notebook fits the
# success/failure mixture and answers questions about scales you did not train.

# %%
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("emergence_jax") is None:
    repo = os.environ.get("EMERGENCE_JAX_REPO", "https://github.com/emergence-jax/emergence_jax")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{repo}"], check=True)

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from emergence_jax.analysis import SeedData, fit_distribution, load_fit, preset, simulate_population

CSV = os.environ.get("EMERGENCE_JAX_CSV", "")  # path to your CSV; empty = a simulated example
SAMPLES = int(os.environ.get("EMERGENCE_JAX_SAMPLES", "500"))
OUT = Path(os.environ.get("EMERGENCE_JAX_OUT", "runs/my_fit"))

# %% [markdown]
# ## 1. Load (or simulate) the data
# Without a CSV, we simulate a population whose success probability rises with scale and write
# it to a CSV, so the rest of the notebook is exactly what you would run on your own file.

# %%
if not CSV:
    data = simulate_population(preset("emergent"), seed=0)
    CSV = "simulated_population.csv"
    data.to_csv(CSV)
data = SeedData.from_csv(CSV)
print(data.summary())

# %% [markdown]
# ## 2. Fit
# NUTS with 4 chains; the unimodal alternative is fitted too and compared by PSIS-LOO.

# %%
fit = fit_distribution(data, model="mixture", warmup=SAMPLES, samples=SAMPLES, progress=False)
print(fit.summary())
fit.save(OUT)

# %% [markdown]
# ## 3. Plot the data with the fitted P(success)

# %%
scales = data.scales
grid = np.exp(np.linspace(np.log(scales.min()) - 0.5, np.log(scales.max()) + 0.5, 50))
band = fit.p_success(grid)
fig, ax = plt.subplots(figsize=(6, 4))
ax.fill_between(grid, band.lower, band.upper, alpha=0.25, label="credible band")
ax.plot(grid, band.mean, label="posterior mean")
empirical = [np.mean(fit.criterion.succeeded(data.value[data.scale == s])) for s in scales]
ax.plot(scales, empirical, "ko", label=f"fraction with {fit.criterion}")
ax.set_xscale("log")
ax.set_xlabel("scale (log)")
ax.set_ylabel("P(success)")
ax.legend()
plt.show()

# %% [markdown]
# ## 4. Query — also after `load_fit` in another session

# %%
fit = load_fit(OUT)
unseen = float(scales.max()) * 3
print("P(success) at an unseen scale:", fit.p_success(unseen))
print("success-mode mean there:", fit.success_mean(unseen))
print("breakthrough scale:", fit.breakthrough_scale(0.5))
print("per-seed P(success component), first 5:", np.round(fit.seed_success_probability()[:5], 3))
