"""Broadnet studies of thesis ch. 4 on upright 0/1 plus rotated 2/4 MNIST digits (Fig. 4.1).

``jaxdis run broadnet --set study=NAME`` with NAME one of

- ``posterior`` (Fig. 4.5): a GRBM-initialised Broadnet of 6 + 6 units; the exact posterior of one
  image over all 4096 hidden states against the frequencies of the Alg. 1 sampler;
- ``activity`` (Fig. 4.6): a GRBM-initialised Broadnet of 50 + 50 units; the activity of eq. 4.8
  along 10 iterations of inference, per image and averaged over the dataset;
- ``activity-sigma`` (Fig. 4.7) and ``activity-scale`` (Fig. 4.8): the mean activity along
  inference of GRBM-initialised 50 + 50 Broadnets with each cause in [-1, 1], one per noise sigma
  in ``sweep_sigmas``, and, at sigma = ``sweep_alpha_sigma`` (thesis 0.1), one per data scale
  alpha in ``sweep_alphas`` (each cause in [-alpha, alpha]), all GRBMs of a sweep trained in one
  vmapped program (``activity_sweep`` says how: at unit noise on rescaled data);
- ``exact-training`` (Fig. 4.9): ``seeds`` Broadnets of 5 + 5 units trained from random (Glorot)
  initialisation by gradient ascent on the exact log-likelihood, all seeds in one vmapped,
  scanned program; the share of runs in which one cause becomes a bias;
- ``grbm-init-training`` (Fig. 4.10): ``seeds`` GRBM-initialised 5 + 5 Broadnets trained on the
  exact log-likelihood: do they stay where they started (an optimum) and stay disentangled?
- ``configurations`` (Fig. 4.12-4.16): every split of one GRBM-initialised Broadnet's 10 units
  into two causes of 5 (eq. 4.10, 4.11), before and after exact retraining, compared by the model
  difference of eq. 4.12;
- ``interpolation`` (Fig. 4.17): unit pairs blended by eq. 4.13 at several alphas and retrained;
- ``cd`` (section 3.5, Fig. 3.4, 3.6, 3.7): Broadnets of ``cd_units`` per cause trained by CD
  (Alg. 3) on a 5 plus a linear gradient, a 3 plus a rotated 7, and a 3 beside a 7, each cause in
  [-1, 1], with the thesis's tweaks as variants (``cd_variant``); measured by the exact
  log-likelihood, the centred cause recovery and the variance the reconstructions explain;
- ``all``: all of them in turn.

Where the thesis judged disentangling by eye, we also measure it: ``analysis.cause_recovery``,
the R^2 of each model cause's exact posterior-mean reconstruction against a true cause.

Each writes its figures, metrics and a markdown table (``table.md``) with the thesis's figure
beside ours. "A cause becomes a bias" has no formula in the thesis; ours: the cause carries less
than ``bias_share_threshold`` of the variation across the data of the exact posterior-mean
reconstructions (``analysis.cause_variance_shares``).

Scale. The thesis trained its GRBMs for 400 epochs of CD-10 at sigma = 0.1; the default here is
``grbm_epochs=100`` at sigma = 1 (the sigma of the thesis's activity and exact-training runs; at
0.1 the 784-pixel posterior is a near-deterministic point mass in this sigma convention, see
``jaxdis.energy.broadnet``). The thesis's exact-training setting is the default (30 seeds, 5 + 5
units, 50 epochs, learning rate 0.1, batch 64, sigma 1). The 5 + 5 GRBM-initialised models use
GRBMs pretrained on each true cause for ``small_grbm_epochs=200`` epochs, by default on their
exact log-likelihood: in our runs at sigma = 1 the thesis's tweaked CD-5 schedule (section 4.4,
``grbm_pretraining=cd``) left each GRBM far from its optimum (about 90 nats per image below
exact-gradient training of the same GRBM), so the Broadnet built from them was no optimum either
and exact retraining moved it far, against the premise of Fig. 4.10-4.17.

Not here yet: the divergence study of section 4.2 (Fig. 4.2-4.4) as such; the ``cd`` study's
"random-start" variant trains with its bad anti-Hebbian initialisation
(``cd.CDHyper(negative_start="random")``) but does not reproduce its figures.
"""

from __future__ import annotations

import dataclasses
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis.energy import analysis, cd, exact, grbm, sampling
from jaxdis.energy import broadnet as bn
from jaxdis.registry import Experiment

STUDIES = ("posterior", "activity", "activity-sigma", "activity-scale", "exact-training",
           "grbm-init-training", "configurations", "interpolation", "cd", "all")
CD_DATASETS = ("gradient", "rotated", "side-by-side")
CD_VARIANTS = ("mean-field", "samples", "samples-tweaked", "random-start")


@dataclasses.dataclass(frozen=True)
class BroadnetConfig:
    """The Broadnet studies of thesis ch. 3-4 (``jaxdis run broadnet --set study=NAME``).

    Attributes:
      study: which study (see the module docstring): one of STUDIES, "all" for every one.
      seeds: runs of the exact-training and GRBM-initialised studies (thesis: 30).
      seed: the PRNG seed; each study's key depends on its name only.
      n_images: composite images of Fig. 4.1 (and per dataset of the cd study; thesis: 1000).
      sigma: the visible units' noise (1; the sweeps set their own).
      grbm_epochs: CD epochs of the 50-unit (and posterior) GRBMs pretrained on each cause
        (thesis: 400).
      grbm_k: CD-k's Gibbs steps for that pretraining (thesis: CD-10).
      grbm_learning_rate: its learning rate.
      grbm_momentum: its momentum.
      grbm_batch: its minibatch size.
      posterior_units: units per cause of the Fig. 4.5 Broadnet (6: 4096 hidden states).
      posterior_samples: independent sampler chains compared with the exact posterior.
      posterior_steps: Gibbs steps per chain (thesis: 10 burn-in + 10 between samples).
      posterior_image: which image's posterior is compared.
      activity_units: units per cause of the activity studies (Fig. 4.6-4.8).
      activity_steps: iterations of inference whose activity (eq. 4.8) is measured.
      exact_units: units per cause of the exact-training models (Fig. 4.9-4.17).
      exact_epochs: epochs of exact-gradient training (Fig. 4.9, 4.10).
      exact_learning_rate: its learning rate (thesis: 0.1).
      exact_batch: its minibatch size.
      bias_share_threshold: a cause carrying less than this share of the reconstructions'
        variation counts as "a bias" (Fig. 4.9).
      small_grbm_epochs: pretraining epochs of the 5 + 5 models' GRBMs (thesis: 400).
      grbm_pretraining: how they are pretrained: "exact" log-likelihood ascent, or the thesis's
        tweaked CD-5 schedule "cd" (section 4.4).
      configuration_epochs: retraining epochs of each unit configuration (thesis: 20).
      interpolation_pairs: unit pairs interpolated by eq. 4.13 (thesis: 6).
      interpolation_alphas: the blends tried per pair (thesis: five values).
      interpolation_epochs: retraining epochs of each blend ("to convergence").
      sweep_sigmas: noise levels of the Fig. 4.7 sweep (thesis: 30 in (0, 3]).
      sweep_alphas: data scales of the Fig. 4.8 sweep (thesis: 20 in [0.1, 5]).
      sweep_alpha_sigma: the noise of the Fig. 4.8 sweep (thesis: 0.1).
      sweep_grbm_epochs: CD-grbm_k epochs per GRBM of the sweeps (thesis: not stated).
      cd_datasets: the cd study's data of section 3.5: "gradient", "rotated", "side-by-side".
      cd_variants: its training variants: "mean-field", "samples", "samples-tweaked",
        "random-start" (see cd_variant).
      cd_units: units per cause of the cd study (thesis table 3.1: 10 or 1000).
      cd_epochs: its CD epochs (thesis: not stated).
      cd_seeds: runs per dataset and variant.
      cd_learning_rate: its weight learning rate (not tuned; table 3.1 tried 1e-5 and 0.01).
      cd_small_batch: the minibatch of the sample-based variants (thesis: "no greater than 5").
      cd_large_batch: the minibatch of the mean-field variant.
    """

    study: str = "posterior"  # one of STUDIES
    seeds: int = 30  # exact-training runs (thesis: 30)
    seed: int = 0
    n_images: int = 1000  # thesis: 1000
    sigma: float = 1.0
    # GRBM pre-training of each cause (posterior and activity studies)
    grbm_epochs: int = 100  # thesis: 400
    grbm_k: int = 10  # CD-10, as the thesis
    grbm_learning_rate: float = 0.01
    grbm_momentum: float = 0.5
    grbm_batch: int = 64
    # posterior (Fig. 4.5)
    posterior_units: int = 6
    posterior_samples: int = 10000
    posterior_steps: int = 20  # per independent chain (thesis: 10 burn-in + 10 between samples)
    posterior_image: int = 0
    # activity (Fig. 4.6)
    activity_units: int = 50
    activity_steps: int = 10
    # exact training (Fig. 4.9)
    exact_units: int = 5
    exact_epochs: int = 50
    exact_learning_rate: float = 0.1
    exact_batch: int = 64
    bias_share_threshold: float = 0.05
    # GRBM-initialised 5 + 5 models (Fig. 4.10-4.17): the tweaked CD-5 schedule of section 4.4
    small_grbm_epochs: int = 200  # thesis: 400
    grbm_pretraining: str = "exact"  # "exact" log-likelihood ascent, or the thesis's "cd"
    configuration_epochs: int = 20  # thesis: 20
    interpolation_pairs: int = 6  # thesis: 6
    interpolation_alphas: tuple[float, ...] = (0.1, 0.3, 0.5, 0.7, 0.9)  # thesis: five values
    interpolation_epochs: int = 50  # "to convergence"
    # activity against sigma and data scale (Fig. 4.7, 4.8): each cause in [-1, 1], 50-unit GRBMs
    sweep_sigmas: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0)  # thesis: 30 in (0, 3]
    sweep_alphas: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0)  # thesis: 20 in [0.1, 5]
    sweep_alpha_sigma: float = 0.1  # thesis: 0.1
    sweep_grbm_epochs: int = 20  # CD-grbm_k epochs per GRBM (thesis: not stated)
    # CD training on the data of section 3.5 (Fig. 3.4, 3.6, 3.7): causes in [-1, 1]
    cd_datasets: tuple[str, ...] = ("gradient", "rotated", "side-by-side")
    cd_variants: tuple[str, ...] = ("mean-field", "samples", "samples-tweaked", "random-start")
    cd_units: int = 10  # per cause (thesis table 3.1: 10 or 1000)
    cd_epochs: int = 10  # thesis: not stated
    cd_seeds: int = 2
    cd_learning_rate: float = 0.001  # not tuned; table 3.1 tried 0.00001 and 0.01
    cd_small_batch: int = 5  # thesis: "no greater than 5"
    cd_large_batch: int = 64


