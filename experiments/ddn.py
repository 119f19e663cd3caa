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

The new-user demo (the shipped 10k MNIST sample is enough; README.md gives its time)::

    jaxdis run ddn --dataset simple --seeds 4 --set preset=quick

``preset=quick`` replaces the size fields listed in ``QUICK`` (smaller hidden layers, fewer
examples and epochs); setting one of them as well is an error rather than a silent choice.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis import viz
from jaxdis.config import check_fields, from_fields
from jaxdis.data.composite import load_training_set
from jaxdis.nets.ddn import DDNArchitecture, check_code_norm, cross_decode, decode, encode
from jaxdis.registry import Experiment
from jaxdis.train import two_code_sweep as sweep
from jaxdis.train.ddn import DDNSchedule, ddn_example_flops, ddn_program
from jaxdis.train.optimizers import rmsprop_reading

DATASETS = sweep.DATASETS  # "simple", "additive", "occlusive", "mnist"


@dataclasses.dataclass(frozen=True)
class DDNConfig(sweep.SweepConfig):
    """A DDN seed sweep (``jaxdis run ddn``); the defaults of a dataset are section 9.4's. The
    first fields (dataset, seeds, seed, data_seed, n_train, probe_size) are those of
    :class:`jaxdis.train.two_code_sweep.SweepConfig`.

    Attributes:
      n_code: N, the units of each code z_a and z_b.
      encoder_layers: Le, hidden layers of each encoder.
      predictor_layers: Lp, hidden layers of each predictor.
      decoder_layers: Ld, hidden layers of each decoder.
      hidden: units of every hidden layer.
      encoder_epochs: epochs of stage 1 (encoders against predictors).
      decoder_epochs: epochs of stage 2 (decoders on frozen codes).
      end_to_end_epochs: epochs of stage 3 (end-to-end fine-tuning, thesis eq. 9.11).
      encoder_lr: the encoders' learning rate.
      encoder_lr_grid: if set, seed i uses encoder_lr_grid[i % len(grid)] (a grid on the seed
        axis); empty: every seed uses encoder_lr.
      predictor_lr: the predictors' learning rate.
      decoder_lr: the decoders' learning rate.
      momentum: RMSprop's momentum (section 9.3: 0.9), for the readings with a momentum term
        (rmsprop heavy-ball and tf1); the others take 0.9 or 0.
      sigma: the predictors' input noise of thesis eq. 9.12 (section 9.3: 0.1).
      alpha: the reconstruction weight of thesis eq. 9.11 at the start of stage 3.
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
      reconstruction_in_stage1: ablation (9.2.2): thesis eq. 9.11's reconstruction term already
        in stage 1.
      encoding: "predictors" (the DDN) or "xcov" (ablation 9.1: the XCov penalty in place of the
        predictors).
      xcov_weight: the XCov penalty's weight when encoding="xcov".
      rmsprop: which reading of section 9.3's "RMSprop ... momentum 0.9": "decay" (the default,
        see jaxdis.train.ddn), "heavy-ball" (old name "thesis"), "printed", "tf1" or "lasagne"
        (jaxdis.train.optimizers).
      binarize: composites of MNIST digits thresholded at 0.5 (section 8.2's "binary" MNIST).
      code_norm: "none", or "batch": codes standardised over the batch (not the thesis).
    """

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
    shared_encoder: bool = False
    reconstruction_in_stage1: bool = False
    encoding: str = "predictors"   # or "xcov"
    xcov_weight: float = 10.0
    rmsprop: str = "decay"  # jaxdis.train.optimizers gives each reading's update formula
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
PRESETS = {"thesis": {}, "quick": QUICK}  # the fields each preset sets (jaxdis.config.apply_preset)


def make_config(dataset: str | None) -> DDNConfig:
    dataset = dataset or "simple"
    if dataset not in DATASETS:
        raise ValueError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    return dataclasses.replace(DDNConfig(dataset=dataset), **THESIS[dataset])


def validate_config(config) -> None:
    """Raises ValueError for a config that cannot run, before any data is loaded (the DDN's
    depths and rate grid here, the rest in :func:`jaxdis.train.two_code_sweep.check_config`)."""
    check_fields(config, ("encoder_layers", "predictor_layers", "decoder_layers"),
                 lambda v: v >= 0, "an int >= 0")
    for value in config.encoder_lr_grid:
        if not value > 0:
            raise ValueError(f"encoder_lr_grid: expected rates > 0, got {value}")
    sweep.check_config(config, DDNSchedule)


