"""The main job: sweep → fit → report, each step resuming what is already done.

``run_study(cfg, out)`` trains every scale point into the run store ``out`` (resuming), fits the
experiment's ``analysis`` settings to the per-seed outcomes (re-using a saved fit when it was made
with the same settings on the same data) and writes the report. Layout of ``out``:

    out/            run store (metrics.zarr arrays, metadata, checkpoints)
    out/fit/        the fitted distribution (emergence_jax.load_fit)
    out/report/     index.md, index.html, figures, tables.json
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from emergence_jax.analysis import fit_distribution, load_fit
from emergence_jax.analysis.fitting import (fit_data, is_current, same_fit_settings,
                                             settings_for_run)
from emergence_jax.app.report import write_report
from emergence_jax.app.sweep import default_out, run_sweep
from emergence_jax.core.config import (EMERGENCE_TIME_MODELS, AnalysisConfig, ExperimentConfig,
                                       validate)
from emergence_jax.core.errors import StoreError
from emergence_jax.io.fit_store import check_fit_target
from emergence_jax.io.location import Location

__all__ = ["StudyResult", "fit_run", "run_study"]


@dataclass
class StudyResult:
    """What ``run_study`` did: the run, its fit, the report's index and whether the fit was re-used."""
    run: object          # emergence_jax.io.run_store.Run
    fit: object          # emergence_jax.analysis.FittedDistribution
    report: Path         # index.md
    fit_reused: bool


def fit_run(run, analysis: AnalysisConfig | None, fit_dir: str | os.PathLike, *,
            refit: bool = False, progress: bool = True,
            log: Callable[[str], None] | None = print):
    """Fits ``analysis`` (default: the run's stored analysis section) to ``run``; re-uses the fit
    saved in ``fit_dir`` when it was made with the same settings on the same data (compared by
    digest). Returns (fit, reused)."""
    settings = settings_for_run(run, analysis)
    data = fit_data(run, settings, verbose=log is not None)
    fit_dir = Path(fit_dir)
    if fit_dir.exists() and not refit:
        try:
            old = load_fit(fit_dir)
        except StoreError as e:
            if log:
                log(f"ignoring the saved fit ({e}); fitting again")
        else:
            if (same_fit_settings(old.settings, settings)
                    and old.data.digest() == data.digest() and is_current(old)):
                if log:
                    log(f"fit: re-using {fit_dir} (same data and settings)")
                return old, True
    check_fit_target(fit_dir)
    if log:
        what = ("emergence steps of " if settings.model in EMERGENCE_TIME_MODELS else ""
                ) + settings.metric
        log(f"fit: {settings.model} model of {what} over {len(data.scales)} scale "
            f"point(s), {len(data)} seeds ({settings.method}, {settings.chains} chains)")
    fit = fit_distribution(data, settings, progress=progress, warn=False)
    fit.save(fit_dir)
    return fit, False


def run_study(cfg: ExperimentConfig, out: str | None = None, *, overwrite: bool = False,
              refit: bool = False, progress: bool = True,
              log: Callable[[str], None] | None = print, break_lock: bool = False) -> StudyResult:
    """Sweep, fit and report ``cfg`` into ``out`` (default ``runs/<name>``), resuming."""
    cfg = validate(cfg)
    loc = Location(out or default_out(cfg))
    if not loc.is_local:
        raise StoreError(f"--out {str(loc)!r}: `run` writes the fit and report next to the run "
                         "store and needs a local directory; use `emergence-jax sweep` for remote "
                         "stores")
    run = run_sweep(cfg, str(loc), overwrite=overwrite, progress=progress, log=log,
                    break_lock=break_lock)
    fit, reused = fit_run(run, cfg.analysis, loc.local / "fit", refit=refit, progress=progress,
                          log=log)
    if log:
        log(fit.summary())
        # failed diagnostics and failed predictive checks (an emergence-time fit has diagnostics)
        messages = (fit.warnings() if hasattr(fit, "warnings")
                    else [] if fit.diagnostics.ok else [fit.diagnostics.message])
        for message in messages:
            log(f"WARNING: {message}")
    # the experiment's loss metric, not a re-used fit's (it does not change the fit)
    index = write_report(run, fit, loc.local / "report", loss_metric=cfg.analysis.loss_metric)
    if log:
        log(f"report: {index} (and index.html beside it)")
    return StudyResult(run=run, fit=fit, report=index, fit_reused=reused)
