"""Post-processed ICA on upright 0/1/2 plus rotated 3/4/5 MNIST digits (thesis ch. 6, Fig. 6.2-6.5).

FastICA finds C sources of the composite images; Alg. 4 then anneals the binary cause membership
of each source to minimise the Kraskov MI between the two groups (thesis eq. 6.2-6.4). The thesis
judged the groupings by eye ("good at 50 sources, mostly failing at 200"); here they are measured:

- each component's true cause: ICA is linear, so a source splits exactly into the part driven by
  each cause, s_c = w_c (a - mean_a) + w_c (b - mean_b); the component belongs to the cause that
  drives the larger share of its variance (``jaxdis.ica.cause_share_of_components``);
- ``accuracy``: the share of components grouped with their true cause, up to swapping the groups;
- ``purity``: the mean over components of max(share, 1 - share), how cleanly ICA itself separated
  the causes (the premise of section 6.1: "no component should contain contributions from both");
- ``cause_recovery`` of the single-cause reconstructions mean + S_group A_group^T
  (``jaxdis.metrics.cause_recovery``, centred: both reconstructions carry the data's mean image,
  which holds both causes' means, and a constant image is not an error of grouping);
- the MI of the true grouping beside the MI the annealer reached: when the annealer ends below the
  truth, the objective (not the search) is what fails.

Section 6.4's ICA-tolerance sensitivity is a sweep over scikit-learn's FastICA ``tol`` (the
thesis's "entropy minus a tolerance" criterion is not exposed by scikit-learn; see
``jaxdis.ica.fast_ica``).

Annealing uses ``jaxdis.ica.kraskov_flip_cost`` by default (``cost="flip"``): the same eq. 6.2
estimate as ``group_mi_cost`` (equal in tests/test_ica.py), carried from flip to flip, O(N^2) per
proposal instead of O(N^2 C); ``--set cost=ksg`` anneals with the plain KSG cost.

Scale. The default config is reduced for a CPU (15 minutes on a 2-core CPU shared with other jobs,
mostly FastICA at 200 sources): 1000 images (MI on 500 of them),
2 trials, 6 annealing sweeps, a 4-point tolerance sweep. The thesis's setting is::

    jaxdis run ppica --seeds 30 --set n_images=5000 --set mi_samples=5000

The thesis does not state its number of annealing iterations; 6 sweeps is our choice. On a
2-core CPU that run takes 71 minutes (experiments/results/ppica.md), three quarters of it
annealing at 200 sources.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxdis import ica
from jaxdis.registry import Experiment


ICA_FUNS = ("logcosh", "exp", "cube")  # scikit-learn FastICA's contrast functions


@dataclasses.dataclass(frozen=True)
class PPICAConfig:
    """Post-processed ICA (``jaxdis run ppica``; see the module docstring).

    Attributes:
      seeds: trials per setting, each an independent FastICA restart and annealing run (thesis:
        30).
      seeds_per_setting: trials for each entry of n_sources; empty: seeds for each.
      n_images: composite images (thesis: 5000).
      mi_samples: rows of the sources the Kraskov cost uses (thesis: all).
      n_sources: the numbers of ICA sources tried (thesis: 50 and 200).
      sweeps: annealing length, in sweeps of |m| single-variable updates.
      proposal: Alg. 4's proposal: "single", or "all-flips".
      chains: annealing chains per trial; the lowest final MI is kept.
      t0: eq. 6.4's starting temperature.
      k: Kraskov neighbours.
      cost: "flip" (ica.kraskov_flip_cost, O(N^2) per flip) or "ksg" (ica.group_mi_cost).
      random_groupings: per trial, shuffles of the true grouping (same group sizes) whose MI is
        measured.
      jitter: section 6.2's noise against ties, relative to each column's std.
      ica_tol: scikit-learn FastICA's tol for the main runs.
      ica_max_iter: FastICA's iteration limit.
      ica_fun: FastICA's contrast function: "logcosh", "exp" or "cube".
      ica_dtype: the dtype FastICA fits in; "exp" and "cube" need "float64".
      tol_sweep: FastICA tolerances of section 6.4's sweep; empty: skip it.
      tol_sweep_sources: sources of the tolerance sweep.
      tol_sweep_seeds: trials per tolerance of the sweep.
      trial_batch: trials annealed together (vmap); 1 is fastest on a CPU, 0: all.
      seed: the PRNG seed.
      split: the MNIST split the composites are drawn from.
      n_shown: examples in the reconstruction figures.
    """

    seeds: int = 2  # trials: each an independent FastICA restart and annealing run (thesis: 30)
    seeds_per_setting: tuple[int, ...] = ()  # trials for each entry of n_sources; () = seeds
    n_images: int = 1000  # composites (thesis: 5000)
    mi_samples: int = 500  # rows of S the Kraskov cost uses (thesis: all)
    n_sources: tuple[int, ...] = (50, 200)  # thesis: 50 and 200
    sweeps: int = 6  # annealing length in sweeps of |m| single-variable updates
    proposal: str = "single"  # Alg. 4; or "all-flips"
    chains: int = 1  # annealing chains per trial; the lowest final MI is kept
    t0: float = 0.1  # eq. 6.4's starting temperature
    k: int = 3  # Kraskov neighbours
    cost: str = "flip"  # "flip": ica.kraskov_flip_cost (O(N^2) per flip); "ksg": ica.group_mi_cost
    random_groupings: int = 4  # per trial: MI of shuffles of the true grouping (same group sizes)
    jitter: float = 1e-10  # section 6.2's noise against ties (relative to each column's std)
    ica_tol: float = 1e-4  # scikit-learn FastICA's tol for the main runs
    ica_max_iter: int = 500
    ica_fun: str = "logcosh"  # FastICA's contrast function: "logcosh", "exp" or "cube"
    ica_dtype: str = "float32"  # the dtype FastICA fits in; "exp" and "cube" need "float64"
    tol_sweep: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)  # section 6.4; empty: skip
    tol_sweep_sources: int = 50
    tol_sweep_seeds: int = 2
    trial_batch: int = 1  # trials annealed together (vmap); 1 is fastest on a CPU, 0 = all
    seed: int = 0
    split: str = "train"
    n_shown: int = 8  # examples in the reconstruction figures


def make_config(dataset: str | None) -> PPICAConfig:
    del dataset  # the thesis's data only
    return PPICAConfig()


# --------------------------------------------------------------------------------------------------
# The computation
# --------------------------------------------------------------------------------------------------


@functools.partial(
    jax.jit, static_argnames=("n_steps", "proposal", "t0", "k", "jitter", "trial_batch", "cost")
)
def anneal_trials(sources, keys, *, n_steps, proposal, t0, k, jitter, trial_batch, cost="flip"):
    """Alg. 4 for R trials at once: ``sources`` (R, M, C), ``keys`` (R, chains) -> AnnealResult
    with leading axes (R, chains). One compiled call: ``lax.map`` over trials in batches of
    ``trial_batch`` (vmapped inside a batch; 0 = all trials in one vmap), ``vmap`` over chains,
    a ``lax.scan`` over steps."""
    n_members = sources.shape[-1]

    def one_trial(trial):
        trial_sources, trial_keys = trial
        jitter_key = jax.random.fold_in(trial_keys[0], 1)  # fixed per trial: cost is f(mask)
        make_cost = ica.kraskov_flip_cost if cost == "flip" else ica.group_mi_cost
        trial_cost = make_cost(trial_sources, k=k, key=jitter_key, jitter=jitter)
        chain = lambda key: ica.anneal(trial_cost, n_members, key, n_steps, t0=t0,
                                       proposal=proposal)
        return jax.vmap(chain)(trial_keys)

    return jax.lax.map(one_trial, (sources, keys), batch_size=trial_batch or None)


def grouping_costs(sources, masks, *, k, jitter, key):
    """The eq. 6.2 cost of each mask in ``masks`` (M, C), the same jitter as the annealer's."""
    cost = jax.jit(ica.group_mi_cost(jnp.asarray(sources), k=k, key=key, jitter=jitter))
    return [float(cost(jnp.asarray(mask))) for mask in masks]