def make_config(dataset: str | None) -> BroadnetConfig:
    del dataset  # the thesis's data only
    return BroadnetConfig()


def load_data(config: BroadnetConfig, mnist=None):
    """Fig. 4.1: an upright 0 or 1 plus a 2 or 4 rotated by 90 degrees, each in [0, 1], summed.
    ``mnist``: (images, labels) already loaded, or None to load the training split."""
    from jaxdis import data

    images, labels = data.load_mnist("train") if mnist is None else mnist
    composite = data.make_rotated_composite(images, labels, classes_a=(0, 1), classes_b=(2, 4),
                                            n_pairs=config.n_images, seed=config.seed,
                                            combine="sum")
    flat = lambda a: jnp.asarray(a.reshape(len(a), -1), jnp.float32)  # noqa: E731
    return flat(composite.x), flat(composite.cause_a), flat(composite.cause_b)


@functools.partial(jax.jit, static_argnames=("epochs", "hyper", "batch"))
def cd_epochs(params, keys, images, epochs, hyper, batch, scales=None):
    """``epochs`` CD epochs of GRBMs stacked on a leading axis (one key each), vmapped; run r
    trains on ``images * scales[r]`` (scales None: all 1)."""
    if scales is None:
        scales = jnp.ones(keys.shape[:1], images.dtype)

    def one(params, key, scale):
        def epoch(carry, key):
            params, state, _ = cd.cd_epoch(*carry, images * scale, key, hyper, batch)
            return (params, state), None

        (params, _), _ = jax.lax.scan(epoch, (params, cd.init_state(params, batch)),
                                      jax.random.split(key, epochs))
        return params

    return jax.vmap(one)(params, keys, scales)


def train_grbms(keys, images, num_hidden, config: BroadnetConfig, tweaked: bool = False):
    """One GRBM per key trained on one cause's images with CD. Plain: CD-``grbm_k`` at
    ``grbm_learning_rate``. ``tweaked`` (thesis section 4.4, for the 5-unit models): CD-5, learning
    rate 0.1 with momentum 0.9 for the first 3/4 of the epochs, then 0.01 without momentum."""
    params = jax.vmap(lambda k: grbm.init_params(k, num_hidden, images.shape[1],
                                                 weight_scale=0.01, bias=-1.0))(keys)
    if not tweaked:
        phases = [(config.grbm_epochs, cd.CDHyper(
            sigma=config.sigma, learning_rate=config.grbm_learning_rate,
            momentum=config.grbm_momentum, k=config.grbm_k))]
    else:
        first = (3 * config.grbm_epochs) // 4
        phases = [(first, cd.CDHyper(sigma=config.sigma, learning_rate=0.1, momentum=0.9, k=5)),
                  (config.grbm_epochs - first,
                   cd.CDHyper(sigma=config.sigma, learning_rate=0.01, k=5))]
    for phase, (epochs, hyper) in enumerate(phases):
        if epochs > 0:
            phase_keys = jax.vmap(lambda k: jax.random.fold_in(k, phase))(keys)
            params = cd_epochs(params, phase_keys, images, epochs, hyper, config.grbm_batch)
    return params


def grbm_initialised(keys, num_units, x_a, x_b, config, tweaked=False):
    """GRBM-initialised Broadnets (thesis section 4.3.1), one per key, stacked."""
    pairs = jax.vmap(jax.random.split)(keys)  # (R, 2): one key per cause
    cause_a = train_grbms(pairs[:, 0], x_a, num_units, config, tweaked)
    cause_b = train_grbms(pairs[:, 1], x_b, num_units, config, tweaked)
    return bn.from_grbms(cause_a, cause_b)


def first(stacked):
    return jax.tree.map(lambda t: t[0], stacked)


# ------------------------------------------------------------------------------------------------
# Fig. 4.5: exact posterior against the sampler


def posterior_study(config, run_dir, data, key):
    import matplotlib.pyplot as plt

    x, x_a, x_b = data
    key_model, key_chain = jax.random.split(key)
    params = first(grbm_initialised(key_model[None], config.posterior_units, x_a, x_b, config))
    image = x[config.posterior_image:config.posterior_image + 1]
    log_post = np.asarray(exact.log_posterior(params, image, config.sigma)[0], np.float64)
    chains = jax.jit(sampling.posterior_chain, static_argnums=(4,))(
        params, jnp.broadcast_to(image, (config.posterior_samples, image.shape[1])), key_chain,
        config.sigma, config.posterior_steps)
    n = config.posterior_units
    states = (np.asarray(chains.h_a, np.int64) @ 2 ** np.arange(n)) * 2**n \
        + np.asarray(chains.h_b, np.int64) @ 2 ** np.arange(n)
    exact_probs = np.exp(log_post).reshape(-1)  # index i_a * 2^n + i_b
    freqs = np.bincount(states, minlength=exact_probs.size) / config.posterior_samples
    order = np.argsort(-exact_probs)
    sampled = int(np.sum(freqs > 0))
    tv = 0.5 * float(np.abs(freqs - exact_probs).sum())
    # Total variation that sampling noise alone gives at this sample size (a multinomial draw of
    # the exact posterior), for scale.
    noise_tv = 0.5 * float(np.abs(np.random.default_rng(config.seed).multinomial(
        config.posterior_samples, exact_probs / exact_probs.sum()) / config.posterior_samples
        - exact_probs).sum())

    fig, ax = plt.subplots(figsize=(7, 4))
    shown = order[: max(sampled, 10) + 20]
    ax.plot(np.arange(len(shown)), np.log(exact_probs[shown]), "r-", label="exact log-posterior")
    hit = freqs[shown] > 0
    ax.plot(np.arange(len(shown))[hit], np.log(freqs[shown][hit]), "b.",
            label=f"log frequency, {config.posterior_samples} samples")
    ax.set_xlabel("hidden state (ordered by exact posterior)")
    ax.set_ylabel("log probability")
    ax.set_title(f"Fig. 4.5 (ours): {n} + {n} units, sigma = {config.sigma}")
    ax.legend()
    run_dir.save_figure(fig, "posterior_vs_sampler")
    summary = {"states": int(exact_probs.size), "states_sampled": sampled,
               "total_variation": tv, "total_variation_of_exact_multinomial_draw": noise_tv,
               "exact_mass_of_top_state": float(exact_probs[order[0]])}
    run_dir.log_metrics({"study": "posterior", **summary})
    return summary


