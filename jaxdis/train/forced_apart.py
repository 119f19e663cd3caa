"""Training the Forced Apart models (Forced Apart sections 3, 4) on the engine.

A table of Forced Apart models is ONE vmapped program: every model has the same network (one of
:mod:`jaxdis.nets.forced_apart`) and the same objective, and differs only in its **constants**
(``TrainState.constants``, never trained): a coefficient vector choosing which extra loss
component it adds and how much, and the two margins. One row of constants per model
(:func:`penalty_table`, :func:`autoencoder_penalty_table`), so the five losses x three seeds of
Table 1, or a sweep over margins, train in one compiled call per epoch.

The objectives, with ``c`` a model's coefficients and ``m`` its margins:

- classifier (:func:`classifier_objective`): sigmoid cross-entropy on the binary label plus
  ``c . (DeCov(FC1), XCov(p, FC1), L_single(W_FC1; m_0), L_multi(FC1, y; m_1))``: DeCov (Cogswell
  et al.), XCov between the predicted probability p and FC1 (Cheung et al. eq. 6), L_single on
  FC1's weight rows (Forced Apart eq. 5, 6, 7), L_multi on FC1's activations of same-label pairs
  (Forced Apart eq. 8, 9); one-hot ``c`` scaled by the loss's weight; the baseline's ``c`` is 0;
- sequence autoencoder (:func:`autoencoder_objective`): Forced Apart eq. 11,
  ``(1 - alpha) |x - x_hat|^2 + alpha L_multi2(code; m_1)``, plus ``c_0 DeCov(code) +
  c_1 L_single(W_FC1; m_0)`` for its DeCov and L_single rows; ``c = (c_0, c_1, alpha)``.

From the bottom up:

- :func:`penalty_table`, :func:`autoencoder_penalty_table`: the constants, one row per model;
- :func:`classifier_program`, :func:`autoencoder_program`: the engine programs (one stage "train",
  the role "net" trained with Adam; per epoch the binary accuracy, or the reconstruction error, on
  a fixed validation probe of :data:`PROBE_SIZE` examples);
- :func:`train_models`: a table trained through :func:`jaxdis.train.runner.train_sweep` in a run
  folder (per-epoch metrics, checkpoints, resume), model i from the key of seed
  ``seed_of_model[i]``, so every loss of a table starts seed s from the same weights;
  :func:`train_classifiers`, :func:`train_autoencoders`: the same from a table's rows and splits;
- :func:`classifier_table`, :func:`margin_sweep`, :func:`autoencoder_table`: Table 1's classifier
  rows, the margin sweep of section 3.4 and the "MNIST autoencoder" column, trained and scored by
  the host functions :func:`evaluate_classifiers` (binary accuracy, KMeans AMI_max and NMI_sqrt of
  FC1 against the original classes, dead FC1 units), :func:`cluster_scores_by_model`,
  :func:`mean_std_by_row` and :func:`ami_curves` (Fig. 6).

Model selection: with ``select_on_validation`` each model keeps its epoch of best validation probe
score (the engine's ``Program.select_on``: the highest accuracy, the smallest reconstruction
error), and ``patience`` stops a table once no model has improved for that many epochs (saved as
the end of training, so a resumed run does not train on).

The paper's MLP rows on all 50,000 training images, 3 seeds x the 5 losses in one vmapped program,
trained until no model's validation accuracy has improved for 5 epochs (at most 100: the paper
gives no epoch count) without the margin sweep, are one command per dataset::

    jaxdis run forced-apart --dataset mnist --set model=mlp --set train_size=0 --set eval_size=0 \\
        --set epochs=100 --set select_on_validation=true --set patience=5 --set sweep_loss=
    jaxdis run forced-apart --dataset fashion-mnist --set model=mlp --set train_size=0 \\
        --set eval_size=0 --set epochs=100 --set select_on_validation=true --set patience=5 \\
        --set sweep_loss=
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdis.config import from_fields
from jaxdis.data.labels import binary_labels
from jaxdis.losses.forced_apart import (forced_apart_autoencoder, forced_apart_multi,
                                        forced_apart_single)
from jaxdis.losses.xcov import decov, xcov
from jaxdis.metrics.clustering import ami_vs_clusters, cluster_scores
from jaxdis.metrics.seed_sweep import mean_std
from jaxdis.nets.forced_apart import fc1_weight_rows, stacked_outputs
from jaxdis.runs import RunDir
from jaxdis.train.engine import Program, Stage
from jaxdis.train.optimizers import OptimizerSpec, make_optimizer
from jaxdis.train.runner import train_sweep

PENALTIES = ("decov", "xcov", "single", "multi")  # the order of a classifier's coefficients
AE_COEFFICIENTS = ("decov", "single", "alpha")     # the order of an autoencoder's coefficients
PROBE_SIZE = 2000  # validation examples scored after every epoch (and selected on)


@dataclasses.dataclass(frozen=True)
class ForcedApartSettings:
    """How the Forced Apart models train and are scored: the loss weights and margins, Adam,
    model selection, seeds, KMeans.

    An experiment's config holds these fields under the same names (:meth:`from_config` copies
    them by name). The paper adds L_single and L_multi to the cross-entropy unweighted
    (Forced Apart eq. 5, 8); the other weights are ours.

    Attributes:
      seed: the PRNG seed (model i starts from ``fold_in(PRNGKey(seed), seed_of_model[i])``).
      seeds: models per row of a table (per loss, per margin).
      batch_size: examples per minibatch.
      learning_rate: Adam's learning rate.
      margin_single: L_single's margin m (the paper: 5-10 good).
      margin_multi: L_multi's margin m (the paper: 0.1-1 good).
      weight_decov: DeCov's weight.
      weight_xcov: XCov's weight.
      weight_single: L_single's weight.
      weight_multi: L_multi's weight.
      ae_alpha: Forced Apart eq. 11's weight alpha of the L_multi2 term (autoencoder).
      ae_margin: the autoencoder's L_multi2 margin.
      select_on_validation: keep each model's epoch of best validation probe score (accuracy;
        reconstruction error for the autoencoder) instead of its last epoch.
      patience: stop a table once no model's validation probe score has improved for this many
        epochs (needs ``select_on_validation``); 0: train every epoch.
      n_clusters: KMeans clusters scored against the original classes.
      kmeans_seeds: KMeans restarts (each score is the mean over them).
    """

    seed: int = 0
    seeds: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    margin_single: float = 10.0
    margin_multi: float = 1.0
    weight_decov: float = 1.0
    weight_xcov: float = 1.0
    weight_single: float = 1.0
    weight_multi: float = 1.0
    ae_alpha: float = 0.5
    ae_margin: float = 1.0
    select_on_validation: bool = False
    patience: int = 0
    n_clusters: int = 10
    kmeans_seeds: int = 3

    def __post_init__(self):
        for name in ("margin_single", "margin_multi", "ae_margin", "weight_decov", "weight_xcov",
                     "weight_single", "weight_multi"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.patience < 0 or (self.patience and not self.select_on_validation):
            raise ValueError(f"patience: expected 0 (off) or, with select_on_validation=True, "
                             f">= 1; got patience={self.patience}, select_on_validation="
                             f"{self.select_on_validation}")

    @classmethod
    def from_config(cls, config) -> "ForcedApartSettings":
        """The settings held by ``config`` under the same field names, copied by name (a field
        that ``config`` lacks is an error naming it, never a silent default)."""
        return from_fields(cls, config)


# ----------------------------------------------------------------------------- objectives

def penalty_terms(fc1, probability, fc1_rows, binary, margins):
    """The four extra loss components of Table 1, unweighted, for one batch, in the order of
    :data:`PENALTIES`:

    - decov: DeCov of FC1's activations (Cogswell et al.);
    - xcov: XCov between the predicted probability and FC1's activations (Cheung et al. eq. 6;
      Forced Apart section 2: "cross-covariance between the predicted labels and the activations");
    - single: L_single on FC1's weight rows, margin ``margins[0]`` (Forced Apart eq. 5, 6, 7);
    - multi: L_multi on FC1's activations, pairs sharing a binary label, margin ``margins[1]``
      (Forced Apart eq. 8, 9).
    """
    return jnp.stack([decov(fc1), xcov(probability[:, None], fc1),
                      forced_apart_single(fc1_rows, margins[0]),
                      forced_apart_multi(fc1, binary, margins[1])])


def classifier_objective(model, net, constants, inputs, binary):
    """Sigmoid cross-entropy plus ``constants["coefficients"] . penalty_terms`` (margins
    ``constants["margins"]``); returns the total and its parts (for the per-epoch metrics)."""
    logit, fc1 = model.apply(net, inputs)
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logit, binary.astype(logit.dtype)))
    terms = penalty_terms(fc1, jax.nn.sigmoid(logit), fc1_weight_rows(net), binary,
                          constants["margins"])
    total = bce + jnp.dot(constants["coefficients"], terms)
    return total, {"loss": total, "bce": bce, **dict(zip(PENALTIES, terms))}


def autoencoder_objective(model, net, constants, inputs):
    """Forced Apart eq. 11, (1 - alpha) * reconstruction + alpha * L_multi2 (Forced Apart eq. 10),
    plus DeCov and L_single terms for their rows; ``constants["coefficients"]`` is (decov weight,
    single weight, alpha), ``constants["margins"]`` (L_single's, L_multi2's)."""
    x_hat, code = model.apply(net, inputs)
    decov_weight, single_weight, alpha = constants["coefficients"]
    margins = constants["margins"]
    reconstruction_and_multi = forced_apart_autoencoder(inputs, x_hat, code, margins[1], alpha)
    terms = jnp.stack([decov(code), forced_apart_single(fc1_weight_rows(net), margins[0])])
    total = reconstruction_and_multi + decov_weight * terms[0] + single_weight * terms[1]
    return total, {"loss": total, "decov": terms[0], "single": terms[1]}


# ----------------------------------------------------------------------------- constants tables

def models_by_seed(rows, seeds: int) -> tuple[list, list[int]]:
    """A table's models, row by row and seed by seed: (the row of each model, its seed)."""
    return ([row for row in rows for _ in range(seeds)],
            [seed for _ in rows for seed in range(seeds)])


