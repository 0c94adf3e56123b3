"""The ``emergence-jax`` command. Each subcommand lives in ``emergence_jax/commands/<name>.py`` and
exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``; modules are imported
only when their command runs, so ``emergence-jax --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> one-line help. Order is the order shown in --help.
COMMANDS = {
    "train": "train one population (the experiment's base scale point) and print per-seed results",
    "config": "print an experiment's resolved config (after --set overrides), or every field",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emergence-jax",
        description="Populations of small transformers across seeds and scales, and fits of how "
                    "their outcome distribution changes with scale.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_text in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        sub_parser.set_defaults(_module=f"emergence_jax.commands.{name}")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Two-stage parse: find the command first, then let its module add its own arguments.
    if argv and argv[0] in COMMANDS:
        module = importlib.import_module(f"emergence_jax.commands.{argv[0]}")
        sub_parser = parser._subparsers._group_actions[0].choices[argv[0]]  # noqa: SLF001
        module.add_arguments(sub_parser)
        args = parser.parse_args(argv)
        from emergence_jax.errors import EmergenceError
        try:
            return int(module.run(args) or 0)
        except EmergenceError as e:
            print(f"emergence-jax {argv[0]}: error: {e}", file=sys.stderr)
            return 2
    parser.parse_args(argv)  # prints help / usage errors
    return 2


if __name__ == "__main__":
    sys.exit(main())