# ------------------------------------------------------------------------------------------------
# Fig. 4.6: activity along inference


def activity_study(config, run_dir, data, key):
    import matplotlib.pyplot as plt

    x, x_a, x_b = data
    key_model, key_chain = jax.random.split(key)
    params = first(grbm_initialised(key_model[None], config.activity_units, x_a, x_b, config))
    chains = jax.jit(sampling.posterior_chain, static_argnums=(4,))(
        params, x, key_chain, config.sigma, config.activity_steps)
    act = np.asarray(analysis.activity(chains.trace_a, chains.trace_b))  # (T, N)
    mean = act.mean(1)
    steps = np.arange(1, config.activity_steps + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, act[:, :10], color="tab:blue", alpha=0.3, lw=1)
    ax.plot(steps, mean, "o-", color="tab:blue", lw=3, label="mean over the dataset")
    ax.set_xlabel("iteration of inference")
    ax.set_ylabel("activity (eq. 4.8)")
    ax.set_title(f"Fig. 4.6 (ours): {config.activity_units} + {config.activity_units} units, "
                 f"sigma = {config.sigma}")
    ax.legend()
    run_dir.save_figure(fig, "activity")
    equilibrium = float(mean[2:].mean()) if len(mean) > 2 else float("nan")
    summary = {"mean_activity": mean.tolist(), "activity_step_1": float(mean[0]),
               "activity_step_2": float(mean[1]) if len(mean) > 1 else float("nan"),
               "activity_equilibrium_steps_3_on": equilibrium}
    run_dir.log_metrics({"study": "activity", **summary})
    return summary


# ------------------------------------------------------------------------------------------------
# Fig. 4.9: exact-gradient training from random initialisation


def mean_log_likelihood(params, x, sigma):
    if isinstance(params, bn.BroadnetParams):
        return exact.mean_log_evidence(params, x, sigma)
    return jnp.mean(exact.grbm_log_evidence(params, x, sigma))


@functools.partial(jax.jit, static_argnames=("epochs", "batch", "sigma", "rate"))
def train_exact(params, keys, x, epochs, batch, sigma, rate):
    """Gradient ascent on the exact mean log-likelihood (thesis section 4.4) of Broadnets (or
    GRBMs) stacked on a leading axis, one key each, vmapped; each epoch one permutation cut into minibatches, all in
    one scan. Returns (params, log-likelihood on the whole dataset per epoch,
    (runs, epochs + 1))."""
    num_batches = x.shape[0] // batch
    grad = jax.grad(mean_log_likelihood)

    def one_run(params, key):
        def epoch(params, key):
            order = jax.random.permutation(key, x.shape[0])[: num_batches * batch]

            def step(params, idx):
                g = grad(params, x[idx], sigma)
                return jax.tree.map(lambda p, d: p + rate * d, params, g), None

            params, _ = jax.lax.scan(step, params, order.reshape(num_batches, batch))
            return params, mean_log_likelihood(params, x, sigma)

        start = mean_log_likelihood(params, x, sigma)
        params, curve = jax.lax.scan(epoch, params, jax.random.split(key, epochs))
        return params, jnp.concatenate([start[None], curve])

    return jax.vmap(one_run)(params, keys)


def mean_log_likelihoods(stacked, x, sigma):
    return np.asarray(jax.jit(jax.vmap(lambda p: exact.mean_log_evidence(p, x, sigma)))(stacked))


def exact_training_study(config, run_dir, data, key):
    import matplotlib.pyplot as plt

    x = data[0]
    start = time.perf_counter()
    key_init, key_train = jax.random.split(key)
    init = jax.vmap(lambda k: bn.init_params(k, config.exact_units, config.exact_units,
                                             x.shape[1]))(jax.random.split(key_init, config.seeds))
    params, curves = train_exact(init, jax.random.split(key_train, config.seeds), x,
                                 config.exact_epochs, config.exact_batch, config.sigma,
                                 config.exact_learning_rate)
    curves = np.asarray(curves)
    seconds = time.perf_counter() - start
    shares = np.stack([np.asarray(analysis.cause_variance_shares(
        jax.tree.map(lambda t: t[r], params), x, config.sigma)) for r in range(config.seeds)])
    recovery = recoveries(params, data, config)
    is_bias = shares.min(1) < config.bias_share_threshold
    finite = np.isfinite(curves[:, -1])
    for r in range(config.seeds):
        run_dir.log_metrics({"study": "exact-training", "run": r, "log_likelihood": curves[r],
                             "variance_share_a": shares[r, 0], "variance_share_b": shares[r, 1],
                             "one_cause_is_bias": bool(is_bias[r])})

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(config.exact_epochs + 1), curves.T, color="tab:blue", alpha=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log p(x) (exact)")
    ax.set_title(f"Fig. 4.9a (ours): {config.seeds} runs, {config.exact_units} + "
                 f"{config.exact_units} units")
    run_dir.save_figure(fig, "exact_training_log_likelihood")
    shown = list(range(min(4, config.seeds)))
    fig, axes = plt.subplots(2 * len(shown), config.exact_units,
                             figsize=(1.3 * config.exact_units, 2.7 * len(shown)), squeeze=False)
    for row, r in enumerate(shown):
        for cause, weights in enumerate((params.W[r], params.V[r])):
            for u in range(config.exact_units):
                ax = axes[2 * row + cause, u]
                ax.imshow(np.asarray(weights[u]).reshape(28, 28), cmap="gray")
                ax.set_xticks([]), ax.set_yticks([])
            axes[2 * row + cause, 0].set_ylabel(f"run {r} {'WV'[cause]}\nshare "
                                                f"{shares[r, cause]:.2f}", fontsize=7)
    run_dir.save_figure(fig, "exact_training_weights")
    share = float(is_bias.mean())
    summary = {"runs": config.seeds, "runs_finite": int(finite.sum()),
               "share_one_cause_bias": share, "final_log_likelihood_mean": float(
                   np.nanmean(curves[:, -1])), "train_seconds": seconds,
               "min_variance_share_per_run": shares.min(1).tolist(),
               "cause_recovery_per_run": recovery.tolist(),
               "gain_share_by_epoch_20": float(np.nanmean(
                   (curves[:, min(20, config.exact_epochs)] - curves[:, 0])
                   / (curves[:, -1] - curves[:, 0])))}
    return summary


def pair(values):
    return "(" + ", ".join(f"{float(v):.2f}" for v in values) + ")"


def recoveries(stacked, data, config):
    """analysis.cause_recovery for every model of a stack, (runs, 2)."""
    x, x_a, x_b = data
    fn = jax.jit(jax.vmap(lambda p: analysis.cause_recovery(p, x, x_a, x_b, config.sigma)))
    return np.asarray(fn(stacked))


def take(stacked, i):
    return jax.tree.map(lambda t: t[i], stacked)


