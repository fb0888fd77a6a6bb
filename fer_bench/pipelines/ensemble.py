"""Late fusion of the two families: trained CNNs' and a classical pipeline's probabilities.

``ensemble`` reads a trained CNN from a model file (by default the bundled FER2013
mini-Xception, never retrained, as ``cnn-svm`` reads it; ``extra_models`` adds more, such as
other architectures' FER2013 models from the trained-model store), fits a registered classical
pipeline (by default ``fusion-svm``, the best classical one on FER2013) on the training part,
then on the validation part (FER2013: PublicTest) calibrates each member's probabilities with a
temperature (:func:`~fer_bench.metrics.fit_temperature`) and chooses the members' weights of
the fused ``sum_i w_i * p_i`` on a grid by validation accuracy (two members: ``w * p_cnn + (1 -
w) * p_classical``; ties to the weights closest to equal). Nothing is chosen on the test part.

The classical member is fitted as the harness fits that pipeline alone on a fixed split
(FER2013: on Training, its defaults tuned on PublicTest); on a split carved out of the
training data it does not go back into training after selection, as the standalone pipeline
does. Its selection, the temperatures and the weights all use the same validation part.

The CNNs are used as they are, whose classes must then be the job's (a FER2013 CNN fuses on
FER2013's seven classes only: the harness checks :meth:`LateFusion.output_classes` against them
before fitting and refuses a mismatch with one line), or, with ``fine_tune_epochs``, each is
fine-tuned on the training part first, as ``run --param init_from=FILE --param epochs=N
--param lr_schedule=cosine`` fine-tunes its architecture's registered pipeline with that
factory's defaults (every layer but the classifier starts from the file; validation as the
standalone CNN's). For the bundled mini-Xception that is its own CK+ fine-tuning; the other
CNNs' small-data recipes (``fer_bench/pipelines/deep/factories.py``) are not applied. So the
ensemble answers any dataset's classes: a CK+ fold fuses a CK+-tuned FER2013 CNN with a
classical pipeline fitted on the same fold. The fine-tuned CNNs are kept inside the
ensemble's model file as deep weights (:func:`~fer_bench.modelfile.dump_deep`: numbers and
strings, never code), so a stored ensemble no longer reads the files it started from.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..metrics import apply_temperature, fit_temperature
from ..errors import LabelSpaceError
from .base import accepts_validation, check_images, label_columns
from .hybrid import checked_cnn, model_list, model_path

# The small sets fine-tune the CNNs (their classes are not FER2013's) for 30 epochs, the
# schedule of the standalone mini-Xception's CK+ fine-tuning from the bundled model (`run
# --param init_from=fer_bench/models/default.ferb --param epochs=30 --param
# lr_schedule=cosine`). (A plain literal: the registry reads it without importing.)
_FINE_TUNE = {"fine_tune_epochs": 30}

#: Registry declaration (read without importing this module: see fer_bench.registry).
PLUGINS = [{"kind": "pipeline", "name": "ensemble", "target": "make_ensemble", "order": 100,
            "summary": "late fusion of trained CNNs' and fusion-svm's calibrated "
                       "probabilities, the weights chosen on the validation split (by "
                       "default the bundled FER2013 mini-Xception's)", "family": "hybrid",
            "reads_model": True,
            "budgets": {"full": {"ckplus": _FINE_TUNE, "jaffe": _FINE_TUNE},
                        "cpu": {"ckplus": _FINE_TUNE, "jaffe": _FINE_TUNE},
                        "cpu-2h": {"ckplus": _FINE_TUNE, "jaffe": _FINE_TUNE}}}]

#: The values a member's weight takes on the validation grid.
WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2).tolist())
#: At most this many weight combinations are tried (4 members on the default grid: 1,771).
MAX_CANDIDATES = 2_000
#: The records keep this many of the best candidates' validation accuracies.
KEPT_SCORES = 20


class LateFusion(ClassifierMixin, BaseEstimator):
    """``(N, 48, 48)`` uint8 faces -> fused class probabilities of trained CNNs and a classical
    pipeline.

    Parameters
    ----------
    classical : str
        A registered classical pipeline, fitted here with ``random_state``.
    model : str or None
        The CNN's model file; None: the bundled FER2013 mini-Xception.
    weights : sequence of float
        The values a member's weight takes on the validation grid: two members try ``(w, 1 -
        w)`` for each ``w``; more try every combination of them that sums to 1.
    random_state : int
    extra_models : sequence of str, or str
        Further CNN model files fused with ``model`` (each a member with its own temperature
        and weight), e.g. CNNs of other architectures from the trained-model store; a string
        is a comma-separated list. Relative paths resolve against the working directory, as
        ``model``'s do.
    fine_tune_epochs : int
        0: the CNNs are used as they are. More: each is fine-tuned for that many epochs on the
        training part (from its file's weights: its architecture's registered pipeline with
        its factory defaults, ``init_from`` and a cosine decay, validated on the validation
        part), and the ensemble answers the training labels' classes.

    Attributes
    ----------
    classical_ : estimator
        The fitted classical member.
    cnn_sha256_ : list of str
        Digests of the CNN files it was fitted with, ``model`` first (another file at one of
        those paths is refused).
    model_classes_ : tuple of str or None
        The CNNs' classes, which the job's must equal (None when they were fine-tuned).
    tuned_ : list of ndarray
        With ``fine_tune_epochs``: each fine-tuned CNN as the uint8 bytes of
        :func:`~fer_bench.modelfile.dump_deep` (``model`` first); else empty.
    temperatures_ : list of float
        One per member (the CNNs in order, then the classical one), fitted on the validation
        part.
    weights_ : tuple of float
        The chosen weight of each member (same order), summing to 1; ``weight_scores_`` holds
        each candidate's validation accuracy (the records keep the best
        :data:`KEPT_SCORES`).
    """

    def __init__(self, classical: str = "fusion-svm", model: str | None = None,
                 weights: Sequence[float] = WEIGHTS, random_state: int = 0,
                 extra_models: Sequence[str] = (), fine_tune_epochs: int = 0) -> None:
        self.classical = classical
        self.model = model
        self.weights = weights
        self.random_state = random_state
        self.extra_models = extra_models
        self.fine_tune_epochs = fine_tune_epochs

    def __setstate__(self, state: dict) -> None:
        # Files written before several CNNs could be fused held one CNN digest and its weight.
        state = dict(state)
        state.setdefault("extra_models", ())
        state.setdefault("fine_tune_epochs", 0)  # and files from before fine-tuning
        state.setdefault("tuned_", [])
        if isinstance(state.get("cnn_sha256_"), str):
            state["cnn_sha256_"] = [state["cnn_sha256_"]]
        if "weight_" in state and "weights_" not in state:
            w = state.pop("weight_")
            state["weights_"] = (w, 1 - w)
            state["weight_scores_"] = [((v, 1 - v), a) for v, a in state.get("weight_scores_", [])]
        super().__setstate__(state)

    def _paths(self) -> list[str | None]:
        return [self.model, *model_list(self.extra_models)]

    def _cnns(self) -> list:
        expected = getattr(self, "cnn_sha256_", None) or [None] * len(self._paths())
        if len(expected) != len(self._paths()):
            raise ValueError("ensemble: fitted with another number of CNNs; fit it again")
        return [checked_cnn(path, digest, "ensemble")
                for path, digest in zip(self._paths(), expected)]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())
        state.pop("_tuned_cache", None)  # rebuilt from tuned_ on the next prediction
        return state

    def output_classes(self) -> tuple[str, ...] | None:
        """The class names the fused outputs stand for: the CNNs' (the harness checks them
        against the job's before fitting); None when the CNNs are fine-tuned on the job's."""
        if self.fine_tune_epochs:
            return None
        cnns = self._cnns()
        for path, cnn in zip(self._paths()[1:], cnns[1:]):
            if tuple(cnn.classes) != tuple(cnns[0].classes):
                raise LabelSpaceError(f"the ensemble's CNNs know different classes: "
                                      f"{model_path(path)} has {', '.join(cnn.classes)}, "
                                      f"{model_path(self.model)} {', '.join(cnns[0].classes)}")
        return tuple(cnns[0].classes)

    def _member(self):
        from ..registry import PIPELINES

        entry = PIPELINES.get(self.classical)
        if entry.tags.get("family") != "classical":
            raise ValueError(f"ensemble: classical={self.classical!r} is not a classical "
                             f"pipeline (choose one of {', '.join(PIPELINES.names(family='classical'))})")
        return entry.load()(random_state=self.random_state)

    def _fine_tune(self, cnns: list, X, y, X_val, y_val) -> list[np.ndarray]:
        """Each of ``cnns`` (FerModels of :meth:`_paths`) fine-tuned on ``(X, y)`` from its
        file, as :attr:`tuned_` keeps it; the trained networks also fill the cache."""
        from ..modelfile import dump_deep
        from ..registry import PIPELINES

        tuned, nets = [], []
        for path, cnn in zip(self._paths(), cnns):
            net = PIPELINES.get(cnn.estimator.arch).load()(
                init_from=str(model_path(path)), epochs=int(self.fine_tune_epochs),
                lr_schedule="cosine", random_state=self.random_state)
            if X_val is not None and len(X_val):
                net.fit(X, y, X_val=X_val, y_val=y_val)
            else:
                net.fit(X, y)
            tuned.append(np.frombuffer(dump_deep(net.to_weights()), dtype=np.uint8))
            nets.append(net)
        self._tuned_cache = (tuned, nets)
        return tuned

    def _cnn_estimators(self) -> list:
        """The CNN members: the fine-tuned ones (rebuilt once from :attr:`tuned_`), or the
        files' own."""
        tuned = getattr(self, "tuned_", None)
        if not tuned:
            return [cnn.estimator for cnn in self._cnns()]
        cached = getattr(self, "_tuned_cache", None)
        if cached is None or cached[0] is not tuned:
            from ..errors import ModelFileError
            from ..modelfile import load_deep
            from .deep.estimator import CNNClassifier

            source = "the ensemble's fine-tuned CNN"
            nets = [CNNClassifier.from_weights(load_deep(source, b.tobytes()), source)
                    for b in tuned]
            k = len(self.classes_)
            if len(nets) != len(self._paths()) or any(
                    np.asarray(n.classes_).max(initial=-1) >= k for n in nets):
                raise ModelFileError(source, "does not match the fitted ensemble (another "
                                     "number of CNNs, or classes it does not know)",
                                     "fit the ensemble again")
            self._tuned_cache = (tuned, nets)
        return self._tuned_cache[1]

    def _members(self, X: np.ndarray) -> list[np.ndarray]:
        """Each member's probabilities with a column per label ``0 .. K-1`` of ``classes_``
        (zero for a label the member never saw in training), CNNs first."""
        out = []
        for member in (*self._cnn_estimators(), self.classical_):
            p = member.predict_proba(X)
            seen = getattr(member, "classes_", np.arange(np.shape(p)[1]))
            out.append(label_columns(p, seen, len(self.classes_)))
        return out

    def fit(self, X, y, X_val=None, y_val=None) -> "LateFusion":
        """Fit the classical member on ``(X, y)`` (and, with ``fine_tune_epochs``, fine-tune
        the CNNs there, their best epoch chosen on the validation part); calibrate and weigh
        on ``(X_val, y_val)`` (without one, equal weights and no temperatures). ``y`` holds
        label indices ``0 .. K-1``."""
        from ..modelfile import file_digest

        X = check_images(X)
        y = np.asarray(y)
        if int(self.fine_tune_epochs) < 0:
            raise ValueError(f"ensemble: fine_tune_epochs must be 0 or more, got "
                             f"{self.fine_tune_epochs}")
        self.cnn_sha256_, self.tuned_ = None, []
        self.__dict__.pop("_tuned_cache", None)
        classes = self.output_classes()
        cnns = self._cnns()  # CNN files, or a one-line error, before any long fit
        self.cnn_sha256_ = [file_digest(model_path(p)) for p in self._paths()]
        self.model_classes_ = classes
        if classes is None:  # fine-tuned: the labels' classes (as LabelSpace numbers them)
            self.classes_ = np.arange(int(y.max()) + 1 if y.size else 0)
        else:
            self.classes_ = np.arange(len(classes))
            if y.size and int(y.max()) >= len(classes):  # before the classical fit, not after
                raise LabelSpaceError(f"the ensemble's CNN ({model_path(self.model)}) knows "
                                      f"{len(classes)} classes, the labels have more; "
                                      "fine-tune it on them (fine_tune_epochs)")
        member = self._member()
        if X_val is not None and accepts_validation(member):
            member.fit(X, y, X_val=X_val, y_val=y_val)
        else:
            member.fit(X, y)
        self.classical_ = member
        if classes is None:
            self.tuned_ = self._fine_tune(cnns, X, y, X_val, y_val)
        n = len(self._paths()) + 1
        self.temperatures_, self.weights_, self.weight_scores_ = [1.0] * n, (1 / n,) * n, []
        if X_val is not None and len(X_val):
            y_val = np.asarray(y_val)
            probs = self._members(check_images(X_val))
            self.temperatures_ = [fit_temperature(p, y_val) for p in probs]
            probs = np.stack([apply_temperature(p, t) for p, t in zip(probs, self.temperatures_)])
            self.weight_scores_ = [
                (w, float(np.mean(np.tensordot(w, probs, axes=1).argmax(1) == y_val)))
                for w in simplex_grid(self.weights, n)]
            best = max(s for _, s in self.weight_scores_)
            self.weights_ = min((w for w, s in self.weight_scores_ if s == best),
                                key=lambda w: round(sum((v - 1 / n) ** 2 for v in w), 9))
        return self

    @property
    def search_scores_(self) -> list[tuple[dict, float]]:
        """The best weight candidates' validation accuracies (at most :data:`KEPT_SCORES`), as
        the records keep a selection."""
        ranked = sorted(self.weight_scores_, key=lambda ws: -ws[1])[:KEPT_SCORES]
        return [({"weights": list(w)}, s) for w, s in ranked]

    @property
    def best_params_(self) -> dict:
        """The chosen weights and the members' temperatures (CNNs in order, then classical)."""
        return {"weights": list(self.weights_), "temperatures": list(self.temperatures_)}

    def predict_proba(self, X) -> np.ndarray:
        """``(N, K)`` fused probabilities."""
        probs = self._members(check_images(X))
        return sum(w * apply_temperature(p, t)
                   for w, p, t in zip(self.weights_, probs, self.temperatures_))

    def predict(self, X) -> np.ndarray:
        """``(N,)`` labels: the argmax of :meth:`predict_proba` (a column per label)."""
        return self.predict_proba(X).argmax(axis=1)


