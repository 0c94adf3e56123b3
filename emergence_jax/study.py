"""The main job: sweep → fit → report, each step resuming what is already done.

``run_study(cfg, out)`` trains every scale point into the run store ``out`` (resuming), fits the
experiment's ``analysis`` settings to the final per-seed metric (re-using a saved fit when the data
it was made on is unchanged) and writes the report. Layout of ``out``:

    out/            run store (metrics.zarr arrays, metadata, checkpoints)
    out/fit/        the fitted distribution (emergence_jax.load_fit)
    out/report/     index.md, index.html, figures, tables.json
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from emergence_jax.config import AnalysisConfig, ExperimentConfig, validate
from emergence_jax.errors import StoreError


@dataclass
class StudyResult:
    run: object          # emergence_jax.store.Run
    fit: object          # emergence_jax.stats.FittedDistribution
    report: Path         # index.md
    fit_reused: bool


def analysis_metric(analysis: AnalysisConfig, run) -> str:
    """The metric to fit: ``analysis.metric`` or the run's task's success metric."""
    from emergence_jax.tasks import success_criterion
    return analysis.metric or success_criterion(run.config)[0]


def _same_data(fit, data) -> bool:
    old = getattr(fit, "data", None)
    if old is None or len(old) != len(data):
        return False
    return (np.array_equal(old.scale, data.scale) and np.array_equal(old.seed, data.seed)
            and np.allclose(old.value, data.value, equal_nan=True))


def fit_run(run, analysis: AnalysisConfig, fit_dir: str | Path, *, refit: bool = False,
            progress: bool = True, log: Callable[[str], None] | None = print):
    """Fits ``analysis`` to ``run``; re-uses the fit saved in ``fit_dir`` when it was made on the
    same data with the same settings. Returns (fit, reused)."""
    from emergence_jax.stats import SeedData, fit_distribution, load_fit
    metric = analysis_metric(analysis, run)
    data = SeedData.from_run(run, metric, verbose=log is not None)
    fit_dir = Path(fit_dir)
    if fit_dir.exists() and not refit:
        try:
            old = load_fit(fit_dir)
        except StoreError as e:
            if log:
                log(f"ignoring the saved fit ({e}); fitting again")
        else:
            same_settings = (old.meta.get("method") == analysis.method
                             and old.meta.get("samples") == analysis.samples
                             and old.meta.get("warmup") == analysis.warmup
                             and old.meta.get("chains") == analysis.chains
                             and old.threshold == analysis.threshold
                             and old.meta.get("seed") == analysis.seed
                             and old.model.startswith(analysis.model)
                             and analysis.likelihood in ("auto", old.spec.likelihood))
            if _same_data(old, data) and same_settings:
                if log:
                    log(f"fit: re-using {fit_dir} (same data and settings)")
                return old, True
    if log:
        log(f"fit: {analysis.model} model of {metric} over {len(data.scales)} scale point(s), "
            f"{len(data)} seeds ({analysis.method}, {analysis.chains} chains)")
    fit = fit_distribution(data, model=analysis.model, method=analysis.method,
                           chains=analysis.chains, warmup=analysis.warmup, samples=analysis.samples,
                           seed=analysis.seed, threshold=analysis.threshold, progress=progress,
                           likelihood=None if analysis.likelihood == "auto" else analysis.likelihood)
    fit.save(fit_dir)
    return fit, False


def run_study(cfg: ExperimentConfig, out: str | None = None, *, overwrite: bool = False,
              refit: bool = False, progress: bool = True,
              log: Callable[[str], None] | None = print) -> StudyResult:
    """Sweep, fit and report ``cfg`` into ``out`` (default ``runs/<name>``), resuming."""
    from emergence_jax.report import write_report
    from emergence_jax.sweep import default_out, run_sweep

    cfg = validate(cfg)
    out = out or default_out(cfg)
    if "://" in out and not out.startswith("file://"):
        raise StoreError(f"--out {out!r}: `run` writes the fit and report next to the run store and "
                         "needs a local directory; use `emergence-jax sweep` for remote stores")
    run = run_sweep(cfg, out, overwrite=overwrite, progress=progress, log=log)
    local = Path(out.removeprefix("file://"))
    fit, reused = fit_run(run, cfg.analysis, local / "fit", refit=refit, progress=progress, log=log)
    if log:
        log(fit.summary())
    index = write_report(run, fit, local / "report", metric=analysis_metric(cfg.analysis, run),
                         threshold=cfg.analysis.threshold)
    if log:
        log(f"report: {index} (and index.html beside it)")
    return StudyResult(run=run, fit=fit, report=index, fit_reused=reused)
