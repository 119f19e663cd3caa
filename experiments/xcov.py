"""Cheung et al. (2015): the XCov semi-supervised autoencoder on MNIST, its Table 2, Fig. 4-7 and
Table 5, the gamma = 0 ablation and accuracy against the number of labelled examples.

Training minimises Cheung et al. eq. 3, alpha U + beta S + gamma C(ŷ, z)
(:func:`jaxdis.losses.semi_supervised_objective`), with AdaDelta (Zeiler 2012: rho 0.95, eps 1e-6,
step 1) on minibatches of ``batch_size`` (50 in the authors' notes, section 2.3) of the 50,000
training images; the validation set (the last 10,000 of the training file) selects, per model,
the epoch with the lowest reconstruction error or the highest accuracy (Table 2's "model
selection criterion"); that epoch's parameters are evaluated on validation AND test (the paper does
not say which its Table 2 reports). The optional max-norm constraint of the authors' configurations
(about 0.9, per unit's incoming weights) is a projection after each update (``max_norm`` > 0).

Several models are one compiled program (the engine's vmapped axis): ``seeds`` x the gamma values
(``gamma`` and ``ablation_gammas``), or x the labelled-example counts. What varies between them
(alpha, beta, gamma, which training examples have labels) is a "setting" role of constant
parameters that no stage trains, so the whole sweep compiles once.

Studies (``study``):

- ``table2``: Table 2's row for ``model`` (the MLP by default) over seeds, with the ablation
  gamma = 0 beside it, then on seed 0: the z histogram and std on the test set (Fig. 4a, paper about
  0.35), traversal grids of z1, z2 over +-2 sigma per class (Fig. 4b, c), decoder Jacobians and
  singular value spectra (Fig. 5), style transfer (Fig. 6's MNIST analogue) and y scaled from 5 to
  -5 (Fig. 7's), each for gamma > 0 and gamma = 0; the XCov value and a linear probe's accuracy of
  the class from z (fitted on 3/4 of the test set, scored on the rest) for both; the Parzen-window log-likelihood of Table 5 with its empirical upper
  bound from training images.
- ``labels``: accuracy against the number of labelled examples per class, with the unlabelled
  rest (beta masked per example) and without it (trained on the labelled images alone, repeated
  to the training set's length: the same number of optimizer steps). At their natural share the
  labelled examples are rare in minibatches; ``balanced_labels`` appends them, repeated, so that
  half of each epoch is labelled.
- ``options``: do the authors' unpublished details matter? Every pair of minibatch size
  (``option_batch_sizes``) and max-norm (``option_max_norms``), ``seeds`` seeds each, the same
  number of epochs; validation-selected test accuracy and reconstruction error.
- ``all``: ``table2`` and ``labels``.

A user's own labelled images (TFD, Multi-PIE: licensed, not shipped) in the
:mod:`jaxdis.data.labelled_npz` layout, with its ``split`` array: ``--set npz=PATH`` with a
``model`` whose image shape and label sets match the file (``tfd`` and ``conv_tfd``: 48x48,
``labels_expression``; ``conv_deconv_multipie``: 48x48, ``labels_pose`` and
``labels_illumination``). The experiment then trains ``seeds`` models on the file's training split,
selects each on its validation split, reports validation and test accuracy per label set,
reconstruction and XCov (beside Table 3 for TFD), and draws the label swaps of Fig. 6, 8 and 9::

    jaxdis run xcov --set model=tfd --set npz=tfd.npz --set gamma=1000   # Table 3's weights

Scale. The default is reduced to finish in about ten minutes on a loaded 2-core CPU (see
``experiments/results/xcov.md`` for what was run). The paper's scale, on a GPU::

    jaxdis run xcov --seeds 5 --set epochs=100 --set labels_epochs=100 \\
        --set parzen_samples=10000 --set parzen_test=10000

(the paper states no epoch count; 100 is our choice). Other rows of Table 2:
``--set model=conv_mnist`` and ``--set model=maxout_mnist --set beta=100 --set selection=accuracy``
(``--set study=table2 --set ablation_gammas=`` trains the row alone). On the shared CPU the
convolutional model is the slow one: its row was run on 10,000 training images (the reports in
``experiments/results/xcov_conv_mnist.md`` and ``xcov_maxout_mnist.md`` give the commands and
times; ``python -m experiments.xcov table2 OUT SUMMARY.json...`` assembles Table 2 from them).
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdis import train
from jaxdis.nets import cheung
from jaxdis.registry import Experiment

# Cheung et al. Table 2 (accuracy in %, weights, model selection criterion) and section 3.4.
PAPER_TABLE2 = {
    "mnist": {"accuracy": 98.35, "alpha": 1.0, "beta": 10.0, "gamma": 10.0,
              "selection": "reconstruction"},
    "conv_mnist": {"accuracy": 98.71, "alpha": 1.0, "beta": 10.0, "gamma": 10.0,
                   "selection": "reconstruction"},
    "maxout_mnist": {"accuracy": 99.01, "alpha": 1.0, "beta": 100.0, "gamma": 10.0,
                     "selection": "accuracy"},
}
# Cheung et al. Table 3 (TFD, fold 0): the rows a user can compare with on their own TFD .npz.
PAPER_TABLE3 = {
    "tfd": {"accuracy": 69.4, "alpha": 1.0, "beta": 10.0, "gamma": 1000.0,
            "selection": "reconstruction"},
    "conv_tfd": {"accuracy": 84.0, "alpha": 1.0, "beta": 10.0, "gamma": 1000.0,
                 "selection": "accuracy"},
}
PAPER_Z_STD = 0.35  # "standard deviation .35" (section 3.4, Fig. 4a)
STUDIES = ("table2", "labels", "options", "all")  # "all": table2 and labels
SELECTIONS = ("reconstruction", "accuracy")


@dataclasses.dataclass(frozen=True)
class XCovConfig:
    """Cheung et al.'s XCov autoencoder studies (``jaxdis run xcov``; see the module docstring).

    Attributes:
      dataset: "mnist" (a user's own data comes through npz).
      study: "table2", "labels", "options" or "all" (= table2 and labels).
      model: "mnist", "conv_mnist" or "maxout_mnist" (Table 2's rows); with npz, "tfd",
        "conv_tfd" or "conv_deconv_multipie".
      seeds: models per setting, trained together.
      seed: the PRNG seed.
      epochs: training epochs (the paper states none).
      batch_size: examples per minibatch (section 2.3: "mini-batches of N = 50").
      alpha: eq. 3's weight of the reconstruction cost U.
      beta: eq. 3's weight of the supervised cost S.
      gamma: eq. 3's weight of the XCov penalty C.
      ablation_gammas: gammas trained beside gamma in the table2 study; empty: none.
      selection: Table 2's model selection criterion: "reconstruction" or "accuracy" on the
        validation set.
      learning_rate: AdaDelta's step (Zeiler 2012: 1).
      rho: AdaDelta's decay.
      eps: AdaDelta's stabiliser.
      max_norm: max-norm of each unit's incoming weights after every update; 0: off (the
        authors' configurations: about 0.9).
      train_examples: the first n training images; 0: all (MNIST's 50,000, or the npz's).
      npz: a labelled-images .npz (jaxdis.data.labelled_npz) to train `model` on instead of
        MNIST; empty: MNIST.
      labelled_per_class: the labels study's labelled examples per class.
      labels_epochs: the labels study's epochs with the unlabelled rest (the others: the same
        number of steps).
      balanced_labels: the labels study appends its labelled examples, repeated, so half of
        each epoch is labelled.
      parzen_samples: decoded samples of the Parzen-window estimate (Goodfellow et al.: 10,000).
      parzen_test: test images it scores (paper: all 10,000).
      parzen_bandwidths: the bandwidths it selects from on the validation set.
      n_shown: test digits in the style-transfer figures.
      option_batch_sizes: the options study's minibatch sizes.
      option_max_norms: the options study's max-norms (0: no constraint).
    """

    dataset: str = "mnist"
    study: str = "all"  # "table2", "labels", "options" or "all" (= table2 and labels)
    model: str = "mnist"  # "mnist", "conv_mnist" or "maxout_mnist" (Table 2's rows)
    seeds: int = 2
    seed: int = 0
    epochs: int = 3
    batch_size: int = 50  # section 2.3: "mini-batches of N = 50"
    alpha: float = 1.0
    beta: float = 10.0
    gamma: float = 10.0
    ablation_gammas: tuple[float, ...] = (0.0,)  # trained beside gamma (table2); empty: none
    selection: str = "reconstruction"  # Table 2's model selection criterion
    learning_rate: float = 1.0  # AdaDelta's step (Zeiler 2012)
    rho: float = 0.95
    eps: float = 1e-6
    max_norm: float = 0.0  # 0: off; the authors' configurations: about 0.9
    train_examples: int = 0  # the first n training images; 0: all (MNIST's 50,000, or the npz's)
    npz: str = ""  # a labelled-images .npz (jaxdis.data.labelled_npz): train `model` on it instead
    labelled_per_class: tuple[int, ...] = (10, 60, 100)  # labels study: 100, 600, 1000 in all
    labels_epochs: int = 1  # labels study, with the unlabelled rest (the others: same steps)
    balanced_labels: bool = False  # labels study: half of each epoch's examples labelled
    parzen_samples: int = 10_000  # decoded samples (Goodfellow et al. 2014: 10,000)
    parzen_test: int = 1_000  # test images scored (paper: the 10,000)
    parzen_bandwidths: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35)
    n_shown: int = 8  # test digits in the style-transfer figures
    option_batch_sizes: tuple[int, ...] = (50, 100)  # options study: minibatch sizes
    option_max_norms: tuple[float, ...] = (0.0, 0.9)  # options study: 0 = no constraint


def make_config(dataset: str | None) -> XCovConfig:
    return XCovConfig(dataset=dataset or "mnist")


def check_config(config: XCovConfig) -> None:
    """Raises ValueError for a config that cannot run (`jaxdis run` calls it before it creates
    the run folder, and ``run`` again)."""
    if config.study not in STUDIES:
        raise ValueError(f"study: expected one of {STUDIES}, got {config.study!r}")
    if config.npz:
        if config.model not in cheung.MODELS:
            raise ValueError(f"model: expected one of {sorted(cheung.MODELS)}, got {config.model!r}")
        if config.study not in ("table2", "all"):
            raise ValueError(f"study: with npz set, the experiment trains and evaluates `model` on "
                             f"the file ('table2' or 'all'); got {config.study!r}")
    elif config.model not in PAPER_TABLE2:
        raise ValueError(f"model: expected one of {sorted(PAPER_TABLE2)} on MNIST (the others, "
                         f"{sorted(set(cheung.MODELS) - set(PAPER_TABLE2))}, need --set npz=PATH), "
                         f"got {config.model!r}")
    if config.selection not in SELECTIONS:
        raise ValueError(f"selection: expected one of {SELECTIONS}, got {config.selection!r}")
    for name in ("seeds", "epochs", "batch_size", "labels_epochs"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected >= 1, got {getattr(config, name)}")
    if config.train_examples < 0:
        raise ValueError(f"train_examples: expected >= 0 (0 = all), got {config.train_examples}")
    if config.max_norm < 0:
        raise ValueError(f"max_norm: expected >= 0 (0 = off), got {config.max_norm}")
    if any(k < 1 for k in config.labelled_per_class):
        raise ValueError(f"labelled_per_class: expected counts >= 1, got {config.labelled_per_class}")


# ----------------------------------------------------------------------------- training


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """What one compiled program depends on (hashable: it keys the program cache)."""

    model: cheung.XCovAutoencoder  # Flax modules compare and hash by their fields
    epochs: int
    batch_size: int
    n_train: int  # length of the per-example label mask in the "setting" role
    learning_rate: float = 1.0
    rho: float = 0.95
    eps: float = 1e-6
    max_norm: float = 0.0


def model_of(name: str) -> cheung.XCovAutoencoder:
    return cheung.MODELS[name]()


def with_max_norm(optimizer: optax.GradientTransformation,
                  max_norm: float) -> optax.GradientTransformation:
    """``optimizer`` followed by the max-norm projection of the updated parameters
    (:func:`jaxdis.nets.cheung.max_norm_project`): the update becomes project(p + u) - p.

    An adapter: the engine applies ``optax.apply_updates`` itself and has no hook after it. The
    optimizer state is untouched, so the engine's per-role bookkeeping still works."""

    def update(grads, state, params):
        updates, state = optimizer.update(grads, state, params)
        projected = cheung.max_norm_project(optax.apply_updates(params, updates), max_norm)
        return jax.tree.map(jnp.subtract, projected, params), state

    return optax.GradientTransformation(optimizer.init, update)


def batch_objective(model, variables, setting, batch, key):
    """Cheung et al. eq. 3 on one minibatch: (total, parts). ``setting`` holds this model's
    alpha, beta, gamma and the per-example label flags of the whole training set."""
    x = batch["images"]
    y_logits, z, x_hat = model.apply(variables, x, train=True, rngs={"dropout": key})
    labelled = setting["labelled"][batch["index"]]
    return objective(x, x_hat, batch["labels"], y_logits, z, labelled,
                     setting["alpha"], setting["beta"], setting["gamma"])


def objective(x, x_hat, labels, y_logits, z, labelled, alpha, beta, gamma):
    """Cheung et al. eq. 3 for one label set (arrays) or several (dicts {name: array}, Multi-PIE's
    pose and illumination): (total, parts).

    With several label sets, total = alpha U + sum over sets s of (beta S_s + gamma C(ŷ_s, z)):
    each set has its own softmax cross-entropy, and the XCov of the concatenated ŷ with z is the
    sum of each set's (eq. 6 sums squared cross-covariances over pairs (i, j)), so one call of
    :func:`jaxdis.losses.semi_supervised_objective` per set, with alpha on the first only, is the
    whole objective. An example's label counts where ``labelled`` is 1 and the label is not -1
    (unlabelled in the :mod:`jaxdis.data.labelled_npz` layout), per set.
    """
    from jaxdis.losses import semi_supervised_objective

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
    (eq. 4) and XCov (eq. 6) on a whole set."""
    from jaxdis.losses import xcov

    y_logits, z, x_hat = model.apply(variables, images)
    return {**label_accuracies(y_logits, labels),
            "reconstruction": jnp.mean(jnp.sum((images - x_hat).reshape(len(images), -1) ** 2, 1)),
            "xcov": xcov(joined_y_hat(y_logits), z)}


@functools.lru_cache(maxsize=None)
def xcov_program(settings: TrainSettings) -> train.Program:
    """The engine program: role "model" (AdaDelta), role "setting" (constants, never trained);
    the probe set is the validation set, scored every epoch for model selection."""
    model = settings.model

    def init_params(key):
        variables = model.init(key, jnp.zeros((1,) + model.image_shape))
        setting = {"alpha": jnp.float32(1), "beta": jnp.float32(1), "gamma": jnp.float32(1),
                   "labelled": jnp.ones(settings.n_train, jnp.float32)}
        return {"model": variables, "setting": setting}

    def losses_and_grads(params, constants, batch, key, epoch):
        del constants, epoch
        grads, parts = jax.grad(
            lambda v: batch_objective(model, v, params["setting"], batch, key), has_aux=True,
        )(params["model"])
        return parts, {"model": grads}

    def probe_metrics(params, constants, probe, key):
        del constants, key
        scores = evaluate(model, params["model"], probe["images"], probe["labels"])
        return {f"validation_{k}": v for k, v in scores.items()}

    adadelta = train.OptimizerSpec(name="adadelta", learning_rate=settings.learning_rate,
                                   decay=settings.rho, eps=settings.eps)
    optimizer = train.make_optimizer({"model": adadelta, "setting": adadelta})
    if settings.max_norm > 0:
        optimizer = with_max_norm(optimizer, settings.max_norm)
    stage = train.Stage("xcov", settings.epochs, ("model",), losses_and_grads)
    return train.Program(stages=(stage,), optimizer=optimizer, init_params=init_params,
                         probe_metrics=probe_metrics, batch_size=settings.batch_size)


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


def train_models(settings: TrainSettings, seeds: list[int], weights: list[tuple[float, float, float]],
                 masks: list[np.ndarray], data: dict, validation: dict, selection: str,
                 base_seed: int, log, phase: str):
    """Trains one model per entry (seed, (alpha, beta, gamma), label mask) in one vmapped program.

    Returns (best variables stacked over models, best epoch per model, per-epoch metrics as
    arrays (models, epochs)). The best epoch is chosen on the validation set by ``selection``;
    its parameters are kept on the device (a `where` per epoch, no copy to the host)."""
    program = xcov_program(settings)
    keys = train.seed_keys(base_seed, max(seeds) + 1)[np.asarray(seeds)]
    states = train.init_states(program, keys)
    setting = {"alpha": jnp.asarray([w[0] for w in weights], jnp.float32),
               "beta": jnp.asarray([w[1] for w in weights], jnp.float32),
               "gamma": jnp.asarray([w[2] for w in weights], jnp.float32),
               "labelled": jnp.asarray(np.stack(masks))}
    states = states._replace(params={**states.params, "setting": setting})
    n_models = len(seeds)
    best = {"variables": states.params["model"], "score": np.full(n_models, -np.inf),
            "epoch": np.full(n_models, -1)}
    history: dict[str, list] = {}
    from jaxdis.runs import progress

    bar = progress(settings.epochs, f"{phase} ({n_models} models)")

    def on_chunk(stage, first_epoch, metrics, states, following):
        bar.update(1)
        for name, values in metrics.items():
            history.setdefault(name, []).append(np.asarray(values)[:, -1])
        for m in range(n_models):
            log({"phase": phase, "model": m, "epoch": first_epoch,
                 **{k: np.asarray(v)[m, -1] for k, v in metrics.items()}})
        if selection == "accuracy":
            score = np.asarray(metrics["validation_accuracy"])[:, -1]
        else:
            score = -np.asarray(metrics["validation_reconstruction"])[:, -1]
        better = score > best["score"]
        best["score"] = np.where(better, score, best["score"])
        best["epoch"] = np.where(better, first_epoch, best["epoch"])
        keep = jnp.asarray(better)
        best["variables"] = jax.tree.map(
            lambda new, old: jnp.where(keep.reshape((-1,) + (1,) * (new.ndim - 1)), new, old),
            states.params["model"], best["variables"])

    train.run_program(program, states, data, validation, on_chunk=on_chunk)
    bar.close()
    return best["variables"], best["epoch"], {k: np.stack(v, axis=1) for k, v in history.items()}


def unstack(tree, index: int):
    return jax.tree.map(lambda leaf: leaf[index], tree)


def evaluate_stack(model, variables_stack, images, labels, chunk: int = 5000) -> dict:
    """``evaluate`` for every model of a stack, in chunks of images: {name: (models,)} arrays,
    and the outputs "z" (models, N, latent) and "y_hat" (models, N, classes; label sets joined).
    XCov is computed on the whole set (it is a batch statistic)."""
    from jaxdis.losses import xcov

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


# ----------------------------------------------------------------------------- data


def load_splits(config: XCovConfig) -> dict:
    """MNIST train (the first ``train_examples`` of the 50,000; 0: all), validation (10,000),
    test: {split: (images, labels)}."""
    from jaxdis.data import load_mnist

    splits = {}
    for split in ("train", "validation", "test"):
        images, labels = load_mnist(split)
        splits[split] = (np.asarray(images, np.float32), np.asarray(labels, np.int32))
    splits["train"] = _first_training_examples(config, *splits["train"])
    return splits


def _first_training_examples(config: XCovConfig, images, labels):
    if config.train_examples > len(images):
        raise ValueError(f"train_examples: {config.train_examples} asked for, the training "
                         f"split has {len(images)}")
    n = config.train_examples or len(images)
    return images[:n], jax.tree.map(lambda values: values[:n], labels)


def load_npz_splits(config: XCovConfig, model: cheung.XCovAutoencoder) -> dict:
    """The train, validation and test splits of the user's ``config.npz`` for ``model``:
    {split: (images, labels)}, labels an array for one label set and a dict {name: array} for
    several, -1 where unlabelled. Checked against the model: image shape, label set names (keys
    ``labels_<name>``) and labels below each set's number of classes."""
    from jaxdis.data.labelled_npz import load_labelled_npz_splits

    sizes = dict(model.label_sets)
    splits = {}
    for split, data in load_labelled_npz_splits(config.npz).items():
        if len(data.images) == 0:
            raise ValueError(f"npz: {config.npz} has no {split!r} examples in its 'split' array")
        if tuple(data.images.shape[1:]) != tuple(model.image_shape):
            raise ValueError(f"npz: {config.npz} holds images of shape {data.images.shape[1:]}; "
                             f"model {config.model} takes {tuple(model.image_shape)}")
        if set(data.labels) != set(sizes):
            raise ValueError(f"npz: {config.npz} has label sets {sorted(data.labels)}; model "
                             f"{config.model} needs {sorted(sizes)} (keys 'labels_<name>')")
        for name, values in data.labels.items():
            if values.max(initial=-1) >= sizes[name]:
                raise ValueError(f"npz: labels_{name} in {config.npz} holds {values.max()}; model "
                                 f"{config.model} has {sizes[name]} classes for {name!r}")
        labels = {name: data.labels[name] for name, _ in model.label_sets}
        splits[split] = (data.images, labels if len(labels) > 1 else labels[model.label_sets[0][0]])
    splits["train"] = _first_training_examples(config, *splits["train"])
    return splits


def on_device(images, labels, with_index: bool = False) -> dict:
    batch = {"images": jnp.asarray(images), "labels": jax.tree.map(jnp.asarray, labels)}
    if with_index:
        batch["index"] = jnp.arange(len(images))
    return batch


# ----------------------------------------------------------------------------- the studies


def _mean_std(values) -> dict:
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "per_seed": values.tolist()}


