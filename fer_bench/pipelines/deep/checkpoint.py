"""A training run's checkpoint: what identifies the run, and saving and resuming its state.

A checkpoint holds the train state, the best epoch's weights and the host-side progress, and the
run's signature: a hash of the estimator parameters that change what the run computes, the data
and the starting weights. A run resumes only its own checkpoint, and then ends exactly as an
uninterrupted run would. Files are :mod:`fer_bench.modelfile`'s business.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np

from ... import modelfile
from ...errors import ModelFileError
from .state import Progress, TrainState
from .transfer import TRANSFER_VERSION

#: Estimator parameters that do not change what a run computes: a checkpoint stays valid across
#: them (so ``epochs`` can be raised to continue a finished run; not under the cosine schedule,
#: whose every epoch's rate depends on ``epochs``).
RUN_NEUTRAL = ("epochs", "verbose", "checkpoint_dir", "tta", "predict_batch_size")


def run_signature(params: dict, *arrays: np.ndarray) -> str:
    """The signature of a run of a :class:`~.estimator.CNNClassifier` with ``params`` (its
    ``get_params()``) on ``arrays`` (training and validation images and labels)."""
    h = hashlib.sha256()
    neutral = set(RUN_NEUTRAL) - ({"epochs"} if params["lr_schedule"] == "cosine" else set())
    if params["init_from"] is None:  # so checkpoints from before the parameter stay valid
        neutral.add("init_from")
    if not params["ema"]:  # likewise
        neutral.add("ema")
    if params.get("dense_dropout") is None:  # likewise
        neutral.add("dense_dropout")
    kept = {k: v for k, v in params.items() if k not in neutral}
    h.update(json.dumps(kept, sort_keys=True, default=str).encode())
    for a in arrays:
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    if params["init_from"] is not None:  # the starting weights, not just their file name
        h.update(modelfile.file_digest(params["init_from"]).encode())
        h.update(f"transfer {TRANSFER_VERSION}".encode())
    return h.hexdigest()


def _state_tree(state: TrainState) -> dict:
    tree = {"step": state.step, "params": state.params, "batch_stats": state.batch_stats,
            "opt_state": state.opt_state}
    if state.ema is not None:
        tree["ema"] = state.ema
    return tree


def save(directory: str, signature: str, state: TrainState, best: dict,
         progress: Progress) -> None:
    """Write the checkpoint of the run ``signature`` after an epoch into ``directory``."""
    modelfile.save_checkpoint(directory, {
        "signature": signature,
        "state": _state_tree(state),
        "best": best,
        "progress": json.dumps(asdict(progress)),
    })


def resume(directory: str, signature: str, state: TrainState, best: dict
           ) -> tuple[TrainState, dict, Progress] | None:
    """The ``(state, best, progress)`` saved in ``directory`` (shaped like the fresh ``state``
    and ``best``), or None when there is no checkpoint. Raises
    :class:`~fer_bench.errors.ModelFileError` for another run's or a damaged checkpoint."""
    raw = modelfile.load_checkpoint(directory)
    if raw is None:
        return None
    path = modelfile.checkpoint_path(directory)
    fix = "delete it, or pass another checkpoint_dir, to start a new run"
    if raw.get("signature") != signature:
        raise ModelFileError(
            path, "checkpoint belongs to a run with other data or parameters", fix)
    restored = modelfile.restore_into(_state_tree(state), raw["state"], path, "checkpoint", fix)
    best = modelfile.restore_into(best, raw["best"], path, "checkpoint", fix)
    try:
        progress = Progress(**json.loads(raw["progress"]))
    except (KeyError, TypeError, ValueError):
        raise ModelFileError(path, "checkpoint has no readable progress record", fix) from None
    state = state.replace(**restored)
    return state, best, progress
