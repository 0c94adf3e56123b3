"""``emergence-jax config EXPERIMENT.py [--set ...]``: print the resolved config as JSON;
``emergence-jax config --fields``: list every field with its default and allowed values."""

from __future__ import annotations

from emergence_jax.core import config as config_lib
from emergence_jax.app.cli.commands.common import add_experiment_arguments, load

HELP = "print an experiment's resolved config, or every field with its allowed values"


def add_arguments(parser) -> None:
    add_experiment_arguments(parser, required=False)  # optional with --fields
    parser.add_argument("--fields", action="store_true", help="list every config field")


def run(args) -> int:
    if args.fields or args.experiment is None:
        cfg = config_lib.validate(config_lib.ExperimentConfig())
        print("\n".join(config_lib.describe(cfg)))
        print(f"# task.name: one of {', '.join(config_lib.task_names())}; each task adds its own "
              "task.* fields")
        return 0
    print(config_lib.to_json(load(args)))
    return 0