def run_setting(config, composite, n_sources, ica_tol, n_trials, seed_offset):
    """FastICA restarts, annealing and scores for one (n_sources, tol): a dict of per-trial lists
    plus the arrays the figures need."""
    from jaxdis.metrics import cause_recovery

    n = len(composite)
    x = composite.x.reshape(n, -1)
    cause_a = composite.cause_a.reshape(n, -1)
    cause_b = composite.cause_b.reshape(n, -1)

    start = time.perf_counter()
    fits = [
        ica.fast_ica(x, n_sources, tol=ica_tol, max_iter=config.ica_max_iter,
                     fun=config.ica_fun, fit_dtype=config.ica_dtype,
                     seed=config.seed + seed_offset + trial)
        for trial in range(n_trials)
    ]
    ica_seconds = time.perf_counter() - start

    n_steps = config.sweeps * n_sources if config.proposal == "single" else config.sweeps
    keys = jax.random.split(jax.random.key(config.seed + seed_offset), (n_trials, config.chains))
    sources = np.stack([fit.sources[: config.mi_samples] for fit in fits])
    start = time.perf_counter()
    result = jax.block_until_ready(
        anneal_trials(sources, keys, n_steps=n_steps, proposal=config.proposal, t0=config.t0,
                      k=config.k, jitter=config.jitter, trial_batch=config.trial_batch,
                      cost=config.cost)
    )
    anneal_seconds = time.perf_counter() - start

    best_chain = np.argmin(np.asarray(result.cost), axis=1)  # per trial
    rows = np.arange(n_trials)
    masks = np.asarray(result.mask)[rows, best_chain]  # (R, C)
    curves = np.asarray(result.trace.cost)[rows, best_chain]  # (R, n_steps)

    trials, shares = [], []
    for trial, fit in enumerate(fits):
        share_a = ica.cause_share_of_components(fit.unmixing, cause_a, cause_b)
        shares.append(share_a)
        true_in_a = share_a > 0.5
        mask = masks[trial]
        recon_a = np.asarray(ica.reconstruct(fit.sources, fit.mixing, fit.mean, mask))
        recon_b = np.asarray(ica.reconstruct(fit.sources, fit.mixing, fit.mean, ~mask))
        two_sided_truth = bool(true_in_a.any() and (~true_in_a).any())
        # Does eq. 6.2 single out the truth? Its MI beside shuffles of it (same group sizes).
        rng = np.random.default_rng(config.seed + seed_offset + trial)
        shuffles = [rng.permutation(true_in_a) for _ in range(config.random_groupings)]
        if two_sided_truth:
            truth_mi, *shuffled_mi = grouping_costs(
                fit.sources[: config.mi_samples], [true_in_a, *shuffles], k=config.k,
                jitter=config.jitter, key=jax.random.fold_in(keys[trial, 0], 1))
        else:
            truth_mi, shuffled_mi = float("nan"), []
        trials.append({
            "ica_iterations": fit.n_iter,
            "ica_converged": fit.n_iter < config.ica_max_iter,
            "final_mi": float(curves[trial, -1]),
            "true_grouping_mi": truth_mi,
            "shuffled_truth_mi": shuffled_mi,
            "truth_below_shuffles": float(np.mean(np.less(truth_mi, shuffled_mi)))
            if shuffled_mi else float("nan"),
            "annealed_below_truth": bool(curves[trial, -1] < truth_mi),
            "accuracy": float(ica.grouping_accuracy(mask, true_in_a)),
            "purity": float(np.mean(np.maximum(share_a, 1 - share_a))),
            "components_in_a": int(mask.sum()),
            "true_components_in_a": int(true_in_a.sum()),
            "cause_recovery": float(cause_recovery(
                recon_a.reshape(composite.x.shape), recon_b.reshape(composite.x.shape),
                composite.cause_a, composite.cause_b, exchangeable=False,  # upright vs rotated
                centred=True)),
            "nonfinite_costs": int(np.asarray(result.trace.nonfinite)[trial].sum()),
        })
    steps_per_sweep = n_steps // config.sweeps
    return {
        "n_sources": n_sources,
        "ica_tol": ica_tol,
        "n_steps": n_steps,
        "mi_after_each_sweep": curves[:, steps_per_sweep - 1 :: steps_per_sweep],  # Fig. 6.4
        "ica_seconds": ica_seconds,
        "anneal_seconds": anneal_seconds,
        "trials": trials,
        "mean": {key: _nanmean([t[key] for t in trials])
                 for key in ("accuracy", "purity", "cause_recovery", "final_mi",
                             "true_grouping_mi", "truth_below_shuffles",
                             "annealed_below_truth")},
    }, {"fits": fits, "masks": masks, "curves": curves, "shares": shares}


