"""Post-processed ICA on upright 0/1/2 plus rotated 3/4/5 MNIST digits (thesis ch. 6, Fig. 6.2-6.5).

FastICA finds C sources of the composite images; Alg. 4 then anneals the binary cause membership
of each source to minimise the Kraskov MI between the two groups (thesis eq. 6.2, 6.3, 6.4). The
thesis judged the groupings by eye ("good at 50 sources, mostly failing at 200"); here they are
measured by ``jaxdis.ica.score_grouping`` (each component's true cause, the share of components
grouped with it, how cleanly ICA separated the causes, and the cause recovery of the single-cause
reconstructions) and ``jaxdis.ica.truth_against_shuffles``: the MI of the true grouping beside the
MI the annealer reached; when the annealer ends below the truth, the objective (not the search) is
what fails.

Section 6.4's ICA-tolerance sensitivity is a sweep over scikit-learn's FastICA ``tol`` (the
thesis's "entropy minus a tolerance" criterion is not exposed by scikit-learn; see
``jaxdis.ica.fast_ica``).

Annealing uses ``jaxdis.ica.kraskov_flip_cost`` by default (``cost="flip"``): the same
thesis eq. 6.2 estimate as ``group_mi_cost`` (equal in tests/test_ica.py), carried from flip to
flip, O(N^2) per proposal instead of O(N^2 C); ``--set cost=ksg`` anneals with the plain KSG cost.

Scale. The default config is reduced for a CPU: 1000 images (MI on 500 of them), 2 trials, 6
annealing sweeps, a 4-point tolerance sweep. The thesis's setting (its wall time on a 2-core CPU
is in experiments/results/ppica.md) is::

    jaxdis run ppica --seeds 30 --set n_images=5000 --set mi_samples=5000

The thesis does not state its number of annealing iterations; 6 sweeps is our choice.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import jax
import numpy as np

from jaxdis import ica
from jaxdis.registry import Experiment
from jaxdis.viz import ica as ica_viz
from jaxdis.viz.tables import markdown_table


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
      t0: thesis eq. 6.4's starting temperature.
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

    seeds: int = 2
    seeds_per_setting: tuple[int, ...] = ()
    n_images: int = 1000
    mi_samples: int = 500
    n_sources: tuple[int, ...] = (50, 200)
    sweeps: int = 6
    proposal: str = "single"
    chains: int = 1
    t0: float = 0.1
    k: int = 3
    cost: str = "flip"
    random_groupings: int = 4
    jitter: float = 1e-10
    ica_tol: float = 1e-4
    ica_max_iter: int = 500
    ica_fun: str = "logcosh"
    ica_dtype: str = "float32"
    tol_sweep: tuple[float, ...] = (1e-1, 1e-2, 1e-3, 1e-4)
    tol_sweep_sources: int = 50
    tol_sweep_seeds: int = 2
    trial_batch: int = 1
    seed: int = 0
    split: str = "train"
    n_shown: int = 8


def make_config(dataset: str | None) -> PPICAConfig:
    del dataset  # the thesis's data only
    return PPICAConfig()


def run_setting(config, composite, n_sources, ica_tol, n_trials, seed_offset):
    """FastICA restarts, annealing (``ica.anneal_trials``, the lowest final MI of each trial's
    chains kept) and scores for one (n_sources, tol): a dict of per-trial lists plus the arrays
    the figures need."""
    x = composite.x.reshape(len(composite), -1)
    start = time.perf_counter()
    fits = [ica.fast_ica(x, n_sources, tol=ica_tol, max_iter=config.ica_max_iter,
                         fun=config.ica_fun, fit_dtype=config.ica_dtype,
                         seed=config.seed + seed_offset + trial) for trial in range(n_trials)]
    ica_seconds = time.perf_counter() - start

    n_steps = config.sweeps * n_sources if config.proposal == "single" else config.sweeps
    keys = jax.random.split(jax.random.key(config.seed + seed_offset), (n_trials, config.chains))
    sources = np.stack([fit.sources[: config.mi_samples] for fit in fits])
    start = time.perf_counter()
    result = jax.block_until_ready(ica.anneal_trials(
        sources, keys, n_steps=n_steps, proposal=config.proposal, t0=config.t0, k=config.k,
        jitter=config.jitter, trial_batch=config.trial_batch, cost=config.cost))
    anneal_seconds = time.perf_counter() - start
    best_chain = np.argmin(np.asarray(result.cost), axis=1)  # per trial
    masks = np.asarray(result.mask)[np.arange(n_trials), best_chain]  # (R, C)
    curves = np.asarray(result.trace.cost)[np.arange(n_trials), best_chain]  # (R, n_steps)

    trials, shares = [], []
    for trial, fit in enumerate(fits):
        scores = ica.score_grouping(fit, masks[trial], composite.cause_a, composite.cause_b)
        shares.append(scores.pop("share_a"))
        truth = ica.truth_against_shuffles(
            fit.sources[: config.mi_samples], shares[-1] > 0.5, config.random_groupings,
            config.seed + seed_offset + trial, k=config.k, jitter=config.jitter,
            key=jax.random.fold_in(keys[trial, 0], 1))
        trials.append({
            "ica_iterations": fit.n_iter,
            "ica_converged": fit.n_iter < config.ica_max_iter,
            "final_mi": float(curves[trial, -1]),
            "annealed_below_truth": bool(curves[trial, -1] < truth["true_grouping_mi"]),
            "nonfinite_costs": int(np.asarray(result.trace.nonfinite)[trial].sum()),
            **scores,  # accuracy, purity, cause_recovery, components_in_a, true_components_in_a
            **truth,  # true_grouping_mi, shuffled_truth_mi, truth_below_shuffles
        })
    steps_per_sweep = n_steps // config.sweeps
    means = {key: _nanmean([t[key] for t in trials])
             for key in ("accuracy", "purity", "cause_recovery", "final_mi", "true_grouping_mi",
                         "truth_below_shuffles", "annealed_below_truth")}
    return {"n_sources": n_sources, "ica_tol": ica_tol, "n_steps": n_steps,
            "mi_after_each_sweep": curves[:, steps_per_sweep - 1 :: steps_per_sweep],  # Fig. 6.4
            "ica_seconds": ica_seconds, "anneal_seconds": anneal_seconds, "trials": trials,
            "mean": means}, {"fits": fits, "masks": masks, "curves": curves, "shares": shares}


def validate(config: PPICAConfig) -> None:
    """Raises ValueError for a config that cannot run, before any data is loaded (`jaxdis run`
    calls it before it creates the run folder; ``run`` calls it too)."""
    if config.seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {config.seeds}")
    if not 1 <= config.mi_samples <= config.n_images:
        raise ValueError(f"mi_samples must be in [1, n_images={config.n_images}], "
                         f"got {config.mi_samples}")
    if config.seeds_per_setting and len(config.seeds_per_setting) != len(config.n_sources):
        raise ValueError(f"seeds_per_setting must have one entry per n_sources "
                         f"{config.n_sources}, got {config.seeds_per_setting}")
    for name, allowed in (("proposal", ica.PROPOSALS), ("ica_fun", ICA_FUNS),
                          ("ica_dtype", ("float32", "float64")), ("cost", ica.COSTS)):
        if getattr(config, name) not in allowed:
            raise ValueError(f"{name} must be one of {allowed}, got {getattr(config, name)!r}")


def run(config: PPICAConfig, run_dir) -> dict:
    from jaxdis import data

    validate(config)
    start = time.perf_counter()
    images, labels = data.load_mnist(config.split)
    composite = data.make_rotated_composite(
        images, labels, classes_a=(0, 1, 2), classes_b=(3, 4, 5), n_pairs=config.n_images,
        seed=config.seed, combine="sum")

    settings, arrays = [], {}
    trials_per_setting = config.seeds_per_setting or (config.seeds,) * len(config.n_sources)
    for offset, (n_sources, n_trials) in enumerate(zip(config.n_sources, trials_per_setting)):
        setting, arrays[n_sources] = run_setting(config, composite, n_sources, config.ica_tol,
                                                 n_trials, seed_offset=1000 * offset)
        settings.append(_logged(run_dir, "sources", setting))
    tol_sweep = [_logged(run_dir, "tol_sweep", run_setting(
        config, composite, config.tol_sweep_sources, tol, config.tol_sweep_seeds,
        seed_offset=100_000 + 1000 * offset)[0]) for offset, tol in enumerate(config.tol_sweep)]
    summary = {"device": jax.devices()[0].device_kind, "settings": settings,
               "tol_sweep": tol_sweep, "wall_seconds": time.perf_counter() - start}
    curves = [arrays[n]["curves"] for n in config.n_sources]
    run_dir.save_figure(ica_viz.mi_curves(settings, curves, tol_sweep), "ppica_mi_curves")
    for n_sources in config.n_sources:  # Fig. 6.3, 6.5: the trial with the lowest final MI
        trial = int(np.argmin(arrays[n_sources]["curves"][:, -1]))
        fit, mask, share = (arrays[n_sources][name][trial] for name in ("fits", "masks", "shares"))
        run_dir.save_figure(ica_viz.grouping(
            composite.x, fit, mask, share, f"{n_sources} sources (trial {trial}, lowest final MI)",
            config.n_shown), f"ppica_groups_{n_sources}")
    (run_dir.path / "report.md").write_text(report(config, summary))
    return summary


def _nanmean(values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN: the mean is NaN, say so
        return float(np.nanmean(values))


def _logged(run_dir, part, setting):
    """Records a setting (its per-trial accuracy, not the other per-trial numbers) in the metrics
    and prints it; returns it."""
    flat = {k: v for k, v in setting.items() if k not in ("trials", "mi_after_each_sweep")}
    run_dir.log_metrics({"part": part, **flat,
                         "per_trial_accuracy": [t["accuracy"] for t in setting["trials"]]})
    mean = setting["mean"]
    print(f"C={setting['n_sources']} tol={setting['ica_tol']:g}: accuracy {mean['accuracy']:.3f} "
          f"purity {mean['purity']:.3f} cause recovery {mean['cause_recovery']:.3f} "
          f"MI {mean['final_mi']:.4f} (truth {mean['true_grouping_mi']:.4f}) "
          f"[ICA {setting['ica_seconds']:.0f} s, annealing {setting['anneal_seconds']:.0f} s]",
          flush=True)
    return setting


def report(config, summary) -> str:
    """The run's ``report.md``: every number from ``summary`` and ``config``."""
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
        *markdown_table(ica_viz.SETTING_COLUMNS, ica_viz.setting_rows(summary["settings"])),
        "",
        "Fig. 6.4's reading (\"scores below zero result in visible disentangling\"), measured:",
        "",
        *markdown_table(ica_viz.NEGATIVE_MI_COLUMNS, ica_viz.negative_mi_rows(summary["settings"])),
    ]
    if summary["tol_sweep"]:
        lines += [
            "",
            "ICA tolerance (section 6.4: best when strict enough that no component mixes causes, "
            "loose enough to leave shared information within a cause):",
            "",
            *markdown_table(ica_viz.TOLERANCE_COLUMNS,
                            ica_viz.tolerance_rows(summary["tol_sweep"])),
        ]
    return "\n".join(lines + ["", ica_viz.columns_legend(config.random_groupings), ""])


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
