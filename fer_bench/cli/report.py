"""``report [RESULTS_DIR]``: render the Markdown tables and PNG plots from records.jsonl."""
from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the Markdown reports and plots of a results directory",
        description="Regenerate README.md, methods.md, cross_dataset.md, analysis.md, "
                    "<protocol>/<pipeline>[-<variant>].md with each folder's index, and the "
                    "PNG plots of RESULTS_DIR from its records.jsonl alone.",
    )
    p.add_argument("results_dir", nargs="?", default="results", metavar="RESULTS_DIR",
                   help="directory holding records.jsonl (default: results/)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures (faster)")
    p.add_argument("--readme", metavar="FILE",
                   help="also copy the headline table into FILE between its fer-bench:headline "
                        "marker lines (e.g. the project README.md)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from ..reports import write_reports

    written = write_reports(args.results_dir, plots=not args.no_plots)
    print(f"wrote {len(written)} files to {args.results_dir} (start at "
          f"{args.results_dir}/README.md)", file=sys.stderr)
    if args.readme:
        from ..reports.readme import update_headline

        print(f"headline table -> {update_headline(args.readme, args.results_dir)}", file=sys.stderr)
    return 0