def study_table2(config: XCovConfig, splits, run_dir, log) -> dict:
    """Table 2's row for ``config.model`` over seeds, gamma beside the ablation gammas, then the
    analyses of section 3.4-3.5 and Table 5 on seed 0."""
    from jaxdis.viz import xcov as viz

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        splits["train"], splits["validation"], splits["test"])
    gammas = (config.gamma,) + tuple(config.ablation_gammas)
    entries = [(g, s) for g in gammas for s in range(config.seeds)]
    model = model_of(config.model)
    settings = TrainSettings(model, config.epochs, config.batch_size, len(x_train),
                             config.learning_rate, config.rho, config.eps, config.max_norm)
    start = time.perf_counter()
    variables, best_epoch, history = train_models(
        settings, [s for _, s in entries], [(config.alpha, config.beta, g) for g, _ in entries],
        [np.ones(len(x_train), np.float32)] * len(entries), on_device(x_train, y_train, True),
        on_device(x_val, y_val), config.selection, config.seed, log, "table2")
    train_seconds = time.perf_counter() - start
    on_val = evaluate_stack(model, variables, x_val, y_val)
    on_test = evaluate_stack(model, variables, x_test, y_test)
    on_train = evaluate_stack(model, variables, x_train, y_train)

    rows = {}
    for g in gammas:
        members = [i for i, (gg, _) in enumerate(entries) if gg == g]
        rows[f"gamma={g:g}"] = {
            "gamma": g,
            "validation_accuracy": _mean_std(on_val["accuracy"][members]),
            "test_accuracy": _mean_std(on_test["accuracy"][members]),
            "test_reconstruction": _mean_std(on_test["reconstruction"][members]),
            "test_xcov": _mean_std(on_test["xcov"][members]),
            "best_epoch": best_epoch[members].tolist(),
            "validation_curve": {k: history[k][members].tolist() for k in history
                                 if k.startswith("validation_")},
        }
    result = {"rows": rows, "paper": PAPER_TABLE2[config.model], "train_seconds": train_seconds,
              "train_examples": len(x_train),
              "models_trained_together": len(entries)}

    # Seed 0 of gamma and of the first ablation gamma: the figures and the ablation measures.
    shown = {f"gamma={g:g}": entries.index((g, 0)) for g in gammas}
    main_title, main_index = next(iter(shown.items()))
    z_test = on_test["z"][main_index]
    sigma = z_test.std(axis=0)
    result["z_test_std"] = {"overall": float(z_test.std()), "per_unit": sigma.tolist(),
                            "mean": z_test.mean(axis=0).tolist(), "paper": PAPER_Z_STD}
    run_dir.save_figure(viz.z_histogram(z_test, f"test-set z, {main_title}, seed 0 "
                                                f"(paper: std about {PAPER_Z_STD})"), "xcov_z_histogram")
    ablation = {}
    style_panels, scale_panels = {}, {}
    scales = np.linspace(5.0, -5.0, 11)
    for title, index in shown.items():
        one = unstack(variables, index)
        probe = linear_probe_accuracy(on_test["z"][index], y_test)
        ablation[title] = {"test_xcov": float(on_test["xcov"][index]),
                           "probe_accuracy_from_z": probe,
                           "test_accuracy": float(on_test["accuracy"][index])}
        swapped = cheung.swap_labels(model, one, jnp.asarray(x_test[:config.n_shown]))
        style_panels[title] = (x_test[:config.n_shown], np.asarray(swapped))
        scale_panels[title] = np.asarray(cheung.scaled_labels(
            model, one, jnp.asarray(on_test["z"][index][0]), jnp.asarray(scales)))
        sig = on_test["z"][index].std(axis=0)  # each model's own test-set sigma (Fig. 4)
        grids = {f"z{j + 1} swept, σ = {sig[j]:.3f}": np.asarray(cheung.traversal_grid(
            model, one, j, float(sig[j]), steps=9)) for j in range(model.latent_dim)}
        fig = viz.traversal_figure(grids)
        fig.suptitle(f"{title}, seed 0 (Cheung et al. Fig. 4b, c)", fontsize=10)
        run_dir.save_figure(fig, f"xcov_traversal_{title.replace('=', '')}")
        jac_images, spectra = jacobian_analysis(model, one)
        run_dir.save_figure(viz.jacobian_figure(jac_images, spectra, f"{title}, seed 0 (Fig. 5)"),
                            f"xcov_jacobian_{title.replace('=', '')}")
        if title == main_title:
            result["jacobian_spectra"] = {k: v.mean(axis=0)[:10].tolist() for k, v in spectra.items()}
    result["ablation"] = ablation
    run_dir.save_figure(viz.style_transfer_figure(style_panels), "xcov_style_transfer")
    run_dir.save_figure(viz.scaled_label_figure(scale_panels, scales), "xcov_scaled_y")
    run_dir.save_figure(_curves_figure(viz, history, entries), "xcov_validation_curves")

    result["parzen"] = parzen_study(config, model, unstack(variables, main_index), on_train,
                                    main_index, splits)
    return result