def small_grbm_broadnet(config, data, key, count=1):
    """GRBM-initialised 5 + 5 Broadnets, each GRBM trained on one true cause for
    ``small_grbm_epochs``: with ``grbm_pretraining="cd"`` by the thesis's tweaked CD-5 schedule
    (section 4.4), with "exact" by ascent on its exact log-likelihood (learning rate
    ``exact_learning_rate``), which reaches a GRBM optimum, the premise of section 4.4."""
    if config.grbm_pretraining == "cd":
        small = dataclasses.replace(config, grbm_epochs=config.small_grbm_epochs)
        return grbm_initialised(jax.random.split(key, count), config.exact_units, data[1],
                                data[2], small, tweaked=True)
    if config.grbm_pretraining != "exact":
        raise ValueError(f"grbm_pretraining: expected 'exact' or 'cd', got "
                         f"{config.grbm_pretraining!r}")
    causes = []
    for images, cause_key in zip(data[1:], jax.random.split(key)):
        keys = jax.random.split(cause_key, 2 * count)
        init = jax.vmap(lambda k: grbm.init_params(k, config.exact_units, images.shape[1],
                                                   weight_scale=0.01, bias=-1.0))(keys[:count])
        params, _ = train_exact(init, keys[count:], images, config.small_grbm_epochs,
                                config.exact_batch, config.sigma, config.exact_learning_rate)
        causes.append(params)
    return bn.from_grbms(*causes)


# ------------------------------------------------------------------------------------------------
# Fig. 4.10: exact-gradient training from GRBM initialisations


def grbm_init_training_study(config, run_dir, data, key):
    import matplotlib.pyplot as plt

    x = data[0]
    key_model, key_train = jax.random.split(key)
    init = small_grbm_broadnet(config, data, key_model, config.seeds)
    params, curves = train_exact(init, jax.random.split(key_train, config.seeds), x,
                                 config.exact_epochs, config.exact_batch, config.sigma,
                                 config.exact_learning_rate)
    curves = np.asarray(curves)
    before, after = recoveries(init, data, config), recoveries(params, data, config)
    moved = np.array([analysis.model_difference(take(init, r), take(params, r))
                      for r in range(config.seeds)])
    size = np.array([float(jnp.sum(init.W[r] ** 2) + jnp.sum(init.V[r] ** 2))
                     for r in range(config.seeds)])
    for r in range(config.seeds):
        run_dir.log_metrics({"study": "grbm-init-training", "run": r, "log_likelihood": curves[r],
                             "recovery_before": before[r], "recovery_after": after[r],
                             "model_difference_moved": moved[r]})
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(config.exact_epochs + 1), curves.T, color="tab:blue", alpha=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log p(x) (exact)")
    ax.set_title(f"Fig. 4.10a (ours): {config.seeds} GRBM-initialised runs")
    run_dir.save_figure(fig, "grbm_init_training_log_likelihood")
    summary = {"log_likelihood_gain_mean": float(np.mean(curves[:, -1] - curves[:, 0])),
               "recovery_before_mean": before.mean(0).tolist(),
               "recovery_after_mean": after.mean(0).tolist(),
               "relative_model_difference_moved_median": float(np.median(moved / size))}
    return summary


# ------------------------------------------------------------------------------------------------
# Fig. 4.12-4.16: every unit configuration of one GRBM-initialised Broadnet, retrained


def configurations_study(config, run_dir, data, key):
    import matplotlib.pyplot as plt

    x = data[0]
    key_model, key_train = jax.random.split(key)
    base = take(small_grbm_broadnet(config, data, key_model), 0)
    configs, index_sets = analysis.unit_configurations(base)  # configuration 0 is the original
    count = len(index_sets)
    ll_before = mean_log_likelihoods(configs, x, config.sigma)
    trained, curves = train_exact(configs, jax.random.split(key_train, count), x,
                                  config.configuration_epochs, config.exact_batch, config.sigma,
                                  config.exact_learning_rate)
    curves = np.asarray(curves)
    models = [take(trained, i) for i in range(count)]
    to_original = np.array([analysis.model_difference(m, models[0]) for m in models])
    pairwise = np.full((count, count), np.inf)
    for i in range(count):
        for j in range(i + 1, count):
            pairwise[i, j] = pairwise[j, i] = analysis.model_difference(models[i], models[j])
    nearest = pairwise.min(1)
    recovery = recoveries(trained, data, config)
    fine_tune = analysis.model_difference(take(configs, 0), models[0])
    for i in range(count):
        run_dir.log_metrics({"study": "configurations", "configuration": index_sets[i],
                             "log_likelihood_before": ll_before[i], "log_likelihood": curves[i],
                             "model_difference_to_original": to_original[i],
                             "nearest_other": nearest[i], "recovery": recovery[i]})

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot(np.sort(ll_before), "b.")
    axes[0].axhline(ll_before[0], color="r", ls="--", label="original configuration")
    axes[0].set(title="Fig. 4.12 (ours): before training", xlabel="configuration (sorted)",
                ylabel="mean log p(x)")
    axes[0].legend()
    axes[1].plot(curves[1:].T, color="tab:blue", alpha=0.3)
    axes[1].plot(curves[0], "r--", lw=2)
    axes[1].set(title="Fig. 4.13a/4.16 (ours): retraining", xlabel="epoch")
    axes[2].plot(np.sort(to_original[1:]), "b.", label="to the original, trained")
    axes[2].plot(np.sort(nearest), "g.", label="to the nearest other model")
    axes[2].axhline(fine_tune, color="r", ls="--", label="original: before vs after training")
    axes[2].set(title="Fig. 4.14a, 4.15a (ours): model difference (eq. 4.12)",
                xlabel="configuration (sorted)", yscale="log")
    axes[2].legend(fontsize=7)
    run_dir.save_figure(fig, "unit_configurations")
    # SGD at the thesis's rate 0.1 leaves the log-likelihood jittering by a few nats from epoch
    # to epoch, so optima are compared by their mean over the last epochs.
    tail = min(5, config.configuration_epochs)
    final = curves[:, -tail:].mean(1)
    better = int(np.sum(final[1:] > final[0]))
    summary = {"configurations": count, "worse_than_original_before": int(
        np.sum(ll_before[1:] < ll_before[0])), "better_than_original_after": better,
        "min_difference_to_original": float(to_original[1:].min()),
        "min_nearest_other": float(nearest.min()), "original_fine_tune_difference": fine_tune,
        "recovery_original": recovery[0].tolist(),
        "recovery_best_other": recovery[1:][np.argmax(recovery[1:].min(1))].tolist(),
        "last_epochs_compared": tail}
    return summary


# ------------------------------------------------------------------------------------------------
# Fig. 4.17: interpolating a unit pair and retraining


def interpolation_study(config, run_dir, data, key):
    import matplotlib.pyplot as plt

    x = data[0]
    key_model, key_ref, key_pairs, key_train = jax.random.split(key, 4)
    base = small_grbm_broadnet(config, data, key_model)
    reference, _ = train_exact(base, key_ref[None], x, config.interpolation_epochs,
                               config.exact_batch, config.sigma, config.exact_learning_rate)
    reference = take(reference, 0)
    rng = np.random.default_rng(int(jax.random.randint(key_pairs, (), 0, 2**31 - 1)))
    pairs = [(int(rng.integers(config.exact_units)), int(rng.integers(config.exact_units)))
             for _ in range(config.interpolation_pairs)]
    alphas = config.interpolation_alphas
    starts = [analysis.interpolate_units(reference, j, k, a) for j, k in pairs for a in alphas]
    stacked = jax.tree.map(lambda *t: jnp.stack(t), *starts)
    trained, _ = train_exact(stacked, jax.random.split(key_train, len(starts)), x,
                             config.interpolation_epochs, config.exact_batch, config.sigma,
                             config.exact_learning_rate)
    to_original = np.zeros((len(pairs), len(alphas)))
    to_swapped = np.zeros_like(to_original)
    for p, (j, k) in enumerate(pairs):
        swapped = analysis.interpolate_units(reference, j, k, 0.0)
        for q in range(len(alphas)):
            model = take(trained, p * len(alphas) + q)
            to_original[p, q] = analysis.model_difference(model, reference)
            to_swapped[p, q] = analysis.model_difference(model, swapped)
            run_dir.log_metrics({"study": "interpolation", "pair": [j, k], "alpha": alphas[q],
                                 "to_original": to_original[p, q],
                                 "to_swapped": to_swapped[p, q]})
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(alphas, to_original.T, color="tab:blue", alpha=0.5)
    ax.plot(alphas, to_original.mean(0), "r.-", lw=2, label="mean, to the original")
    ax.plot(alphas, to_swapped.mean(0), "g.--", lw=2, label="mean, to the swapped pair")
    ax.set(xlabel="alpha (eq. 4.13; 1 = original, 0 = swapped)",
           ylabel="model difference after training (eq. 4.12)",
           title=f"Fig. 4.17a (ours): {len(pairs)} unit pairs")
    ax.legend()
    run_dir.save_figure(fig, "interpolation")
    closer = (to_original < to_swapped).mean(0)
    summary = {"alphas": list(alphas), "pairs": pairs,
               "mean_to_original": to_original.mean(0).tolist(),
               "mean_to_swapped": to_swapped.mean(0).tolist(),
               "share_closer_to_original": closer.tolist()}
    return summary


