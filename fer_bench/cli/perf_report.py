"""``perf-report BENCH.json [MORE.json ...] [--out DIR]``: the performance report of benchmark
runs."""
from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "perf-report", help="write performance.md and plots from a pytest-benchmark JSON",
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
    p.set_defaults(func=cmd_perf_report)


def cmd_perf_report(args: argparse.Namespace) -> int:
    from ..reports.performance import write_performance_report

    written = write_performance_report(args.bench_json, args.out, plots=not args.no_plots)
    print(f"wrote {', '.join(str(p) for p in written)}", file=sys.stderr)
    return 0
