"""Training Cheung et al.'s (2015) XCov autoencoder on the engine, and evaluating it.

The objective, Cheung et al. eq. 3, on one minibatch::

    alpha U + beta S + gamma C(ŷ, z)

U is the mean squared reconstruction error (Cheung et al. eq. 4), S the softmax cross-entropy of
the labelled examples (Cheung et al. eq. 5), C the cross-covariance penalty between the softmax
outputs ŷ and the latent units z (Cheung et al. eq. 6);
:func:`jaxdis.losses.semi_supervised_objective` computes them (:func:`batch_objective`,
:func:`objective`).

The engine program (:func:`xcov_program`) trains one role, "model" (the Flax variables), with
AdaDelta (Zeiler 2012: step 1, rho 0.95, eps 1e-6). What else varies between the models of one
sweep rides in each model's **constants** (:func:`model_constants`; never trained, no optimizer
state): the weights alpha, beta, gamma and a per-example flag over the whole training set saying
which examples keep their labels (a minibatch reads its flags through the examples' ``index``).
So a sweep over seeds, gammas or labelled subsets is one vmapped program, compiled once.

The optional max-norm constraint of the authors' configurations (about 0.9 on each unit's incoming
weights, :func:`jaxdis.nets.cheung.max_norm_project`) is the program's projection, applied after
every update. Model selection (Table 2's "model selection criterion") is the program's
``select_on``: the validation set is the probe set, scored after every epoch, and each model keeps
the parameters of its epoch with the highest validation accuracy (``selection="accuracy"``) or the
lowest validation reconstruction error (``"reconstruction"``) in ``TrainState.best``.

:func:`train_models` trains such a sweep with :func:`jaxdis.train.runner.train_sweep` in a run
folder (metrics, checkpoints, resume, early stopping); :func:`train_and_evaluate` then scores the
selected parameters (:func:`evaluate_stack`). The data are :func:`load_splits`' {split: (images,
labels)}; labels are an array for one label set and a dict ``{name: array}`` for several
(Multi-PIE's pose and illumination), -1 where an example has no label. Table 5's generator and
Parzen-window estimate are :func:`latent_samples`, :func:`sample_images`, :func:`parzen_table5`.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.config import from_fields
from jaxdis.losses import semi_supervised_objective, xcov
from jaxdis.nets import cheung
from jaxdis.train import runner
from jaxdis.train.engine import Program, Stage, TrainState
from jaxdis.train.optimizers import OptimizerSpec, make_optimizer

# Table 2's model selection criterion -> (the probe metric, whether larger or smaller is better).
SELECTIONS = {"accuracy": ("validation_accuracy", "max"),
              "reconstruction": ("validation_reconstruction", "min")}


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What one compiled program depends on (hashable: it keys the program cache).

    Attributes:
      model: the autoencoder (:data:`jaxdis.nets.cheung.MODELS`); Flax modules compare and hash
        by their fields.
      epochs: training epochs.
      batch_size: examples per minibatch (Cheung et al. section 2.3: 50).
      learning_rate, rho, eps: AdaDelta's step, decay and stabiliser.
      max_norm: the largest norm of a unit's incoming weights after every update; 0: off.
      selection: "reconstruction" or "accuracy" on the validation set (:data:`SELECTIONS`).
    """

    model: cheung.XCovAutoencoder
    epochs: int
    batch_size: int = 50
    learning_rate: float = 1.0
    rho: float = 0.95
    eps: float = 1e-6
    max_norm: float = 0.0
    selection: str = "reconstruction"

    def __post_init__(self):
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection: expected one of {tuple(SELECTIONS)}, got "
                             f"{self.selection!r}")
        if self.max_norm < 0:
            raise ValueError(f"max_norm: expected >= 0 (0 = off), got {self.max_norm}")

    @classmethod
    def from_config(cls, config, **changes) -> "TrainSettings":
        """The settings of ``config`` (any object with attributes of these names, such as the
        experiment's config), each field read by its name; ``model`` is built from the name
        ``config.model``. ``changes`` replace fields by name (``epochs=...``)."""
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"changes: {unknown} are not settings; the settings are "
                             f"{sorted(names)}")
        if config.model not in cheung.MODELS:
            raise ValueError(f"model: expected one of {sorted(cheung.MODELS)}, got "
                             f"{config.model!r}")
        return from_fields(cls, config, **{"model": cheung.MODELS[config.model](), **changes})


# ----------------------------------------------------------------------------- the data