def penalty_table(settings: ForcedApartSettings, losses, margins_single, margins_multi) -> dict:
    """The classifiers' constants, one row per model: ``coefficients`` (M, 4) over
    :data:`PENALTIES` (one hot, scaled by the loss's weight; all 0 for "baseline") and
    ``margins`` (M, 2) (L_single's, L_multi's)."""
    weights = {"decov": settings.weight_decov, "xcov": settings.weight_xcov,
               "single": settings.weight_single, "multi": settings.weight_multi}
    unknown = sorted(set(losses) - {"baseline", *PENALTIES})
    if unknown:
        raise ValueError(f"losses: expected baseline or one of {PENALTIES}, got {unknown}")
    coefficients = np.array([[weights[p] if loss == p else 0.0 for p in PENALTIES]
                             for loss in losses], np.float32)
    margins = np.stack([np.asarray(margins_single, np.float32),
                        np.asarray(margins_multi, np.float32)], axis=1)
    return {"coefficients": jnp.asarray(coefficients), "margins": jnp.asarray(margins)}


def autoencoder_penalty_table(settings: ForcedApartSettings, losses) -> dict:
    """The autoencoders' constants, one row per model: ``coefficients`` (M, 3) over
    :data:`AE_COEFFICIENTS` (DeCov's weight for "decov", L_single's for "single", alpha for
    "multi", else 0) and ``margins`` (M, 2): ``margin_single`` and ``ae_margin``."""
    coefficients = np.array([[settings.weight_decov * (loss == "decov"),
                              settings.weight_single * (loss == "single"),
                              settings.ae_alpha * (loss == "multi")] for loss in losses],
                            np.float32)
    margins = np.tile(np.array([[settings.margin_single, settings.ae_margin]], np.float32),
                      (len(losses), 1))
    return {"coefficients": jnp.asarray(coefficients), "margins": jnp.asarray(margins)}


