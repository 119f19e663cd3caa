"""Forced Apart, Table 1, Fig. 2, 3, 5, 6 and the margin sweep of section 3.4.

A network is trained on a binary task whose two classes each merge five original classes (Adam,
sigmoid cross-entropy), with one extra loss component: none (baseline), DeCov on FC1's
activations, XCov between the predicted probability and FC1's activations, L_single on FC1's
weight rows (Forced Apart eq. 5-7) or L_multi on FC1's activations (Forced Apart eq. 8-9). FC1 of
the validation and test sets is then clustered by KMeans and scored against the original classes
(AMI_max, NMI_sqrt), with the binary accuracy beside.

Every loss and every seed of a table is one model of ONE vmapped program: the component is chosen
by a per-model coefficient vector, so the whole table trains in one compiled call per epoch. The
margin sweep is likewise one vmapped program over (margin, seed).

Datasets here (the paper's pen strokes, CIFAR-10 and DBPedia need the internet; their loaders are
in :mod:`jaxdis.data.sequences`):

- ``mnist-rows``: MNIST read as 28 rows of 28 pixels by the RNN of Fig. 1 (in place of the pen
  strokes), plus the sequence autoencoder of the "MNIST autoencoder" column (Forced Apart eq. 11);
- ``mnist``: MNIST images by an MLP (or the CNN, ``model=cnn``);
- ``fashion-mnist``: Fashion-MNIST, classes 0-4 against 5-9, by the CNN of section 4.2 sized for
  28x28 grey images (in place of CIFAR-10).

Reduced scale by default (CPU); the paper's scale is ``--set train_size=0 --set epochs=...`` with
wider models (see :data:`FULL_SCALE`).

Engine adapter: the engine's ``losses_and_grads(params, batch, key, epoch)`` sees no per-seed
value other than the parameters, so each model's loss coefficients and margins ride along as an
untrained parameter role ``"penalty"`` (the stage trains only ``"net"``; the engine leaves other
roles untouched).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxdis import registry
from jaxdis.data.labels import binary_labels
from jaxdis.losses.forced_apart import (forced_apart_autoencoder, forced_apart_multi,
                                        forced_apart_single)
from jaxdis.losses.xcov import decov, xcov
from jaxdis.nets import forced_apart as nets
from jaxdis import train

DATASETS = ("mnist-rows", "mnist", "fashion-mnist")
LOSSES = ("baseline", "decov", "xcov", "single", "multi")
PENALTIES = ("decov", "xcov", "single", "multi")  # the order of the coefficient vector
AE_LOSSES = ("baseline", "decov", "single", "multi")  # XCov needs a predicted label: no AE row
LOSS_NAMES = {"baseline": "Baseline", "decov": "DeCov", "xcov": "XCov", "single": "L_single",
              "multi": "L_multi"}

# Forced Apart Table 1, quoted from the paper (AMI, NMI; mean of three runs) for the columns that
# correspond to ours: pen strokes (RNN) ~ mnist-rows, MNIST autoencoder ~ mnist-rows autoencoder,
# CIFAR-10 (CNN) ~ fashion-mnist.
PAPER_TABLE1 = {
    "MNIST strokes, test": {"baseline": (0.467, 0.477), "decov": (0.287, 0.313),
                            "xcov": (0.525, 0.547), "single": (0.544, 0.553),
                            "multi": (0.502, 0.523)},
    "MNIST autoencoder, test": {"baseline": (0.454, 0.460), "decov": (0.443, 0.450),
                                "xcov": (0.414, 0.420), "single": (0.457, 0.463),
                                "multi": (0.463, 0.470)},
    "CIFAR-10, validation": {"baseline": (0.198, 0.204), "decov": (0.175, 0.191),
                             "xcov": (0.320, 0.327), "single": (0.238, 0.245),
                             "multi": (0.376, 0.384)},
    "CIFAR-10, test": {"baseline": (0.194, 0.199), "decov": (0.176, 0.191),
                       "xcov": (0.321, 0.326), "single": (0.239, 0.246),
                       "multi": (0.376, 0.385)},
}
FIGURE_KINDS = {"units": "Fig. 2/3: most active FC1 unit by class",
                "pca": "Fig. 5: PCA of FC1, by binary label and by class",
                "clusters": "Fig. 6: AMI against the number of clusters",
                "margins": "Section 3.4: margin sweep"}
PAPER_COLUMNS = {"mnist-rows": ("MNIST strokes, test",), "mnist": ("MNIST strokes, test",),
                 "fashion-mnist": ("CIFAR-10, validation", "CIFAR-10, test")}


@dataclasses.dataclass(frozen=True)
class ForcedApartConfig:
    """One dataset's Table 1 row block, figures and margin sweep.

    Scale: ``train_size`` training examples (0: all 50,000), ``eval_size`` validation and test
    examples clustered (0: all 10,000), ``epochs``; models: ``rnn_hidden``, ``mlp_hidden``,
    ``cnn_width`` (1.0 is VGG-16's widths, section 4.2), ``cnn_conv`` ("shifted", the CPU-fast
    path, or "lax", its ``nn.Conv`` twin; the same function). Loss weights: the paper adds
    L_single and L_multi to the cross-entropy unweighted (eq. 5, 8); the baselines' weights are
    ours.

    Attributes:
      dataset: "mnist-rows", "mnist" or "fashion-mnist".
      model: "rnn" (rows of pixels), "mlp" or "cnn".
      losses: the table's rows: "baseline", "decov", "xcov", "single", "multi".
      seeds: models per loss.
      seed: the PRNG seed.
      epochs: training epochs of the classifier table.
      batch_size: examples per minibatch.
      learning_rate: Adam's learning rate.
      train_size: training examples; 0: all 50,000.
      eval_size: validation and test examples clustered; 0: all 10,000.
      rnn_hidden: the RNN's hidden units.
      mlp_hidden: the MLP's hidden layer widths.
      cnn_width: the CNN's widths as a share of VGG-16's (section 4.2: 1.0).
      cnn_conv: "shifted" (the CPU-fast path) or "lax" (its nn.Conv twin; the same function).
      margin_single: L_single's margin m (the paper: 5-10 good).
      margin_multi: L_multi's margin m (the paper: 0.1-1 good).
      weight_decov: DeCov's weight.
      weight_xcov: XCov's weight.
      weight_single: L_single's weight (the paper: 1, unweighted).
      weight_multi: L_multi's weight (the paper: 1, unweighted).
      n_clusters: KMeans clusters scored against the original classes.
      kmeans_seeds: KMeans restarts.
      cluster_counts: the cluster counts of Fig. 6 (AMI against clusters).
      sweep_loss: the loss of the margin sweep ("single" or "multi"); empty: no sweep.
      sweep_margins: the margins of the sweep.
      autoencoder: also train the sequence autoencoder of the "MNIST autoencoder" column
        (eq. 11; mnist-rows).
      ae_alpha: eq. 11's weight of the Forced Apart term.
      ae_margin: the autoencoder's margin.
      ae_epochs: the autoencoder's epochs.
    """

    dataset: str = "mnist-rows"
    model: str = "rnn"
    losses: tuple[str, ...] = LOSSES
    seeds: int = 3
    seed: int = 0
    epochs: int = 3
    batch_size: int = 128
    learning_rate: float = 1e-3
    train_size: int = 10_000
    eval_size: int = 5_000
    rnn_hidden: int = 64
    mlp_hidden: tuple[int, ...] = (256,)
    cnn_width: float = 0.125
    cnn_conv: str = "shifted"
    margin_single: float = 10.0
    margin_multi: float = 1.0
    weight_decov: float = 1.0
    weight_xcov: float = 1.0
    weight_single: float = 1.0
    weight_multi: float = 1.0
    n_clusters: int = 10
    kmeans_seeds: int = 3
    cluster_counts: tuple[int, ...] = (2, 5, 10, 15, 20)
    sweep_loss: str = "multi"
    sweep_margins: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)
    autoencoder: bool = False
    ae_alpha: float = 0.5
    ae_margin: float = 1.0
    ae_epochs: int = 3


FULL_SCALE = ("--set train_size=0 --set eval_size=0 --set epochs=30 --set ae_epochs=30 "
              "--set rnn_hidden=128 --set cnn_width=1.0")


def make_config(dataset: str | None) -> ForcedApartConfig:
    dataset = dataset or "mnist-rows"
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    if dataset == "mnist-rows":
        return ForcedApartConfig(dataset=dataset, model="rnn", autoencoder=True)
    if dataset == "mnist":
        return ForcedApartConfig(dataset=dataset, model="mlp", sweep_loss="single",
                                 sweep_margins=(1.0, 3.0, 5.0, 10.0, 20.0))
    return ForcedApartConfig(dataset=dataset, model="cnn", epochs=2)


def result_name(dataset: str, model: str) -> str:
    """The stem of a run's JSON and figures: forced_apart_{dataset}_{model}.json, since one dataset
    is run with several models (mnist: MLP and CNN)."""
    return f"{dataset.replace('-', '_')}_{model}"


def _check_config(config: ForcedApartConfig) -> None:
    if config.model not in ("rnn", "mlp", "cnn"):
        raise ValueError(f"model: expected rnn, mlp or cnn, got {config.model!r}")
    unknown = set(config.losses) - set(LOSSES)
    if unknown or not config.losses:
        raise ValueError(f"losses: expected some of {LOSSES}, got {config.losses}")
    if config.sweep_loss not in ("", "single", "multi"):
        raise ValueError(f"sweep_loss: expected '', 'single' or 'multi', got {config.sweep_loss!r}")
    if config.cnn_conv not in nets.CONV_IMPLEMENTATIONS:
        raise ValueError(f"cnn_conv: expected one of {nets.CONV_IMPLEMENTATIONS}, got "
                         f"{config.cnn_conv!r}")
    if config.seeds < 1 or config.epochs < 1:
        raise ValueError("seeds and epochs: expected at least 1")


def validate(config: ForcedApartConfig) -> None:
    """What `jaxdis run` checks before it creates the run folder: the config, and that the
    dataset is found (FileNotFoundError, listing where it looked, if not)."""
    from jaxdis.data.mnist import split_size

    if config.dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {config.dataset!r}")
    _check_config(config)
    for name in ("train_size", "eval_size"):
        if getattr(config, name) < 0:
            raise ValueError(f"{name}: expected >= 0 (0: all), got {getattr(config, name)}")
    for name in ("margin_single", "margin_multi", "ae_margin", *(
            f"weight_{loss}" for loss in PENALTIES)):
        if getattr(config, name) < 0:
            raise ValueError(f"{name}: expected >= 0, got {getattr(config, name)}")
    if any(m < 0 for m in config.sweep_margins):
        raise ValueError(f"sweep_margins: expected margins >= 0, got {config.sweep_margins}")
    split_size("train", "fashion_mnist" if config.dataset == "fashion-mnist" else "mnist")


# ----------------------------------------------------------------------------- data and models


def load_split(dataset: str, split: str, size: int):
    """Images (N, 28, 28) float32 in [0, 1] and original classes (N,) int32; the first ``size``
    examples of the split (0: all)."""
    from jaxdis.data import load_fashion_mnist, load_mnist

    loader = load_fashion_mnist if dataset == "fashion-mnist" else load_mnist
    images, classes = loader(split)
    if size:
        images, classes = images[:size], classes[:size]
    return images, classes


def make_classifier(config: ForcedApartConfig):
    """The model and a function shaping (N, 28, 28) images into its input."""
    if config.model == "rnn":  # 28 steps of 28 pixels (Fig. 1)
        return nets.SequenceClassifier(hidden=config.rnn_hidden), lambda x: x
    if config.model == "mlp":
        return nets.MLPClassifier(hidden=config.mlp_hidden), lambda x: x
    return nets.grey28_cnn(config.cnn_width, config.cnn_conv), lambda x: x[..., None]


# ----------------------------------------------------------------------------- objectives


def penalty_terms(fc1, probability, fc1_rows, binary, margins):
    """The four extra loss components of Table 1, unweighted, for one batch:

    - decov: DeCov of FC1's activations (Cogswell et al.);
    - xcov: XCov between the predicted probability and FC1's activations (Cheung et al. eq. 6;
      Forced Apart section 2: "cross-covariance between the predicted labels and the activations");
    - single: L_single on FC1's weight rows, margin ``margins[0]`` (Forced Apart eq. 5-7);
    - multi: L_multi on FC1's activations, pairs sharing a binary label, margin ``margins[1]``
      (Forced Apart eq. 8-9).
    """
    return jnp.stack([decov(fc1), xcov(probability[:, None], fc1),
                      forced_apart_single(fc1_rows, margins[0]),
                      forced_apart_multi(fc1, binary, margins[1])])


def classifier_objective(model, net, penalty, inputs, binary):
    """Sigmoid cross-entropy plus ``penalty["coefficients"] . penalty_terms``; returns the total
    and its parts (for the per-epoch metrics)."""
    logit, fc1 = model.apply(net, inputs)
    bce = jnp.mean(optax.sigmoid_binary_cross_entropy(logit, binary.astype(logit.dtype)))
    terms = penalty_terms(fc1, jax.nn.sigmoid(logit), nets.fc1_weight_rows(net), binary,
                          penalty["margins"])
    total = bce + jnp.dot(penalty["coefficients"], terms)
    return total, {"loss": total, "bce": bce, **dict(zip(PENALTIES, terms))}


def autoencoder_objective(model, net, penalty, inputs):
    """Forced Apart eq. 11, (1 - alpha) * reconstruction + alpha * L_multi2 (eq. 10), plus DeCov
    and L_single terms for their rows; ``penalty["coefficients"]`` = (decov, single, alpha)."""
    x_hat, code = model.apply(net, inputs)
    decov_weight, single_weight, alpha = penalty["coefficients"]
    reconstruction_and_multi = forced_apart_autoencoder(inputs, x_hat, code, penalty["margins"][1],
                                                        alpha)
    terms = jnp.stack([decov(code), forced_apart_single(nets.fc1_weight_rows(net),
                                                        penalty["margins"][0])])
    total = reconstruction_and_multi + decov_weight * terms[0] + single_weight * terms[1]
    return total, {"loss": total, "decov": terms[0], "single": terms[1]}


def penalty_table(config: ForcedApartConfig, losses, margins_single, margins_multi):
    """The untrained "penalty" role of each model: coefficients of :data:`PENALTIES` (one hot,
    scaled by the loss's weight) and the two margins. Arrays with a leading model axis."""
    weights = {"decov": config.weight_decov, "xcov": config.weight_xcov,
               "single": config.weight_single, "multi": config.weight_multi}
    coefficients = np.array([[weights[p] if loss == p else 0.0 for p in PENALTIES]
                             for loss in losses], np.float32)
    margins = np.stack([np.asarray(margins_single, np.float32),
                        np.asarray(margins_multi, np.float32)], axis=1)
    return {"coefficients": jnp.asarray(coefficients), "margins": jnp.asarray(margins)}


def autoencoder_penalty_table(config: ForcedApartConfig, losses):
    coefficients = np.array([[config.weight_decov * (loss == "decov"),
                              config.weight_single * (loss == "single"),
                              config.ae_alpha * (loss == "multi")] for loss in losses], np.float32)
    margins = np.tile(np.array([[config.margin_single, config.ae_margin]], np.float32),
                      (len(losses), 1))
    return {"coefficients": jnp.asarray(coefficients), "margins": jnp.asarray(margins)}


# ----------------------------------------------------------------------------- training


def make_program(config: ForcedApartConfig, model, objective, sample, n_penalty, epochs,
                 probe_metrics):
    """An engine program with roles "net" (trained, Adam) and "penalty" (per-model constants)."""

    def init_params(key):
        return {"net": model.init(key, sample),
                "penalty": {"coefficients": jnp.zeros(n_penalty), "margins": jnp.zeros(2)}}

    def losses_and_grads(params, constants, batch, key, epoch):
        grads, parts = jax.grad(lambda net: objective(net, params["penalty"], batch),
                                has_aux=True)(params["net"])
        return parts, {"net": grads}

    adam = train.OptimizerSpec(name="adam", learning_rate=config.learning_rate)
    return train.Program(
        stages=(train.Stage("train", epochs, ("net",), losses_and_grads),),
        optimizer=train.make_optimizer({"net": adam, "penalty": adam}),
        init_params=init_params, probe_metrics=probe_metrics, batch_size=config.batch_size)


def train_models(program, table, seed_of_model, config, data, probe, run_dir, phase):
    """Trains one model per row of ``table`` (a vmapped program), model i from seed
    ``seed_of_model[i]``; logs per-epoch metrics; returns the stacked trained net parameters."""
    keys = train.seed_keys(config.seed, max(seed_of_model) + 1)[np.asarray(seed_of_model)]
    states = train.init_states(program, keys)
    states = states._replace(params={**states.params, "penalty": table})
    from jaxdis.runs import progress

    bar = progress(program.stages[0].epochs, phase)

    def on_chunk(stage, first_epoch, metrics, states, following):
        for model_index in range(len(seed_of_model)):
            run_dir.log_metrics({"phase": phase, "epoch": first_epoch, "model": model_index,
                                 **{k: v[model_index, -1] for k, v in metrics.items()}})
        bar.update(1)

    states = train.run_program(program, states, data, probe, on_chunk=on_chunk)
    bar.close()
    dead = np.flatnonzero(~np.asarray(states.alive))
    return states.params["net"], dead.tolist()


def stacked_outputs(model, nets_stack, inputs, chunk=1000):
    """Every model's outputs on ``inputs``: a tuple of arrays with leading (model, example) axes,
    computed in chunks of examples to bound memory."""
    apply = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))
    pieces = [apply(nets_stack, jnp.asarray(inputs[i:i + chunk]))
              for i in range(0, len(inputs), chunk)]
    return tuple(np.concatenate([np.asarray(p[k]) for p in pieces], axis=1)
                 for k in range(len(pieces[0])))