def validate(config: PPICAConfig) -> None:
    """Raises ValueError for a config that cannot run, before any data is loaded (`jaxdis run`
    calls it before it creates the run folder; ``run`` calls it too)."""
    if config.seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {config.seeds}")
    if config.proposal not in ica.PROPOSALS:
        raise ValueError(f"proposal must be one of {ica.PROPOSALS}, got {config.proposal!r}")
    if not 1 <= config.mi_samples <= config.n_images:
        raise ValueError(f"mi_samples must be in [1, n_images={config.n_images}], "
                         f"got {config.mi_samples}")
    if config.seeds_per_setting and len(config.seeds_per_setting) != len(config.n_sources):
        raise ValueError(f"seeds_per_setting must have one entry per n_sources "
                         f"{config.n_sources}, got {config.seeds_per_setting}")
    if config.ica_fun not in ICA_FUNS:
        raise ValueError(f"ica_fun must be one of {ICA_FUNS}, got {config.ica_fun!r}")
    if config.ica_dtype not in ("float32", "float64"):
        raise ValueError(f"ica_dtype must be 'float32' or 'float64', got {config.ica_dtype!r}")
    if config.cost not in ("flip", "ksg"):
        raise ValueError(f"cost must be 'flip' or 'ksg', got {config.cost!r}")