def _curves_figure(viz, history, entries):
    """Validation accuracy and reconstruction per epoch, every model."""
    fig, axes = viz._figure(1, 2, figsize=(8, 3.2))
    for i, (g, s) in enumerate(entries):
        epochs = np.arange(1, history["validation_accuracy"].shape[1] + 1)
        style = "-" if g == entries[0][0] else "--"
        axes[0].plot(epochs, 100 * history["validation_accuracy"][i], style,
                     label=f"gamma={g:g} seed {s}")
        axes[1].plot(epochs, history["validation_reconstruction"][i], style)
    axes[0].set_ylabel("validation accuracy (%)")
    axes[1].set_ylabel("validation U (eq. 4)")
    for ax in axes:
        ax.set_xlabel("epoch")
    axes[0].legend(fontsize=7)
    return fig


def jacobian_analysis(model, variables):
    """Fig. 5 at z = 0 and y one-hot for each class: ∂x̂/∂z as images (classes, latent, H, W),
    and the normalised singular values at {y, z}, h_-3 and h_-2 ({name: (classes, units)})."""
    classes = model.label_sets[0][1]
    names = {0: "{y, z}", 1: "h-3", 2: "h-2"}
    images, spectra = [], {name: [] for name in names.values()}
    for c in range(classes):
        jacs = cheung.decoder_jacobians(model, variables, jax.nn.one_hot(c, classes),
                                        jnp.zeros(model.latent_dim))
        jac_z = np.asarray(jacs[0][0][:, classes:]).T  # (latent, pixels)
        images.append(jac_z.reshape((model.latent_dim,) + tuple(model.image_shape)))
        for level, name in names.items():
            spectra[name].append(np.asarray(cheung.normalised_singular_values(*jacs[level])))
    return np.stack(images), {k: np.stack(v) for k, v in spectra.items()}


