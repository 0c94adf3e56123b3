"""The ``emergence-jax`` command. Each subcommand lives in ``emergence_jax/app/cli/commands/<name>.py`` and
exposes ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``. Command modules
import only light dependencies at module level (JAX, NumPyro and matplotlib load inside ``run``),
so ``emergence-jax --help`` stays fast."""

from __future__ import annotations

import argparse
import importlib
import sys

# Order is the order shown in --help.
COMMANDS = ("run", "train", "sweep", "inspect", "fit", "report", "simulate", "config")
# Commands that compile (train or fit): they turn on JAX's persistent compilation cache, so the
# next process that needs the same programs loads them (``core.compilation_cache``).
COMPILING = ("run", "train", "sweep", "fit", "report")


def build_parser() -> argparse.ArgumentParser:
    """The ``emergence-jax`` argument parser, one subparser per command module."""
    parser = argparse.ArgumentParser(
        prog="emergence-jax",
        description="Populations of small transformers across seeds and scales, and fits of how "
                    "their outcome distribution changes with scale.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        module = importlib.import_module(f"emergence_jax.app.cli.commands.{name}")
        sub_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub_parser)
        sub_parser.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; a user-facing error (``EmergenceError``) is printed without a
    traceback and gives exit status 2. So is a failure of the file system (a full disk, a folder
    that cannot be written, a file that vanished): an ``OSError`` names its file and reason.
    A run stopped by SIGTERM with its progress saved (``Preempted``) prints one line saying so
    and how to resume, and gives exit status 75 (``EXIT_PREEMPTED``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    from emergence_jax.core.errors import EXIT_PREEMPTED, EmergenceError, Preempted
    if args.command in COMPILING:
        from emergence_jax.core.compilation_cache import enable_compilation_cache
        enable_compilation_cache()
    try:
        return int(args._run(args) or 0)  # noqa: SLF001
    except Preempted as e:
        import shlex
        jax = sys.modules.get("jax")
        where = " on every process" if jax is not None and jax.process_count() > 1 else ""
        print(f"emergence-jax {args.command}: preempted: {e}; rerun the same command{where} to "
              f"resume: emergence-jax {shlex.join(argv)}", file=sys.stderr)
        return EXIT_PREEMPTED
    except EmergenceError as e:
        print(f"emergence-jax {args.command}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        print(f"emergence-jax {args.command}: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