# ----------------------------------------------------------------------------- programs

def _losses_and_grads(objective, params, constants, batch, key, epoch):
    del key, epoch  # deterministic objectives, no schedule
    grads, parts = jax.grad(lambda net: objective(net, constants, batch), has_aux=True)(
        params["net"])
    return parts, {"net": grads}


def _classifier_loss(model, net, constants, batch):
    return classifier_objective(model, net, constants, *batch)


def _autoencoder_loss(model, net, constants, batch):
    return autoencoder_objective(model, net, constants, batch)


def _classifier_probe(model, params, constants, probe, key):
    del constants, key
    logit, _ = model.apply(params["net"], probe[0])
    return {"probe_accuracy": jnp.mean((logit > 0) == (probe[1] == 1))}


def _autoencoder_probe(model, params, constants, probe_x, key):
    del constants, key
    x_hat, _ = model.apply(params["net"], probe_x)
    return {"probe_reconstruction": jnp.mean(jnp.sum((probe_x - x_hat) ** 2, axis=(1, 2)))}


def _program(model, sample_input, settings, epochs, loss, probe, metric, mode) -> Program:
    stage = Stage("train", epochs, ("net",),
                  functools.partial(_losses_and_grads, functools.partial(loss, model)))
    adam = OptimizerSpec(name="adam", learning_rate=settings.learning_rate)
    return Program(stages=(stage,), optimizer=make_optimizer({"net": adam}),
                   init_params=lambda key: {"net": model.init(key, sample_input)},
                   probe_metrics=functools.partial(probe, model), batch_size=settings.batch_size,
                   select_on=metric if settings.select_on_validation else None, select_mode=mode)