def load_splits(model_name: str, npz: str = "", train_examples: int = 0) -> dict:
    """{split: (images, labels)} for "train", "validation" and "test": MNIST's (validation: the
    last 10,000 of the training file), or with ``npz`` the user's file's
    (:func:`load_npz_splits`); the training split cut to its first ``train_examples`` (0: all)."""
    from jaxdis.data import load_mnist

    if npz:
        splits = load_npz_splits(npz, model_name)
    else:
        splits = {}
        for split in ("train", "validation", "test"):
            images, labels = load_mnist(split)
            splits[split] = (np.asarray(images, np.float32), np.asarray(labels, np.int32))
    images, labels = splits["train"]
    if train_examples > len(images):
        raise ValueError(f"train_examples: {train_examples} asked for, the training split has "
                         f"{len(images)}")
    n = train_examples or len(images)
    splits["train"] = images[:n], jax.tree.map(lambda values: values[:n], labels)
    return splits


def load_npz_splits(path: str, model_name: str) -> dict:
    """The train, validation and test splits of a user's labelled-images file (TFD, Multi-PIE: the
    :mod:`jaxdis.data.labelled_npz` layout, with its ``split`` array) for the model
    ``model_name`` (:data:`jaxdis.nets.cheung.MODELS`): {split: (images, labels)}, labels an array
    for one label set and a dict {name: array} for several, -1 where unlabelled. Checked against
    the model: image shape, label set names (keys ``labels_<name>``) and labels below each set's
    number of classes."""
    from jaxdis.data.labelled_npz import load_labelled_npz_splits

    model = cheung.MODELS[model_name]()
    sizes = dict(model.label_sets)
    splits = {}
    for split, data in load_labelled_npz_splits(path).items():
        if len(data.images) == 0:
            raise ValueError(f"npz: {path} has no {split!r} examples in its 'split' array")
        if tuple(data.images.shape[1:]) != tuple(model.image_shape):
            raise ValueError(f"npz: {path} holds images of shape {data.images.shape[1:]}; "
                             f"model {model_name} takes {tuple(model.image_shape)}")
        if set(data.labels) != set(sizes):
            raise ValueError(f"npz: {path} has label sets {sorted(data.labels)}; model "
                             f"{model_name} needs {sorted(sizes)} (keys 'labels_<name>')")
        for name, values in data.labels.items():
            if values.max(initial=-1) >= sizes[name]:
                raise ValueError(f"npz: labels_{name} in {path} holds {values.max()}; model "
                                 f"{model_name} has {sizes[name]} classes for {name!r}")
        labels = {name: data.labels[name] for name, _ in model.label_sets}
        splits[split] = (data.images, labels if len(labels) > 1 else labels[model.label_sets[0][0]])
    return splits


def on_device(images, labels, with_index: bool = False) -> dict:
    """``{"images", "labels"}`` as device arrays; ``with_index`` adds each example's position,
    through which a minibatch reads its label flags (training data needs it)."""
    batch = {"images": jnp.asarray(images), "labels": jax.tree.map(jnp.asarray, labels)}
    if with_index:
        batch["index"] = jnp.arange(len(images))
    return batch


def label_mask(labels: np.ndarray, per_class: int | None, seed: int) -> np.ndarray:
    """1.0 for ``per_class`` examples of each class drawn at random (all when None), else 0.0."""
    mask = np.zeros(len(labels), np.float32)
    if per_class is None:
        return mask + 1.0
    rng = np.random.default_rng(seed)
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < per_class:
            raise ValueError(f"labelled_per_class: {per_class} asked for, class {c} has only "
                             f"{len(members)} training examples")
        mask[rng.choice(members, per_class, replace=False)] = 1.0
    return mask


def model_constants(weights, labelled) -> dict:
    """The constants of a sweep of models: ``weights`` one (alpha, beta, gamma) per model,
    ``labelled`` one flag vector over the training set per model (1: the example keeps its
    label). Returns ``{"alpha", "beta", "gamma": (models,), "labelled": (models, n_train)}``."""
    weights = np.asarray(weights, np.float32)
    labelled = np.asarray(labelled, np.float32)
    if weights.ndim != 2 or weights.shape[1] != 3:
        raise ValueError(f"weights: expected one (alpha, beta, gamma) per model, got shape "
                         f"{weights.shape}")
    if labelled.ndim != 2 or len(labelled) != len(weights):
        raise ValueError(f"labelled: expected one flag vector per model ({len(weights)}, n_train), "
                         f"got shape {labelled.shape}")
    return {"alpha": jnp.asarray(weights[:, 0]), "beta": jnp.asarray(weights[:, 1]),
            "gamma": jnp.asarray(weights[:, 2]), "labelled": jnp.asarray(labelled)}


# ----------------------------------------------------------------------------- the objective

