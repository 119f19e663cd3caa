"""The Discriminative Disentangling Network on the thesis's benchmarks (thesis ch. 9, section 9.4).

``jaxdis run ddn --dataset simple|additive|occlusive|mnist`` trains ``seeds`` DDNs in one compiled
program per stage (Alg. 5 and 6, :mod:`jaxdis.train.ddn`) with the settings of section 9.4:

    dataset     N   Le Lp Ld   epochs (stage 1 + 2 + 3)   alpha in stage 3        seeds
    simple      10  1  1  1    35 + 10 + 5                0.1                     30
    additive    10  2  2  1    60 + 10 + 40               0.1                     30
    occlusive   10  2  3  3    50 + 10 + 50               0.1                     30
    mnist       10  2  2  2    20 + 10 + 100              0.1 -> 1.0, linear (*)  5

(*) section 9.4.4 anneals alpha "to increase the contribution of reconstruction error over time"
without a schedule; the linear ramp to 1.0 is our choice. The composites use 25,000 pairs from
the 50,000 training images, plain MNIST all 50,000 (section 8.2); ``n_train`` scales that down.

It writes per seed and epoch every loss, ``mi`` (the KSG estimate between z_a and z_b on a fixed
probe set of ``probe_size`` training examples, k = 3) and ``alive``; figures: MI curves of all
seeds with their mean (Fig. 9.5, 9.9, 9.12), a cross plot (Fig. 9.6), reconstructions from z_a,
z_b and both for three seeds (Fig. 9.7), final MI against reconstruction error (cf. Fig. 8.5);
and a summary with the final MI of every seed. ``--resume RUN_DIR`` continues from the last
checkpoint (written at most once a minute, at every stage's end and at the end).

The new-user demo (the shipped 10k MNIST sample is enough; 55-96 s on a shared 2-core CPU,
README.md)::

    jaxdis run ddn --dataset simple --seeds 4 --set preset=quick

``preset=quick`` replaces the size fields listed in ``QUICK`` (smaller hidden layers, fewer
examples and epochs); setting one of them as well is an error rather than a silent choice.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis import viz
from jaxdis.nets.ddn import DDNArchitecture, check_code_norm, decode, encode
from jaxdis.registry import Experiment
from jaxdis.train.ddn import DDNSchedule, ddn_example_flops, ddn_program
from jaxdis.train.optimizers import rmsprop_reading
from jaxdis.train.runner import metric_history, train_sweep

DATASETS = ("simple", "additive", "occlusive", "mnist")


@dataclasses.dataclass(frozen=True)
class DDNConfig:
    """A DDN seed sweep (``jaxdis run ddn``); the defaults of a dataset are section 9.4's.

    Attributes:
      dataset: "simple", "additive", "occlusive" (composites of two MNIST digits) or "mnist".
      seeds: how many DDNs train together, one compiled program (seed i from fold_in(seed, i)).
      seed: the base PRNG seed of the networks (seed i trains from fold_in(PRNGKey(seed), i)).
      data_seed: which digits are paired into composites, and which examples form the probe set.
      n_train: training examples (composite pairs); 0: all the source holds (25,000 pairs,
        50,000 for mnist; fewer with the shipped sample), filled in by `jaxdis run`.
      probe_size: examples the per-epoch KSG mutual information is estimated on (>= 10).
      n_code: N, the units of each code z_a and z_b.
      encoder_layers: Le, hidden layers of each encoder.
      predictor_layers: Lp, hidden layers of each predictor.
      decoder_layers: Ld, hidden layers of each decoder.
      hidden: units of every hidden layer.
      encoder_epochs: epochs of stage 1 (encoders against predictors).
      decoder_epochs: epochs of stage 2 (decoders on frozen codes).
      end_to_end_epochs: epochs of stage 3 (end-to-end fine-tuning, eq. 9.11).
      encoder_lr: the encoders' learning rate.
      encoder_lr_grid: if set, seed i uses encoder_lr_grid[i % len(grid)] (a grid on the seed
        axis); empty: every seed uses encoder_lr.
      predictor_lr: the predictors' learning rate.
      decoder_lr: the decoders' learning rate.
      momentum: RMSprop's momentum (section 9.3: 0.9).
      sigma: the predictors' input noise of eq. 9.12 (section 9.3: 0.1).
      alpha: the reconstruction weight of eq. 9.11 at the start of stage 3.
      alpha_end: its weight at the end of stage 3 (annealed linearly; equal to alpha: constant).
      denoise_stage1: add the predictors' input noise in stage 1 too (Alg. 6: stage 3 only).
      batch_size: examples per minibatch (thesis: 128).
      mi_k: the KSG estimator's neighbours k.
      epochs_per_call: epochs per jitted call (host round trip); checkpoints fall on these
        boundaries, at most once a minute and at every stage's end.
      checkpoints: write checkpoints, so that `--resume` can continue a killed run.
      pair_recognition: score reconstructions with jaxdis.metrics' digit classifier (trained
        once and cached).
      preset: "thesis" (the fields as given) or "quick" (QUICK's smaller sizes, a smoke test);
        the saved config shows the preset's values applied.
      shared_encoder: ablation (9.5.1): one encoder produces both codes.
      reconstruction_in_stage1: ablation (9.2.2): eq. 9.11's reconstruction term already in
        stage 1.
      encoding: "predictors" (the DDN) or "xcov" (ablation 9.1: the XCov penalty in place of the
        predictors).
      xcov_weight: the XCov penalty's weight when encoding="xcov".
      rmsprop: which reading of section 9.3's "RMSprop ... momentum 0.9": "heavy-ball" (old
        name "thesis"), "decay", "printed", "tf1" or "lasagne" (jaxdis.train.optimizers).
      binarize: composites of MNIST digits thresholded at 0.5 (section 8.2's "binary" MNIST).
      code_norm: "none", or "batch": codes standardised over the batch (not the thesis).
    """

    dataset: str = "simple"
    seeds: int = 30
    seed: int = 0              # seed i trains from fold_in(PRNGKey(seed), i)
    data_seed: int = 0         # which digits are paired
    n_train: int = 0           # training examples; 0: all (25,000 pairs; 50,000 for mnist)
    probe_size: int = 2500     # examples the per-epoch MI is estimated on
    n_code: int = 10           # N
    encoder_layers: int = 1    # Le
    predictor_layers: int = 1  # Lp
    decoder_layers: int = 1    # Ld
    hidden: int = 1000
    encoder_epochs: int = 35   # stage 1
    decoder_epochs: int = 10   # stage 2
    end_to_end_epochs: int = 5  # stage 3
    encoder_lr: float = 1e-4
    encoder_lr_grid: tuple[float, ...] = ()  # if set: seed i uses grid[i % len(grid)]
    predictor_lr: float = 1e-3
    decoder_lr: float = 1e-3
    momentum: float = 0.9
    sigma: float = 0.1
    alpha: float = 0.1
    alpha_end: float = 0.1
    denoise_stage1: bool = False
    batch_size: int = 128
    mi_k: int = 3
    epochs_per_call: int = 1   # epochs per jitted call; checkpoints fall on its edges
    checkpoints: bool = True
    pair_recognition: bool = True  # score with jaxdis.metrics' digit classifier (trains once)
    preset: str = "thesis"     # or "quick": see QUICK
    # Ablations (jaxdis.train.ddn; experiments/part3.py runs them): one shared encoder (9.5.1),
    # eq. 9.11 already in stage 1 (9.2.2), the XCov penalty in place of the predictors (9.1).
    shared_encoder: bool = False
    reconstruction_in_stage1: bool = False
    encoding: str = "predictors"   # or "xcov"
    xcov_weight: float = 10.0
    # Section 9.3's "RMSprop ... momentum 0.9" read as: "heavy-ball" (old name "thesis"),
    # "decay", "printed", "tf1" or "lasagne" (jaxdis.train.optimizers gives each update formula);
    # momentum applies to heavy-ball and tf1 only, the others take 0.9 or 0.
    rmsprop: str = "heavy-ball"
    binarize: bool = False     # composites of MNIST thresholded at 0.5 (section 8.2's "binary")
    code_norm: str = "none"    # "batch": codes standardised over the batch (not the thesis)

    def __post_init__(self):  # bad values fail here, before a run folder is made
        rmsprop_reading(self.rmsprop, self.momentum)
        check_code_norm(self.code_norm)
        composites = tuple(d for d in DATASETS if d != "mnist")
        if self.binarize and self.dataset not in composites:
            raise ValueError(f"binarize=true needs a composite dataset ({', '.join(composites)}); "
                             f"got dataset {self.dataset!r}")


THESIS = {
    "simple": dict(encoder_layers=1, predictor_layers=1, decoder_layers=1,
                   encoder_epochs=35, decoder_epochs=10, end_to_end_epochs=5),
    "additive": dict(encoder_layers=2, predictor_layers=2, decoder_layers=1,
                     encoder_epochs=60, decoder_epochs=10, end_to_end_epochs=40),
    "occlusive": dict(encoder_layers=2, predictor_layers=3, decoder_layers=3,
                      encoder_epochs=50, decoder_epochs=10, end_to_end_epochs=50),
    "mnist": dict(encoder_layers=2, predictor_layers=2, decoder_layers=2, encoder_epochs=20,
                  decoder_epochs=10, end_to_end_epochs=100, alpha_end=1.0, seeds=5),
}

QUICK = dict(n_train=4000, probe_size=1000, hidden=256, encoder_epochs=20, decoder_epochs=5,
             end_to_end_epochs=5, pair_recognition=False)


def make_config(dataset: str | None) -> DDNConfig:
    dataset = dataset or "simple"
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    return dataclasses.replace(DDNConfig(dataset=dataset), **THESIS[dataset])


def resolve_preset(config, make_config=make_config, quick=QUICK):
    """The config with the preset's values applied (see the module docstring)."""
    if config.preset == "thesis":
        return config
    if config.preset != "quick":
        raise ValueError(f"preset: expected 'thesis' or 'quick', got {config.preset!r}")
    default = make_config(config.dataset)
    clashes = [k for k, v in quick.items() if getattr(config, k) not in (getattr(default, k), v)]
    if clashes:
        raise ValueError(f"preset=quick sets {', '.join(clashes)}; drop those --set options or "
                         "the preset")
    return dataclasses.replace(config, **quick)


def available_examples(dataset: str) -> int | None:
    """Training examples ``n_train=0`` means for ``dataset``, from the MNIST source that would be
    loaded (composites pair its images: half as many), or None if that is unknown before
    loading (tensorflow-datasets). FileNotFoundError if no source holds MNIST."""
    from jaxdis.data.mnist import split_size

    images = split_size("train")
    if images is None:
        return None
    return images if dataset == "mnist" else images // 2


def effective_config(config, make_config=make_config, quick=QUICK):
    """What `jaxdis run` prints, saves and runs: the preset applied (:func:`resolve_preset`) and
    ``n_train`` 0 replaced by the number of examples it stands for (when known without loading).
    Idempotent: a saved config resolves to itself."""
    config = resolve_preset(config, make_config, quick)
    if config.n_train == 0 and config.dataset in DATASETS:
        available = available_examples(config.dataset)
        if available:
            config = dataclasses.replace(config, n_train=available)
    return config


def validate_config(config) -> None:
    """Raises ValueError for a DDN or ASAE config that cannot run, before any data is loaded:
    sizes, counts and rates out of range, unknown names, a probe set or minibatch larger than
    the training set, more examples than the data source holds."""
    if config.dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {config.dataset!r}")
    positive = ["seeds", "n_code", "hidden", "batch_size", "mi_k", "epochs_per_call"]
    at_least_zero = ["n_train"] + [f for f in ("epochs", "encoder_epochs", "decoder_epochs",
                                               "end_to_end_epochs", "encoder_layers",
                                               "predictor_layers", "decoder_layers")
                                   if hasattr(config, f)]
    rates = [f for f in ("learning_rate", "encoder_lr", "predictor_lr", "decoder_lr")
             if hasattr(config, f)]
    for name in positive:
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {getattr(config, name)}")
    for name in at_least_zero:
        if getattr(config, name) < 0:
            raise ValueError(f"{name}: expected an int >= 0, got {getattr(config, name)}")
    for name in rates:
        if not getattr(config, name) > 0:
            raise ValueError(f"{name}: expected > 0, got {getattr(config, name)}")
    for value in getattr(config, "encoder_lr_grid", ()):
        if not value > 0:
            raise ValueError(f"encoder_lr_grid: expected rates > 0, got {value}")
    if not 0 <= config.momentum < 1:
        raise ValueError(f"momentum: expected in [0, 1), got {config.momentum}")
    for name in ("sigma", "alpha", "alpha_end", "xcov_weight"):
        if hasattr(config, name) and getattr(config, name) < 0:
            raise ValueError(f"{name}: expected >= 0, got {getattr(config, name)}")
    if hasattr(config, "encoding"):
        from jaxdis.train.ddn import ENCODINGS

        if config.encoding not in ENCODINGS:
            raise ValueError(f"encoding: expected one of {ENCODINGS}, got {config.encoding!r}")
    if config.probe_size < 10:
        raise ValueError(f"probe_size: expected at least 10, got {config.probe_size}")
    if config.probe_size <= config.mi_k:
        raise ValueError(f"mi_k={config.mi_k} needs a probe set of more than {config.mi_k} "
                         f"examples, got probe_size={config.probe_size}")
    n_train = config.n_train or available_examples(config.dataset)
    if config.n_train:
        available = available_examples(config.dataset)
        if available is not None and config.n_train > available:
            raise ValueError(f"n_train={config.n_train}: the MNIST source found holds only "
                             f"{available} training {'images' if config.dataset == 'mnist' else 'pairs'}"
                             " (`jaxdis data info` says which)")
    if n_train:
        if config.probe_size > n_train:
            raise ValueError(f"probe_size: expected between 10 and the {n_train} training "
                             f"examples, got {config.probe_size}")
        if config.batch_size > n_train:
            raise ValueError(f"batch_size {config.batch_size} is larger than the {n_train} "
                             "training examples")


# --------------------------------------------------------------------------------------- data

def load_training_data(dataset: str, n_train: int, probe_size: int, data_seed: int,
                       binarize: bool = False):
    """(images (N, H, W) float32 in [0, 1], composite or None, probe indices); ``binarize``
    thresholds a composite's source digits at 0.5 (jaxdis.data.composite)."""
    from jaxdis import data

    if dataset == "mnist":
        if binarize:
            raise ValueError("binarize=true needs a composite dataset, got 'mnist'")
        images, _ = data.load_mnist("train")
        if n_train:
            images = images[:n_train]
        composite = None
    else:
        from jaxdis.data.composite import load_composite

        composite = load_composite(dataset, "train", n_pairs=n_train or None, seed=data_seed,
                                   binarize=binarize)
        images = composite.x
    if n_train and len(images) < n_train:
        raise ValueError(f"n_train={n_train}: only {len(images)} examples are available")
    if probe_size > len(images) or probe_size < 10:
        raise ValueError(f"probe_size: expected between 10 and the {len(images)} examples, "
                         f"got {probe_size}")
    probe = np.sort(np.random.default_rng(data_seed).choice(len(images), probe_size,
                                                            replace=False))
    return np.asarray(images, np.float32), composite, probe


def ground_truth_scores(composite, probe_index, codes_a, codes_b, recon_a, recon_b,
                        with_classifier: bool) -> dict:
    """Per seed, on the probe set, the verdicts that need the true causes:

    - ``disentanglement_per_seed``: jaxdis.metrics.disentanglement's score (held-out ridge R^2
      from each code to each cause image, the least of the code and cause gaps), with
      ``disentanglement_matrix_per_seed`` (codes x causes), ``disentanglement_chance_per_seed``
      (the codes' rows permuted) and ``disentanglement_oracle`` (the causes compressed to the
      code's size: the ceiling); ``label_disentanglement_per_seed`` reads digit labels instead;
    - ``cause_recovery_per_seed`` of the single-cause reconstructions, centred (a single-cause
      decoder g_a(z_a) = E[x | z_a] carries the other cause's mean image, and an ASAE's halves
      can trade a constant image: neither is an error of disentangling), the uncentred score
      as ``cause_recovery_raw_per_seed``;
    - with ``with_classifier``, ``pair_recognition`` read by jaxdis.metrics' digit classifier.

    A seed whose codes hold NaN or inf gets NaN scores (listed in the summary's
    ``nonfinite_seeds``); the other seeds' numbers stand.

    Args:
      codes_a, codes_b: (n_seeds, n_probe, n_code) final codes of the probe set.
      recon_a, recon_b: (n_seeds, n_probe, H, W) reconstructions from z_a alone and z_b alone.
    """
    from jaxdis import metrics

    if composite is None:  # plain MNIST: no ground truth
        return {}
    cause_a, cause_b = composite.cause_a[probe_index], composite.cause_b[probe_index]
    labels_a, labels_b = composite.label_a[probe_index], composite.label_b[probe_index]
    # Each score is one compiled call; the oracle's SVD runs on the host (metrics.oracle_codes).
    verdicts = jax.jit(jax.vmap(metrics.disentanglement, in_axes=(0, 0, None, None, None, None)))(
        codes_a, codes_b, cause_a, cause_b, labels_a, labels_b)

    oracle = jax.jit(metrics.disentanglement)(
        *metrics.oracle_codes(cause_a, cause_b, codes_a.shape[-1]), cause_a, cause_b, labels_a,
        labels_b)
    scores = {"disentanglement_per_seed": verdicts["score"],
              "disentanglement_chance_per_seed": verdicts["chance"],
              "disentanglement_matrix_per_seed": verdicts["matrix"],
              "label_disentanglement_per_seed": verdicts["label_score"],
              "disentanglement_oracle": float(oracle["score"]),
              "label_disentanglement_oracle": float(oracle["label_score"])}

    exchangeable = composite.kind != "simple"  # left/right tells the causes apart
    def recovery(centred):
        score = functools.partial(metrics.cause_recovery, centred=centred,
                                  exchangeable=exchangeable)
        return np.asarray(jax.jit(jax.vmap(score, in_axes=(0, 0, None, None)))(
            recon_a, recon_b, cause_a, cause_b))

    scores.update({"cause_recovery_per_seed": recovery(True),
                   "cause_recovery_raw_per_seed": recovery(False)})
    if with_classifier:
        try:
            classifier = metrics.digit_classifier()
        except (RuntimeError, FileNotFoundError) as error:  # e.g. only the 10k sample
            scores["pair_recognition"] = f"no digit classifier: {error}"
        else:
            scores["pair_recognition_per_seed"] = np.array([
                float(metrics.pair_recognition(a, b, labels_a, labels_b, classifier))
                for a, b in zip(recon_a, recon_b)])
    return scores


def code_health(run_dir, stages, n_seeds: int) -> dict:
    """Per seed and epoch, each code's spread (``code_a_std``, ``code_b_std`` as logged) and
    whether it makes the MI estimate unreadable (:func:`jaxdis.metrics.unhealthy_codes`): the
    figures mark those points, the summary lists the seeds that end so."""
    from jaxdis import metrics

    spread_a = metric_history(run_dir, "code_a_std", stages, n_seeds)
    spread_b = metric_history(run_dir, "code_b_std", stages, n_seeds)
    flags = np.asarray(metrics.unhealthy_codes(spread_a, spread_b))
    return {"spread_a": spread_a, "spread_b": spread_b, "flags": flags}


def mi_summary(run_dir, stages, n_seeds: int, health: dict, codes_a, codes_b) -> dict:
    """The summary's MI fields, per seed: ``final_mi_per_seed`` (standardised code units, the
    headline), ``final_mi_raw_per_seed`` (the thesis's estimate, for its rule MI < 0.1), the
    final code spreads, the seeds flagged by :func:`code_health`, and the seeds whose final
    codes hold NaN or inf (their scores are NaN)."""
    from jaxdis import metrics

    mi = metric_history(run_dir, "mi", stages, n_seeds)
    mi_raw = metric_history(run_dir, "mi_raw", stages, n_seeds)
    finite = np.all(np.isfinite(codes_a), axis=(1, 2)) & np.all(np.isfinite(codes_b), axis=(1, 2))
    return {
        "final_mi_per_seed": mi[:, -1], "final_mi_raw_per_seed": mi_raw[:, -1],
        "final_mi_mean": float(np.nanmean(mi[:, -1])),
        "final_mi_median": float(np.nanmedian(mi[:, -1])),
        "initial_mi_mean": float(np.nanmean(mi[:, 0])),
        "final_code_std_a_per_seed": health["spread_a"][:, -1],
        "final_code_std_b_per_seed": health["spread_b"][:, -1],
        # the smaller of the two codes' spreads: near 0, a code has collapsed to a constant
        "final_code_std_per_seed": np.minimum(health["spread_a"][:, -1],
                                              health["spread_b"][:, -1]),
        "unhealthy_code_rule": metrics.UNHEALTHY_CODE_RULE,
        "unhealthy_code_seeds": [int(s) for s in np.flatnonzero(health["flags"][:, -1])],
        "nonfinite_seeds": [int(s) for s in np.flatnonzero(~finite)],
    }


# --------------------------------------------------------------------------------------- run

def run(config: DDNConfig, run_dir) -> dict:
    config = resolve_preset(config)
    images, composite, probe_index = load_training_data(config.dataset, config.n_train,
                                                        config.probe_size, config.data_seed,
                                                        config.binarize)
    x = images.reshape(len(images), -1)
    arch = DDNArchitecture(x.shape[1], config.n_code, config.encoder_layers,
                           config.predictor_layers, config.decoder_layers, config.hidden,
                           config.shared_encoder, config.code_norm)
    schedule = DDNSchedule(config.encoder_epochs, config.decoder_epochs, config.end_to_end_epochs,
                           config.encoder_lr, config.predictor_lr, config.decoder_lr,
                           config.momentum, config.sigma, config.alpha, config.alpha_end,
                           config.denoise_stage1, config.batch_size, config.mi_k,
                           config.reconstruction_in_stage1, config.encoding, config.xcov_weight,
                           config.rmsprop)
    program = ddn_program(arch, schedule)
    hyperparams, encoder_lrs = None, [config.encoder_lr] * config.seeds
    if config.encoder_lr_grid:  # the seed axis carries a grid of encoder / predictor ratios
        grid = config.encoder_lr_grid
        encoder_lrs = [grid[i % len(grid)] for i in range(config.seeds)]
        hyperparams = {"encoders": {"learning_rate": np.asarray(encoder_lrs, np.float32)}}
    start = time.perf_counter()
    states, resumed = train_sweep(program, config.seeds, config.seed, x, x[probe_index], run_dir,
                                  epochs_per_call=config.epochs_per_call,
                                  save_checkpoints=config.checkpoints,
                                  desc=f"ddn {config.dataset}", hyperparams=hyperparams)
    train_seconds = time.perf_counter() - start

    # Final codes and reconstructions of the probe set, every seed.
    @jax.jit
    @jax.vmap
    def probe_outputs(params):
        z_a, z_b = encode(arch, params, jnp.asarray(x[probe_index]))
        return (z_a, z_b) + decode(arch, params, z_a, z_b)

    z_a, z_b, y_a, y_b, y_ab = (np.asarray(a) for a in probe_outputs(states.params))
    probe_images = images[probe_index]
    figures = _figures(config, run_dir, arch, states, program, probe_images, y_a, y_b, y_ab)

    stages = ("init",) + tuple(s.name for s in program.stages)
    health = code_health(run_dir, stages, config.seeds)
    recon = np.mean(np.sum((y_ab - probe_images.reshape(probe_images.shape[0], -1)[None]) ** 2,
                           axis=-1), axis=1)
    flops = config.seeds * (x.shape[0] // config.batch_size) * config.batch_size * sum(
        stage.epochs * ddn_example_flops(arch, stage.name) for stage in program.stages)
    summary = {
        "dataset": config.dataset, "architecture (N, Le, Lp, Ld, hidden)":
            [arch.n_code, arch.encoder_layers, arch.predictor_layers, arch.decoder_layers,
             arch.hidden],
        "n_train": int(x.shape[0]), "seeds": config.seeds,
        "epochs (stage 1, 2, 3)": [s.epochs for s in program.stages],
        "encoder_lr_per_seed": encoder_lrs,
        **mi_summary(run_dir, stages, config.seeds, health, z_a, z_b),
        "probe_reconstruction_per_seed": recon,
        "alive_seeds": int(np.sum(np.asarray(states.alive))),
        "died_at_step": np.asarray(states.died_at_step),
        "train_seconds": train_seconds, "resumed": resumed,
        "counted_training_tflop": flops / 1e12,
        "device": jax.devices()[0].device_kind, "n_devices": jax.device_count(),
        "figures": figures,
    }
    summary.update(ground_truth_scores(composite, probe_index, z_a, z_b,
                                       y_a.reshape(y_a.shape[:2] + probe_images.shape[1:]),
                                       y_b.reshape(y_b.shape[:2] + probe_images.shape[1:]),
                                       config.pair_recognition))
    return summary


def mi_figures(run_dir, stages, n_seeds: int, boundaries, title: str) -> list[str]:
    """MI curves of all seeds, standardised (``mi_curves``) and raw as the thesis estimated it
    (``mi_raw_curves``), each marking the epochs whose codes are unhealthy (collapsed, or one
    far smaller than the other: :func:`jaxdis.metrics.unhealthy_codes`), where MI misleads."""
    from jaxdis import metrics

    flags = code_health(run_dir, stages, n_seeds)["flags"]
    names = []
    for metric, figure, what in (("mi", "mi_curves", "standardised code units"),
                                 ("mi_raw", "mi_raw_curves", "raw codes, as the thesis")):
        fig = viz.mi_curves(metric_history(run_dir, metric, stages, n_seeds), boundaries,
                            title=f"{title}\nKSG MI on {what}",
                            flags=flags, flag_label=f"unhealthy codes: "
                            f"{metrics.UNHEALTHY_CODE_RULE}")
        names.append(run_dir.save_figure(fig, figure).name)
    return names


def _figures(config, run_dir, arch, states, program, probe_images, y_a, y_b, y_ab):
    shown = ("init", "encoders", "end_to_end")  # the thesis omits the decoder stage (9.3.1)
    boundaries = [(1, "stage 1"), (1 + config.encoder_epochs, "stage 3")]
    names = mi_figures(run_dir, shown, config.seeds, boundaries,
                       f"DDN on {config.dataset}: {config.seeds} seeds (epoch 0: untrained; "
                       "decoder stage omitted)")

    n = min(10, len(probe_images))
    top, left = probe_images[:n], probe_images[n:2 * n] if len(probe_images) >= 2 * n else \
        probe_images[:n]
    params0 = jax.tree.map(lambda leaf: leaf[0], states.params)
    # the whole probe set in one call: with code_norm="batch" the codes take its statistics
    z_a0, z_b0 = encode(arch, params0, jnp.asarray(probe_images.reshape(len(probe_images), -1)))
    z_top, z_left = z_a0[:n], (z_b0[n:2 * n] if len(probe_images) >= 2 * n else z_b0[:n])
    pairs = jnp.concatenate([jnp.repeat(z_top[None], len(left), 0),
                             jnp.repeat(z_left[:, None], n, 1)], axis=-1)
    grid = jax.vmap(lambda z: decode(arch, params0, z[:, :arch.n_code], z[:, arch.n_code:])[2])(
        pairs)
    fig = viz.cross_plot(top, left, np.asarray(grid).reshape(len(left), n, *top.shape[1:]),
                         title=f"seed 0: columns share z_a of the top image, rows z_b of the left")
    names.append(run_dir.save_figure(fig, "cross_plot").name)

    shape = probe_images.shape[1:]
    for seed in range(min(3, config.seeds)):
        k = min(8, len(probe_images))
        columns = [probe_images[:k]] + [a[seed, :k].reshape(k, *shape) for a in (y_a, y_b, y_ab)]
        fig = viz.reconstruction_grid(columns, ["input", "y_a (z_a)", "y_b (z_b)", "y_ab (both)"],
                                      title=f"seed {seed}")
        names.append(run_dir.save_figure(fig, f"reconstructions_seed{seed}").name)

    final = metric_history(run_dir, "mi", shown, config.seeds)[:, -1]
    recon = np.mean(np.sum((y_ab - probe_images.reshape(len(probe_images), -1)[None]) ** 2, -1), 1)
    fig = viz.final_mi_scatter(final, recon, title=f"DDN on {config.dataset}: one point per seed")
    names.append(run_dir.save_figure(fig, "final_mi_vs_reconstruction").name)
    return names


EXPERIMENT = Experiment(
    name="ddn",
    summary="Discriminative Disentangling Network, thesis ch. 9 (Alg. 5, 6), a seed sweep",
    make_config=make_config, run=run, datasets=DATASETS, resolve=effective_config,
    validate=validate_config)