def classifier_program(model, sample_input, settings: ForcedApartSettings, epochs: int) -> Program:
    """The classifiers' program: ``epochs`` epochs of :func:`classifier_objective` on minibatches
    ``(inputs, binary labels)``, Adam on the role "net"; per epoch ``probe_accuracy``, the binary
    accuracy on a probe ``(inputs, binary labels)`` (by which ``select_on_validation`` selects).
    ``sample_input``: one example with a leading batch axis, to initialise ``model``."""
    return _program(model, sample_input, settings, epochs, _classifier_loss, _classifier_probe,
                    "probe_accuracy", "max")


def autoencoder_program(model, sample_input, settings: ForcedApartSettings, epochs: int) -> Program:
    """The sequence autoencoders' program: :func:`autoencoder_objective` on minibatches of
    sequences; per epoch ``probe_reconstruction``, the mean squared error summed over a probe
    sequence (by which ``select_on_validation`` selects, the smaller the better)."""
    return _program(model, sample_input, settings, epochs, _autoencoder_loss, _autoencoder_probe,
                    "probe_reconstruction", "min")


# ----------------------------------------------------------------------------- training

def train_models(program: Program, constants: dict, seed_of_model, settings: ForcedApartSettings,
                 data, probe, run_dir: RunDir, desc: str = "train"):
    """Trains one model per row of ``constants`` in ``run_dir`` (metrics.jsonl, checkpoints,
    resume: :func:`jaxdis.train.runner.train_sweep`), model i from the key of seed
    ``seed_of_model[i]``, on ``data`` (a pytree of arrays sharing the example axis), probed on
    ``probe`` once per epoch.

    Returns ``(nets, dead)``: the stacked parameters of every model's network (its selected
    epoch's with ``select_on_validation``, else its last) and the indices of the models that
    diverged (frozen by the engine)."""
    states, _ = train_sweep(program, len(seed_of_model), settings.seed, data, probe, run_dir,
                            desc=desc, constants=constants, seed_indices=seed_of_model,
                            patience=settings.patience or None)
    params = states.best["params"] if program.select_on is not None else states.params
    return params["net"], np.flatnonzero(~np.asarray(states.alive)).tolist()