# ------------------------------------------------------------------------------------------------
# Fig. 4.7, 4.8: activity along inference against sigma and against the data's scale


def activity_sweep(config, data, key, sigmas, alphas):
    """Mean activity (eq. 4.8) along ``activity_steps`` iterations of inference, (S, T), for S
    GRBM-initialised Broadnets of ``activity_units`` per cause: setting s has noise sigmas[s] and
    each cause normalised to [-1, 1] and multiplied by alphas[s] (thesis Fig. 4.7: alpha = 1;
    Fig. 4.8: sigma = 0.1); its GRBMs are trained on their cause, it infers on their sum.

    All settings train in one vmapped program at unit noise: a GRBM (W, b) at noise sigma on data
    v is the model (W / sigma, b) at noise 1 on v / sigma, and a CD step with weight learning rate
    r sigma^2 (bias rate r) is the step with rate r there (``tests/test_energy_cd.py``). So setting
    s trains on its causes times alpha_s / sigma_s at sigma = 1 with ``grbm_learning_rate`` and is
    mapped back (W = sigma_s W') before inference at sigma_s on alpha_s x: its weights' rate is
    ``grbm_learning_rate * sigma_s^2``, the same step in units of sigma (the thesis's rates for
    these runs are not given; a fixed rate at sigma = 0.1 is a 100 times larger step)."""
    x_a, x_b = 2 * data[1] - 1, 2 * data[2] - 1  # each cause in [-1, 1] (thesis Fig. 4.7, 4.8)
    sigmas, alphas = jnp.asarray(sigmas, jnp.float32), jnp.asarray(alphas, jnp.float32)
    count = len(sigmas)
    key_a, key_b, key_chain = jax.random.split(key, 3)
    hyper = cd.CDHyper(sigma=1.0, learning_rate=config.grbm_learning_rate,
                       momentum=config.grbm_momentum, k=config.grbm_k)

    def train(images, key):
        keys = jax.random.split(key, 2 * count)
        init = jax.vmap(lambda k: grbm.init_params(k, config.activity_units, images.shape[1],
                                                   weight_scale=0.01, bias=-1.0))(keys[:count])
        return cd_epochs(init, keys[count:], images, config.sweep_grbm_epochs, hyper,
                         config.grbm_batch, alphas / sigmas)

    cause_a, cause_b = train(x_a, key_a), train(x_b, key_b)
    params = bn.BroadnetParams(cause_a.W * sigmas[:, None, None], cause_b.W * sigmas[:, None, None],
                               cause_a.b, cause_b.b)

    @jax.jit
    @jax.vmap
    def mean_activity(params, sigma, alpha, key):
        chains = sampling.posterior_chain(params, alpha * (x_a + x_b), key, sigma,
                                          config.activity_steps)
        return jnp.mean(analysis.activity(chains.trace_a, chains.trace_b), 1)

    return np.asarray(mean_activity(params, sigmas, alphas, jax.random.split(key_chain, count)))


def sweep_figure(run_dir, curves, values, label, title, name):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps = np.arange(1, curves.shape[1] + 1)
    colours = plt.cm.RdYlGn(np.linspace(0, 1, len(values)))  # red: smallest, green: largest
    for curve, value, colour in zip(curves, values, colours):
        ax.plot(steps, curve, "o-", color=colour, ms=3, label=f"{label} = {value:g}")
    ax.set(xlabel="iteration of inference", ylabel="mean activity (eq. 4.8)", yscale="log",
           title=title)
    ax.legend(fontsize=7)
    run_dir.save_figure(fig, name)


def excess_and_equilibrium(curves):
    """Per setting: the equilibrium activity (mean of steps 3 on) and how far step 2 is above it."""
    equilibrium = curves[:, 2:].mean(1)
    return equilibrium, curves[:, 1] - equilibrium


def listing(values, numbers, fmt="{:.2f}"):
    return ", ".join(f"{v:g}: " + fmt.format(n) for v, n in zip(values, numbers))


def activity_sigma_study(config, run_dir, data, key):
    sigmas = config.sweep_sigmas
    curves = activity_sweep(config, data, key, sigmas, [1.0] * len(sigmas))
    equilibrium, excess = excess_and_equilibrium(curves)
    for sigma, curve in zip(sigmas, curves):
        run_dir.log_metrics({"study": "activity-sigma", "sigma": sigma, "mean_activity": curve})
    sweep_figure(run_dir, curves, sigmas, "sigma",
                 f"Fig. 4.7 (ours): {config.activity_units} + {config.activity_units} units, "
                 "causes in [-1, 1]", "activity_sigma")
    summary = {"sigmas": list(sigmas), "mean_activity": curves.tolist(),
               "equilibrium": equilibrium.tolist(), "step_2_excess": excess.tolist()}
    return summary


def activity_scale_study(config, run_dir, data, key):
    alphas, sigma = config.sweep_alphas, config.sweep_alpha_sigma
    curves = activity_sweep(config, data, key, [sigma] * len(alphas), alphas)
    equilibrium, excess = excess_and_equilibrium(curves)
    for alpha, curve in zip(alphas, curves):
        run_dir.log_metrics({"study": "activity-scale", "alpha": alpha, "sigma": sigma,
                             "mean_activity": curve})
    sweep_figure(run_dir, curves, alphas, "alpha",
                 f"Fig. 4.8 (ours): causes in [-alpha, alpha], sigma = {sigma:g}",
                 "activity_scale")
    summary = {"alphas": list(alphas), "sigma": sigma, "mean_activity": curves.tolist(),
               "equilibrium": equilibrium.tolist(), "step_2_excess": excess.tolist()}
    return summary


# ------------------------------------------------------------------------------------------------
# Section 3.5 (Fig. 3.4, 3.6, 3.7): CD training on the thesis's first composite datasets


def cd_dataset(name, mnist, config):
    """Section 3.5's data, each cause in [-1, 1] (the thesis's tweak), ``n_images`` examples:
    "gradient" an MNIST 5 plus a linear gradient of random angle (Fig. 3.4); "rotated" a 3 plus a
    7 rotated by 90 degrees (Fig. 3.6); "side-by-side" a 3 and a 7 next to each other, 28 x 56,
    each cause 0 on the other's half (Fig. 3.7). Returns (x, cause_a, cause_b) flattened, and the
    image shape."""
    from jaxdis import data

    images, labels = mnist
    if name == "gradient":
        comp = data.make_gradient_composite(images, labels, classes=(5,), n_pairs=config.n_images,
                                            seed=config.seed, combine="sum", value_range=(-1, 1))
    elif name == "rotated":
        comp = data.make_rotated_composite(images, labels, classes_a=(3,), classes_b=(7,),
                                           n_pairs=config.n_images, seed=config.seed,
                                           combine="sum", value_range=(-1, 1))
    elif name == "side-by-side":
        rng = np.random.default_rng(config.seed)
        index_a = rng.permutation(np.flatnonzero(labels == 3))[:config.n_images]
        index_b = rng.permutation(np.flatnonzero(labels == 7))[:config.n_images]
        zeros = np.zeros_like(images[index_a])
        cause_a = np.concatenate([2 * images[index_a] - 1, zeros], 2)
        cause_b = np.concatenate([zeros, 2 * images[index_b] - 1], 2)
        comp = data.Composite(x=cause_a + cause_b, cause_a=cause_a, cause_b=cause_b,
                              label_a=labels[index_a], label_b=labels[index_b],
                              kind="side-by-side-sum", seed=config.seed, index_a=index_a,
                              index_b=index_b)
    else:
        raise ValueError(f"cd_datasets: expected names from {CD_DATASETS}, got {name!r}")
    flat = lambda a: jnp.asarray(a.reshape(len(a), -1), jnp.float32)  # noqa: E731
    return (flat(comp.x), flat(comp.cause_a), flat(comp.cause_b)), comp.x.shape[1:]