def batch_objective(model, variables, constants, batch, key):
    """Cheung et al. eq. 3 on one minibatch: (total, parts). ``constants`` holds this model's
    alpha, beta, gamma and the label flags of the whole training set (:func:`model_constants`,
    one model's row); ``key`` drives the model's dropout."""
    x = batch["images"]
    y_logits, z, x_hat = model.apply(variables, x, train=True, rngs={"dropout": key})
    labelled = constants["labelled"][batch["index"]]
    return objective(x, x_hat, batch["labels"], y_logits, z, labelled,
                     constants["alpha"], constants["beta"], constants["gamma"])


def objective(x, x_hat, labels, y_logits, z, labelled, alpha, beta, gamma):
    """Cheung et al. eq. 3 for one label set (arrays) or several (dicts {name: array}, Multi-PIE's
    pose and illumination): (total, parts).

    With several label sets, total = alpha U + sum over sets s of (beta S_s + gamma C(ŷ_s, z)):
    each set has its own softmax cross-entropy, and the XCov of the concatenated ŷ with z is the
    sum of each set's (Cheung et al. eq. 6 sums squared cross-covariances over pairs (i, j)), so
    one call of :func:`jaxdis.losses.semi_supervised_objective` per set, with alpha on the first
    only, is the whole objective. An example's label counts where ``labelled`` is 1 and the label
    is not -1 (unlabelled in the :mod:`jaxdis.data.labelled_npz` layout), per set.
    """
    if not isinstance(y_logits, dict):
        mask = labelled * (labels >= 0)
        return semi_supervised_objective(x, x_hat, labels, y_logits, z, mask, alpha, beta, gamma)
    total, parts = 0.0, {}
    for i, name in enumerate(sorted(y_logits)):
        mask = labelled * (labels[name] >= 0)
        set_total, set_parts = semi_supervised_objective(
            x, x_hat, labels[name], y_logits[name], z, mask, alpha if i == 0 else 0.0, beta, gamma)
        total = total + set_total
        parts["reconstruction"] = set_parts["reconstruction"]
        for part in ("supervised", "xcov"):
            parts[part] = parts.get(part, 0.0) + set_parts[part]
    return total, parts


# ----------------------------------------------------------------------------- training

@functools.lru_cache(maxsize=None)
def xcov_program(settings: TrainSettings) -> Program:
    """The engine program: one stage "xcov" training role "model" on :func:`batch_objective`
    with AdaDelta, the constants of :func:`model_constants`, max-norm as the projection (when
    ``settings.max_norm`` > 0) and the validation set as the probe set ("validation_accuracy",
    "validation_reconstruction", "validation_xcov" after every epoch), selected on by
    ``settings.selection``. Cached: equal settings give the same program, so its compiled
    epochs are reused."""
    model = settings.model

    def init_params(key):
        return {"model": model.init(key, jnp.zeros((1,) + tuple(model.image_shape)))}

    def losses_and_grads(params, constants, batch, key, epoch):
        del epoch
        grads, parts = jax.grad(
            lambda v: batch_objective(model, v, constants, batch, key), has_aux=True,
        )(params["model"])
        return parts, {"model": grads}

    def probe_metrics(params, constants, probe, key):
        del constants, key
        scores = evaluate(model, params["model"], probe["images"], probe["labels"])
        return {f"validation_{name}": value for name, value in scores.items()}

    projection = None
    if settings.max_norm > 0:
        projection = lambda params, constants: cheung.max_norm_project(  # noqa: E731
            params, settings.max_norm)
    adadelta = OptimizerSpec(name="adadelta", learning_rate=settings.learning_rate,
                             decay=settings.rho, eps=settings.eps)
    select_on, select_mode = SELECTIONS[settings.selection]
    return Program(stages=(Stage("xcov", settings.epochs, ("model",), losses_and_grads),),
                   optimizer=make_optimizer({"model": adadelta}), init_params=init_params,
                   probe_metrics=probe_metrics, batch_size=settings.batch_size,
                   projection=projection, select_on=select_on, select_mode=select_mode)


# The keys of a metric record that are not metrics (jaxdis.train.runner), and the engine's own.
_NOT_CURVES = ("stage", "epoch", "global_epoch", "seed", "best_epoch")


