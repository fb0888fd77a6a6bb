"""``predict IMAGE...``: the emotion of every face in photos, with a trained model."""
from __future__ import annotations

import argparse
import sys
import textwrap

EXAMPLES = """\
examples:
  python -m fer_bench predict photo.jpg
  python -m fer_bench predict a.jpg b.png --model model.ferb --json
  python -m fer_bench predict photo.jpg --annotate photo-annotated.png
  python -m fer_bench predict shots/*.jpg --annotate annotated/
"""


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "predict", help="emotion probabilities of every face in images",
        description=textwrap.fill(
            "Detect every face (Haar cascade; a small image with no face found, such as "
            "a 48x48 crop, is taken as the face), crop it as the model's training faces "
            "were cropped and print the probability of every class, high to low. "
            "Unreadable files are reported and skipped; the exit code is then 1.", width=88),
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)")
    p.add_argument("--model", metavar="FILE",
                   help="a .ferb model file from `train` (default: the bundled model)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object per image, one per line: path, width, height, "
                        "faces [{box, probabilities, label}] (or error)")
    p.add_argument("--annotate", metavar="PATH",
                   help="write the image with boxes, labels and probability bars to PATH "
                        "(a folder for several images)")
    p.set_defaults(func=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    from ..apps.predict import annotation_targets, predict_files
    from ..models import open_model

    if args.annotate is not None:
        annotation_targets(args.images, args.annotate)  # a bad --annotate fails before any work
    model = open_model(args.model)
    if not args.json:  # say which model answers, and how well it scored on its own test split
        print(f"model: {model.describe()}", file=sys.stderr)
    return predict_files(model, args.images, as_json=args.json, annotate_to=args.annotate)
