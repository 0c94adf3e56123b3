"""The task registry: task name -> the class that implements it.

A task is one module in this package with a ``Task`` subclass (``emergence_jax.core.tasks.base``)
that generates batches in pure JAX and computes metrics; its config (fields, rules, success
metric) is a ``TaskConfig`` subclass in ``emergence_jax.core.config.tasks``. Adding a task is
that config class, one module here and one entry in ``REGISTRY``. Modules are imported when their
task is first built.
"""

from __future__ import annotations

import importlib

from emergence_jax.core.config import task_config_class

# name -> (module, task class name)
REGISTRY: dict[str, tuple[str, str]] = {
    "count": ("emergence_jax.core.tasks.count", "CountTask"),
    "induction": ("emergence_jax.core.tasks.induction", "InductionTask"),
    "addition": ("emergence_jax.core.tasks.addition", "AdditionTask"),
    "ioi": ("emergence_jax.core.tasks.ioi", "IOITask"),
    "linear_map": ("emergence_jax.core.tasks.linear_map", "LinearMapTask"),
    "skills": ("emergence_jax.core.tasks.skills", "SkillsTask"),
}


def task_class(name: str):
    """The class implementing task ``name`` (``ConfigError`` naming ``task.name`` if unknown)."""
    task_config_class(name)  # the one place that names the allowed tasks
    if name not in REGISTRY:
        raise NotImplementedError(f"task {name!r} has a config class but no implementation in "
                                  "emergence_jax.core.tasks.REGISTRY")
    module_name, class_name = REGISTRY[name]
    return getattr(importlib.import_module(module_name), class_name)


def make_task(config):
    """Builds the task object described by a task config."""
    return task_class(config.name)(config)


__all__ = ["REGISTRY", "make_task", "task_class"]
