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
# # emergence_jax quickstart
#
# Train a population of small transformers at several scales, fit how the distribution of their
# outcomes changes with scale, and query the fitted distribution.
#
# Runs on a CPU in a few minutes (Colab: Runtime → Change runtime type → GPU or TPU makes the
# sweep faster; nothing else changes).

# %%
# Install (Colab or a fresh environment). Skipped when emergence_jax is already importable.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("emergence_jax") is None:
    repo = os.environ.get("EMERGENCE_JAX_REPO", "https://github.com/emergence-jax/emergence_jax")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"git+{repo}"], check=True)

# %%
from pathlib import Path

import numpy as np
from IPython.display import Image, Markdown, display

import emergence_jax

# The quickstart experiment ships with the package's repository; in Colab, fetch it from there.
EXPERIMENT = Path(os.environ.get("EMERGENCE_JAX_EXPERIMENT", "quickstart.py"))
if not EXPERIMENT.exists():
    EXPERIMENT = Path(emergence_jax.__file__).resolve().parents[1] / "experiments" / "quickstart.py"
# Tiny settings keep automated runs of this notebook fast; unset for the real study.
OVERRIDES = os.environ.get("EMERGENCE_JAX_OVERRIDES", "").split()
OUT = os.environ.get("EMERGENCE_JAX_OUT", "runs/quickstart_notebook")

# %% [markdown]
# ## 1. Configure
# An experiment is a Python file returning a config; any field can be overridden.

# %%
cfg = emergence_jax.load_experiment(EXPERIMENT, OVERRIDES)
print(cfg.task.name, "| widths:", cfg.sweep.axes, "| seeds per scale:", cfg.population.num_seeds)

# %% [markdown]
# ## 2. Sweep, fit, report
# Each scale point is one compiled population; the run store resumes if interrupted.

# %%
result = emergence_jax.run_study(cfg, OUT, progress=False)
run, fit = result.run, result.fit

# %% [markdown]
# ## 3. Look at the populations

# %%
for name in ["distributions.png", "p_success.png", "learning_curves.png"]:
    display(Image(filename=str(result.report.parent / name)))

# %% [markdown]
# ## 4. Query the fitted distribution
# Everything below works on a fit loaded from disk as well: `emergence_jax.load_fit(path)`.

# %%
fit = emergence_jax.load_fit(Path(OUT) / "fit")
scales = run.scale_values()
new_scale = float(scales.max()) * 2  # a scale we did not train
print("P(success) at the largest trained scale:", fit.p_success(float(scales.max())))
print("P(success) at twice that scale (unseen):", fit.p_success(new_scale))
print("breakthrough scale (P = 0.5):", fit.breakthrough_scale(0.5))
samples = fit.sample(new_scale, n=1000, seed=0)
print("predicted metric at the unseen scale: 10/50/90% quantiles",
      np.round(np.quantile(samples, [0.1, 0.5, 0.9]), 3))
display(Markdown(f"**Bimodality:** {fit.comparison['verdict']}" if fit.comparison else ""))
