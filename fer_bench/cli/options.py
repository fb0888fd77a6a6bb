"""Options several commands share, declared once so their spelling and help never drift."""
from __future__ import annotations

import argparse

from ..data.labels import VIEWS


def add_data_root(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--data-root", metavar="DIR",
                   help="where datasets live (default: $FER_BENCH_DATA, else ./datasets)")


def add_fit_options(p: argparse.ArgumentParser | argparse._ArgumentGroup, *, scoped: bool,
                    view_help: str) -> None:
    """``--view --limit-train --param --dataset-option --face --data-root``.

    ``scoped``: assignments may name their pipeline / dataset (``run`` selects several).
    """
    pipe, data = ("[PIPELINE.]", "[DATASET.]") if scoped else ("", "")
    example = "synthetic.n_per_class=40" if scoped else "n_per_class=40"
    p.add_argument("--view", choices=list(VIEWS), help=view_help)
    p.add_argument("--limit-train", type=int, metavar="N",
                   help="fit on a seeded, stratified subsample of N training images")
    p.add_argument("--param", action="append", metavar=f"{pipe}KEY=VALUE",
                   help="pipeline constructor parameter (repeatable; JSON values)")
    p.add_argument("--dataset-option", action="append", metavar=f"{data}KEY=VALUE",
                   help=f"dataset loader option, e.g. {example} (repeatable)")
    p.add_argument("--face", action="append", metavar="KEY=VALUE",
                   help="face-stage parameter: mode, size, margin, equalize (repeatable)")
    add_data_root(p)