def run(config: DDNConfig, run_dir) -> dict:
    config = sweep.resolve_config(config, PRESETS, make_config)
    images, composite, probe_index = load_training_set(config.dataset, config.n_train,
                                                        config.probe_size, config.data_seed,
                                                        config.binarize)
    x = images.reshape(len(images), -1)
    arch = from_fields(DDNArchitecture, config, input_dim=x.shape[1])
    program = ddn_program(arch, from_fields(DDNSchedule, config))
    hyperparams, encoder_lrs = None, [config.encoder_lr] * config.seeds
    if config.encoder_lr_grid:  # the seed axis carries a grid of encoder / predictor ratios
        grid = config.encoder_lr_grid
        encoder_lrs = [grid[i % len(grid)] for i in range(config.seeds)]
        hyperparams = {"encoders": {"learning_rate": np.asarray(encoder_lrs, np.float32)}}
    states, summary = sweep.train_seeds(config, run_dir, program, x, probe_index, "ddn",
                                        hyperparams)

    # Final codes and reconstructions of the probe set, every seed.
    @jax.jit
    @jax.vmap
    def probe_outputs(params):
        z_a, z_b = encode(arch, params, jnp.asarray(x[probe_index]))
        return (z_a, z_b) + decode(arch, params, z_a, z_b)

    outputs = tuple(np.asarray(a) for a in probe_outputs(states.params))
    flops = config.seeds * (x.shape[0] // config.batch_size) * config.batch_size * sum(
        stage.epochs * ddn_example_flops(arch, stage.name) for stage in program.stages)
    summary.update({
        "dataset": config.dataset, "architecture (N, Le, Lp, Ld, hidden)":
            [arch.n_code, arch.encoder_layers, arch.predictor_layers, arch.decoder_layers,
             arch.hidden],
        "epochs (stage 1, 2, 3)": [s.epochs for s in program.stages],
        "encoder_lr_per_seed": encoder_lrs, "died_at_step": np.asarray(states.died_at_step),
        "counted_training_tflop": flops / 1e12})
    figures = _figures(config, run_dir, arch, states, images[probe_index], outputs)
    stages = ("init",) + tuple(s.name for s in program.stages)
    summary.update(sweep.summarise(config, run_dir, stages, composite, probe_index, x, outputs,
                                   figures, f"DDN on {config.dataset}: one point per seed"))
    return summary


def _figures(config, run_dir, arch, states, probe_images, outputs) -> dict:
    """MI curves (the decoder stage omitted, as thesis section 9.3.1), a cross plot of seed 0 and
    reconstructions of seeds 0-2, by file name."""
    figures = viz.mi_readings(
        **sweep.code_histories(run_dir, ("init", "encoders", "end_to_end"), config.seeds),
        boundaries=[(1, "stage 1"), (1 + config.encoder_epochs, "stage 3")],
        title=f"DDN on {config.dataset}: {config.seeds} seeds (epoch 0: untrained; decoder stage "
              "omitted)")
    n = min(10, len(probe_images))
    top, left = slice(0, n), slice(n, 2 * n) if len(probe_images) >= 2 * n else slice(0, n)
    params0 = jax.tree.map(lambda leaf: leaf[0], states.params)
    # the whole probe set in one call: with code_norm="batch" the codes take its statistics
    z_a0, z_b0 = encode(arch, params0, jnp.asarray(probe_images.reshape(len(probe_images), -1)))
    grid = np.asarray(cross_decode(arch, params0, z_a0[top], z_b0[left]))
    figures["cross_plot"] = viz.cross_plot(
        probe_images[top], probe_images[left],
        grid.reshape(*grid.shape[:2], *probe_images.shape[1:]),
        title=f"seed 0: columns share z_a of the top image, rows z_b of the left")
    figures.update(viz.seed_reconstructions(probe_images, outputs[2:],
                                            ["input", "y_a (z_a)", "y_b (z_b)", "y_ab (both)"]))
    return figures


EXPERIMENT = Experiment(
    name="ddn",
    summary="Discriminative Disentangling Network, thesis ch. 9 (Alg. 5, 6), a seed sweep",
    make_config=make_config, run=run, datasets=DATASETS, validate=validate_config,
    resolve=lambda config: sweep.resolve_config(config, PRESETS, make_config))