# ----------------------------------------------------------------------------- evaluation


def score_models(features, classes, n_clusters, kmeans_seeds):
    """AMI and NMI of KMeans on each model's features (M, N, D): arrays (M,)."""
    from jaxdis.metrics import cluster_scores

    scores = [cluster_scores(f, classes, n_clusters, seeds=tuple(range(kmeans_seeds)))
              for f in features]
    return (np.array([s["ami"] for s in scores]), np.array([s["nmi"] for s in scores]))


def _mean_std(values):
    values = np.asarray(values, np.float64)
    return {"mean": float(values.mean()), "std": float(values.std()), "per_seed": values.tolist()}


def run_classifier_table(config, run_dir, splits):
    """Table 1 for the classifier, Fig. 2/3/5/6 data; returns (rows, figures data)."""
    model, shape = make_classifier(config)
    (x_train, c_train), (x_val, c_val), (x_test, c_test) = splits
    losses = [loss for loss in config.losses for _ in range(config.seeds)]
    seed_of_model = [s for _ in config.losses for s in range(config.seeds)]
    table = penalty_table(config, losses, [config.margin_single] * len(losses),
                          [config.margin_multi] * len(losses))
    nets_stack, dead = _train_classifiers(config, model, shape, table, seed_of_model,
                                          (x_train, c_train), (x_val, c_val), run_dir, "table")
    results = {}
    outputs = {}
    for split, x, c in (("validation", x_val, c_val), ("test", x_test, c_test)):
        logits, fc1 = stacked_outputs(model, nets_stack, shape(x))
        accuracy = np.mean((logits > 0) == binary_labels(c)[None], axis=1)
        ami, nmi = score_models(fc1, c, config.n_clusters, config.kmeans_seeds)
        dead_units = np.mean(np.all(fc1 <= 0, axis=1), axis=1)  # fraction of FC1 units never on
        outputs[split] = fc1
        for loss in config.losses:
            rows = [i for i, name in enumerate(losses) if name == loss]
            results.setdefault(loss, {})[split] = {
                "ami": _mean_std(ami[rows]), "nmi": _mean_std(nmi[rows]),
                "accuracy": _mean_std(accuracy[rows]),
                "dead_fc1_units": _mean_std(dead_units[rows])}
    return results, {"losses": losses, "seed_of_model": seed_of_model, "fc1": outputs,
                     "dead_models": dead}