def linear_probe_accuracy(z, labels) -> float:
    """How much class z still holds: the held-out accuracy of a linear probe (logistic regression,
    :func:`jaxdis.metrics.label_probe`) predicting the label from z; near chance (0.1) means z
    holds no class, the point of the XCov penalty."""
    from jaxdis.metrics import label_probe

    return float(label_probe(np.asarray(z), np.asarray(labels)))


def latent_samples(key, y_hat_train, z_train, n: int):
    """Table 5's generator: a Categorical fitted to the training set's predicted classes and a
    Normal (full covariance) fitted to its z, sampled independently (the XCov penalty is what
    makes independence a fair assumption); returns one-hot y (n, classes) and z (n, latent)."""
    classes = y_hat_train.shape[1]
    frequencies = np.bincount(np.argmax(y_hat_train, 1), minlength=classes) / len(y_hat_train)
    mean, covariance = z_train.mean(axis=0), np.cov(z_train, rowvar=False).reshape(
        z_train.shape[1], z_train.shape[1])
    class_key, z_key = jax.random.split(key)
    c = jax.random.categorical(class_key, jnp.log(jnp.asarray(frequencies) + 1e-30), shape=(n,))
    z = jax.random.multivariate_normal(z_key, jnp.asarray(mean), jnp.asarray(covariance), (n,))
    return jax.nn.one_hot(c, classes), z