def run(config: PPICAConfig, run_dir) -> dict:
    from jaxdis import data

    validate(config)
    start = time.perf_counter()
    images, labels = data.load_mnist(config.split)
    composite = data.make_rotated_composite(
        images, labels, classes_a=(0, 1, 2), classes_b=(3, 4, 5), n_pairs=config.n_images,
        seed=config.seed, combine="sum",
    )

    settings, arrays = [], {}
    trials_per_setting = config.seeds_per_setting or (config.seeds,) * len(config.n_sources)
    for offset, (n_sources, n_trials) in enumerate(zip(config.n_sources, trials_per_setting)):
        setting, arrays[n_sources] = run_setting(
            config, composite, n_sources, config.ica_tol, n_trials, seed_offset=1000 * offset
        )
        settings.append(setting)
        run_dir.log_metrics({"part": "sources", **_flat(setting)})
        print(_line(setting), flush=True)

    tol_sweep = []
    for offset, tol in enumerate(config.tol_sweep):
        setting, _ = run_setting(config, composite, config.tol_sweep_sources, tol,
                                 config.tol_sweep_seeds, seed_offset=100_000 + 1000 * offset)
        tol_sweep.append(setting)
        run_dir.log_metrics({"part": "tol_sweep", **_flat(setting)})
        print(_line(setting), flush=True)

    summary = {
        "device": jax.devices()[0].device_kind,
        "settings": settings,
        "tol_sweep": tol_sweep,
        "wall_seconds": time.perf_counter() - start,
    }
    curves = [arrays[n]["curves"] for n in config.n_sources]
    run_dir.save_figure(_figure_curves(settings, curves, tol_sweep), "ppica_mi_curves")
    for n_sources in config.n_sources:
        run_dir.save_figure(
            _figure_groups(composite, arrays[n_sources], n_sources, config.n_shown),
            f"ppica_groups_{n_sources}",
        )
    (run_dir.path / "report.md").write_text(report(config, summary))
    return summary


