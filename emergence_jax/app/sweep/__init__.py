"""Sweeps: the grid of scale points (``points``), what a sweep prints (``console``) and the loop
that trains every point into a run store (``runner``)."""

from emergence_jax.app.sweep.console import (headline_metrics, human_size, point_summary,
                                             run_summary_lines)
from emergence_jax.app.sweep.points import (ScalePoint, build_metadata, default_out, expand,
                                            format_coords)
from emergence_jax.app.sweep.runner import run_sweep

__all__ = ["ScalePoint", "build_metadata", "default_out", "expand", "format_coords",
           "headline_metrics", "human_size", "point_summary", "run_summary_lines", "run_sweep"]