def parzen_study(config, model, variables, on_train, index, splits) -> dict:
    """Cheung et al. Table 5: the Parzen-window log-likelihood (nats) of test images under decoded
    samples, bandwidth chosen on validation images (Goodfellow et al. 2014's procedure), and the
    empirical upper bound from the same number of training images in place of the samples."""
    from jaxdis.metrics import parzen_log_densities, select_parzen_bandwidth

    (x_train, _), (x_val, _), (x_test, _) = splits["train"], splits["validation"], splits["test"]
    n = min(config.parzen_samples, len(x_train))
    y, z = latent_samples(jax.random.PRNGKey(config.seed + 1), on_train["y_hat"][index],
                          on_train["z"][index], n)
    decode = jax.jit(lambda y, z: model.apply(variables, y, z, method=model.decode))
    samples = np.concatenate([np.asarray(decode(y[i:i + 2000], z[i:i + 2000]))
                              for i in range(0, n, 2000)]).reshape(n, -1)
    validation = x_val[:config.parzen_test].reshape(min(config.parzen_test, len(x_val)), -1)
    test = x_test[:config.parzen_test].reshape(min(config.parzen_test, len(x_test)), -1)
    rng = np.random.default_rng(config.seed)
    training = x_train[rng.choice(len(x_train), n, replace=False)].reshape(n, -1)
    result = {"samples": n, "test_images": len(test)}
    for name, centres in (("model", samples), ("train_images_upper_bound", training)):
        bandwidth, validation_ll = select_parzen_bandwidth(
            jnp.asarray(centres), jnp.asarray(validation), jnp.asarray(config.parzen_bandwidths))
        log_p = np.asarray(parzen_log_densities(jnp.asarray(centres), jnp.asarray(test),
                                                bandwidth), np.float64)
        result[name] = {"bandwidth": float(bandwidth),
                        "validation_log_likelihood_per_bandwidth": np.asarray(validation_ll).tolist(),
                        "log_likelihood": float(log_p.mean()),
                        "standard_error": float(log_p.std() / np.sqrt(log_p.size))}
    return result


