"""``evaluate MODEL --dataset D``: score a saved model on a dataset, writing a record and reports."""
from __future__ import annotations

import argparse
import sys
import textwrap

from .options import add_data_root, flat_assignments

EXAMPLES = """\
examples:
  python -m fer_bench evaluate fer_bench/models/default.ferb --dataset ckplus --data-root ../shared/datasets
  python -m fer_bench evaluate model.ferb --dataset folder:photos --face no_face=wrong
  python -m fer_bench evaluate results/cache/models/KEY.ferb --dataset jaffe --view 6class
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    from ..data.labels import VIEWS

    p = sub.add_parser(
        "evaluate", help="score a saved model on every image of a dataset",
        description=textwrap.fill(
            "Score a .ferb model (from `train`, the trained-model store under "
            "results/cache/models, or the bundled default) on every image of a dataset whose "
            "class the model knows, through the model's own face stage: argmax over the "
            "classes both share, the others dropped and named. Writes a record to "
            "OUT/records.jsonl and the reports, exactly as `run` scores a cross-dataset job.",
            width=88),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("model", metavar="MODEL", help="a .ferb model file")
    p.add_argument("--dataset", required=True, metavar="D",
                   help="dataset to score on: fer2013, ckplus, jaffe, synthetic or folder:PATH")
    p.add_argument("--view", choices=list(VIEWS),
                   help="label view: the model's own (its outputs fix it; the default)")
    p.add_argument("--dataset-option", action="append", metavar="KEY=VALUE",
                   help="dataset loader option (repeatable)")
    p.add_argument("--face", action="append", metavar="no_face=crop|wrong",
                   help="score images without a detected face on their centred crop (crop, "
                        "the default) or count them as errors (wrong)")
    add_data_root(p)
    p.add_argument("--out", default="results/evaluate", metavar="DIR",
                   help="results directory (default: results/evaluate)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="do nothing if this evaluation already has a record")
    again.add_argument("--force", action="store_true", help="evaluate again even so")
    p.add_argument("--no-report", action="store_true", help="do not write the reports")
    p.set_defaults(func=cmd_evaluate)


def command_line(args: argparse.Namespace) -> list[str]:
    argv = ["python", "-m", "fer_bench", "evaluate", args.model, "--dataset", args.dataset]
    for flag in ("view", "data_root", "out"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    for flag in ("dataset_option", "face"):
        for value in getattr(args, flag) or ():
            argv += [f"--{flag.replace('_', '-')}", value]
    return argv


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..apps.evaluate import evaluation_job
    from ..data.roots import check_named_root
    from ..harness.runner import execute_jobs

    check_named_root(args.data_root)
    job = evaluation_job(args.model, args.dataset, view=args.view,
                         face=flat_assignments(args.face, "--face"),
                         dataset_options=flat_assignments(args.dataset_option,
                                                          "--dataset-option"))
    summary = execute_jobs([job], args.out, data_root=args.data_root, resume=args.resume,
                           force=args.force, command=command_line(args), progress=False)
    for line in summary.lines():
        print(line, file=sys.stderr)
    for record in summary.records:
        if record.get("status") == "ok":
            m = record["metrics"]
            lo, hi = m["accuracy_ci95"]
            dropped = record.get("dropped_classes") or []
            print(f"{record['pipeline']} on {record['protocol']}: accuracy "
                  f"{100 * m['accuracy']:.1f} % (95 % CI {100 * lo:.1f}-{100 * hi:.1f}) on "
                  f"{record['n_test']} faces, classes {', '.join(record['classes'])}"
                  + (f"; dropped {', '.join(dropped)}" if dropped else ""))
    if not args.no_report and (summary.records or summary.n_skipped):
        from ..reports import write_reports

        write_reports(args.out)
        print(f"report: {args.out}/README.md", file=sys.stderr)
    return 1 if summary.failures else 0
