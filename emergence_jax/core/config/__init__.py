"""Typed, validated configuration of experiments (a tree of frozen dataclasses).

    fields       field rules (``choice``, ``number``) and the checker that enforces them
    sections     model / optimizer / train / population / sweep / analysis sections, task registry
    tasks        the built-in tasks' configs
    experiment   ExperimentConfig, validation, ``--set`` overrides, experiment files, JSON

Importing this package imports no JAX.
"""

from emergence_jax.core.config.experiment import (ExperimentConfig, apply_overrides, from_dict,
                                                  get_field, load_experiment, parse_value,
                                                  set_field, to_dict, to_json, validate,
                                                  validate_settings)
from emergence_jax.core.config.fields import choice, describe, number
from emergence_jax.core.config.sections import (EMERGENCE_TIME_MODELS, FIT_MODELS,
                                                SCALE_VARIABLES, AnalysisConfig,
                                                ModelConfig, OptimizerConfig, PopulationConfig,
                                                SweepConfig, TaskConfig, TrainConfig,
                                                register_task, task_config_class, task_names)
from emergence_jax.core.config.tasks import (IOI_TEMPLATES, SKILLS, AdditionConfig, CountConfig,
                                             InductionConfig, IOIConfig, LinearMapConfig,
                                             SkillsConfig)
from emergence_jax.core.errors import ConfigError

__all__ = ["AdditionConfig", "AnalysisConfig", "ConfigError", "CountConfig", "ExperimentConfig",
           "EMERGENCE_TIME_MODELS", "FIT_MODELS", "IOIConfig", "IOI_TEMPLATES", "InductionConfig", "LinearMapConfig",
           "ModelConfig", "OptimizerConfig", "PopulationConfig", "SCALE_VARIABLES", "SKILLS",
           "SkillsConfig", "SweepConfig", "TaskConfig", "TrainConfig", "apply_overrides", "choice",
           "describe", "from_dict", "get_field", "load_experiment", "number", "parse_value",
           "register_task", "set_field", "task_config_class", "task_names", "to_dict", "to_json",
           "validate", "validate_settings"]