def train_classifiers(model, settings: ForcedApartSettings, epochs: int, losses, seed_of_model,
                      margins_single, margins_multi, train, validation, run_dir: RunDir,
                      desc: str = "train"):
    """A table of classifiers, model i with loss ``losses[i]``, margins ``margins_single[i]``,
    ``margins_multi[i]`` and seed ``seed_of_model[i]`` (:func:`penalty_table`), trained for
    ``epochs`` on ``train`` = (inputs shaped for ``model``, original classes), the binary task
    of :func:`jaxdis.data.labels.binary_labels`, and probed on the first :data:`PROBE_SIZE`
    examples of ``validation`` (the same form). Returns :func:`train_models`'s ``(nets, dead)``."""
    data = (jnp.asarray(train[0]), jnp.asarray(binary_labels(train[1])))
    probe = (jnp.asarray(validation[0][:PROBE_SIZE]),
             jnp.asarray(binary_labels(validation[1][:PROBE_SIZE])))
    program = classifier_program(model, data[0][:1], settings, epochs)
    constants = penalty_table(settings, losses, margins_single, margins_multi)
    return train_models(program, constants, seed_of_model, settings, data, probe, run_dir, desc)


def train_autoencoders(model, settings: ForcedApartSettings, epochs: int, losses, seed_of_model,
                       train_x, validation_x, run_dir: RunDir, desc: str = "train"):
    """A table of sequence autoencoders, model i with loss ``losses[i]``
    (:func:`autoencoder_penalty_table`) and seed ``seed_of_model[i]``, trained for ``epochs`` on
    the sequences ``train_x`` and probed on the first :data:`PROBE_SIZE` of ``validation_x``.
    Returns :func:`train_models`'s ``(nets, dead)``."""
    data = jnp.asarray(train_x)
    program = autoencoder_program(model, data[:1], settings, epochs)
    constants = autoencoder_penalty_table(settings, losses)
    return train_models(program, constants, seed_of_model, settings, data,
                        jnp.asarray(validation_x[:PROBE_SIZE]), run_dir, desc)


# ----------------------------------------------------------------------------- evaluation

def cluster_scores_by_model(features, classes, n_clusters: int, kmeans_seeds: int):
    """KMeans AMI_max and NMI_sqrt of each model's features (M, N, D) against ``classes`` (N,),
    each the mean over ``kmeans_seeds`` restarts (:func:`jaxdis.metrics.cluster_scores`):
    arrays (M,), (M,)."""
    scores = [cluster_scores(f, classes, n_clusters, seeds=tuple(range(kmeans_seeds)))
              for f in features]
    return np.array([s["ami"] for s in scores]), np.array([s["nmi"] for s in scores])


def evaluate_classifiers(model, nets, inputs, classes, n_clusters: int, kmeans_seeds: int) -> dict:
    """Each classifier of the stack ``nets`` on ``inputs`` (shaped for ``model``) with original
    classes ``classes``: arrays (M,) of the binary accuracy (labels :func:`binary_labels`), the
    KMeans scores of FC1 (:func:`cluster_scores_by_model`: "ami", "nmi") and "dead_fc1_units",
    the fraction of FC1 units zero on every input; and "fc1" itself, (M, N, units)."""
    logits, fc1 = stacked_outputs(model, nets, inputs)
    ami, nmi = cluster_scores_by_model(fc1, classes, n_clusters, kmeans_seeds)
    return {"accuracy": np.mean((logits > 0) == binary_labels(classes)[None], axis=1),
            "ami": ami, "nmi": nmi, "dead_fc1_units": np.mean(np.all(fc1 <= 0, axis=1), axis=1),
            "fc1": fc1}


def mean_std_by_row(scores: dict, row_of_model, rows) -> dict:
    """``{row: {name: mean_std(scores[name] over the row's models)}}`` for each row of ``rows``
    (models in their order), ``scores`` ``{name: (M,)}``, ``row_of_model`` the row of each model."""
    return {row: {name: mean_std(np.asarray(values)[[i for i, r in enumerate(row_of_model)
                                                      if r == row]])
                  for name, values in scores.items()} for row in rows}


def ami_curves(features, classes, row_of_model, rows, cluster_counts, kmeans_seeds: int) -> dict:
    """Forced Apart Fig. 6: ``{row: AMI against each of cluster_counts}``, each the mean over
    the row's models of :func:`jaxdis.metrics.ami_vs_clusters` on their features (M, N, D)."""
    return {row: np.mean([ami_vs_clusters(features[i], classes, cluster_counts,
                                          seeds=tuple(range(kmeans_seeds)))["ami"]
                          for i, r in enumerate(row_of_model) if r == row], axis=0).tolist()
            for row in rows}


