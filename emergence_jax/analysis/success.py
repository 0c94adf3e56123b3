"""The success criterion: which seeds count as having the capability.

A seed succeeds when its ``metric`` is above (``direction='above'``, the default) or below
(``'below'``) the ``threshold``. The criterion is resolved once from an experiment's ``analysis``
section (an empty ``analysis.metric`` means the task's success metric) and then used by the
sweep's summary lines, the fits, the emergence times and the reports, so they always agree.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from emergence_jax.core.config import AnalysisConfig, ExperimentConfig, task_config_class

__all__ = ["SuccessCriterion"]


@dataclasses.dataclass(frozen=True)
class SuccessCriterion:
    metric: str
    threshold: float = AnalysisConfig.threshold
    direction: str = "above"

    def __post_init__(self):
        if self.direction not in ("above", "below"):
            raise ValueError(f"direction must be 'above' or 'below', got {self.direction!r}")

    @property
    def symbol(self) -> str:
        return ">" if self.direction == "above" else "<"

    def __str__(self) -> str:
        return f"{self.metric} {self.symbol} {self.threshold:g}"

    def succeeded(self, values) -> np.ndarray:
        """bool array: which values succeed (NaN never does)."""
        v = np.asarray(values, np.float64)
        with np.errstate(invalid="ignore"):
            return v > self.threshold if self.direction == "above" else v < self.threshold

    @classmethod
    def from_config(cls, config: ExperimentConfig | dict, *, metric: str | None = None,
                    threshold: float | None = None) -> "SuccessCriterion":
        """The criterion of an experiment (an ``ExperimentConfig`` or a stored config dict, such
        as ``run.config``); ``metric`` / ``threshold`` override the experiment's."""
        if isinstance(config, ExperimentConfig):
            analysis, task_name = config.analysis, config.task.name
            get = lambda name: getattr(analysis, name)  # noqa: E731
        else:
            analysis: dict[str, Any] = config.get("analysis", {}) or {}
            task_name = (config.get("task", {}) or {}).get("name", "count")
            get = lambda name: analysis.get(name, getattr(AnalysisConfig, name))  # noqa: E731
        return cls(metric=metric or get("metric") or task_config_class(task_name).success_metric,
                   threshold=float(get("threshold") if threshold is None else threshold),
                   direction=get("direction"))