def cd_variant(name, config):
    """(CDHyper, batch size) of a variant. All use CD-10 with a 10-step posterior chain (thesis
    section 3.4) at sigma = ``config.sigma`` and weights uniform in [-0.01, 0.01], biases -1
    (table 3.1), weight rate ``cd_learning_rate``:

    - "mean-field": the standard RBM recipe, mean-field statistics, batch ``cd_large_batch``;
    - "samples": the tweaks of Fig. 3.4: binary samples in the statistics, batch ``cd_small_batch``;
    - "samples-tweaked": that, plus momentum 0.9, L2 0.01 and a 10 times larger bias rate
      (section 3.5: the biases tolerate higher rates);
    - "random-start": "samples" with the anti-Hebbian chains started from random hidden states
      instead of each cause's own reconstruction (section 4.2)."""
    base = dict(sigma=config.sigma, learning_rate=config.cd_learning_rate, k=10,
                posterior_steps=10)
    variants = {
        "mean-field": (dict(mean_field=True), config.cd_large_batch),
        "samples": (dict(mean_field=False), config.cd_small_batch),
        "samples-tweaked": (dict(mean_field=False, momentum=0.9, l2=0.01,
                                 bias_learning_rate=10 * config.cd_learning_rate),
                            config.cd_small_batch),
        "random-start": (dict(mean_field=False, negative_start="random"), config.cd_small_batch),
    }
    if name not in variants:
        raise ValueError(f"cd_variants: expected names from {CD_VARIANTS}, got {name!r}")
    extra, batch = variants[name]
    return cd.CDHyper(**base, **extra), batch


@functools.partial(jax.jit, static_argnames=("epochs", "hyper", "batch"))
def train_cd(params, keys, x, epochs, hyper, batch):
    """CD training of Broadnets stacked on a leading axis (one key each), vmapped, with the exact
    mean log-likelihood on all of x after every epoch: (params, (runs, epochs + 1))."""

    def one_run(params, key):
        def epoch(carry, key):
            params, state, _ = cd.cd_epoch(*carry, x, key, hyper, batch)
            return (params, state), exact.mean_log_evidence(params, x, hyper.sigma)

        start = exact.mean_log_evidence(params, x, hyper.sigma)
        (params, _), curve = jax.lax.scan(epoch, (params, cd.init_state(params, batch)),
                                          jax.random.split(key, epochs))
        return params, jnp.concatenate([start[None], curve])

    return jax.vmap(one_run)(params, keys)


def explained_variance(params, x, sigma):
    """1 - ||E[phi_a + phi_b | x] - x||^2 / ||x - mean x||^2 over the data: near 0 (or below)
    when every unit carries a piece of the data's mean and none of its variation (the 'mean
    optimum' of section 3.5)."""
    mean_a, mean_b = analysis.posterior_mean_reconstructions(params, x, sigma)
    return 1 - jnp.sum((mean_a + mean_b - x) ** 2) / jnp.sum((x - x.mean(0)) ** 2)


def cd_study(config, run_dir, data, key):
    """``data``: the MNIST (images, labels) to build section 3.5's composites from."""
    import matplotlib.pyplot as plt

    summary = {}
    measure = jax.jit(jax.vmap(lambda p, x, a, b: (
        analysis.cause_recovery(p, x, a, b, config.sigma, centred=True),
        explained_variance(p, x, config.sigma)), in_axes=(0, None, None, None)))
    for dataset, data_key in zip(config.cd_datasets, jax.random.split(key, len(config.cd_datasets))):
        (x, x_a, x_b), shape = cd_dataset(dataset, data, config)
        fig, axes = plt.subplots(2 * len(config.cd_variants), config.cd_units,
                                 figsize=(config.cd_units * shape[1] / 28,
                                          2 * len(config.cd_variants)), squeeze=False)
        for v, variant in enumerate(config.cd_variants):
            hyper, batch = cd_variant(variant, config)
            key_init, key_train = jax.random.split(jax.random.fold_in(data_key, v))
            init = jax.vmap(lambda k: bn.init_params(k, config.cd_units, config.cd_units,
                                                     x.shape[1], weight_scale=0.01, bias=-1.0))(
                jax.random.split(key_init, config.cd_seeds))
            start = time.perf_counter()
            params, curves = train_cd(init, jax.random.split(key_train, config.cd_seeds), x,
                                      config.cd_epochs, hyper, batch)
            curves = np.asarray(curves)
            seconds = time.perf_counter() - start
            recovery, explained = (np.asarray(m) for m in measure(params, x, x_a, x_b))
            name = f"{dataset}/{variant}"
            summary[name] = {"batch": batch, "log_likelihood_start": curves[:, 0].tolist(),
                             "log_likelihood_end": curves[:, -1].tolist(),
                             "log_likelihood_best": np.nanmax(curves, 1).tolist(),
                             "centred_recovery": recovery.tolist(),
                             "explained_variance": explained.tolist(), "train_seconds": seconds}
            for r in range(config.cd_seeds):
                run_dir.log_metrics({"study": "cd", "dataset": dataset, "variant": variant,
                                     "run": r, "log_likelihood": curves[r],
                                     "centred_recovery": recovery[r],
                                     "explained_variance": explained[r]})
            for cause, weights in enumerate((params.W[0], params.V[0])):
                for u in range(config.cd_units):
                    ax = axes[2 * v + cause, u]
                    ax.imshow(np.asarray(weights[u]).reshape(shape), cmap="gray")
                    ax.set_xticks([]), ax.set_yticks([])
                axes[2 * v + cause, 0].set_ylabel(f"{variant}\ncause {'AB'[cause]}", fontsize=6)
        fig.suptitle(f"Section 3.5 (ours): CD-trained Broadnet weights, {dataset}, "
                     f"{config.cd_units} + {config.cd_units} units, run 0 of each variant",
                     fontsize=9)
        run_dir.save_figure(fig, f"cd_weights_{dataset.replace('-', '_')}")

    return summary


# ------------------------------------------------------------------------------------------------
# The report: every number in it is read from the run's summary (summary.json)


def _number(value) -> float:
    """A summary value as a float: JSON keeps NaN and inf as the strings "nan", "inf"."""
    return float(value)


def _sweep_rows(study: dict, settings, thesis_settings: str, thesis_equilibrium: str,
                thesis_step_2: str) -> list:
    """The rows of an activity sweep's table (Fig. 4.7 over sigma, Fig. 4.8 over alpha)."""
    return [
        ("settings", thesis_settings, f"{len(settings)}: {pair(settings)}"),
        ("equilibrium activity (mean of steps 3+)", thesis_equilibrium,
         listing(settings, study["equilibrium"])),
        ("step 2 above equilibrium", thesis_step_2, listing(settings, study["step_2_excess"])),
        ("step 1", "the large change",
         listing(settings, [c[0] for c in study["mean_activity"]], "{:.1f}")),
    ]