def train_models(settings: TrainSettings, run_dir, train, validation, weights, labelled=None, *,
                 seed: int = 0, seed_indices=None, patience: int = 0) -> tuple[TrainState, dict]:
    """Trains one model per row of ``weights`` (alpha, beta, gamma) and of ``labelled`` (label flags
    over the training examples; default: all labelled) as one program,
    :func:`jaxdis.train.runner.train_sweep` in the :class:`~jaxdis.runs.RunDir` ``run_dir``
    (metrics.jsonl, checkpoints): called again on the same folder it resumes an unfinished run
    and returns a finished one without training.

    ``train`` and ``validation`` are (images, labels); model i takes seed i's key from ``seed``
    (:func:`jaxdis.train.engine.seed_keys`), or seed ``seed_indices[i]``'s; ``patience`` > 0
    stops once no model's validation score has improved for that many epochs.

    Returns (the final states: ``states.best`` holds each model's selected parameters
    ``["params"]["model"]`` and epoch ``["epoch"]`` (1 = the first); the per-epoch metrics
    {name: (models, epochs)}: the training losses, "validation_*" and "alive").
    """
    n_models = len(weights)
    if labelled is None:
        labelled = np.ones((n_models, len(train[0])), np.float32)
    states, _ = runner.train_sweep(
        xcov_program(settings), n_models, seed, on_device(*train, with_index=True),
        on_device(*validation), run_dir, constants=model_constants(weights, labelled),
        seed_indices=seed_indices, patience=patience or None,
        desc=f"{run_dir.path.name} ({n_models} models)")
    names = [k for k in run_dir.read_metrics()[-1] if k not in _NOT_CURVES]
    return states, {name: runner.metric_history(run_dir, name, ("xcov",), n_models)
                    for name in names}


class Trained(NamedTuple):
    """What :func:`train_and_evaluate` returns."""

    variables: dict      # each model's selected parameters, stacked along a leading model axis
    best_epoch: np.ndarray  # (models,) the selected epochs, 0 = the first
    history: dict        # the per-epoch metrics {name: (models, epochs)} (:func:`train_models`)
    scores: dict         # {split: evaluate_stack(...) of the selected parameters on it}
    train_seconds: float

    def model(self, index: int) -> dict:
        """Model ``index``'s selected parameters (for ``model.apply``)."""
        return jax.tree.map(lambda leaf: leaf[index], self.variables)


def train_and_evaluate(settings: TrainSettings, run_dir, splits: dict, weights, labelled=None, *,
                       seed: int = 0, seed_indices=None, patience: int = 0,
                       evaluate_on=("validation", "test")) -> Trained:
    """:func:`train_models` on ``splits["train"]``, selected on ``splits["validation"]``, then
    every model's selected parameters scored (:func:`evaluate_stack`) on each split named in
    ``evaluate_on``; ``splits`` {split: (images, labels)} as :func:`load_splits` gives."""
    start = time.perf_counter()
    states, history = train_models(settings, run_dir, splits["train"], splits["validation"],
                                   weights, labelled, seed=seed, seed_indices=seed_indices,
                                   patience=patience)
    train_seconds = time.perf_counter() - start
    variables = states.best["params"]["model"]
    scores = {split: evaluate_stack(settings.model, variables, *splits[split])
              for split in evaluate_on}
    return Trained(variables, np.asarray(states.best["epoch"]) - 1, history, scores, train_seconds)


# ----------------------------------------------------------------------------- evaluation

def label_accuracies(y_logits, labels) -> dict:
    """{"accuracy": ...} for one label set; for several, each set's as "accuracy_<name>" and their
    mean as "accuracy". Over labelled examples only (label -1: unlabelled); NaN if there are none."""
    if not isinstance(y_logits, dict):
        y_logits, labels, single = {"": y_logits}, {"": labels}, True
    else:
        single = False
    scores = {}
    for name in sorted(y_logits):
        known = labels[name] >= 0
        correct = (jnp.argmax(y_logits[name], -1) == labels[name]) & known
        scores[f"accuracy_{name}"] = jnp.sum(correct, -1) / jnp.sum(known, -1)
    if single:
        return {"accuracy": scores["accuracy_"]}
    return {"accuracy": sum(scores.values()) / len(scores), **scores}


def joined_y_hat(y_logits):
    """The softmax outputs ŷ as one (..., classes) array (label sets concatenated in name order):
    what the XCov penalty sees."""
    if not isinstance(y_logits, dict):
        return jax.nn.softmax(y_logits)
    return jnp.concatenate([jax.nn.softmax(y_logits[name]) for name in sorted(y_logits)], -1)


def evaluate(model, variables, images, labels):
    """Accuracy (per label set, see :func:`label_accuracies`), mean squared reconstruction error
    (Cheung et al. eq. 4) and XCov (Cheung et al. eq. 6) on a whole set."""
    y_logits, z, x_hat = model.apply(variables, images)
    return {**label_accuracies(y_logits, labels),
            "reconstruction": jnp.mean(jnp.sum((images - x_hat).reshape(len(images), -1) ** 2, 1)),
            "xcov": xcov(joined_y_hat(y_logits), z)}


