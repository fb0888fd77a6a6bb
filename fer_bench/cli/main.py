"""``python -m fer_bench``: one argparse tree; each command lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from .. import __version__
from ..errors import FerBenchError, UsageError

#: Command modules, each exposing ``add_parser(subparsers)`` that sets ``func`` on its parser.
COMMANDS = ("datasets", "run", "report", "train", "evaluate", "models", "predict", "demo")

#: Exit status after the reader of stdout went away (``... | head``): 128 + SIGPIPE, as a shell
#: reports a process that SIGPIPE stopped.
BROKEN_PIPE_EXIT = 141


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (argparse prints the whole usage)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        # Raised, not printed: main() prints every FerBenchError the same way, exit 2.
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m fer_bench",
        description="Benchmark classical and deep facial-expression-recognition pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"fer-bench {__version__}")
    # Subparsers are built by the same class, so their usage errors are one line too.
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__package__}.{name}":
                continue  # a command not built yet in this checkout
            raise
        module.add_parser(sub)
    return parser


def _quiet_stdout() -> None:
    # The reader is gone: point stdout at devnull so the interpreter's final flush of what is
    # still buffered cannot raise a second BrokenPipeError (the recipe of Python's signal docs).
    try:
        fd = sys.stdout.fileno()
    except (OSError, ValueError):  # not a real file (a test's capture): nothing to flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a closed pipe shows up here, not at exit
        return code
    except FerBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # unknown registry names carry their own one-line message
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `... | head`: the reader has what it wanted
        _quiet_stdout()
        return BROKEN_PIPE_EXIT
