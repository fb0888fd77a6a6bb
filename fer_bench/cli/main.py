"""``python -m fer_bench``: one argparse tree; each command lives in its own module."""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..errors import FerBenchError

#: Command modules, each exposing ``add_parser(subparsers)`` that sets ``func`` on its parser.
COMMANDS = ("datasets", "run", "report", "train", "predict", "demo", "perf_report")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fer_bench",
        description="Benchmark classical and deep facial-expression-recognition pipelines.",
    )
    parser.add_argument("--version", action="version", version=f"fer-bench {__version__}")
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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except FerBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:  # unknown registry names carry their own one-line message
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
