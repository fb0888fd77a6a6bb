"""``datasets list | info NAME | verify [NAME]``."""
from __future__ import annotations

import argparse
import json

from tabulate import tabulate

from ..data import data_root, load_dataset, verify_dataset
from ..data.roots import locate
from ..errors import DataError, DatasetNotFound, DuplicateImages, UsageError
from ..registry import DATASETS
from .options import add_data_root, add_dataset_option, flat_assignments


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("datasets", help="list, describe and verify datasets",
                       description="List, describe and verify the registered datasets.")
    dsub = p.add_subparsers(dest="datasets_command", metavar="ACTION", required=True)

    lp = dsub.add_parser("list", help="registered datasets and whether each is found",
                         description="Registered datasets and whether each is found under the "
                                     "data root.")
    add_data_root(lp)
    lp.set_defaults(func=cmd_list)

    ip = dsub.add_parser("info", help="counts per split, class and subject",
                         description="Counts per split, per class and number of subjects.")
    ip.add_argument("name", help="dataset name (see `datasets list`) or folder:PATH")
    add_data_root(ip)
    add_dataset_option(ip)
    ip.add_argument("--json", action="store_true", help="print one JSON object")
    ip.set_defaults(func=cmd_info)

    vp = dsub.add_parser("verify", help="check every file; exit 1 on any file problem",
                         description="Decode and check every file (readable, size, label) and "
                                     "list every problem found; exit code 1 if there is any. "
                                     "Files with identical pixels are listed too, one line per "
                                     "group, as findings: a split the suite builds (k-fold, "
                                     "cross-dataset) refuses copies on both of its sides, while "
                                     "the official protocol of a published split (FER2013) "
                                     "keeps them and records how many test images have a copy "
                                     "(n_test_duplicates). They do not change the exit code "
                                     "unless --strict.")
    vp.add_argument("name", nargs="?", help="dataset to verify (default: every one found)")
    add_data_root(vp)
    add_dataset_option(vp)
    vp.add_argument("--strict", action="store_true",
                    help="count groups of identical images as problems too (exit 1)")
    vp.set_defaults(func=cmd_verify)


def cmd_list(args: argparse.Namespace) -> int:
    root = data_root(args.data_root)
    rows = []
    for entry in DATASETS:
        if entry.tags.get("builtin"):
            where = "built in"
        elif entry.tags.get("by_path"):
            where = "name it folder:PATH"
        else:
            try:
                where = f"found: {locate(entry.name, root)}"
            except DatasetNotFound:
                where = f"not found (put it in {root / entry.tags['subdirs'][0]})"
        rows.append((entry.name, entry.summary, where))
    print(f"data root: {root}")
    print(tabulate(rows, headers=("dataset", "what", "status")))
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    ds = load_dataset(args.name, args.data_root,
                      **flat_assignments(args.dataset_option, "--dataset-option"))
    info = {
        "dataset": args.name,
        "n_images": len(ds),
        "splits": ds.split_counts,
        "classes": ds.class_counts,
        "n_subjects": ds.n_subjects,
        "image_size": list(ds.images.shape[1:]) if ds.uniform else "varies",
        "format": ds.meta.get("format"),
    }
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"{args.name}: {info['n_images']} images, "
          f"{info['n_subjects'] if info['n_subjects'] is not None else 'no'} subject ids, "
          f"size {info['image_size']}")
    print(tabulate(sorted(info["classes"].items()), headers=("class", "images")))
    if info["splits"]:
        print(tabulate(sorted(info["splits"].items()), headers=("split", "images")))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else [
        e.name for e in DATASETS if not e.tags.get("by_path") and not e.tags.get("builtin")
    ]
    root = data_root(args.data_root)
    options = flat_assignments(args.dataset_option, "--dataset-option")
    if options and not args.name:
        raise UsageError("--dataset-option applies to one dataset: name it, e.g. "
                         "`datasets verify folder:PATH --dataset-option label_column=...`")
    failed, n_checked = False, 0
    for name in names:
        if not args.name:
            try:
                locate(name, root)
            except DatasetNotFound:
                continue
        problems = verify_dataset(name, root, **options)
        n_checked += 1
        for problem in problems:
            print(f"{name}: {problem}")
        n_files = sum(not isinstance(p, DuplicateImages) for p in problems)
        failed |= bool(n_files if not args.strict else problems)
        print(f"{name}: {summary(problems, strict=args.strict)}")
    if n_checked == 0:
        print(f"no dataset found under {root} (see datasets/README.md)")
        return 1
    return 1 if failed else 0


def summary(problems: list[DataError], strict: bool = False) -> str:
    """``OK``, or the count of file problems and that of groups of identical images.

    The groups are findings (they fail the check only with ``strict``), so the line names both
    counts apart: ``0 file problem(s); 3 group(s) of identical images (7 files, ...)``.
    """
    if not problems:
        return "OK"
    dups = [p for p in problems if isinstance(p, DuplicateImages)]
    line = f"{len(problems) - len(dups)} file problem(s)"
    if dups:
        across = sum(p.across_splits for p in dups)
        line += (f"; {len(dups)} group(s) of identical images "
                 f"({sum(len(p.paths) for p in dups)} files"
                 + (f", {across} group(s) across splits)" if across else ")"))
        line += (", counted as problems (--strict)" if strict
                 else ", findings that do not set the exit code (--strict counts them)")
    return line
