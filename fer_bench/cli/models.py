"""``models list|add|frame``: the trained-model store of a results directory (``OUT/cache/models``)."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "models", help="list or add the trained models a results directory reuses",
        description="Every model `run` fits is kept once under OUT/cache/models, named by its "
                    "model key (what decides its weights); jobs that need the same model, "
                    "such as cross:fer2013->X after fer2013-official, score it instead of "
                    "fitting again.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB", required=True)
    ls = verbs.add_parser("list", help="one line per stored model")
    ls.add_argument("--out", default="results", metavar="DIR",
                    help="results directory (default: results)")
    ls.set_defaults(func=cmd_list)
    add = verbs.add_parser(
        "add", help="store model files under the key their provenance describes",
        description="Store a copy of each model file (written by `train` or `run`) under the "
                    "model key its provenance describes, so that `run` scores it for jobs with "
                    "that configuration instead of fitting one.")
    add.add_argument("files", nargs="+", metavar="FILE", help=".ferb model files")
    add.add_argument("--out", default="results", metavar="DIR",
                     help="results directory (default: results)")
    add.add_argument("--data-root", metavar="DIR",
                     help="where the training dataset lives, for files whose provenance does "
                          "not yet hold its digest")
    add.set_defaults(func=cmd_add)
    frame = verbs.add_parser(
        "frame", help="measure a model's face framing on its training crops and store it",
        description="For a model trained on pre-cropped faces (FER2013, CK+48) written before "
                    "framings were measured: rebuild its training split from its provenance, "
                    "measure how the Haar cascade's box frames those crops, and save the model "
                    "with that framing, so `predict`, `demo` and `evaluate` cut detected faces "
                    "the same way. The weights are unchanged.")
    frame.add_argument("file", metavar="FILE", help="a .ferb model file")
    frame.add_argument("--data-root", metavar="DIR",
                       help="where its training dataset lives (default: $FER_BENCH_DATA, else "
                            "./datasets)")
    frame.add_argument("--out", metavar="FILE", help="where to write it (default: FILE itself)")
    frame.set_defaults(func=cmd_frame)


def cmd_list(args: argparse.Namespace) -> int:
    from ..errors import ModelFileError
    from ..harness.model_store import ModelStore
    from ..harness.runner import model_root
    from ..modelfile import read_header

    store = ModelStore(model_root(args.out))
    keys = store.keys()
    for key in keys:
        try:
            p = read_header(store.path(key)).get("provenance") or {}
        except ModelFileError as exc:
            print(f"{key[:12]}  damaged: {exc}")
            continue
        acc = p.get("test_accuracy")
        print(f"{key[:12]}  {p.get('pipeline')} on {p.get('protocol')} fold {p.get('fold')} "
              f"seed {p.get('seed')} view {p.get('view')}"
              + (f"  test {100 * acc:.1f} %" if acc is not None else ""))
    print(f"{len(keys)} model(s) in {store.root}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from ..harness.model_store import ModelStore
    from ..harness.runner import model_root

    store = ModelStore(model_root(args.out))
    for path in args.files:
        key, stored = store.add(path, args.data_root)
        print(f"{path} -> {stored} (model key {key[:12]})")
    return 0


def cmd_frame(args: argparse.Namespace) -> int:
    from ..errors import FerBenchError
    from ..face.framing import stage_params
    from ..harness.fit import training_framing
    from ..harness.model_store import training_job
    from ..harness.prepare import prepare
    from ..models import load_model, save_model

    model = load_model(args.file)
    job = training_job(model)
    framing = training_framing(job, prepare(job, args.data_root))
    if framing is None:
        raise FerBenchError(f"{args.file}: its training faces are not pre-cropped, or the "
                            "cascade found too few faces in them: the model keeps its margin")
    model.face.update(stage_params(framing))
    model.provenance["framing"] = framing
    path = save_model(model, args.out or args.file)
    print(f"{path}: box_scale {framing['box_scale']}, box_offset {framing['box_offset']} "
          f"(the cascade found {framing['found']} of {framing['sampled']} sampled training "
          "crops)")
    return 0