def _tables(config, summary) -> list:
    """[(title, [(quantity, thesis, ours)])] for the studies in ``summary``, in STUDIES order."""
    tables = []
    s = summary.get("posterior")
    if s:
        tables.append(("Exact posterior vs sampler (Fig. 4.5)", [
            ("hidden states", "4096", str(s["states"])),
            ("states ever sampled", "596 (of 10000 samples)",
             f"{s['states_sampled']} (of {config.posterior_samples})"),
            ("agreement", "'the inference procedure appears to be correct' (by eye)",
             f"total variation {s['total_variation']:.4f} (a multinomial draw of the exact "
             f"posterior: {s['total_variation_of_exact_multinomial_draw']:.4f})"),
        ]))
    s = summary.get("activity")
    if s:
        tables.append(("Activity along inference (Fig. 4.6)", [
            ("step 1", "large (first step does the work)", f"{s['activity_step_1']:.2f}"),
            ("step 2 vs equilibrium", "near-constant from step 2 (< 1 unit of 100 extra)",
             f"{_number(s['activity_step_2']):.2f} vs "
             f"{_number(s['activity_equilibrium_steps_3_on']):.2f} (mean of steps 3+)"),
        ]))
    s = summary.get("activity-sigma")
    if s:
        tables.append(("Activity against sigma (Fig. 4.7)", _sweep_rows(
            s, s["sigmas"], "30 values of sigma in (0, 3]", "set by sigma",
            "about 1 unit (of 100) as sigma -> 0; not negotiation")))
    s = summary.get("activity-scale")
    if s:
        tables.append((f"Activity against the data's scale alpha, sigma = {s['sigma']:g} "
                       "(Fig. 4.8)", _sweep_rows(
            s, s["alphas"], "20 values of alpha in [0.1, 5]", "falls as alpha grows",
            "slightly, at large alpha: under 1 unit")))
    s = summary.get("exact-training")
    if s:
        recovery = np.asarray(s["cause_recovery_per_run"], float)
        tables.append(("Exact-gradient training from random initialisation (Fig. 4.9)", [
            ("runs", "30", str(s["runs"])),
            ("one cause becomes a bias", "83%",
             f"{100 * s['share_one_cause_bias']:.0f}% (min variance share < "
             f"{config.bias_share_threshold})"),
            ("disentangled runs", "none (by eye)",
             f"best cause-recovery R^2 over runs: {recovery.min(1).max():.2f} "
             "(the worse cause of the run)"),
            ("converged by epoch 20", "mostly",
             f"{100 * s['gain_share_by_epoch_20']:.0f}% of the epoch-0-to-"
             f"{config.exact_epochs} gain reached"),
        ]))
    s = summary.get("grbm-init-training")
    if s:
        tables.append(("Exact-gradient training from GRBM initialisations (Fig. 4.10)", [
            ("log-likelihood during training", "marginal increase (fine-tuning)",
             f"mean gain {s['log_likelihood_gain_mean']:.2f} nats per image"),
            ("weights after training", "little discernible difference (by eye)",
             "model difference / ||params||^2: median "
             f"{s['relative_model_difference_moved_median']:.3f}"),
            ("still disentangled", "yes (an optimum)",
             f"cause-recovery R^2 (mean over runs) before {pair(s['recovery_before_mean'])} -> "
             f"after {pair(s['recovery_after_mean'])}"),
        ]))
    s = summary.get("configurations")
    if s:
        count = s["configurations"]
        tables.append(("Unit configurations retrained (Fig. 4.12-4.16)", [
            ("configurations", "120", f"{count} (C(10,5)/2: the causes' names swapped are the "
                                      "same model)"),
            ("worse than the original before training", "almost all (Fig. 4.12)",
             f"{s['worse_than_original_before']} of {count - 1}"),
            ("better than the original after retraining", "several (Fig. 4.13, 4.16)",
             f"{s['better_than_original_after']} of {count - 1} (mean log-likelihood of the "
             f"last {s['last_epochs_compared']} epochs)"),
            ("return to the original optimum", "none (Fig. 4.14)",
             f"min model difference {s['min_difference_to_original']:.3g} (the original moved "
             f"{s['original_fine_tune_difference']:.3g} in its own retraining)"),
            ("unique optima", "all (Fig. 4.15)",
             f"min distance to nearest other model {s['min_nearest_other']:.3g}"),
            ("disentangled after retraining", "only the original (by eye)",
             f"cause-recovery R^2: original {pair(s['recovery_original'])}, best other "
             f"{pair(s['recovery_best_other'])}"),
        ]))
    s = summary.get("interpolation")
    if s:
        alphas = s["alphas"]
        tables.append(("Interpolation between a unit pair (Fig. 4.17)", [
            ("which optimum is reached", "the original on one side of alpha = 0.5, the swapped "
             "pair on the other; exactly neither",
             "closer to the original, per alpha " + ", ".join(
                 f"{a}: {100 * c:.0f}%" for a, c in zip(alphas, s["share_closer_to_original"]))),
            ("distance to the original", "grows across 0.5 (Fig. 4.17a)",
             ", ".join(f"{a}: {d:.3g}" for a, d in zip(alphas, s["mean_to_original"]))),
        ]))
    return tables


CD_THESIS = {"gradient": "fairly well disentangled with samples and batch <= 5 (Fig. 3.4, by "
                         "eye); fails to train without either",
             "rotated": "no run of the grid (table 3.1) disentangled (Fig. 3.6)",
             "side-by-side": "entangled optimum, though disentangling is trivial (Fig. 3.7)"}


def _cd_table(config, cd_summary) -> list[str]:
    lines = ["## CD training on the data of section 3.5 (Fig. 3.4, 3.6, 3.7)", "",
             f"{config.cd_units} + {config.cd_units} units, sigma = {config.sigma}, "
             f"{config.cd_epochs} epochs of CD-10, weight rate {config.cd_learning_rate}, "
             f"{config.cd_seeds} runs per row; each cause in [-1, 1]. Centred R^2: each model "
             "cause's exact posterior-mean reconstruction against the better-matching true cause, "
             "both less their mean over the data (1: disentangled; 0 or less: not). Explained: the "
             "R^2 of the sum of both reconstructions against x (near 0: the mean optimum). "
             "Values per run.", "",
             "| data | thesis | variant | batch | exact log p(x) per image: start -> end | "
             "centred R^2 (A, B) | explained |",
             "| --- | --- | --- | ---: | --- | --- | --- |"]
    names = [f"{d}/{v}" for d in config.cd_datasets for v in config.cd_variants]
    for name in [n for n in names if n in cd_summary]:  # the run's order (JSON sorts keys)
        row = cd_summary[name]
        dataset, variant = name.split("/", 1)
        ll = "; ".join(
            f"{_number(a):.0f} -> {_number(b):.0f}" if np.isfinite(_number(b))
            else f"{_number(a):.0f} -> diverged"
            for a, b in zip(row["log_likelihood_start"], row["log_likelihood_end"]))
        lines.append(f"| {dataset} | {CD_THESIS.get(dataset, '')} | {variant} | {row['batch']} | "
                     f"{ll} | " + "; ".join(pair(r) for r in row["centred_recovery"]) + " | "
                     + "; ".join(f"{_number(e):.2f}" for e in row["explained_variance"]) + " |")
    return lines


def tables_md(config, summary) -> str:
    """The thesis-beside-ours tables of every study in ``summary`` (the run's ``table.md``)."""
    lines = []
    for title, rows in _tables(config, summary):
        lines += [f"## {title}", "", "| quantity | thesis | ours |", "| --- | --- | --- |"]
        lines += [f"| {q} | {t} | {o} |" for q, t, o in rows]
        lines.append("")
    if summary.get("cd"):
        lines += _cd_table(config, summary["cd"]) + [""]
    return "\n".join(lines)


def _cd_reading(cd_summary, threshold=0.1) -> str:
    """The cd study in words: which runs recovered a cause (centred R^2 above ``threshold``)."""
    found, others, runs = [], [], 0
    for name, row in cd_summary.items():
        if "/" not in name:
            continue
        for r, values in enumerate(row["centred_recovery"]):
            runs += 1
            for cause, value in enumerate(values):
                value = _number(value)
                if value > threshold:
                    found.append(f"cause {'AB'[cause]} of run {r} of {name} ({value:.2f})")
                else:
                    others.append(value)
    return (f"Of the {runs} CD runs, {len(found) or 'none'} recovered a cause (centred R^2 above "
            f"{threshold}){': ' + '; '.join(found) if found else ''}. Every other cause's centred "
            f"R^2 lies in [{min(others):.2f}, {max(others):.2f}]: with reconstructions that "
            "explain about none of the variance, that is the thesis's mean optimum.")


