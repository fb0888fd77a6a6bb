"""The scikit-learn face of the CNNs: :class:`CNNClassifier` (the registered factories are in
:mod:`.factories`).

Files are :mod:`fer_bench.modelfile`'s business: the estimator turns itself into plain weights
(:meth:`CNNClassifier.to_weights`) and back (:meth:`CNNClassifier.from_weights`).

``CNNClassifier`` follows the pipeline contract of :mod:`fer_bench.pipelines.base`: it fits on
``(N, 48, 48)`` uint8 faces, accepts a validation split for model selection, and its
constructor only stores parameters, so ``clone`` / ``GridSearchCV`` work.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils.validation import check_is_fitted

from ... import modelfile
from ...errors import FerBenchError, LabelSpaceError, ModelFileError
from ..base import check_images, shared_result
from . import predict, train
from .checkpoint import run_signature
from .input_pipeline import AugmentConfig, TTA_MODES
from .networks import (ARCHITECTURES, build_model, declared_settings, init_variables,
                       resolve_dtype)
from .transfer import head_name, initialiser_from

IMAGE_SIZE = 48
_USE_PARAM = object()


class CNNClassifier(ClassifierMixin, BaseEstimator):
    """A Flax CNN trained with optax, as a scikit-learn classifier on 48x48 faces.

    Parameters
    ----------
    arch : {"little-vgg", "mini-xception", "vgg-fer", "cpu-vgg"}
        The network (:mod:`.networks`).
    epochs : int
        Maximum number of epochs (early stopping may end sooner).
    batch_size : int
        Training batch size (rounded down to a multiple of the device count).
    learning_rate : float
        Initial learning rate.
    optimizer : {"adamw", "sgd"}
        AdamW, or SGD with Nesterov momentum 0.9.
    weight_decay : float
        Decay of the kernels (decoupled for AdamW, L2 for SGD); biases and BN are not decayed.
    label_smoothing : float
        Weight of the uniform distribution mixed into the one-hot targets.
    ema : float
        Decay of an exponential moving average of the weights (and batch statistics) updated
        every step; when > 0 the average is what is validated, selected and kept (the raw
        weights' validation figures go to the history as ``val_accuracy_raw``). 0 disables.
    augment : {"none", "flip", "crop", "affine"}
        Training augmentation (:class:`.input_pipeline.AugmentConfig`).
    max_rotation, max_shift, max_zoom, max_shear : float
        Ranges of the random affine: degrees, fraction of the side, scale deviation, degrees.
        ``max_shift`` is also the padding fraction of ``augment="crop"``.
    erasing : float
        Probability of random erasing per image (0 disables).
    mixup : float
        Mixup Beta parameter (0 disables).
    patience : int
        Epochs without a better validation accuracy before training stops.
    lr_patience : int
        Epochs without a lower validation loss before the learning rate is multiplied by
        ``lr_factor``.
    lr_factor : float
        Learning-rate reduction factor on a plateau.
    lr_schedule : {"plateau", "cosine"}
        "plateau": reduce on a validation-loss plateau (``lr_patience``, ``lr_factor``);
        "cosine": decay from ``learning_rate`` to 1e-6 along half a cosine over ``epochs``
        (the right choice for a fixed budget of epochs).
    validation_fraction : float
        Share of the training data held out (stratified, seeded) for model selection when
        ``fit`` gets no ``X_val``.
    tta : {None, "flip", "tencrop", "auto"}
        Test-time augmentation used by ``predict`` / ``predict_proba``; "auto" chooses None or
        "flip" after training, whichever is more accurate on the validation split (ties: None).
    predict_batch_size : int
        Images per inference call.
    checkpoint_dir : str or None
        Directory for the per-epoch checkpoint; an interrupted ``fit`` with the same data and
        parameters resumes from it. None: no checkpoints.
    random_state : int
        Seed of the initialisation, the batch order, augmentation, dropout and the held-out
        validation split.
    verbose : int
        0: silent; 1: a progress bar per epoch; 2: the bars stay on screen.
    dtype : {"auto", "float32", "bfloat16"}
        Computation dtype; "auto" is bfloat16 on a GPU and float32 elsewhere.
    init_from : str or None
        A ``.ferb`` model file (``train``'s output) of a CNN of the same architecture
        whose weights start the training, all but the classifier, which starts fresh (the label
        sets may differ): e.g. CK+ folds initialised from the FER2013 model. None: random
        initialisation.
    dense_dropout : float or None
        Dropout rate of the dense layers before the classifier, for networks that have them
        (little-VGG 0.5, vgg-fer 0.4 as published); None: the network's own. Heavy dropout
        there stalls the first hundreds of steps, which is all a small dataset's budget has.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        The class labels seen in ``fit``.
    variables_ : dict
        Parameters and batch statistics of the best epoch (numpy arrays).
    history_ : list of dict
        Per epoch: ``epoch, loss, accuracy, val_loss, val_accuracy, lr, images_per_s, seconds``.
    best_epoch_ : int
        The (1-based) epoch whose weights are kept.
    selection_ : dict
        Choices made on the validation split after training (``tta="auto"``: the mode
        predictions use, ``"tta"``, and each candidate's validation accuracy).
    """

    def __init__(
        self, arch: str = "mini-xception", epochs: int = 50, batch_size: int = 64,
        learning_rate: float = 1e-3, optimizer: str = "adamw", weight_decay: float = 0.0,
        label_smoothing: float = 0.0, ema: float = 0.0, augment: str = "affine", max_rotation: float = 10.0,
        max_shift: float = 0.1, max_zoom: float = 0.1, max_shear: float = 5.0,
        erasing: float = 0.0, mixup: float = 0.0, patience: int = 10, lr_patience: int = 5,
        lr_factor: float = 0.5, lr_schedule: str = "plateau", validation_fraction: float = 0.1,
        tta: str | None = None,
        predict_batch_size: int = 256, checkpoint_dir: str | None = None,
        random_state: int = 0, verbose: int = 1, dtype: str = "auto",
        init_from: str | None = None, dense_dropout: float | None = None,
    ) -> None:
        self.arch = arch
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.label_smoothing = label_smoothing
        self.ema = ema
        self.augment = augment
        self.max_rotation = max_rotation
        self.max_shift = max_shift
        self.max_zoom = max_zoom
        self.max_shear = max_shear
        self.erasing = erasing
        self.mixup = mixup
        self.patience = patience
        self.lr_patience = lr_patience
        self.lr_factor = lr_factor
        self.lr_schedule = lr_schedule
        self.validation_fraction = validation_fraction
        self.tta = tta
        self.predict_batch_size = predict_batch_size
        self.checkpoint_dir = checkpoint_dir
        self.random_state = random_state
        self.verbose = verbose
        self.dtype = dtype
        self.init_from = init_from
        self.dense_dropout = dense_dropout

    # -- fitting ---------------------------------------------------------------------------
    def train_config(self) -> train.TrainConfig:
        """The training configuration :meth:`fit` runs with (the benchmarks time its step)."""
        aug = AugmentConfig(
            mode=self.augment, max_rotation=self.max_rotation, max_shift=self.max_shift,
            max_zoom=self.max_zoom, max_shear=self.max_shear, erasing=self.erasing,
            mixup=self.mixup,
        )
        return train.TrainConfig(
            epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
            optimizer=self.optimizer, weight_decay=self.weight_decay,
            label_smoothing=self.label_smoothing, ema=self.ema, augment=aug,
            patience=self.patience,
            lr_patience=self.lr_patience, lr_factor=self.lr_factor, lr_schedule=self.lr_schedule,
            eval_batch_size=self.predict_batch_size, seed=int(self.random_state),
            verbose=self.verbose,
        )

    def _network(self, num_classes: int, dtype: Any = None) -> Any:
        """The network of these parameters for ``num_classes`` classes (computing in ``dtype``,
        default: the ``dtype`` setting's)."""
        options = {} if self.dense_dropout is None else {"dense_dropout": self.dense_dropout}
        return build_model(self.arch, num_classes,
                           resolve_dtype(self.dtype) if dtype is None else dtype, **options)

    def _check_params(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {', '.join(ARCHITECTURES)}, got {self.arch!r}")
        if self.tta not in (*TTA_MODES, "auto"):
            raise ValueError(f"tta must be one of {(*TTA_MODES, 'auto')}, got {self.tta!r}")
        if self.dense_dropout is not None:
            if "dense_dropout" not in declared_settings(self.arch):
                raise ValueError(f"{self.arch} has no dense layers before its classifier: leave "
                                 "dense_dropout at None")
            if not 0 <= self.dense_dropout < 1:
                raise ValueError(f"dense_dropout must be in [0, 1), got {self.dense_dropout}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError(
                f"validation_fraction must be in (0, 1), got {self.validation_fraction}")

    def _holdout(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Seeded train / validation indices, stratified when every class has two images."""
        n_val = max(1, int(round(self.validation_fraction * len(y))))
        if len(y) - n_val < 1:
            raise FerBenchError(
                f"{len(y)} training images are too few to hold out a validation set")
        counts = np.bincount(y)
        stratify = counts.min() >= 2 and n_val >= len(counts) and len(y) - n_val >= len(counts)
        splitter = (StratifiedShuffleSplit if stratify else ShuffleSplit)(
            n_splits=1, test_size=n_val, random_state=self.random_state)
        return next(splitter.split(X, y))

    def fit(self, X: Any, y: Any, X_val: Any = None, y_val: Any = None) -> "CNNClassifier":
        """Train on faces ``X`` (N, 48, 48) uint8 with labels ``y`` (N,), selecting the epoch and
        stopping on ``X_val`` / ``y_val`` (or a held-out ``validation_fraction`` of ``X``)."""
        self._check_params()
        X = check_images(X, size=IMAGE_SIZE)
        y = np.asarray(y)
        if y.shape != (len(X),):
            raise FerBenchError(f"y has shape {y.shape}, expected ({len(X)},) labels for X")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        if (X_val is None) != (y_val is None):
            raise FerBenchError("pass both X_val and y_val, or neither")
        if X_val is None:
            tr, va = self._holdout(X, y_idx)
            X, X_val, y_idx, yv_idx = X[tr], X[va], y_idx[tr], y_idx[va]
        else:
            X_val = check_images(X_val, "X_val", IMAGE_SIZE)
            y_val = np.asarray(y_val)
            if y_val.shape != (len(X_val),):
                raise FerBenchError(f"y_val has shape {y_val.shape}, expected ({len(X_val)},)")
            unknown = np.setdiff1d(y_val, self.classes_)
            if unknown.size:
                raise LabelSpaceError(
                    f"validation labels {unknown.tolist()} do not occur in the training labels "
                    f"{self.classes_.tolist()}; use the same label view for both")
            yv_idx = np.searchsorted(self.classes_, y_val)
        num_classes = len(self.classes_)
        model = self._network(num_classes)
        signature = (run_signature(self.get_params(), X, y_idx, X_val, yv_idx)
                     if self.checkpoint_dir is not None else "")
        initialise = (None if self.init_from is None
                      else initialiser_from(self.init_from, self.arch, head_name(model)))
        result = train.fit(model, X, y_idx, X_val, yv_idx, num_classes, self.train_config(),
                           self.checkpoint_dir, signature, initialise)
        self.variables_ = result.variables
        self.history_ = result.history
        accs = [h["val_accuracy"] for h in self.history_]
        self.best_epoch_ = int(np.argmax(accs)) + 1 if accs else 0
        self.selection_ = {}
        if self.tta == "auto":
            self._choose_tta(X_val, self.classes_[yv_idx])
        return self

    def _choose_tta(self, X_val: np.ndarray, y_val: np.ndarray) -> None:
        # Mirror averaging or none, on the validation split only; ten-crop (ten forward passes
        # per face) stays something the user asks for.
        scores = {mode or "none": float(np.mean(self.predict(X_val, tta=mode) == y_val))
                  for mode in (None, "flip")}
        self.selection_ = {"tta": "flip" if scores["flip"] > scores["none"] else None,
                           "tta_val_accuracy": scores}

    def used_tta(self) -> str | None:
        """The test-time augmentation predictions use: ``tta``, or its choice under "auto"."""
        if self.tta == "auto":
            check_is_fitted(self, "selection_")
            return self.selection_.get("tta")
        return self.tta

    # -- prediction ------------------------------------------------------------------------
    def predict_proba(self, X: Any, tta: Any = _USE_PARAM) -> np.ndarray:
        """Class probabilities ``(N, K)``; ``tta`` overrides the estimator's ``tta``."""
        check_is_fitted(self, "variables_")
        tta = self.used_tta() if tta is _USE_PARAM else tta
        if tta not in TTA_MODES:
            raise ValueError(f"tta must be one of {TTA_MODES}, got {tta!r}")
        X = check_images(X, size=IMAGE_SIZE)

        def compute() -> np.ndarray:
            # Shared and cached outside the estimator: clone/deepcopy never copy compiled code.
            model = self._network(len(self.classes_))
            predictor = predict.get_predictor(model, int(self.predict_batch_size),
                                              predict.device_mesh())
            return predictor.predict_proba(self._device_variables(predictor), X, tta)

        # One forward pass (ten-crop too) for the harness's predict and predict_proba.
        return shared_result((id(self.variables_), tta), X, compute)

    def _device_variables(self, predictor: predict.Predictor) -> Any:
        # Keep the weights on the device between calls: copying them for every call cost about
        # 10 ms at batch 1, twenty times the forward pass. The cache holds the weights object it
        # was made from, so a refit (new ``variables_``) is never served stale weights.
        cached = getattr(self, "_placed", None)
        if cached is None or cached[0] is not self.variables_ or cached[1] is not predictor.mesh:
            self._placed = (self.variables_, predictor.mesh, predictor.place(self.variables_))
        return self._placed[2]

    def __getstate__(self) -> dict:
        state = dict(super().__getstate__())  # a copy: the live object keeps its cache
        state.pop("_placed", None)  # device buffers: rebuilt on the next prediction
        return state

    def embed(self, X: Any) -> np.ndarray:
        """Penultimate features ``(N, D)`` of the faces: the input of the network's classifier
        (see :data:`~fer_bench.pipelines.deep.networks.FEATURES`), for hybrids such as
        ``cnn-svm``."""
        check_is_fitted(self, "variables_")
        X = check_images(X, size=IMAGE_SIZE)
        model = self._network(len(self.classes_))
        return predict.embed(model, self.variables_, X, int(self.predict_batch_size))

    def predict(self, X: Any, tta: Any = _USE_PARAM) -> np.ndarray:
        """Predicted labels ``(N,)`` (entries of ``classes_``)."""
        return self.classes_[np.argmax(self.predict_proba(X, tta), axis=1)]

    # -- weights as plain data (what a model file stores) ----------------------------------
    def to_weights(self) -> modelfile.CNNWeights:
        """The fitted network as :class:`~fer_bench.modelfile.CNNWeights`."""
        check_is_fitted(self, "variables_")
        return modelfile.CNNWeights(
            arch=self.arch, params=self.get_params(), classes=np.asarray(self.classes_),
            variables=self.variables_, history=list(getattr(self, "history_", [])),
            best_epoch=int(getattr(self, "best_epoch_", 0)),
            selection=dict(getattr(self, "selection_", {})))

    @classmethod
    def from_weights(cls, weights: modelfile.CNNWeights, source: object = "weights"
                     ) -> "CNNClassifier":
        """The fitted estimator ``weights`` describe (checked against the architecture);
        :class:`~fer_bench.errors.ModelFileError` naming ``source`` when they do not fit."""
        fix = "the file is damaged or was written by an incompatible fer-bench; train it again"
        try:
            estimator = cls(**weights.params)
            estimator._check_params()
            model = estimator._network(len(weights.classes), jnp.float32)
        except (TypeError, ValueError) as exc:
            raise ModelFileError(source, f"CNN settings are invalid ({exc})", fix) from None
        target = jax.eval_shape(partial(init_variables, model))
        estimator.variables_ = modelfile.restore_into(target, weights.variables, source,
                                                      "CNN weights", fix)
        estimator.classes_ = np.asarray(weights.classes)
        estimator.history_ = list(weights.history)
        estimator.best_epoch_ = int(weights.best_epoch)
        estimator.selection_ = dict(weights.selection)
        if estimator.tta == "auto" and estimator.selection_.get("tta", "?") not in TTA_MODES:
            raise ModelFileError(source, "it was trained with tta='auto' but holds no valid "
                                 "choice of test-time augmentation", fix)
        return estimator
