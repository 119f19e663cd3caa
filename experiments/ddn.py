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
epoch checkpoint.

The new-user demo (the shipped 10k MNIST sample is enough; a few minutes on a laptop CPU)::

    jaxdis run ddn --dataset simple --seeds 4 --set preset=quick

``preset=quick`` replaces the size fields listed in ``QUICK`` (smaller hidden layers, fewer
examples and epochs); setting one of them as well is an error rather than a silent choice.
"""

from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis import viz
from jaxdis.nets.ddn import DDNArchitecture, decode, encode
from jaxdis.registry import Experiment
from jaxdis.train.ddn import DDNSchedule, ddn_example_flops, ddn_program
from jaxdis.train.runner import metric_history, train_sweep

DATASETS = ("simple", "additive", "occlusive", "mnist")


@dataclasses.dataclass(frozen=True)
class DDNConfig:
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
    epochs_per_call: int = 1   # epochs per jitted call = checkpoint interval
    checkpoints: bool = True
    pair_recognition: bool = True  # score with jaxdis.metrics' digit classifier (trains once)
    preset: str = "thesis"     # or "quick": see QUICK
    # Ablations (jaxdis.train.ddn; experiments/part3.py runs them): one shared encoder (9.5.1),
    # eq. 9.11 already in stage 1 (9.2.2), the XCov penalty in place of the predictors (9.1).
    shared_encoder: bool = False
    reconstruction_in_stage1: bool = False
    encoding: str = "predictors"   # or "xcov"
    xcov_weight: float = 10.0
    rmsprop: str = "thesis"        # or "lasagne", "tf1" (jaxdis.train.ddn.RMSPROP_VARIANTS)


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


# --------------------------------------------------------------------------------------- data

def load_training_data(dataset: str, n_train: int, probe_size: int, data_seed: int):
    """(images (N, H, W) float32 in [0, 1], composite or None, probe indices)."""
    from jaxdis import data

    if dataset == "mnist":
        images, _ = data.load_mnist("train")
        if n_train:
            images = images[:n_train]
        composite = None
    else:
        from jaxdis.data.composite import load_composite

        composite = load_composite(dataset, "train", n_pairs=n_train or None, seed=data_seed)
        images = composite.x
    if n_train and len(images) < n_train:
        raise ValueError(f"n_train={n_train}: only {len(images)} examples are available")
    if probe_size > len(images) or probe_size < 10:
        raise ValueError(f"probe_size: expected between 10 and the {len(images)} examples, "
                         f"got {probe_size}")
    probe = np.sort(np.random.default_rng(data_seed).choice(len(images), probe_size,
                                                            replace=False))
    return np.asarray(images, np.float32), composite, probe


def ground_truth_scores(composite, probe_index, recon_a, recon_b, with_classifier: bool) -> dict:
    """Per seed, on the probe set: ``cause_recovery`` of the single-cause reconstructions,
    centred (a single-cause decoder g_a(z_a) = E[x | z_a] carries the other cause's mean image,
    and an ASAE's halves can trade a constant image: neither is an error of disentangling), the
    uncentred score as ``cause_recovery_raw``, and, with ``with_classifier``,
    ``pair_recognition`` read by jaxdis.metrics' digit classifier.

    Args:
      recon_a, recon_b: (n_seeds, n_probe, H, W) reconstructions from z_a alone and z_b alone.
    """
    from jaxdis import metrics

    if composite is None:  # plain MNIST: no ground truth
        return {}
    cause_a, cause_b = composite.cause_a[probe_index], composite.cause_b[probe_index]
    exchangeable = composite.kind != "simple"  # left/right tells the causes apart
    def recovery(centred):
        return np.array([float(metrics.cause_recovery(a, b, cause_a, cause_b, centred=centred,
                                                      exchangeable=exchangeable))
                         for a, b in zip(recon_a, recon_b)])

    scores = {"cause_recovery_per_seed": recovery(True),
              "cause_recovery_raw_per_seed": recovery(False)}
    if with_classifier:
        try:
            classifier = metrics.digit_classifier()
        except (RuntimeError, FileNotFoundError) as error:  # e.g. only the 10k sample
            scores["pair_recognition"] = f"no digit classifier: {error}"
        else:
            labels_a, labels_b = composite.label_a[probe_index], composite.label_b[probe_index]
            scores["pair_recognition_per_seed"] = np.array([
                float(metrics.pair_recognition(a, b, labels_a, labels_b, classifier))
                for a, b in zip(recon_a, recon_b)])
    return scores


# --------------------------------------------------------------------------------------- run

def run(config: DDNConfig, run_dir) -> dict:
    config = resolve_preset(config)
    images, composite, probe_index = load_training_data(config.dataset, config.n_train,
                                                        config.probe_size, config.data_seed)
    x = images.reshape(len(images), -1)
    arch = DDNArchitecture(x.shape[1], config.n_code, config.encoder_layers,
                           config.predictor_layers, config.decoder_layers, config.hidden,
                           config.shared_encoder)
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
    mi_all = metric_history(run_dir, "mi", stages, config.seeds)
    final_mi = mi_all[:, -1]
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
        "final_mi_per_seed": final_mi, "final_mi_mean": float(np.nanmean(final_mi)),
        # the smaller of the two codes' spreads: near 0, a code has collapsed to a constant
        "final_code_std_per_seed": np.minimum(
            metric_history(run_dir, "code_a_std", stages, config.seeds)[:, -1],
            metric_history(run_dir, "code_b_std", stages, config.seeds)[:, -1]),
        "final_mi_median": float(np.nanmedian(final_mi)),
        "initial_mi_mean": float(np.nanmean(mi_all[:, 0])),
        "probe_reconstruction_per_seed": recon,
        "alive_seeds": int(np.sum(np.asarray(states.alive))),
        "died_at_step": np.asarray(states.died_at_step),
        "train_seconds": train_seconds, "resumed": resumed,
        "counted_training_tflop": flops / 1e12,
        "device": jax.devices()[0].device_kind, "n_devices": jax.device_count(),
        "figures": figures,
    }
    summary.update(ground_truth_scores(composite, probe_index,
                                       y_a.reshape(y_a.shape[:2] + probe_images.shape[1:]),
                                       y_b.reshape(y_b.shape[:2] + probe_images.shape[1:]),
                                       config.pair_recognition))
    return summary


def _figures(config, run_dir, arch, states, program, probe_images, y_a, y_b, y_ab):
    names = []
    shown = ("init", "encoders", "end_to_end")  # the thesis omits the decoder stage (9.3.1)
    mi = metric_history(run_dir, "mi", shown, config.seeds)
    boundaries = [(1, "stage 1"), (1 + config.encoder_epochs, "stage 3")]
    fig = viz.mi_curves(mi, boundaries, title=f"DDN on {config.dataset}: {config.seeds} seeds "
                        "(epoch 0: untrained; decoder stage omitted)")
    names.append(run_dir.save_figure(fig, "mi_curves").name)

    n = min(10, len(probe_images))
    top, left = probe_images[:n], probe_images[n:2 * n] if len(probe_images) >= 2 * n else \
        probe_images[:n]
    params0 = jax.tree.map(lambda leaf: leaf[0], states.params)
    z_top = encode(arch, params0, jnp.asarray(top.reshape(n, -1)))[0]
    z_left = encode(arch, params0, jnp.asarray(left.reshape(len(left), -1)))[1]
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
    make_config=make_config, run=run, datasets=DATASETS)
