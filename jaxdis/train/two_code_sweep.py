"""Seed sweeps of a model with two codes z_a and z_b (the ASAE of thesis ch. 8, the DDN of ch. 9)
on MNIST or one of its composites: the steps ``jaxdis run asae`` and ``jaxdis run ddn`` share.

A sweep trains ``seeds`` models in one compiled program (:func:`jaxdis.train.runner.train_sweep`)
on the examples of :func:`jaxdis.data.load_training_set`, whose program logs per seed and epoch
the KSG mutual information between the codes on a fixed probe set (``mi`` on standardised code
units, ``mi_raw`` as the thesis estimated it) and each code's spread (``code_a_std``,
``code_b_std``). It ends with the final codes and reconstructions of the probe set, every seed::

    images, composite, probe_index = load_training_set(...)
    x = images.reshape(len(images), -1)
    states, summary = train_seeds(config, run_dir, program, x, probe_index, "ddn")
    outputs = ...  # (z_a, z_b, y_a, y_b, y_joint) of x[probe_index], each (seeds, probe, ...)
    summary.update(summarise(config, run_dir, stages, composite, probe_index, x, outputs,
                             figures, scatter_title))

Its config is a frozen dataclass that starts with :class:`SweepConfig`'s fields and has
``n_code``, ``hidden``, ``batch_size``, ``mi_k``, ``epochs_per_call``, ``checkpoints``,
``pair_recognition``, ``preset`` and ``binarize`` among its own, plus the fields of the model's
schedule (:func:`jaxdis.config.from_fields` builds it); :func:`resolve_config` and
:func:`check_config` are what ``jaxdis run`` calls before a run folder is made.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np

from jaxdis import metrics, viz
from jaxdis.config import apply_preset, check_fields, from_fields
from jaxdis.data.composite import KINDS, check_training_set, training_set_size
from jaxdis.train.runner import metric_history, train_sweep

DATASETS = KINDS + ("mnist",)  # the composites of two MNIST digits, and plain MNIST
HISTORIES = ("mi", "mi_raw", "code_a_std", "code_b_std")  # what the programs log per epoch


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """The fields every two-code sweep's config starts with (each experiment adds its own).

    Attributes:
      dataset: "simple", "additive", "occlusive" (composites of two MNIST digits) or "mnist".
      seeds: how many models train together, one compiled program.
      seed: the base PRNG seed of the networks (seed i trains from fold_in(PRNGKey(seed), i)).
      data_seed: which digits are paired into composites, and which examples form the probe set.
      n_train: training examples (composite pairs); 0: all the source holds (25,000 pairs,
        50,000 for mnist; fewer with the shipped sample), filled in by `jaxdis run`.
      probe_size: examples the per-epoch KSG mutual information is estimated on (>= 10).
    """

    dataset: str = "simple"
    seeds: int = 30
    seed: int = 0              # seed i trains from fold_in(PRNGKey(seed), i)
    data_seed: int = 0         # which digits are paired
    n_train: int = 0           # training examples; 0: all (25,000 pairs; 50,000 for mnist)
    probe_size: int = 2500     # examples the per-epoch MI is estimated on


def resolve_config(config, presets: dict, make_config):
    """What `jaxdis run` prints, saves and runs: the preset applied
    (:func:`jaxdis.config.apply_preset`) and ``n_train`` 0 replaced by the number of examples it
    stands for (when known without loading). Idempotent: a saved config resolves to itself."""
    config = apply_preset(config, presets, make_config)
    if config.n_train == 0 and config.dataset in DATASETS:
        config = dataclasses.replace(config, n_train=training_set_size(config.dataset) or 0)
    return config


def check_config(config, schedule: type, datasets=DATASETS) -> None:
    """Raises ValueError for a sweep's config that cannot run, before any data is loaded: a
    dataset not in ``datasets``, sizes and counts out of range, training values the ``schedule``
    built from the config refuses, a probe set or minibatch larger than the training set or more
    examples than the data source holds (:func:`jaxdis.data.check_training_set`)."""
    if config.dataset not in datasets:
        raise ValueError(f"dataset: expected one of {datasets}, got {config.dataset!r}")
    check_fields(config, ("seeds", "n_code", "hidden", "epochs_per_call"), lambda v: v >= 1,
                 "an int >= 1")
    check_fields(config, ("n_train",), lambda v: v >= 0, "an int >= 0")
    from_fields(schedule, config)
    check_training_set(config.dataset, config.n_train, config.probe_size, config.batch_size)
    if config.probe_size <= config.mi_k:
        raise ValueError(f"mi_k={config.mi_k} needs a probe set of more than {config.mi_k} "
                         f"examples, got probe_size={config.probe_size}")


def code_histories(run_dir, stages, n_seeds: int) -> dict:
    """``{name: (n_seeds, n_epochs)}`` of :data:`HISTORIES` over ``stages`` (and "init") as the
    run folder logged them: what :func:`jaxdis.metrics.mi_summary` and
    :func:`jaxdis.viz.mi_readings` take."""
    return {name: metric_history(run_dir, name, stages, n_seeds) for name in HISTORIES}


def last_logged(run_dir, n_seeds: int, name: str, stage: str | None = None):
    """Per seed, the last logged value of metric ``name`` (in ``stage`` if given), or None if
    it was not logged."""
    last = {r["seed"]: r[name] for r in run_dir.read_metrics()
            if name in r and r["seed"] < n_seeds and stage in (None, r.get("stage"))}
    return np.array([last[s] for s in range(n_seeds)]) if last else None


def final_code_std(run_dir, n_seeds: int, stage: str | None = None):
    """Per seed, the last logged spread of the smaller code, min(code_a_std, code_b_std) (in
    ``stage`` if given), or None for a model that does not log them (or a stage that did not
    run)."""
    spreads = [last_logged(run_dir, n_seeds, name, stage) for name in ("code_a_std", "code_b_std")]
    return None if spreads[0] is None else np.minimum(*spreads)


def train_seeds(config, run_dir, program, x, probe_index, name: str, hyperparams=None):
    """Trains ``config.seeds`` seeds of ``program`` on ``x`` (N, input_dim), probing
    ``x[probe_index]`` every epoch, in ``run_dir`` (resuming from its checkpoint if it has one).

    Returns:
      (states, summary): the final stacked :class:`~jaxdis.train.engine.TrainState`, and the
      summary's fields of the run: ``n_train``, ``seeds``, ``alive_seeds`` (seeds that did not
      diverge), ``train_seconds`` (of this process), ``resumed``, ``device``, ``n_devices``.
    """
    start = time.perf_counter()
    states, resumed = train_sweep(program, config.seeds, config.seed, x, x[probe_index], run_dir,
                                  epochs_per_call=config.epochs_per_call,
                                  save_checkpoints=config.checkpoints,
                                  desc=f"{name} {config.dataset}", hyperparams=hyperparams)
    return states, {"n_train": int(x.shape[0]), "seeds": config.seeds,
                    "alive_seeds": int(np.sum(np.asarray(states.alive))),
                    "train_seconds": time.perf_counter() - start, "resumed": resumed,
                    "device": jax.devices()[0].device_kind, "n_devices": jax.device_count()}


def summarise(config, run_dir, stages, composite, probe_index, x, outputs, figures: dict,
              scatter_title: str) -> dict:
    """The summary's fields of the trained codes, and the figures saved.

    - :func:`jaxdis.metrics.mi_summary` of the histories logged over ``stages``;
    - ``probe_reconstruction_per_seed``: mean over the probe set of |y_joint - x|^2;
    - :func:`jaxdis.metrics.ground_truth_scores` (composites only; pair recognition if
      ``config.pair_recognition``);
    - ``figures``: the file names of ``figures`` (``{name: matplotlib Figure}``, saved in this
      order) and, last, ``final_mi_vs_reconstruction`` (one point per seed, ``scatter_title``).

    Args:
      stages: the stages whose logged epochs make the histories ("init" first).
      composite, probe_index: the training set's composite (None for plain MNIST) and probe rows.
      x: (N, input_dim) the training images, flat.
      outputs: (z_a, z_b, y_a, y_b, y_joint) of ``x[probe_index]``: codes (seeds, probe, n_code),
        reconstructions from z_a alone, z_b alone and both (seeds, probe, input_dim).
    """
    z_a, z_b, y_a, y_b, y_joint = outputs
    histories = code_histories(run_dir, stages, config.seeds)
    recon = np.mean(np.sum((y_joint - x[probe_index][None]) ** 2, axis=-1), axis=1)
    figures = {**figures, "final_mi_vs_reconstruction": viz.final_mi_scatter(
        histories["mi"][:, -1], recon, title=scatter_title)}
    summary = {**metrics.mi_summary(**histories, codes_a=z_a, codes_b=z_b),
               "probe_reconstruction_per_seed": recon,
               "figures": [run_dir.save_figure(fig, name).name for name, fig in figures.items()]}
    if composite is not None:  # plain MNIST has no ground truth
        shape = y_a.shape[:2] + composite.x.shape[1:]
        summary.update(metrics.ground_truth_scores(composite, probe_index, z_a, z_b,
                                                   y_a.reshape(shape), y_b.reshape(shape),
                                                   config.pair_recognition))
    return summary