def study_npz(config: XCovConfig, splits, run_dir, log) -> dict:
    """Table 2's (and Table 3's) training and evaluation of ``config.model`` on a user's labelled
    images (TFD, Multi-PIE or any file in the :mod:`jaxdis.data.labelled_npz` layout): ``seeds``
    models in one program, the epoch selected on validation by ``selection``, then validation and
    test accuracy per label set (over labelled examples), reconstruction error and XCov. On seed
    0, the label swaps of Cheung et al. Fig. 6, 8 and 9 for each label set (grey images): test
    images decoded with z and the other sets' ŷ kept and this set's ŷ set to each class."""
    from jaxdis.viz import xcov as viz

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        splits["train"], splits["validation"], splits["test"])
    model = model_of(config.model)
    label_sets = [name for name, _ in model.label_sets]
    by_set = lambda labels: labels if isinstance(labels, dict) else {label_sets[0]: labels}
    counted = {split: {name: int(np.sum(values >= 0)) for name, values in by_set(labels).items()}
               for split, (_, labels) in splits.items()}
    if config.selection == "accuracy" and not all(counted["validation"].values()):
        raise ValueError(f"selection: 'accuracy' needs labelled validation examples in every label "
                         f"set; {config.npz} has {counted['validation']}")
    seeds = list(range(config.seeds))
    settings = TrainSettings(model, config.epochs, config.batch_size, len(x_train),
                             config.learning_rate, config.rho, config.eps, config.max_norm)
    start = time.perf_counter()
    variables, best_epoch, history = train_models(
        settings, seeds, [(config.alpha, config.beta, config.gamma)] * len(seeds),
        [np.ones(len(x_train), np.float32)] * len(seeds), on_device(x_train, y_train, True),
        on_device(x_val, y_val), config.selection, config.seed, log, "npz")
    train_seconds = time.perf_counter() - start
    on_val = evaluate_stack(model, variables, x_val, y_val)
    on_test = evaluate_stack(model, variables, x_test, y_test)
    accuracies = ["accuracy"] + ([f"accuracy_{name}" for name in sorted(label_sets)]
                                 if len(label_sets) > 1 else [])
    result = {"file": config.npz, "model": config.model, "label_sets": dict(model.label_sets),
              "examples": {split: len(images) for split, (images, _) in splits.items()},
              "labelled": counted, "train_seconds": train_seconds,
              "validation": {k: _mean_std(on_val[k]) for k in accuracies},
              "test": {k: _mean_std(on_test[k]) for k in accuracies + ["reconstruction", "xcov"]},
              "best_epoch": best_epoch.tolist(),
              "curves": {k: v.tolist() for k, v in history.items() if k != "alive"},
              "paper": PAPER_TABLE3.get(config.model)}
    if len(model.image_shape) == 2:  # the figures draw grey images
        one = unstack(variables, 0)
        shown = x_test[:config.n_shown]
        for name in label_sets:
            swapped = np.asarray(cheung.swap_labels(model, one, jnp.asarray(shown), label_set=name))
            fig = viz.style_transfer_figure({f"{config.model}, seed 0: {name} set to each class":
                                             (shown, swapped)})
            run_dir.save_figure(fig, f"xcov_npz_swap_{name}")
    return result