def _train_classifiers(config, model, shape, table, seed_of_model, train_split, val_split,
                       run_dir, phase):
    (x_train, c_train), (x_val, c_val) = train_split, val_split
    probe_size = min(2000, len(x_val))
    probe = (jnp.asarray(shape(x_val[:probe_size])), jnp.asarray(binary_labels(c_val[:probe_size])))
    data = (jnp.asarray(shape(x_train)), jnp.asarray(binary_labels(c_train)))

    def objective(net, penalty, batch):
        return classifier_objective(model, net, penalty, *batch)

    def probe_metrics(params, constants, probe_batch, key):
        logit, _ = model.apply(params["net"], probe_batch[0])
        return {"probe_accuracy": jnp.mean((logit > 0) == (probe_batch[1] == 1))}

    program = make_program(config, model, objective, data[0][:1], len(PENALTIES), config.epochs,
                           probe_metrics)
    return train_models(program, table, seed_of_model, config, data, probe, run_dir, phase)


def run_margin_sweep(config, run_dir, splits):
    """Section 3.4: one vmapped program over (margin, seed) for ``config.sweep_loss``; AMI and
    accuracy on the validation set."""
    model, shape = make_classifier(config)
    (x_train, c_train), (x_val, c_val), _ = splits
    margins = [m for m in config.sweep_margins for _ in range(config.seeds)]
    seed_of_model = [s for _ in config.sweep_margins for s in range(config.seeds)]
    losses = [config.sweep_loss] * len(margins)
    single = margins if config.sweep_loss == "single" else [config.margin_single] * len(margins)
    multi = margins if config.sweep_loss == "multi" else [config.margin_multi] * len(margins)
    table = penalty_table(config, losses, single, multi)
    nets_stack, dead = _train_classifiers(config, model, shape, table, seed_of_model,
                                          (x_train, c_train), (x_val, c_val), run_dir, "sweep")
    logits, fc1 = stacked_outputs(model, nets_stack, shape(x_val))
    accuracy = np.mean((logits > 0) == binary_labels(c_val)[None], axis=1)
    ami, nmi = score_models(fc1, c_val, config.n_clusters, config.kmeans_seeds)
    shape_ms = (len(config.sweep_margins), config.seeds)
    return {"loss": config.sweep_loss, "margins": list(config.sweep_margins),
            "ami": ami.reshape(shape_ms).tolist(), "nmi": nmi.reshape(shape_ms).tolist(),
            "accuracy": accuracy.reshape(shape_ms).tolist(), "dead_models": dead}


