"""``train PIPELINE --dataset D``: fit a pipeline the benchmark way and save a ``.ferb`` model."""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from ..errors import FerBenchError
from .options import add_fit_options, flat_assignments, non_negative_int

EXAMPLES = """\
examples:
  python -m fer_bench train pca-logreg --dataset synthetic --out baseline.ferb
  python -m fer_bench train mini-xception --dataset fer2013 --data-root ../shared/datasets --out model.ferb
  python -m fer_bench train hog-svm --dataset ckplus --view ckplus8 --param C=10
  python -m fer_bench predict photo.jpg --model model.ferb
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="fit a pipeline on a dataset and save it as a model file",
        description=textwrap.fill(
            "Fit a registered pipeline on the first split of a protocol (its training "
            "part; deep pipelines select on its validation part), score the test part and "
            "save a .ferb model file with the weights, classes, face-stage settings and "
            "provenance, test accuracy included. For FER2013 this fits on Training, "
            "selects on PublicTest and reports PrivateTest.", width=88),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("pipeline", metavar="PIPELINE", help="a registered pipeline (see `run --help`)")
    p.add_argument("--dataset", required=True, metavar="D",
                   help="dataset to fit on: fer2013, ckplus, jaffe, synthetic or folder:PATH")
    p.add_argument("--protocol", metavar="P",
                   help="protocol whose first split is used (default: the dataset's own)")
    p.add_argument("--out", metavar="FILE",
                   help="model file to write (default: results/models/PIPELINE-DATASET.ferb)")
    add_fit_options(p, scoped=False, view_help="label view (default: the protocol's)")
    p.add_argument("--seed", type=non_negative_int, default=0,
                   help="seed of the split and the model, >= 0 (default 0)")
    p.set_defaults(func=cmd_train)


def default_out(pipeline: str, dataset: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in dataset.split(":", 1)[0])
    return Path("results") / "models" / f"{pipeline}-{safe}.ferb"


def command_line(args: argparse.Namespace) -> list[str]:
    """The canonical argv of this training run (stored in the model's provenance)."""
    argv = ["python", "-m", "fer_bench", "train", args.pipeline, "--dataset", args.dataset]
    for flag in ("protocol", "view", "data_root", "out", "limit_train"):
        if getattr(args, flag) is not None:
            argv += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if args.seed != 0:
        argv += ["--seed", str(args.seed)]
    for flag in ("param", "dataset_option", "face"):
        for value in getattr(args, flag) or ():
            argv += [f"--{flag.replace('_', '-')}", value]
    return argv


def cmd_train(args: argparse.Namespace) -> int:
    from ..apps.train_model import train_model
    from ..models import save_model

    out = Path(args.out) if args.out else default_out(args.pipeline, args.dataset)
    if out.is_dir():
        raise FerBenchError(f"--out {out} is a directory; name the model file, e.g. {out / 'model.ferb'}")
    model = train_model(
        args.pipeline, args.dataset, protocol=args.protocol, view=args.view,
        params=flat_assignments(args.param, "--param"), face=flat_assignments(args.face, "--face"),
        dataset_options=flat_assignments(args.dataset_option, "--dataset-option"), seed=args.seed,
        limit_train=args.limit_train, data_root=args.data_root,
        command=command_line(args),
        log=lambda line: print(line, flush=True),
    )
    path = save_model(model, out)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    print(f"use it: python -m fer_bench predict IMAGE --model {path}")
    return 0