def study_labels(config: XCovConfig, splits, log) -> dict:
    """Test accuracy against labelled examples per class: with the unlabelled rest (beta masked
    per example) and without it (the labelled images alone, as many optimizer steps). One seed
    per count; all runs share one compiled program."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        splits["train"], splits["validation"], splits["test"])
    counts = list(config.labelled_per_class)
    masks = [label_mask(y_train, k, config.seed + k) for k in counts]
    # Every run sees examples by index into ``order``; with ``balanced_labels`` the labelled images,
    # repeated, are appended to the training set, so half of each epoch carries labels (the paper
    # does not say how it mixed labelled and unlabelled examples in a minibatch).
    length = 2 * len(x_train) if config.balanced_labels else len(x_train)
    settings = TrainSettings(model_of(config.model), config.labels_epochs, config.batch_size,
                             length, config.learning_rate, config.rho, config.eps, config.max_norm)
    model = settings.model
    weights = [(config.alpha, config.beta, config.gamma)] * len(counts)
    with_rest = []
    for k, mask in zip(counts, masks):
        order = np.arange(len(x_train))
        flags = mask
        if config.balanced_labels:
            order = np.concatenate([order, np.resize(np.flatnonzero(mask), len(x_train))])
            flags = np.concatenate([mask, np.ones(len(x_train), np.float32)])
        v, _, _ = train_models(settings, [0], weights[:1], [flags],
                               on_device(x_train[order], y_train[order], True),
                               on_device(x_val, y_val), config.selection, config.seed, log,
                               f"labels_with_unlabelled_{k}")
        with_rest.append(float(evaluate_stack(model, v, x_test, y_test)["accuracy"][0]))
    steps = config.labels_epochs * (length // config.batch_size)
    # Labelled images only: each subset is repeated cyclically to the same length, so an epoch is
    # as many steps as above and every run shares one compiled program.
    without = []
    for k, mask in zip(counts, masks):
        keep = np.resize(np.flatnonzero(mask), length)
        v, _, _ = train_models(settings, [0], weights[:1], [np.ones(length, np.float32)],
                               on_device(x_train[keep], y_train[keep], True),
                               on_device(x_val, y_val), config.selection, config.seed, log,
                               f"labels_only_{k}")
        without.append(float(evaluate_stack(model, v, x_test, y_test)["accuracy"][0]))
    return {"labelled_per_class": counts, "labelled_total": [10 * k for k in counts],
            "optimizer_steps": steps,
            "balanced_labels": config.balanced_labels,
            "test_accuracy_with_unlabelled": with_rest,
            "test_accuracy_labelled_only": without}


def study_options(config: XCovConfig, splits, log) -> dict:
    """Minibatch size x max-norm constraint (the two details of the authors' notes), each one
    program of ``seeds`` seeds trained for ``epochs`` epochs."""
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = (
        splits["train"], splits["validation"], splits["test"])
    model = model_of(config.model)
    rows = []
    for batch_size in config.option_batch_sizes:
        for max_norm in config.option_max_norms:
            settings = TrainSettings(model, config.epochs, batch_size, len(x_train),
                                     config.learning_rate, config.rho, config.eps, max_norm)
            seeds = list(range(config.seeds))
            variables, best_epoch, _ = train_models(
                settings, seeds, [(config.alpha, config.beta, config.gamma)] * len(seeds),
                [np.ones(len(x_train), np.float32)] * len(seeds), on_device(x_train, y_train, True),
                on_device(x_val, y_val), config.selection, config.seed, log,
                f"options_batch{batch_size}_maxnorm{max_norm:g}")
            scores = evaluate_stack(model, variables, x_test, y_test)
            rows.append({"batch_size": batch_size, "max_norm": max_norm,
                         "test_accuracy": _mean_std(scores["accuracy"]),
                         "test_reconstruction": _mean_std(scores["reconstruction"]),
                         "best_epoch": best_epoch.tolist()})
    return {"rows": rows}


# ----------------------------------------------------------------------------- the experiment


def run(config: XCovConfig, run_dir) -> dict:
    from jaxdis.runs import provenance
    from jaxdis.viz import xcov as viz

    check_config(config)
    start = time.perf_counter()
    summary = {"config": dataclasses.asdict(config), "provenance": provenance()}
    if config.npz:
        splits = load_npz_splits(config, model_of(config.model))
        summary["npz"] = study_npz(config, splits, run_dir, run_dir.log_metrics)
        summary["wall_seconds"] = time.perf_counter() - start
        (run_dir.path / "xcov.md").write_text(markdown(summary))
        return summary
    splits = load_splits(config)
    if config.study in ("table2", "all"):
        summary["table2"] = study_table2(config, splits, run_dir, run_dir.log_metrics)
    if config.study in ("labels", "all"):
        labels = study_labels(config, splits, run_dir.log_metrics)
        summary["labels"] = labels
        full = None
        if "table2" in summary:
            full = next(iter(summary["table2"]["rows"].values()))["test_accuracy"]["mean"]
        run_dir.save_figure(viz.accuracy_vs_labels_plot(
            labels["labelled_total"],
            {"with the unlabelled rest": labels["test_accuracy_with_unlabelled"],
             "labelled images only": labels["test_accuracy_labelled_only"]}, full),
            "xcov_accuracy_vs_labels")
    if config.study == "options":
        summary["options"] = study_options(config, splits, run_dir.log_metrics)
    summary["wall_seconds"] = time.perf_counter() - start
    (run_dir.path / "xcov.md").write_text(markdown(summary))
    return summary


def command(config: dict) -> str:
    """The `jaxdis run` command line that gives ``config`` (fields that differ from the default)."""
    default = dataclasses.asdict(make_config(config.get("dataset")))
    parts = ["jaxdis run xcov"]
    for key, value in sorted(config.items()):
        if key == "dataset" or list(np.atleast_1d(value)) == list(np.atleast_1d(default[key])):
            continue
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
        parts.append(f"--seeds {value}" if key == "seeds" else f"--set {key}={text}")
    return " ".join(parts)


def _pct(stats: dict) -> str:
    return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"


def markdown(summary: dict) -> str:
    """The results as a markdown report, every number from ``summary``."""
    config, prov = summary["config"], summary["provenance"]
    data = f"`{config['npz']}`" if config.get("npz") else "MNIST"
    lines = [f"# XCov (Cheung et al. 2015) on {data}: our numbers beside the paper's", "",
             f"Device {prov['device']}, JAX {prov['jax_version']}, {prov['date']}, commit "
             f"{prov['commit']}, wall time {summary['wall_seconds']:.0f} s.", "",
             f"Command: `{command(config)}`", "",
             "Config: " + ", ".join(f"{k}={v}" for k, v in sorted(config.items()))]
    if "table2" in summary:
        t2 = summary["table2"]
        paper = t2["paper"]
        lines += ["", "## Table 2: MNIST accuracy (%, mean ± std over seeds)", "",
                  f"Model {config['model']}, selection by {config['selection']} on validation, "
                  f"{config['seeds']} seeds, {config['epochs']} epochs, "
                  f"{t2.get('train_examples', config['train_examples'])} training images; paper: {paper['accuracy']} "
                  f"(alpha {paper['alpha']:g}, beta {paper['beta']:g}, gamma {paper['gamma']:g}, "
                  f"selection by {paper['selection']}; it does not say whether on validation or "
                  "test).", "",
                  "| run | validation | test | test U (eq. 4) | test XCov (eq. 6) | best epoch (1 = first) |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name, row in t2["rows"].items():
            lines.append(f"| ours, alpha {config['alpha']:g}, beta {config['beta']:g}, {name} | "
                         f"{_pct(row['validation_accuracy'])} | {_pct(row['test_accuracy'])} | "
                         f"{row['test_reconstruction']['mean']:.2f} | "
                         f"{row['test_xcov']['mean']:.2e} | {[e + 1 for e in row['best_epoch']]} |")
        lines.append(f"| paper (Cheung et al. Table 2) | | {paper['accuracy']} | | | |")
        z = t2["z_test_std"]
        lines += ["", "## Fig. 4: z on the test set", "",
                  f"std of z (all units) {z['overall']:.3f}, per unit "
                  f"{', '.join(f'{s:.3f}' for s in z['per_unit'])}; paper: about {z['paper']}.",
                  "", "## The gamma ablation (seed 0)", "",
                  "| run | test XCov | linear probe: class from z (chance 0.10) | test accuracy |",
                  "| --- | --- | --- | --- |"]
        for name, row in t2["ablation"].items():
            lines.append(f"| {name} | {row['test_xcov']:.2e} | {row['probe_accuracy_from_z']:.3f} "
                         f"| {row['test_accuracy']:.4f} |")
        spectra = t2.get("jacobian_spectra", {})
        if spectra:
            lines += ["", "## Fig. 5e: first normalised singular values (mean over classes)", ""]
            for name, values in spectra.items():
                lines.append(f"- {name}: " + ", ".join(f"{v:.3f}" for v in values))
        p = t2["parzen"]
        lines += ["", "## Table 5: Parzen-window log-likelihood (nats, test images)", "",
                  f"{p['samples']} samples, {p['test_images']} test images; bandwidth chosen on "
                  "validation images.", "", "| centres | bandwidth | log-likelihood |",
                  "| --- | --- | --- |"]
        for name in ("model", "train_images_upper_bound"):
            row = p[name]
            se = f" ± {row['standard_error']:.1f}" if "standard_error" in row else ""
            lines.append(f"| {name} | {row['bandwidth']:g} | {row['log_likelihood']:.1f}{se} |")
    if "npz" in summary:
        lines += _npz_markdown(summary["npz"], config)
    if "labels" in summary:
        lb = summary["labels"]
        lines += ["", "## Accuracy against labelled examples (test, seed 0)", "",
                  f"{lb['optimizer_steps']} optimizer steps each; "
                  + ("half of each epoch's examples labelled (labelled images repeated)."
                     if lb.get("balanced_labels") else "labelled examples at their natural share."),
                  "",
                  "| labelled | with unlabelled rest | labelled only |", "| --- | --- | --- |"]
        for n, a, b in zip(lb["labelled_total"], lb["test_accuracy_with_unlabelled"],
                           lb["test_accuracy_labelled_only"]):
            lines.append(f"| {n} | {100 * a:.2f} | {100 * b:.2f} |")
    if "options" in summary:
        lines += ["", "## Minibatch size and max-norm (test, mean ± std over seeds)", "",
                  "| minibatch | max-norm | accuracy (%) | U (eq. 4) | best epoch (1 = first) |",
                  "| --- | --- | --- | --- | --- |"]
        for row in summary["options"]["rows"]:
            lines.append(f"| {row['batch_size']} | {row['max_norm'] or 'off'} | "
                         f"{_pct(row['test_accuracy'])} | {row['test_reconstruction']['mean']:.2f}"
                         f" ± {row['test_reconstruction']['std']:.2f} | {[e + 1 for e in row['best_epoch']]} |")
    return "\n".join(lines) + "\n"


def _npz_markdown(result: dict, config: dict) -> list[str]:
    sets = ", ".join(f"{name} ({classes} classes)" for name, classes in result["label_sets"].items())
    lines = ["", f"## Model {result['model']} on the user's file", "",
             f"Label sets: {sets}. Examples (labelled per set): " + "; ".join(
                 f"{split} {n} ({', '.join(f'{k} {v}' for k, v in result['labelled'][split].items())})"
                 for split, n in result["examples"].items()) + ".", "",
             f"{config['seeds']} seeds, {config['epochs']} epochs, alpha {config['alpha']:g}, beta "
             f"{config['beta']:g}, gamma {config['gamma']:g}, selection by {config['selection']} on "
             f"validation; best epoch (1 = first) {[e + 1 for e in result['best_epoch']]}; "
             f"training {result['train_seconds']:.0f} s.", "",
             "| measure | validation | test |", "| --- | --- | --- |"]
    for name, stats in result["validation"].items():
        lines.append(f"| {name} (%) | {_pct(stats)} | {_pct(result['test'][name])} |")
    for name in ("reconstruction", "xcov"):
        stats = result["test"][name]
        lines.append(f"| {name} | | {stats['mean']:.4g} ± {stats['std']:.2g} |")
    paper = result.get("paper")
    if paper:
        lines += ["", f"Paper (Cheung et al. Table 3, fold 0): {paper['accuracy']} (alpha "
                      f"{paper['alpha']:g}, beta {paper['beta']:g}, gamma {paper['gamma']:g}, "
                      f"selection by {paper['selection']})."]
    return lines


def table2_report(summaries: dict[str, dict]) -> str:
    """Cheung et al. Table 2 with our rows beside the paper's, from saved run summaries
    ({file name: summary.json contents}); every number is read from a summary."""
    lines = ["# XCov (Cheung et al. 2015): Table 2, MNIST accuracy, ours beside the paper's", "",
             "Assembled by `python -m experiments.xcov table2 experiments/results/xcov_table2.md "
             + " ".join(f"experiments/results/{name}" for name in summaries) + "` from the runs' "
             "summaries; each run's own report (its command, config and figures) is the file named "
             "in the last column. Accuracy in %, mean ± std over seeds, of the epoch each seed's "
             "validation score selected. The paper does not say whether it reports validation or "
             "test accuracy. Rows with fewer than 50,000 training images or few epochs were cut to "
             "fit a CPU budget, not chosen for accuracy; \"models in one program\" counts the "
             "seeds and ablation gammas trained together (the times cover them all).", "",
             "| model | paper | ours, validation | ours, test | seeds | epochs | training images | "
             "alpha, beta, gamma | selection | models in one program | device; training, whole run (s) "
             "| report |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, summary in summaries.items():
        config, t2 = summary["config"], summary["table2"]
        row = t2["rows"][f"gamma={config['gamma']:g}"]
        images = t2.get("train_examples", config["train_examples"])
        lines.append(
            f"| {config['model']} | {t2['paper']['accuracy']} | {_pct(row['validation_accuracy'])} "
            f"| {_pct(row['test_accuracy'])} | {config['seeds']} | {config['epochs']} | {images} | "
            f"{config['alpha']:g}, {config['beta']:g}, {config['gamma']:g} | "
            f"{config['selection']} | {t2['models_trained_together']} | "
            f"{summary['provenance']['device']}; {t2['train_seconds']:.0f}, "
            f"{summary['wall_seconds']:.0f} | {name.replace('.json', '.md')} |")
    return "\n".join(lines) + "\n"


def _main(argv=None) -> None:
    import argparse
    import json
    from pathlib import Path

    parser = argparse.ArgumentParser(description="Assemble Table 2 from saved xcov run summaries.")
    parser.add_argument("what", choices=["table2"])
    parser.add_argument("output", type=Path)
    parser.add_argument("summaries", type=Path, nargs="+", help="summary.json files of table2 runs")
    args = parser.parse_args(argv)
    summaries = {path.name: json.loads(path.read_text()) for path in args.summaries}
    missing = [name for name, summary in summaries.items() if "table2" not in summary]
    if missing:
        raise SystemExit(f"summaries: {missing} hold no table2 study")
    args.output.write_text(table2_report(summaries))
    print(f"wrote {args.output}")


EXPERIMENT = Experiment(
    name="xcov",
    summary="Cheung et al. 2015: XCov semi-supervised autoencoder on MNIST (Table 2, 5, Fig. 4-7)",
    make_config=make_config,
    run=run,
    datasets=("mnist",),
    validate=check_config,
)


if __name__ == "__main__":
    _main()
