"""Options several commands share, declared once so their spelling and help never drift.

The ``type=`` functions here check a value when it is parsed, so a nonsense number is a one-line
usage error before any data is loaded (not a traceback from deep inside joblib or numpy).
"""
from __future__ import annotations

import argparse

from ..data.labels import VIEWS


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def non_negative_int(text: str) -> int:
    """An integer >= 0 (a seed: numpy refuses negative ones)."""
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give 0 or more")
    return value


def n_jobs(text: str) -> int:
    """A number of parallel jobs: N >= 1, or -1 for every core (joblib's convention)."""
    value = _int(text)
    if value < 1 and value != -1:
        raise argparse.ArgumentTypeError(
            f"{value} jobs cannot run; give a number of jobs >= 1, or -1 for every core")
    return value


def train_limit(text: str) -> int:
    """A training-set size: an integer >= 2 (a classifier needs two images to see two classes)."""
    value = _int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"{value}: need at least 2 training images")
    return value


def seed_list(text: str) -> tuple[int, ...]:
    """``"0,1,2"`` -> ``(0, 1, 2)``: distinct non-negative integers (numpy seeds cannot be < 0)."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give integers separated by commas, e.g. 0,1,2") from None
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give distinct integers >= 0 separated by commas, e.g. 0,1,2")
    return seeds


def add_data_root(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--data-root", metavar="DIR",
                   help="where datasets live (default: $FER_BENCH_DATA, else ./datasets); a root "
                        "named here or in $FER_BENCH_DATA must exist")


def add_fit_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, scoped: bool,
                    view_help: str) -> None:
    """``--view --limit-train --param --dataset-option --face --data-root``.

    ``scoped``: assignments may name their pipeline / dataset (``run`` selects several).
    """
    pipe, data = ("[PIPELINE.]", "[DATASET.]") if scoped else ("", "")
    example = "synthetic.n_per_class=40" if scoped else "n_per_class=40"
    p.add_argument("--view", choices=list(VIEWS), help=view_help)
    p.add_argument("--limit-train", type=train_limit, metavar="N",
                   help="fit on a seeded, stratified subsample of N >= 2 training images")
    p.add_argument("--param", action="append", metavar=f"{pipe}KEY=VALUE",
                   help="pipeline constructor parameter (repeatable; JSON values)")
    p.add_argument("--dataset-option", action="append", metavar=f"{data}KEY=VALUE",
                   help=f"dataset loader option, e.g. {example} (repeatable)")
    p.add_argument("--face", action="append", metavar="KEY=VALUE",
                   help="face-stage parameter: mode, size, margin, equalize, box_scale, "
                        "box_offset (a framing; by default a model trained on pre-cropped "
                        "faces cuts detected ones to the framing measured on them), no_face "
                        "(crop: score images without a detected face on their centred crop, "
                        "the default; wrong: count them as errors) (repeatable)")
    add_data_root(p)


def add_dataset_option(p: argparse.ArgumentParser) -> None:
    """``--dataset-option KEY=VALUE`` for commands that read one dataset (``datasets info``)."""
    p.add_argument("--dataset-option", action="append", metavar="KEY=VALUE",
                   help="dataset loader option, e.g. label_column=posed_label (repeatable)")


def flat_assignments(items: list[str] | None, flag: str) -> dict:
    """``KEY=VALUE`` items as one dict (no owner prefixes: the command reads one thing)."""
    from ..harness.params import parse_assignments

    parsed = parse_assignments(items, flag)
    out = dict(parsed.pop(None, {}))
    for owner, values in parsed.items():
        for key, value in values.items():
            out[f"{owner}.{key}"] = value  # a dotted key: let the callee name it as unknown
    return out