def run_autoencoder_table(config, run_dir, splits):
    """The "MNIST autoencoder" column: a sequence autoencoder on the rows, no labels; KMeans on
    its FC1 code, scored against the classes on the test set."""
    model = nets.SequenceAutoencoder(hidden=config.rnn_hidden)
    (x_train, _), (x_val, _), (x_test, c_test) = splits
    losses = [loss for loss in AE_LOSSES for _ in range(config.seeds)]
    seed_of_model = [s for _ in AE_LOSSES for s in range(config.seeds)]
    table = autoencoder_penalty_table(config, losses)
    data = jnp.asarray(x_train)
    probe = jnp.asarray(x_val[:2000])

    def objective(net, penalty, batch):
        return autoencoder_objective(model, net, penalty, batch)

    def probe_metrics(params, constants, probe_x, key):
        x_hat, _ = model.apply(params["net"], probe_x)
        return {"probe_reconstruction": jnp.mean(jnp.sum((probe_x - x_hat) ** 2, axis=(1, 2)))}

    program = make_program(config, model, objective, data[:1], 3, config.ae_epochs, probe_metrics)
    nets_stack, dead = train_models(program, table, seed_of_model, config, data, probe, run_dir,
                                    "autoencoder")
    _, code = stacked_outputs(model, nets_stack, x_test)
    ami, nmi = score_models(code, c_test, config.n_clusters, config.kmeans_seeds)
    results = {}
    for loss in AE_LOSSES:
        rows = [i for i, name in enumerate(losses) if name == loss]
        results[loss] = {"test": {"ami": _mean_std(ami[rows]), "nmi": _mean_std(nmi[rows])}}
    return results, dead