def _nanmean(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: the mean is NaN, say so
        return float(np.nanmean(values))


def _flat(setting):
    skip = ("trials", "mi_after_each_sweep")
    return {k: v for k, v in setting.items() if k not in skip} | {
        "per_trial_accuracy": [t["accuracy"] for t in setting["trials"]]
    }


def _line(setting):
    mean = setting["mean"]
    return (f"C={setting['n_sources']} tol={setting['ica_tol']:g}: accuracy {mean['accuracy']:.3f} "
            f"purity {mean['purity']:.3f} cause recovery {mean['cause_recovery']:.3f} "
            f"MI {mean['final_mi']:.4f} (truth {mean['true_grouping_mi']:.4f}) "
            f"[ICA {setting['ica_seconds']:.0f} s, annealing {setting['anneal_seconds']:.0f} s]")


# --------------------------------------------------------------------------------------------------
# Figures and the report
# --------------------------------------------------------------------------------------------------


def _figure_curves(settings, curves, tol_sweep):
    """Fig. 6.4 (MI across iterations, every trial) for each number of sources, and the tolerance
    sweep of section 6.4."""
    import matplotlib.pyplot as plt

    panels = len(settings) + (1 if tol_sweep else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.2), squeeze=False)
    for ax, setting, setting_curves in zip(axes[0], settings, curves):
        for trial_curve in setting_curves:
            ax.plot(trial_curve, color="tab:blue", lw=0.8)
        ax.set_title(f"{setting['n_sources']} sources: MI (eq. 6.2), each trial", fontsize=9)
        ax.set_xlabel("annealing step")
        ax.set_ylabel("Kraskov MI estimate (nats)")
    if tol_sweep:
        ax = axes[0, -1]
        tols = [s["ica_tol"] for s in tol_sweep]
        for key, label in (("accuracy", "grouping accuracy"), ("purity", "component purity"),
                           ("cause_recovery", "cause recovery")):
            ax.plot(tols, [s["mean"][key] for s in tol_sweep], "o-", label=label)
        ax.set_xscale("log")
        ax.set_xlabel("FastICA tol")
        ax.set_title(f"ICA tolerance ({tol_sweep[0]['n_sources']} sources)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _figure_groups(composite, arrays, n_sources, n_shown):
    """Fig. 6.3 / 6.5: components of each recovered cause (of the trial with the lowest MI), and
    reconstructions: input, A-only, B-only, all components."""
    import matplotlib.pyplot as plt

    trial = int(np.argmin(arrays["curves"][:, -1]))
    fit, mask, share = arrays["fits"][trial], arrays["masks"][trial], arrays["shares"][trial]
    side = composite.x.shape[-1]
    n_components = 12
    fig, axes = plt.subplots(2 + n_shown // 2, max(n_components, 8), figsize=(12, 6.5))
    for ax in axes.ravel():
        ax.axis("off")
    for row, (name, members) in enumerate((("A", np.flatnonzero(mask)),
                                           ("B", np.flatnonzero(~mask)))):
        for col, c in enumerate(members[:n_components]):
            axes[row, col].imshow(fit.mixing[:, c].reshape(side, side), cmap="gray")
            # Measured share of the component's variance driven by the upright digit (cause a).
            axes[row, col].text(0, side + 5, f"up {share[c]:.2f}", fontsize=6)
        axes[row, 0].set_title(f"cause {name}: {len(members)} components", fontsize=8, loc="left")
    everything = np.ones_like(mask)
    for i in range(n_shown):
        row, col = 2 + i // 2, 4 * (i % 2)
        images = [composite.x[i].ravel()] + [
            np.asarray(ica.reconstruct(fit.sources[i:i + 1], fit.mixing, fit.mean, m))[0]
            for m in (mask, ~mask, everything)
        ]
        for j, image in enumerate(images):
            axes[row, col + j].imshow(image.reshape(side, side), cmap="gray")
            if i < 2:
                axes[row, col + j].set_title(("input", "A only", "B only", "all")[j], fontsize=8)
    fig.suptitle(f"{n_sources} sources (trial {trial}, lowest final MI)")
    return fig


def report(config, summary) -> str:
    lines = [
        "# Post-processed ICA (thesis ch. 6): measured",
        "",
        "Produced by `experiments/ppica.py`; every number below is from its `summary.json`.",
        "",
        f"- device: {summary['device']}; wall time {summary['wall_seconds']:.0f} s",
        f"- scale: {config.n_images} composites (MI on {config.mi_samples}), trials "
        + ", ".join(f"{len(s['trials'])} at {s['n_sources']} sources" for s in summary["settings"])
        + f", {config.sweeps} annealing sweeps ({config.cost} cost), proposal `{config.proposal}`, "
        f"{config.chains} chain(s) per trial, FastICA `{config.ica_fun}` in {config.ica_dtype} "
        f"at tol {config.ica_tol:g} (max {config.ica_max_iter} iterations)"
        + (f"; tolerance sweep: {config.tol_sweep_seeds} trials at {config.tol_sweep_sources} "
           "sources" if summary["tol_sweep"] else "")
        + " (thesis: 5000 composites, MI on all, 30 trials)",
        "",
        "| sources | thesis (by eye) | grouping accuracy | chance | above chance "
        "| component purity | cause recovery | final MI | MI of true grouping "
        "| truth below shuffles | annealed below truth |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    claims = {50: "well separated into two causes (Fig. 6.3)",
              200: "largely fails to separate causes despite a low MI (Fig. 6.5)"}
    for s in summary["settings"]:
        m = s["mean"]
        accuracy = [t["accuracy"] for t in s["trials"]]
        lines.append(
            f"| {s['n_sources']} | {claims.get(s['n_sources'], '')} | {m['accuracy']:.3f} "
            f"(sd {np.std(accuracy):.3f}, {min(accuracy):.2f}-{max(accuracy):.2f}) "
            f"| {np.mean(_chance(s)):.3f} | {_above_chance(s)} | {m['purity']:.3f} "
            f"| {m['cause_recovery']:.3f} | {m['final_mi']:.4f} "
            f"| {m['true_grouping_mi']:.4f} | {m['truth_below_shuffles']:.2f} "
            f"| {m['annealed_below_truth']:.2f} |"
        )
    lines += _negative_mi_table(summary["settings"])
    if summary["tol_sweep"]:
        lines += [
            "",
            "ICA tolerance (section 6.4: best when strict enough that no component mixes causes, "
            "loose enough to leave shared information within a cause):",
            "",
            "| FastICA tol | ICA iterations | grouping accuracy | chance | above chance "
            "| component purity | cause recovery | final MI | MI of true grouping "
            "| truth below shuffles |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for s in summary["tol_sweep"]:
            m = s["mean"]
            iters = ", ".join(str(t["ica_iterations"]) for t in s["trials"])
            lines.append(
                f"| {s['ica_tol']:g} | {iters} | {m['accuracy']:.3f} | {np.mean(_chance(s)):.3f} "
                f"| {_above_chance(s)} | {m['purity']:.3f} "
                f"| {m['cause_recovery']:.3f} | {m['final_mi']:.4f} | {m['true_grouping_mi']:.4f} "
                f"| {m['truth_below_shuffles']:.2f} |"
            )
    lines += [
        "",
        "Grouping accuracy: share of components grouped with the cause that drives most of their "
        "variance (1 = perfect, up to swapping the groups). Chance: the expected accuracy of a "
        "random grouping with the annealed group sizes (`jaxdis.ica.chance_grouping_accuracy`; "
        "above 0.5 because the score takes the better labelling), averaged over trials. Above "
        "chance: mean of accuracy minus chance over trials, +- its standard error. "
        "Component purity: mean of max(share, 1 - share). Cause recovery: "
        "`jaxdis.metrics.cause_recovery` (centred) of the single-cause reconstructions. "
        "Truth below "
        f"shuffles: share of {config.random_groupings} random shuffles of the true grouping (same "
        "group sizes) whose MI is above the true grouping's, averaged over trials (1: eq. 6.2 "
        "prefers the truth to every shuffle). Annealed below truth: share of trials whose "
        "annealed grouping has a lower MI than the true one (the objective, not the search, "
        "then stands between the annealer and the truth).",
        "",
    ]
    return "\n".join(lines)


def _chance(setting) -> list[float]:
    """Each trial's chance accuracy, from the group sizes its summary records."""
    return [ica.chance_grouping_accuracy(setting["n_sources"], t["true_components_in_a"],
                                         t["components_in_a"]) for t in setting["trials"]]


def _above_chance(setting) -> str:
    gain = np.array([t["accuracy"] for t in setting["trials"]]) - np.array(_chance(setting))
    error = gain.std(ddof=1) / np.sqrt(gain.size) if gain.size > 1 else np.nan
    return f"{gain.mean():+.3f} +- {error:.3f}"


def _mean_or_dash(values) -> str:
    return f"{values.mean():.3f}" if values.size else "-"


def _negative_mi_table(settings) -> list[str]:
    """The thesis's reading of Fig. 6.4, measured: "scores below zero result in visible
    disentangling". Do trials that end below zero group better, and does a lower final MI go with
    a higher accuracy across trials (Spearman rank correlation; negative if it does)?"""
    from scipy.stats import spearmanr

    lines = [
        "",
        "Fig. 6.4's reading (\"scores below zero result in visible disentangling\"), measured:",
        "",
        "| sources | trials with final MI < 0 | their accuracy | accuracy of the others "
        "| rank correlation of final MI and accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in settings:
        final_mi = np.array([t["final_mi"] for t in s["trials"]])
        accuracy = np.array([t["accuracy"] for t in s["trials"]])
        below = final_mi < 0
        correlation = spearmanr(final_mi, accuracy).statistic if len(s["trials"]) > 2 else np.nan
        lines.append(
            f"| {s['n_sources']} | {below.sum()} of {below.size} "
            f"| {_mean_or_dash(accuracy[below])} | {_mean_or_dash(accuracy[~below])} "
            f"| {correlation:.2f} |"
        )
    return lines


EXPERIMENT = Experiment(
    name="ppica",
    summary="post-processed ICA (thesis ch. 6): FastICA + annealed cause grouping on rotated MNIST",
    make_config=make_config,
    run=run,
    validate=validate,
)


def rewrite_report(run_dir) -> str:
    """``report.md`` of a finished run again, from its ``config.json`` and ``summary.json`` (to
    re-render a report after a change to :func:`report` without running again)."""
    import json
    from pathlib import Path

    from jaxdis.config import apply_overrides

    run_dir = Path(run_dir)
    config = apply_overrides(PPICAConfig(), json.loads((run_dir / "config.json").read_text()))
    text = report(config, json.loads((run_dir / "summary.json").read_text()))
    (run_dir / "report.md").write_text(text)
    return text


if __name__ == "__main__":
    import sys

    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m experiments.ppica RUN_DIR  (rewrites RUN_DIR/report.md)")
    print(rewrite_report(sys.argv[1]))
