"""``python -m benchmarks.report BENCH.json [MORE.json ...] [--out DIR] [--no-plots]``: the
performance report of benchmark runs (run from the repository root)."""
from __future__ import annotations

import argparse
import sys

from fer_bench.errors import FerBenchError

from .render import write_performance_report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.report",
        description="Turn the JSON of `pytest benchmarks/ --benchmark-only --benchmark-json="
                    "BENCH.json` into DIR/performance.md (throughput, JAX vs PyTorch, roofline, "
                    "targets, scaling) and its PNG plots. Several files are merged (a benchmark "
                    "in several is taken from the last), e.g. a main run and a scaling study.",
    )
    p.add_argument("bench_json", nargs="+", metavar="BENCH.json",
                   help="pytest-benchmark JSON output(s)")
    p.add_argument("--out", default="results", metavar="DIR",
                   help="directory for performance.md and the plots (default: results/)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        written = write_performance_report(args.bench_json, args.out, plots=not args.no_plots)
    except FerBenchError as exc:  # a missing or foreign JSON: one line, as fer_bench's CLI does
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