def evaluate_stack(model, variables_stack, images, labels, chunk: int = 5000) -> dict:
    """:func:`evaluate` for every model of a stack, in chunks of images: {name: (models,)} arrays,
    and the outputs "z" (models, N, latent) and "y_hat" (models, N, classes; label sets joined).
    XCov is computed on the whole set (it is a batch statistic)."""
    outputs = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))
    y_parts, z_parts, error_parts = [], [], []
    for i in range(0, len(images), chunk):
        x = jnp.asarray(images[i:i + chunk])
        y_logits, z, x_hat = outputs(variables_stack, x)
        y_parts.append(y_logits)
        z_parts.append(z)
        error_parts.append(jnp.sum((x - x_hat).reshape(x_hat.shape[:2] + (-1,)) ** 2, axis=2))
    y_logits = jax.tree.map(lambda *parts: jnp.concatenate(parts, axis=1), *y_parts)
    z = jnp.concatenate(z_parts, axis=1)
    y_hat = joined_y_hat(y_logits)
    scores = label_accuracies(y_logits, jax.tree.map(jnp.asarray, labels))
    return {**{name: np.asarray(value) for name, value in scores.items()},
            "reconstruction": np.asarray(jnp.mean(jnp.concatenate(error_parts, axis=1), axis=1)),
            "xcov": np.asarray(jax.vmap(xcov)(y_hat, z)),
            "z": np.asarray(z), "y_hat": np.asarray(y_hat)}


def latent_samples(key, y_hat_train, z_train, n: int):
    """Cheung et al. Table 5's generator: a Categorical fitted to the training set's predicted
    classes and a Normal (full covariance) fitted to its z, sampled independently (the XCov
    penalty is what makes independence a fair assumption); returns one-hot y (n, classes) and
    z (n, latent)."""
    classes = y_hat_train.shape[1]
    frequencies = np.bincount(np.argmax(y_hat_train, 1), minlength=classes) / len(y_hat_train)
    mean, covariance = z_train.mean(axis=0), np.cov(z_train, rowvar=False).reshape(
        z_train.shape[1], z_train.shape[1])
    class_key, z_key = jax.random.split(key)
    c = jax.random.categorical(class_key, jnp.log(jnp.asarray(frequencies) + 1e-30), shape=(n,))
    z = jax.random.multivariate_normal(z_key, jnp.asarray(mean), jnp.asarray(covariance), (n,))
    return jax.nn.one_hot(c, classes), z


def sample_images(model, variables, key, y_hat_train, z_train, n: int, chunk: int = 2000):
    """``n`` images from Table 5's generator (:func:`latent_samples` fitted to one model's
    training-set ŷ and z, decoded by that model in chunks), flattened: (n, pixels) NumPy."""
    y, z = latent_samples(key, y_hat_train, z_train, n)
    decode = jax.jit(lambda y, z: model.apply(variables, y, z, method=model.decode))
    return np.concatenate([np.asarray(decode(y[i:i + chunk], z[i:i + chunk]))
                           for i in range(0, n, chunk)]).reshape(n, -1)


def parzen_table5(model, variables, y_hat_train, z_train, images: dict, *, n_samples: int,
                  n_test: int, bandwidths, seed: int) -> dict:
    """Cheung et al. Table 5 for one model: the Parzen-window log-likelihood (nats) of the first
    ``n_test`` test images under ``n_samples`` images of :func:`sample_images` (key
    ``PRNGKey(seed + 1)``), and, as an empirical upper bound, under as many training images drawn
    at random (NumPy ``default_rng(seed)``); each bandwidth chosen among ``bandwidths`` on the
    first ``n_test`` validation images (Goodfellow et al. 2014's procedure,
    :func:`jaxdis.metrics.parzen_evaluation`). ``images`` {"train", "validation", "test"} (N, ...)
    arrays; ``y_hat_train``, ``z_train`` the model's outputs on the training images."""
    from jaxdis.metrics import parzen_evaluation

    x_train = images["train"]
    n = min(n_samples, len(x_train))
    samples = sample_images(model, variables, jax.random.PRNGKey(seed + 1), y_hat_train, z_train, n)
    training = x_train[np.random.default_rng(seed).choice(len(x_train), n, replace=False)]
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    validation, test = flat(images["validation"][:n_test]), flat(images["test"][:n_test])
    return {"samples": n, "test_images": len(test), **{
        name: parzen_evaluation(centres, validation, test, bandwidths)
        for name, centres in (("model", samples), ("train_images_upper_bound", flat(training)))}}