# ----------------------------------------------------------------------------- the run


def run(config: ForcedApartConfig, run_dir) -> dict:
    from jaxdis.metrics import ami_vs_clusters
    from jaxdis.runs import provenance
    from jaxdis.viz import forced_apart as viz

    _check_config(config)
    started = provenance()  # the code the run starts with, even if it spans a commit
    start = time.perf_counter()
    splits = [load_split(config.dataset, "train", config.train_size),
              load_split(config.dataset, "validation", config.eval_size),
              load_split(config.dataset, "test", config.eval_size)]
    results, figure_data = run_classifier_table(config, run_dir, splits)
    summary = {"dataset": config.dataset, "model": config.model, "table": results,
               "dead_models": figure_data["dead_models"]}
    name = result_name(config.dataset, config.model)

    # Fig. 2/3 and 5: seed 0's test representations, baseline against each Forced Apart loss.
    losses = figure_data["losses"]
    first = {loss: losses.index(loss) for loss in config.losses}  # seed 0 of each loss
    fc1_test = figure_data["fc1"]["test"]
    c_test = splits[2][1]
    shown = [loss for loss in ("baseline", "single", "multi") if loss in first]
    run_dir.save_figure(viz.unit_histograms(
        {f"{LOSS_NAMES[loss]} ({config.dataset}, seed 0)": (fc1_test[first[loss]], c_test)
         for loss in shown}), f"forced_apart_{name}_units")
    run_dir.save_figure(viz.pca_views(
        {LOSS_NAMES[loss]: fc1_test[first[loss]] for loss in shown if loss != "single"},
        binary_labels(c_test), c_test), f"forced_apart_{name}_pca")

    # Fig. 6: AMI against the number of clusters (test set, mean over seeds).
    curves = {}
    for loss in config.losses:
        rows = [i for i, name in enumerate(losses) if name == loss]
        per_seed = [ami_vs_clusters(fc1_test[i], c_test, config.cluster_counts,
                                    seeds=tuple(range(config.kmeans_seeds))) for i in rows]
        curves[LOSS_NAMES[loss]] = (list(config.cluster_counts),
                                    np.mean([p["ami"] for p in per_seed], axis=0).tolist())
    summary["ami_vs_clusters"] = {k: {"clusters": v[0], "ami": v[1]} for k, v in curves.items()}
    run_dir.save_figure(viz.ami_vs_clusters_plot(curves, f"{config.dataset}, test set"),
                        f"forced_apart_{name}_clusters")

    if config.sweep_loss:
        sweep = run_margin_sweep(config, run_dir, splits)
        summary["margin_sweep"] = sweep
        baseline = results.get("baseline", {}).get("validation", {}).get("ami", {}).get("mean")
        run_dir.save_figure(viz.margin_sweep_plot(
            sweep["margins"], sweep["ami"], sweep["accuracy"], baseline,
            f"{LOSS_NAMES[config.sweep_loss]} margin sweep, {config.dataset}, validation"),
            f"forced_apart_{name}_margins")
    if config.autoencoder:
        summary["autoencoder"], summary["autoencoder_dead_models"] = run_autoencoder_table(
            config, run_dir, splits)
    summary["wall_seconds"] = time.perf_counter() - start
    summary["provenance"] = {**started, "finished": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    summary["config"] = dataclasses.asdict(config)
    run_dir.write_json(f"forced_apart_{name}.json", summary)
    return summary


# ----------------------------------------------------------------------------- the markdown report


def _cell(entry, key):
    return f"{entry[key]['mean']:.3f} ± {entry[key]['std']:.3f}"


def _claim_check(table) -> list[str]:
    """The paper's claim, checked on one dataset's test set: L_single and L_multi raise AMI over
    the baseline, DeCov and XCov, at a cost of at most 0.5 percentage points of binary accuracy."""
    test = {loss: entry["test"] for loss, entry in table.items()}
    if "baseline" not in test:
        return []
    ami = {loss: t["ami"]["mean"] for loss, t in test.items()}
    lines = [f"Claim check (test set; computed from the table above): best AMI: "
             f"{LOSS_NAMES[max(ami, key=ami.get)]}."]
    for loss in ("single", "multi"):
        if loss not in test:
            continue
        beaten = [LOSS_NAMES[o] for o in ("baseline", "decov", "xcov") if o in ami
                  and ami[loss] <= ami[o]]
        cost = 100 * (test["baseline"]["accuracy"]["mean"] - test[loss]["accuracy"]["mean"])
        # the seed spread of the two rows compared, so a difference can be read against it
        ami_std = max(test[loss]["ami"]["std"], test["baseline"]["ami"]["std"])
        accuracy_std = 100 * max(test[loss]["accuracy"]["std"],
                                 test["baseline"]["accuracy"]["std"])
        lines.append(f"- {LOSS_NAMES[loss]}: AMI {ami[loss] - ami['baseline']:+.3f} over the "
                     f"baseline (seed std up to {ami_std:.3f}); "
                     + (f"NOT above {', '.join(beaten)}" if beaten else "above every other row")
                     + f"; accuracy cost {cost:+.2f} percentage points, seed std up to "
                     f"{accuracy_std:.2f} ({'within' if cost <= 0.5 else 'MORE than'} the "
                     f"paper's 0.5).")
    return lines


def _model_line(config: dict, model: str) -> str:
    """The model as run, from its saved config: the CNN's filters (VGG-16's, or scaled)."""
    if model == "cnn":
        cnn = nets.grey28_cnn(config["cnn_width"])
        filters = " ".join("-".join(map(str, block)) for block in (*cnn.blocks, cnn.head))
        return (f"VGG-16-to-pool3 CNN of section 4.2 for 28x28, filters {filters} "
                f"({config['cnn_width']:g} of VGG-16's; the 8 1x1 filters and FC1 of 15 as in "
                f"the paper), computed as `{config.get('cnn_conv', 'lax')}` convolutions")
    if model == "mlp":
        return f"MLP, hidden layers {tuple(config['mlp_hidden'])}, then FC1 of 15 (not the paper's)"
    return f"LSTM of {config['rnn_hidden']} units (Fig. 1), then FC1 of 15"


def _identical_margins(sweep) -> list[float]:
    """The margins of a sweep whose models match the largest margin's exactly (per-seed AMI and
    accuracy); empty when only that margin is left."""
    last = len(sweep["margins"]) - 1
    same = [i for i in range(last + 1)
            if sweep["ami"][i] == sweep["ami"][last]
            and sweep["accuracy"][i] == sweep["accuracy"][last]]
    return [sweep["margins"][i] for i in same] if len(same) > 1 else []


def report(summaries: list[dict], commands: list[str], figures_dir=None) -> str:
    """experiments/results/forced_apart.md from the runs' summaries (forced_apart_*.json): our
    Table 1 (mean ± std over seeds) beside the paper's corresponding columns, the margin sweeps,
    and each run's command, device, date, commit and wall time; with ``figures_dir``, links to
    the figures kept there (figures/forced_apart_DATASET_*.png)."""
    lines = ["# Forced Apart: our Table 1 beside the paper's", "",
             "Generated by `python -m experiments.forced_apart report` from the JSON files of "
             "`jaxdis run forced-apart` (same folder). AMI is AMI_max, NMI is NMI_sqrt, KMeans "
             "with as many clusters as classes on FC1; mean ± std over the seeds (each seed's "
             "score is itself the mean of several KMeans restarts). Accuracy: the binary task.", ""]
    for summary, command in zip(summaries, commands):
        config, prov = summary["config"], summary["provenance"]
        lines += [f"## {summary['dataset']} ({summary['model']})", "",
                  f"- command: `{command}`",
                  f"- model: {_model_line(config, summary['model'])}",
                  f"- scale: {config['train_size'] or 50000} training examples, "
                  f"{config['epochs']} epochs, {config['seeds']} seeds in one vmapped program, "
                  f"{config['eval_size'] or 10000} validation and test examples clustered",
                  f"- device: {prov['device']}; date: {prov['date']}; commit: {prov['commit']}; "
                  f"wall time: {summary['wall_seconds']:.0f} s",
                  f"- margins: L_single {config['margin_single']}, L_multi "
                  f"{config['margin_multi']}; weights: DeCov {config['weight_decov']}, XCov "
                  f"{config['weight_xcov']}, L_single {config['weight_single']}, L_multi "
                  f"{config['weight_multi']}", ""]
        if summary.get("dead_models"):
            lines += [f"- diverged (frozen) models: {summary['dead_models']}", ""]
        paper = PAPER_COLUMNS[summary["dataset"]]
        header = ("| loss | val AMI | val NMI | val acc | test AMI | test NMI | test acc | "
                  + " | ".join(f"paper {c} AMI / NMI" for c in paper) + " |")
        lines += [header, "|" + "---|" * (header.count("|") - 1)]
        for loss in (name for name in LOSSES if name in summary["table"]):  # JSON sorts keys
            entry = summary["table"][loss]
            val, test = entry["validation"], entry["test"]
            quoted = " | ".join("{:.3f} / {:.3f}".format(*PAPER_TABLE1[c][loss]) for c in paper)
            lines.append(f"| {LOSS_NAMES[loss]} | {_cell(val, 'ami')} | {_cell(val, 'nmi')} | "
                         f"{_cell(val, 'accuracy')} | {_cell(test, 'ami')} | "
                         f"{_cell(test, 'nmi')} | {_cell(test, 'accuracy')} | {quoted} |")
        lines += ["", *_claim_check(summary["table"]), ""]
        if "autoencoder" in summary:
            lines += ["Sequence autoencoder (no labels; the paper's \"MNIST autoencoder\" "
                      "column), test set:", "",
                      "| loss | test AMI | test NMI | paper AMI / NMI |", "|---|---|---|---|"]
            for loss in (name for name in AE_LOSSES if name in summary["autoencoder"]):
                entry = summary["autoencoder"][loss]
                quoted = "{:.3f} / {:.3f}".format(*PAPER_TABLE1["MNIST autoencoder, test"][loss])
                lines.append(f"| {LOSS_NAMES[loss]} | {_cell(entry['test'], 'ami')} | "
                             f"{_cell(entry['test'], 'nmi')} | {quoted} |")
            means = [e["test"]["ami"]["mean"] for e in summary["autoencoder"].values()]
            stds = [e["test"]["ami"]["std"] for e in summary["autoencoder"].values()]
            spread, noise = max(means) - min(means), float(np.mean(stds))
            lines += ["", f"Autoencoder check: the rows' mean AMI differ by at most {spread:.3f}, "
                      f"against a seed std of {noise:.3f}: "
                      + ("no effect of the loss components is measurable at this scale."
                         if spread < noise else "the rows differ by more than the seed noise."),
                      ""]
        if figures_dir is not None:
            name = result_name(summary["dataset"], summary["model"])
            kept = sorted(Path(figures_dir).glob(f"forced_apart_{name}_*.png"))
            kept = [f for f in kept if f.stem[len(f"forced_apart_{name}_"):] in FIGURE_KINDS]
            lines += [f"![{FIGURE_KINDS[f.stem.rsplit('_', 1)[1]]}](figures/{f.name})"
                      for f in kept] + ([""] if kept else [])
        if "ami_vs_clusters" in summary:  # Fig. 6 as numbers, also where its figure was not kept
            curves = summary["ami_vs_clusters"]
            counts = next(iter(curves.values()))["clusters"]
            lines += ["AMI against the number of KMeans clusters (Fig. 6), test set, mean over "
                      "seeds:", "", "| loss | " + " | ".join(f"{k} clusters" for k in counts)
                      + " |", "|---|" + "---|" * len(counts)]
            lines += [f"| {loss} | " + " | ".join(f"{a:.3f}" for a in curve["ami"]) + " |"
                      for loss, curve in ((LOSS_NAMES[name], curves[LOSS_NAMES[name]])
                                          for name in LOSSES if LOSS_NAMES[name] in curves)]
            lines.append("")
        if "margin_sweep" in summary:
            sweep = summary["margin_sweep"]
            lines += [f"Margin sweep of {LOSS_NAMES[sweep['loss']]} (section 3.4), validation "
                      "set, mean over seeds:", "", "| margin | AMI | NMI | accuracy |",
                      "|---|---|---|---|"]
            for m, ami, nmi, acc in zip(sweep["margins"], sweep["ami"], sweep["nmi"],
                                        sweep["accuracy"]):
                lines.append(f"| {m:g} | {np.mean(ami):.3f} | {np.mean(nmi):.3f} | "
                             f"{np.mean(acc):.3f} |")
            same = _identical_margins(sweep)
            if same:
                lines += ["", f"Margins {', '.join(f'{m:g}' for m in same)} gave identical "
                          "scores (every seed's AMI and accuracy equal), as expected: the hinge "
                          "max(0, m - D) is linear in D while every pair's divergence stays below "
                          "m, so its gradient does not depend on m there; only smaller margins, "
                          "which switch pairs off, change the training."]
            lines.append("")
    lines += ["## Not run here, and the full-scale commands", "",
              "- The paper's pen-stroke sequences, CIFAR-10 and DBPedia are not reachable offline; "
              "their loaders are `jaxdis.data.sequences` (de Jong's files in a folder you name; "
              "tfds for CIFAR-10 and DBPedia-14 with the paper's 7/7 split). MNIST rows stand in "
              "for the strokes and Fashion-MNIST for CIFAR-10.",
              "- The VGG-to-pool3 CNN of section 4.2 (`model=cnn`) was run here only with 1/8 of "
              "VGG-16's filters, on a few thousand images for two epochs, without a margin sweep: "
              "a vmapped stack of 15 such models takes seconds per step on this shared 2-core CPU "
              "(with `cnn_conv=shifted`; `nn.Conv` under vmap is slower still). Its rows are the "
              "least trained of the report; the MLP rows and sweeps are the better-trained "
              "comparison on the same data. On a GPU, `--set cnn_conv=lax` (the same function "
              "through `nn.Conv`) may be the faster; that was not measured here.",
              "- The paper gives no epochs, batch size, learning rate or loss weights; ours are "
              "the config's (Adam 1e-3, batch 128, every component weighted 1). The paper's "
              "columns beside ours are the nearest ones: pen strokes (RNN) beside mnist-rows and "
              "beside mnist images (MLP; the paper has no MNIST-image row), CIFAR-10 beside "
              "fashion-mnist. They are a different dataset and scale, to be read for the ordering "
              "of the rows, not the values.",
              "- Full scale, for a GPU (the number of epochs is our guess):",
              "",
              "```bash",
              f"jaxdis run forced-apart --dataset mnist-rows {FULL_SCALE}",
              f"jaxdis run forced-apart --dataset mnist {FULL_SCALE}",
              f"jaxdis run forced-apart --dataset mnist --set model=cnn {FULL_SCALE}",
              f"jaxdis run forced-apart --dataset fashion-mnist {FULL_SCALE}",
              "```", ""]
    return "\n".join(lines) + "\n"


_CPU_CNN = "--set train_size=5000 --set epochs=2 --set eval_size=2000 --set sweep_loss="
# The runs behind experiments/results/forced_apart.md: (JSON written by the run, its command).
RESULT_RUNS = (
    ("forced_apart_mnist_rows_rnn.json",
     "JAXDIS_DATA_DIR=/work/shared/data jaxdis run forced-apart --dataset mnist-rows "
     "--set train_size=8000 --set epochs=3 --set ae_epochs=2 --set sweep_margins=0.1,0.3,1.0,3.0"),
    ("forced_apart_mnist_mlp.json",
     "JAXDIS_DATA_DIR=/work/shared/data jaxdis run forced-apart --dataset mnist "
     "--set train_size=20000 --set epochs=5"),
    ("forced_apart_mnist_cnn.json",
     f"JAXDIS_DATA_DIR=/work/shared/data jaxdis run forced-apart --dataset mnist --set model=cnn "
     f"{_CPU_CNN}"),
    ("forced_apart_fashion_mnist_mlp.json",
     "JAXDIS_DATA_DIR=/work/shared/data jaxdis run forced-apart --dataset fashion-mnist "
     "--set model=mlp --set train_size=20000 --set epochs=5"),
    ("forced_apart_fashion_mnist_cnn.json",
     f"JAXDIS_DATA_DIR=/work/shared/data jaxdis run forced-apart --dataset fashion-mnist "
     f"{_CPU_CNN}"),
)


def main(argv: list[str]) -> int:
    """``python -m experiments.forced_apart report [OUT.md [SUMMARY.json "COMMAND" ...]]``

    With only ``report``: experiments/results/forced_apart.md from :data:`RESULT_RUNS` (the JSON
    files beside it that exist)."""
    if not argv or argv[0] != "report" or len(argv) == 3 or (len(argv) > 2 and len(argv[2:]) % 2):
        print(main.__doc__, file=sys.stderr)
        return 2
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).parent / "results" / "forced_apart.md"
    if len(argv) > 2:
        pairs = list(zip(argv[2::2], argv[3::2]))
    else:
        pairs = [(out.parent / name, command) for name, command in RESULT_RUNS
                 if (out.parent / name).exists()]
    summaries = [json.loads(Path(path).read_text()) for path, _ in pairs]
    out.write_text(report(summaries, [command for _, command in pairs], out.parent / "figures"))
    return 0


EXPERIMENT = registry.Experiment(
    name="forced-apart",
    summary="Forced Apart Table 1, Fig. 2/3/5/6 and margin sweep: L_single, L_multi vs DeCov, "
            "XCov, baseline, scored by KMeans AMI/NMI",
    make_config=make_config,
    run=run,
    datasets=DATASETS,
    validate=validate,
)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
