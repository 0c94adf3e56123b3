"""Arguments shared by the commands that take an experiment file."""

from __future__ import annotations

import argparse

from emergence_jax.config import ExperimentConfig, load_experiment


def add_experiment_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("experiment", nargs=None if required else "?",
                        help="experiment file (a Python file defining get_config())")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE",
                        help="override a config field, e.g. --set model.width=128 (repeatable)")


def load(args: argparse.Namespace) -> ExperimentConfig:
    return load_experiment(args.experiment, args.overrides)