def simplex_grid(values: Sequence[float], n: int) -> list[tuple[float, ...]]:
    """The fused weights tried for ``n`` members: ``(w, 1 - w)`` for each of ``values`` when
    ``n == 2``, else every ``n``-tuple of ``values`` that sums to 1 (to 1e-9), in order."""
    values = sorted(set(map(float, values)))
    if n == 2:
        grid = [(w, round(1.0 - w, 12)) for w in values if 0.0 <= w <= 1.0]
    else:
        grid = []

        def extend(prefix: tuple[float, ...], total: float) -> None:
            if len(prefix) == n - 1:
                last = 1.0 - total
                if any(abs(last - v) < 1e-9 for v in values):
                    grid.append((*prefix, min(values, key=lambda v: abs(last - v))))
                return
            for v in values:
                if total + v <= 1.0 + 1e-9:
                    extend((*prefix, v), total + v)

        extend((), 0.0)
    if not grid:
        raise ValueError(f"ensemble: no weights of {values} for {n} members sum to 1; give "
                         "weights that do (e.g. 0, 0.05, ..., 1)")
    if len(grid) > MAX_CANDIDATES:
        raise ValueError(f"ensemble: {len(grid)} weight combinations for {n} members; give "
                         f"coarser weights (at most {MAX_CANDIDATES} combinations)")
    return grid


def make_ensemble(classical: str = "fusion-svm", model: str | None = None,
                  weights: Sequence[float] = WEIGHTS, random_state: int = 0,
                  extra_models: Sequence[str] | str | None = (),
                  fine_tune_epochs: int = 0) -> LateFusion:
    """Late fusion of the bundled CNN (or ``model``, plus any ``extra_models``; fine-tuned on
    the training part for ``fine_tune_epochs`` when that is not 0) and ``classical``, weighed
    on the validation part."""
    return LateFusion(classical, model, tuple(weights), random_state, model_list(extra_models),
                      int(fine_tune_epochs))