def report(config, summary, command: str) -> str:
    """experiments/results/broadnet.md: every number from ``summary`` (the run's summary.json,
    with its provenance and wall time) and ``config``."""
    where = summary.get("provenance", {})
    seconds = {name: summary[name]["seconds"] for name in STUDIES if name in summary}
    lines = [
        "# Broadnet studies (thesis ch. 3 and 4): the thesis beside ours", "",
        f"Produced by `experiments/broadnet.py` with `{command}`; every number below is read "
        "from that run's summary (`broadnet.json` beside this file, config included) by "
        "`python -m experiments.broadnet experiments/results/broadnet.json "
        "experiments/results/broadnet.md`.",
        f"Device {where.get('device', '?')}; started {where.get('date', '?')} at commit "
        f"{where.get('commit', '?')}{' (uncommitted changes in the tree)' if where.get('dirty') else ''}"
        f", finished {where.get('finished', '?')}; wall time "
        f"{summary.get('wall_seconds', float('nan')):.0f} s ("
        + ", ".join(f"{name} {t:.0f} s" for name, t in seconds.items()) + ").",
        "",
        f"Reduced scale, as the config records: sigma = {config.sigma} except in the sweeps, "
        f"`grbm_epochs={config.grbm_epochs}` of CD-{config.grbm_k} for the "
        f"{config.activity_units}-unit GRBMs (thesis 400), `posterior_samples="
        f"{config.posterior_samples}` independent chains for Fig. 4.5, the "
        f"{config.exact_units}+{config.exact_units} GRBMs pretrained "
        + ("on their exact gradient (`grbm_pretraining=exact`; `grbm_pretraining=cd` keeps the "
           "thesis's CD schedule)" if config.grbm_pretraining == "exact" else
           "with the thesis's CD schedule (`grbm_pretraining=cd`)")
        + f"; Fig. 4.7 and 4.8 with {len(config.sweep_sigmas)} and {len(config.sweep_alphas)} "
        f"settings (thesis 30 and 20) and `sweep_grbm_epochs={config.sweep_grbm_epochs}` of "
        f"CD-{config.grbm_k} per GRBM, weight learning rate {config.grbm_learning_rate} sigma^2 "
        f"(see `activity_sweep`); the CD study with {config.cd_units} + {config.cd_units} units, "
        f"`cd_epochs={config.cd_epochs}`, `cd_seeds={config.cd_seeds}`, an untuned weight rate "
        f"`cd_learning_rate={config.cd_learning_rate}`, on {config.n_images} images per dataset.",
        "",
    ]
    sigma_sweep, scale_sweep = summary.get("activity-sigma"), summary.get("activity-scale")
    if sigma_sweep and scale_sweep and summary.get("cd"):
        live = [(sg, ex) for sg, eq, ex in zip(sigma_sweep["sigmas"], sigma_sweep["equilibrium"],
                                                sigma_sweep["step_2_excess"]) if eq > 0.05]
        lines += [
            "Reading the numbers (what the tables below show, in words). Fig. 4.7, 4.8: in this "
            "package's sigma convention (p(h = 1 | x) = sigmoid(W x / sigma^2 + b)) a "
            f"{config.activity_units} + {config.activity_units} Broadnet whose equilibrium "
            "activity is about 0 has a near-deterministic posterior: step 1 moves every unit "
            "from 0.5 to 0 or 1 and nothing moves after. Equilibrium activity above 0.05 "
            "appears only at sigma = "
            + (", ".join(f"{sg:g}" for sg, _ in live) or "none")
            + (f", with step 2 at most {max(ex for _, ex in live):.1f} units above it" if live
               else "")
            + "; at sigma = "
            f"{scale_sweep['sigma']:g} the equilibrium activity is at most "
            f"{max(scale_sweep['equilibrium']):.2f} at every alpha, so the thesis's \"equilibrium "
            "activity falls as alpha grows\" cannot show here. As in the thesis, no run shows "
            "several iterations of high activity (no negotiation). " + _cd_reading(summary["cd"])
            + " We did not search the CD learning rate or the epochs.",
            "",
        ]
    lines += [
        "![posterior vs sampler](figures/broadnet_posterior_vs_sampler.png)",
        "![activity](figures/broadnet_activity.png)",
        "![activity against sigma](figures/broadnet_activity_sigma.png)",
        "![activity against the data's scale](figures/broadnet_activity_scale.png)",
        "![interpolation](figures/broadnet_interpolation.png)",
        "![CD weights, 5 plus gradient](figures/broadnet_cd_weights_gradient.png)",
        "![CD weights, 3 plus rotated 7](figures/broadnet_cd_weights_rotated.png)",
        "![CD weights, 3 beside 7](figures/broadnet_cd_weights_side_by_side.png)",
        "",
        "(Figures copied from the run's `figures/` with a `broadnet_` prefix; the three CD weight "
        "figures quantised to 128 colours with PIL to keep the repository small.)",
        "",
        tables_md(config, summary),
    ]
    return "\n".join(lines).rstrip() + "\n"


def validate(config: BroadnetConfig) -> None:
    """Raises ValueError for a config that cannot run, before any data is loaded."""
    if config.study not in STUDIES:
        raise ValueError(f"study: expected one of {STUDIES}, got {config.study!r}")
    for name in config.cd_datasets:
        if name not in CD_DATASETS:
            raise ValueError(f"cd_datasets: expected names from {CD_DATASETS}, got {name!r}")
    for name in config.cd_variants:
        cd_variant(name, config)  # raises on an unknown name
    if config.grbm_pretraining not in ("exact", "cd"):
        raise ValueError(f"grbm_pretraining: expected 'exact' or 'cd', got "
                         f"{config.grbm_pretraining!r}")
    for name in ("seeds", "n_images", "posterior_units", "posterior_samples", "activity_units",
                 "exact_units", "exact_batch", "grbm_batch", "cd_units", "cd_seeds"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name}: expected >= 1, got {getattr(config, name)}")
    if not config.sigma > 0:
        raise ValueError(f"sigma: expected > 0, got {config.sigma}")


def run(config: BroadnetConfig, run_dir) -> dict:
    validate(config)
    from jaxdis import data as data_lib

    mnist = data_lib.load_mnist("train")
    data = load_data(config, mnist)
    key = jax.random.key(config.seed)
    studies = {"posterior": posterior_study, "activity": activity_study,
               "activity-sigma": activity_sigma_study, "activity-scale": activity_scale_study,
               "exact-training": exact_training_study,
               "grbm-init-training": grbm_init_training_study,
               "configurations": configurations_study, "interpolation": interpolation_study,
               "cd": cd_study}
    chosen = list(studies) if config.study == "all" else [config.study]
    summary = {}
    for name in chosen:
        # A study's key depends on its name only: run alone, it repeats its numbers in "all".
        study_key = jax.random.fold_in(key, STUDIES.index(name))
        start = time.perf_counter()
        summary[name] = studies[name](config, run_dir, mnist if name == "cd" else data,
                                      study_key)
        summary[name]["seconds"] = time.perf_counter() - start
        print(f"{name}: {summary[name]}", flush=True)
        # table.md is redrawn whole from the summary after each study (never appended to), so
        # a rerun in the same folder does not repeat tables
        (run_dir.path / "table.md").write_text(tables_md(config, summary))
    return summary


def main(argv) -> int:
    """``python -m experiments.broadnet SOURCE OUT.md``: the report from SOURCE, a finished run
    folder (then OUT.json, its summary with the config, is written beside OUT.md) or such a
    JSON."""
    import json
    from pathlib import Path

    from jaxdis.config import apply_overrides

    if len(argv) != 2:
        print(main.__doc__)
        return 2
    source, out = Path(argv[0]), Path(argv[1])
    if source.is_dir():
        result = {"config": json.loads((source / "config.json").read_text()),
                  **json.loads((source / "summary.json").read_text())}
        out.with_suffix(".json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    else:
        result = json.loads(source.read_text())
    config = apply_overrides(BroadnetConfig(), result["config"])
    changed = {k: v for k, v in dataclasses.asdict(config).items()
               if v != getattr(BroadnetConfig(), k)}
    command = "jaxdis run broadnet" + "".join(
        f" --set {k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
        for k, v in changed.items())
    out.write_text(report(config, result, command))
    print(f"wrote {out}")
    return 0


EXPERIMENT = Experiment(
    name="broadnet",
    summary="Broadnets (thesis ch. 4): exact posterior vs sampler, inference activity, "
            "exact-gradient training",
    make_config=make_config,
    run=run,
    validate=validate,
)


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
