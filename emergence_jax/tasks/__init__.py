"""The task registry. A task is one module in this package defining a config class (a subclass of
``emergence_jax.config.TaskConfig``) and a task class (a subclass of ``emergence_jax.tasks.base.Task``).
Adding a task is one new module plus one entry in ``REGISTRY``."""

from __future__ import annotations

import importlib

from emergence_jax.errors import ConfigError

# name -> (module, config class name, task class name)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "count": ("emergence_jax.tasks.count", "CountConfig", "CountTask"),
    "induction": ("emergence_jax.tasks.induction", "InductionConfig", "InductionTask"),
    "addition": ("emergence_jax.tasks.addition", "AdditionConfig", "AdditionTask"),
    "ioi": ("emergence_jax.tasks.ioi", "IOIConfig", "IOITask"),
    "linear_map": ("emergence_jax.tasks.linear_map", "LinearMapConfig", "LinearMapTask"),
    "skills": ("emergence_jax.tasks.skills", "SkillsConfig", "SkillsTask"),
}


def _entry(name: str):
    if name not in REGISTRY:
        allowed = ", ".join(repr(n) for n in sorted(REGISTRY))
        raise ConfigError(f"task.name: got {name!r}; allowed values: {allowed}")
    module_name, config_name, task_name = REGISTRY[name]
    module = importlib.import_module(module_name)
    return getattr(module, config_name), getattr(module, task_name)


def config_class(name: str):
    """The config dataclass of task ``name``."""
    return _entry(name)[0]


def make_task(config):
    """Builds the task object described by a task config."""
    return _entry(config.name)[1](config)


def success_criterion(config: dict) -> tuple[str, float]:
    """(metric, threshold) that decides whether a seed succeeded, from a config dict
    (``config.to_dict``): ``analysis.metric`` when set, else the task's ``success_metric``."""
    analysis = config.get("analysis", {})
    metric = analysis.get("metric") or _entry(config.get("task", {}).get("name", "count"))[1].success_metric
    return metric, float(analysis.get("threshold", 0.2))


def names() -> list[str]:
    return sorted(REGISTRY)
