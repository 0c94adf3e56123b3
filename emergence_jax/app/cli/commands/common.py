"""Arguments shared by the commands: experiment files with ``--set`` overrides, and the fit
settings, whose flags are generated from the fields of ``AnalysisConfig`` (one definition: a new
setting is a new field there and becomes a flag here)."""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from emergence_jax.core.config import AnalysisConfig, ExperimentConfig, load_experiment


def add_experiment_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    parser.add_argument("experiment", nargs=None if required else "?",
                        help="experiment file (a Python file defining get_config()); FILE.py:NAME "
                             "picks one of the file's PRESETS")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="FIELD=VALUE",
                        help="override a config field, e.g. --set model.width=128 (repeatable)")


def add_nest_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-nest", dest="nest", action="store_false",
                        help="train every scale point on its own, even points that are prefixes "
                             "of a longer one's run (same as --set sweep.nest=false)")


def load(args: argparse.Namespace) -> ExperimentConfig:
    overrides = list(args.overrides)
    if getattr(args, "nest", True) is False:
        overrides.append("sweep.nest=false")
    return load_experiment(args.experiment, overrides)


def _optional_float(text: str) -> float | None:
    if text.strip().lower() in ("none", "null", ""):
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'none', got {text!r}") from None


def add_settings_arguments(parser: argparse.ArgumentParser, defaults_from: str) -> None:
    """One flag per ``AnalysisConfig`` field (``--svi-steps`` for ``svi_steps``; booleans get
    ``--x/--no-x``), with its allowed values and doc. A flag that is not given leaves the
    setting to ``defaults_from`` (said in the help)."""
    group = parser.add_argument_group(
        "fit settings", f"the fields of the analysis section; unset flags take {defaults_from}")
    hints = typing.get_type_hints(AnalysisConfig)
    for f in dataclasses.fields(AnalysisConfig):
        flag = "--" + f.name.replace("_", "-")
        doc = f.metadata.get("doc", "")
        default = f"default {f.default!r}"
        kw: dict = {"dest": f.name, "default": argparse.SUPPRESS,
                    "help": f"{doc} ({default})" if doc else default}
        hint = hints[f.name]
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, **kw)
            continue
        if "choices" in f.metadata:
            kw["choices"] = f.metadata["choices"]
        if hint is int:
            kw["type"] = int
        elif hint is float:
            kw["type"] = float
        elif typing.get_origin(hint) in (typing.Union, types.UnionType):
            kw["type"] = _optional_float
            kw["metavar"] = "NUMBER|none"
        group.add_argument(flag, **kw)


def settings_overrides(args: argparse.Namespace) -> dict:
    """The fit settings given as flags (only those given)."""
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(AnalysisConfig)
            if hasattr(args, f.name)}