# ----------------------------------------------------------------------------- the tables

def classifier_table(model, settings: ForcedApartSettings, epochs: int, losses, train, validation,
                     test, run_dir: RunDir, desc: str = "table") -> dict:
    """Forced Apart Table 1 for one classifier: ``settings.seeds`` models per loss of ``losses``
    in one vmapped program (:func:`train_classifiers`; margins ``settings.margin_single``,
    ``margin_multi``), scored on ``validation`` and ``test`` (:func:`evaluate_classifiers`).
    Splits are (inputs shaped for ``model``, original classes).

    Returns {"table": {loss: {"validation" | "test": {score: mean_std}}}, "losses": each model's
    loss, "fc1_test": (M, N_test, units), "dead_models": indices of diverged models}."""
    row_of_model, seed_of_model = models_by_seed(losses, settings.seeds)
    n = len(row_of_model)
    nets, dead = train_classifiers(model, settings, epochs, row_of_model, seed_of_model,
                                   [settings.margin_single] * n, [settings.margin_multi] * n,
                                   train, validation, run_dir, desc)
    table = {loss: {} for loss in losses}
    for split, (inputs, classes) in (("validation", validation), ("test", test)):
        scores = evaluate_classifiers(model, nets, inputs, classes, settings.n_clusters,
                                      settings.kmeans_seeds)
        fc1 = scores.pop("fc1")
        for loss, row in mean_std_by_row(scores, row_of_model, losses).items():
            table[loss][split] = row
    return {"table": table, "losses": row_of_model, "fc1_test": fc1, "dead_models": dead}


def margin_sweep(model, settings: ForcedApartSettings, epochs: int, loss: str, margins, train,
                 validation, run_dir: RunDir, desc: str = "sweep") -> dict:
    """Forced Apart section 3.4: ``settings.seeds`` models of ``loss`` ("single" or "multi") per
    margin of ``margins`` in one vmapped program (the other loss keeps its settings margin),
    scored on ``validation``. Returns {"loss", "margins", "ami", "nmi", "accuracy" (lists
    (margins, seeds)), "dead_models"}."""
    if loss not in ("single", "multi"):
        raise ValueError(f"loss: expected 'single' or 'multi', got {loss!r}")
    margin_of_model, seed_of_model = models_by_seed(margins, settings.seeds)
    n = len(margin_of_model)
    single = margin_of_model if loss == "single" else [settings.margin_single] * n
    multi = margin_of_model if loss == "multi" else [settings.margin_multi] * n
    nets, dead = train_classifiers(model, settings, epochs, [loss] * n, seed_of_model, single,
                                   multi, train, validation, run_dir, desc)
    scores = evaluate_classifiers(model, nets, *validation, settings.n_clusters,
                                  settings.kmeans_seeds)
    by_margin = {k: scores[k].reshape(len(margins), settings.seeds).tolist()
                 for k in ("ami", "nmi", "accuracy")}
    return {"loss": loss, "margins": list(margins), **by_margin, "dead_models": dead}


def autoencoder_table(model, settings: ForcedApartSettings, epochs: int, losses, train_x,
                      validation_x, test, run_dir: RunDir, desc: str = "autoencoder"):
    """Forced Apart Table 1's "MNIST autoencoder" column: ``settings.seeds`` sequence
    autoencoders per loss of ``losses`` (no labels; :func:`train_autoencoders`), their FC1 code
    of ``test`` = (sequences, classes) clustered and scored against the classes. Returns
    ({loss: {"test": {"ami", "nmi": mean_std}}}, indices of diverged models)."""
    row_of_model, seed_of_model = models_by_seed(losses, settings.seeds)
    nets, dead = train_autoencoders(model, settings, epochs, row_of_model, seed_of_model, train_x,
                                    validation_x, run_dir, desc)
    _, code = stacked_outputs(model, nets, test[0])
    ami, nmi = cluster_scores_by_model(code, test[1], settings.n_clusters, settings.kmeans_seeds)
    rows = mean_std_by_row({"ami": ami, "nmi": nmi}, row_of_model, losses)
    return {loss: {"test": row} for loss, row in rows.items()}, dead
