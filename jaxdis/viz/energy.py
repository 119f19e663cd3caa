"""Figures and tables of the Broadnet studies (thesis ch. 3, 4).

Figures: the exact posterior beside the sampler (Fig. 4.5), activity along inference (Fig. 4.6)
and its sweeps (Fig. 4.7, 4.8), log-likelihood curves (Fig. 4.9a, 4.10a), unit weights as images
(Fig. 3.4, 4.9b), unit configurations (Fig. 4.12, 4.13, 4.14, 4.15, 4.16) and interpolation
between a unit pair (Fig. 4.17a). Each takes NumPy arrays and returns a matplotlib Figure (save it
with ``RunDir.save_figure``); the numbers come from ``jaxdis.energy.analysis``.

Tables: the thesis's findings beside ours (:func:`thesis_tables`, :func:`cd_rows`), drawn from
the numbers each study records, as rows for ``jaxdis.viz.tables.markdown_table``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def _check_rows(values, name: str, ndim: int = 2) -> np.ndarray:
    values = np.asarray(values, float)
    if values.ndim != ndim:
        raise ValueError(f"{name}: expected {ndim} dimensions, got shape {values.shape}")
    return values


def posterior_vs_sampler(exact_probs, frequencies, num_samples: int, title: str = ""):
    """Fig. 4.5: the exact log-posterior of each joint hidden state (red line), states ordered by
    it, and the log frequency of each state among ``num_samples`` sampler draws (blue dots, where
    sampled); the states shown are the sampled ones' count plus 20 (at least 30)."""
    exact_probs = _check_rows(exact_probs, "exact_probs", 1)
    frequencies = _check_rows(frequencies, "frequencies", 1)
    if frequencies.shape != exact_probs.shape:
        raise ValueError(f"frequencies: expected the shape of exact_probs {exact_probs.shape}, "
                         f"got {frequencies.shape}")
    fig, ax = _figure(figsize=(7, 4))
    shown = np.argsort(-exact_probs)[: max(int(np.sum(frequencies > 0)), 10) + 20]
    ax.plot(np.arange(len(shown)), np.log(exact_probs[shown]), "r-", label="exact log-posterior")
    hit = frequencies[shown] > 0
    ax.plot(np.arange(len(shown))[hit], np.log(frequencies[shown][hit]), "b.",
            label=f"log frequency, {num_samples} samples")
    ax.set_xlabel("hidden state (ordered by exact posterior)")
    ax.set_ylabel("log probability")
    ax.set_title(title)
    ax.legend()
    return fig


def activity_curves(activity, title: str = "", examples_shown: int = 10):
    """Fig. 4.6: the activity (thesis eq. 4.8) of ``activity`` (T, N) along T iterations of
    inference, thin for the first ``examples_shown`` examples, thick for the mean over all N."""
    activity = _check_rows(activity, "activity")
    fig, ax = _figure(figsize=(6, 4))
    steps = np.arange(1, activity.shape[0] + 1)
    ax.plot(steps, activity[:, :examples_shown], color="tab:blue", alpha=0.3, lw=1)
    ax.plot(steps, activity.mean(1), "o-", color="tab:blue", lw=3, label="mean over the dataset")
    ax.set_xlabel("iteration of inference")
    ax.set_ylabel("activity (eq. 4.8)")
    ax.set_title(title)
    ax.legend()
    return fig


def sweep_curves(curves, values: Sequence[float], label: str, title: str = ""):
    """Fig. 4.7, 4.8: mean activity (S, T) along inference, one curve per setting ``values[s]``
    (named ``label``), coloured from red (smallest) to green (largest), log scale."""
    import matplotlib.pyplot as plt

    curves = _check_rows(curves, "curves")
    if len(values) != len(curves):
        raise ValueError(f"values: expected one per curve ({len(curves)}), got {len(values)}")
    fig, ax = _figure(figsize=(6, 4))
    steps = np.arange(1, curves.shape[1] + 1)
    colours = plt.cm.RdYlGn(np.linspace(0, 1, len(values)))
    for curve, value, colour in zip(curves, values, colours):
        ax.plot(steps, curve, "o-", color=colour, ms=3, label=f"{label} = {value:g}")
    ax.set(xlabel="iteration of inference", ylabel="mean activity (eq. 4.8)", yscale="log",
           title=title)
    ax.legend(fontsize=7)
    return fig


def log_likelihood_curves(curves, title: str = ""):
    """Fig. 4.9a, 4.10a: the exact mean log-likelihood per epoch (R, epochs + 1), one line per
    run."""
    curves = _check_rows(curves, "curves")
    fig, ax = _figure(figsize=(6, 4))
    ax.plot(np.arange(curves.shape[1]), curves.T, color="tab:blue", alpha=0.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean log p(x) (exact)")
    ax.set_title(title)
    return fig


def unit_weights(rows: Sequence[tuple[str, np.ndarray]], image_shape: tuple[int, int],
                 cell_size: tuple[float, float] = (1.3, 1.35), label_size: int = 7,
                 title: str | None = None):
    """One row of images per entry ``(label, weights)`` of ``rows``: each unit's weights (U, D)
    shown as an ``image_shape`` image (Fig. 3.4, 3.6, 3.7, 4.9b); each cell ``cell_size`` inches."""
    if not rows:
        raise ValueError("rows: expected at least one (label, weights) row")
    units = max(len(weights) for _, weights in rows)
    fig, axes = _figure(len(rows), units, figsize=(cell_size[0] * units, cell_size[1] * len(rows)),
                        squeeze=False)
    for row, (label, weights) in enumerate(rows):
        for u, unit in enumerate(np.asarray(weights)):
            axes[row, u].imshow(unit.reshape(image_shape), cmap="gray")
            axes[row, u].set_xticks([]), axes[row, u].set_yticks([])
        axes[row, 0].set_ylabel(label, fontsize=label_size)
    if title is not None:
        fig.suptitle(title, fontsize=9)
    return fig


def unit_configurations(log_likelihood_before, curves, to_original, nearest_other,
                        original_moved: float):
    """Fig. 4.12-4.16 in three panels, configuration 0 the original: the mean log-likelihood of
    each configuration before training (sorted; the original dashed), the retraining curves
    (R, epochs + 1) (the original dashed red), and the model differences (thesis eq. 4.12) of
    the retrained configurations to the original and to their nearest other model (log scale),
    beside how far the original itself moved in retraining."""
    before = _check_rows(log_likelihood_before, "log_likelihood_before", 1)
    curves = _check_rows(curves, "curves")
    to_original = _check_rows(to_original, "to_original", 1)
    fig, axes = _figure(1, 3, figsize=(15, 4))
    axes[0].plot(np.sort(before), "b.")
    axes[0].axhline(before[0], color="r", ls="--", label="original configuration")
    axes[0].set(title="Fig. 4.12 (ours): before training", xlabel="configuration (sorted)",
                ylabel="mean log p(x)")
    axes[0].legend()
    axes[1].plot(curves[1:].T, color="tab:blue", alpha=0.3)
    axes[1].plot(curves[0], "r--", lw=2)
    axes[1].set(title="Fig. 4.13a/4.16 (ours): retraining", xlabel="epoch")
    axes[2].plot(np.sort(to_original[1:]), "b.", label="to the original, trained")
    axes[2].plot(np.sort(nearest_other), "g.", label="to the nearest other model")
    axes[2].axhline(original_moved, color="r", ls="--", label="original: before vs after training")
    axes[2].set(title="Fig. 4.14a, 4.15a (ours): model difference (eq. 4.12)",
                xlabel="configuration (sorted)", yscale="log")
    axes[2].legend(fontsize=7)
    return fig


def interpolation(alphas: Sequence[float], to_original, to_swapped):
    """Fig. 4.17a: the model difference (thesis eq. 4.12) after retraining of each blend
    (pairs, alphas) to the original model, one line per unit pair, and the means to the original
    and to the swapped pair."""
    to_original = _check_rows(to_original, "to_original")
    to_swapped = _check_rows(to_swapped, "to_swapped")
    if to_original.shape != to_swapped.shape or to_original.shape[1] != len(alphas):
        raise ValueError(f"to_original, to_swapped: expected (pairs, {len(alphas)} alphas) each, "
                         f"got {to_original.shape} and {to_swapped.shape}")
    fig, ax = _figure(figsize=(6, 4))
    ax.plot(alphas, to_original.T, color="tab:blue", alpha=0.5)
    ax.plot(alphas, to_original.mean(0), "r.-", lw=2, label="mean, to the original")
    ax.plot(alphas, to_swapped.mean(0), "g.--", lw=2, label="mean, to the swapped pair")
    ax.set(xlabel="alpha (eq. 4.13; 1 = original, 0 = swapped)",
           ylabel="model difference after training (eq. 4.12)",
           title=f"Fig. 4.17a (ours): {len(to_original)} unit pairs")
    ax.legend()
    return fig


# ------------------------------------------------------------------------------------------------
# Tables: the thesis beside ours, drawn from the studies' summaries


def pair(values) -> str:
    """``(0.12, -0.30)``: numbers to two decimals in parentheses."""
    return "(" + ", ".join(f"{float(v):.2f}" for v in values) + ")"


def listing(values, numbers, fmt: str = "{:.2f}") -> str:
    """``0.1: 0.00, 2: 0.86``: each setting (``:g``) with its number."""
    return ", ".join(f"{v:g}: " + fmt.format(n) for v, n in zip(values, numbers))


def _sweep_rows(study: Mapping, settings, thesis_settings: str, thesis_equilibrium: str,
                thesis_step_2: str) -> list:
    return [
        ("settings", thesis_settings, f"{len(settings)}: {pair(settings)}"),
        ("equilibrium activity (mean of steps 3+)", thesis_equilibrium,
         listing(settings, study["equilibrium"])),
        ("step 2 above equilibrium", thesis_step_2, listing(settings, study["step_2_excess"])),
        ("step 1", "the large change",
         listing(settings, [c[0] for c in study["mean_activity"]], "{:.1f}")),
    ]


def thesis_tables(summary: Mapping[str, Mapping], *, posterior_samples: int,
                  bias_share_threshold: float, exact_epochs: int) -> list:
    """The thesis's findings beside ours, one table per study of thesis ch. 4 in ``summary``:
    ``[(title, [(quantity, thesis, ours)])]`` in the thesis's order (Fig. 4.5, 4.6, 4.7, 4.8, 4.9,
    4.10, 4.12-4.16, 4.17). ``summary`` maps a study ("posterior", "activity", "activity-sigma",
    "activity-scale", "exact-training", "grbm-init-training", "configurations",
    "interpolation") to the numbers ``experiments/broadnet.py`` records for it (a summary read
    back from JSON works: NaN as the string "nan" included); the keyword arguments are the
    settings the "ours" column quotes."""
    tables = []
    if s := summary.get("posterior"):
        tables.append(("Exact posterior vs sampler (Fig. 4.5)", [
            ("hidden states", "4096", str(s["states"])),
            ("states ever sampled", "596 (of 10000 samples)",
             f"{s['states_sampled']} (of {posterior_samples})"),
            ("agreement", "'the inference procedure appears to be correct' (by eye)",
             f"total variation {s['total_variation']:.4f} (a multinomial draw of the exact "
             f"posterior: {s['total_variation_of_exact_multinomial_draw']:.4f})"),
        ]))
    if s := summary.get("activity"):
        tables.append(("Activity along inference (Fig. 4.6)", [
            ("step 1", "large (first step does the work)", f"{s['activity_step_1']:.2f}"),
            ("step 2 vs equilibrium", "near-constant from step 2 (< 1 unit of 100 extra)",
             f"{float(s['activity_step_2']):.2f} vs "
             f"{float(s['activity_equilibrium_steps_3_on']):.2f} (mean of steps 3+)"),
        ]))
    if s := summary.get("activity-sigma"):
        tables.append(("Activity against sigma (Fig. 4.7)", _sweep_rows(
            s, s["sigmas"], "30 values of sigma in (0, 3]", "set by sigma",
            "about 1 unit (of 100) as sigma -> 0; not negotiation")))
    if s := summary.get("activity-scale"):
        tables.append((f"Activity against the data's scale alpha, sigma = {s['sigma']:g} "
                       "(Fig. 4.8)", _sweep_rows(
            s, s["alphas"], "20 values of alpha in [0.1, 5]", "falls as alpha grows",
            "slightly, at large alpha: under 1 unit")))
    if s := summary.get("exact-training"):
        recovery = np.asarray(s["cause_recovery_per_run"], float)
        tables.append(("Exact-gradient training from random initialisation (Fig. 4.9)", [
            ("runs", "30", str(s["runs"])),
            ("one cause becomes a bias", "83%",
             f"{100 * s['share_one_cause_bias']:.0f}% (min variance share < "
             f"{bias_share_threshold})"),
            ("disentangled runs", "none (by eye)",
             f"best cause-recovery R^2 over runs: {recovery.min(1).max():.2f} "
             "(the worse cause of the run)"),
            ("converged by epoch 20", "mostly",
             f"{100 * s['gain_share_by_epoch_20']:.0f}% of the epoch-0-to-{exact_epochs} gain "
             "reached"),
        ]))
    if s := summary.get("grbm-init-training"):
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
    if s := summary.get("configurations"):
        others = s["configurations"] - 1
        tables.append(("Unit configurations retrained (Fig. 4.12-4.16)", [
            ("configurations", "120", f"{others + 1} (C(10,5)/2: the causes' names swapped are "
                                      "the same model)"),
            ("worse than the original before training", "almost all (Fig. 4.12)",
             f"{s['worse_than_original_before']} of {others}"),
            ("better than the original after retraining", "several (Fig. 4.13, 4.16)",
             f"{s['better_than_original_after']} of {others} (mean log-likelihood of the "
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
    if s := summary.get("interpolation"):
        tables.append(("Interpolation between a unit pair (Fig. 4.17)", [
            ("which optimum is reached", "the original on one side of alpha = 0.5, the swapped "
             "pair on the other; exactly neither", "closer to the original, per alpha "
             + ", ".join(f"{a}: {100 * c:.0f}%"
                         for a, c in zip(s["alphas"], s["share_closer_to_original"]))),
            ("distance to the original", "grows across 0.5 (Fig. 4.17a)",
             ", ".join(f"{a}: {d:.3g}" for a, d in zip(s["alphas"], s["mean_to_original"]))),
        ]))
    return tables


CD_THESIS = {"gradient": "fairly well disentangled with samples and batch <= 5 (Fig. 3.4, by "
                         "eye); fails to train without either",
             "rotated": "no run of the grid (table 3.1) disentangled (Fig. 3.6)",
             "side-by-side": "entangled optimum, though disentangling is trivial (Fig. 3.7)"}
CD_COLUMNS = ("data", "thesis", "variant", "batch", "exact log p(x) per image: start -> end",
              "centred R^2 (A, B)", "explained")


def cd_rows(cd_summary: Mapping[str, Mapping], names: Sequence[str]) -> list:
    """One row per CD-trained setting of thesis section 3.5 (Fig. 3.4, 3.6, 3.7), with
    :data:`CD_COLUMNS`: the dataset and what the thesis found on it, the variant and its batch,
    and per run the exact log-likelihood at the start and end ("diverged" when not finite), the
    centred cause recovery and the explained variance. ``cd_summary`` maps "dataset/variant" to
    its numbers; the rows follow ``names`` (those of them in the summary)."""
    rows = []
    for name in [n for n in names if n in cd_summary]:
        row = cd_summary[name]
        dataset, variant = name.split("/", 1)
        ll = "; ".join(f"{float(a):.0f} -> " + (f"{float(b):.0f}" if np.isfinite(float(b))
                                                 else "diverged")
                       for a, b in zip(row["log_likelihood_start"], row["log_likelihood_end"]))
        rows.append((dataset, CD_THESIS.get(dataset, ""), variant, row["batch"], ll,
                     "; ".join(pair(r) for r in row["centred_recovery"]),
                     "; ".join(f"{float(e):.2f}" for e in row["explained_variance"])))
    return rows


def cd_reading(cd_summary: Mapping[str, Mapping], threshold: float = 0.1) -> str:
    """The CD study of thesis section 3.5 in words, from its summary (as for :func:`cd_rows`):
    which runs recovered a cause (centred R^2 above ``threshold``), and where every other cause's
    centred R^2 lies."""
    found, others, runs = [], [], 0
    for name, row in cd_summary.items():
        if "/" not in name:
            continue
        for r, values in enumerate(row["centred_recovery"]):
            runs += 1
            for cause, value in enumerate(values):
                value = float(value)
                if value > threshold:
                    found.append(f"cause {'AB'[cause]} of run {r} of {name} ({value:.2f})")
                else:
                    others.append(value)
    return (f"Of the {runs} CD runs, {len(found) or 'none'} recovered a cause (centred R^2 above "
            f"{threshold}){': ' + '; '.join(found) if found else ''}. Every other cause's centred "
            f"R^2 lies in [{min(others):.2f}, {max(others):.2f}]: with reconstructions that "
            "explain about none of the variance, that is the thesis's mean optimum.")


def sweep_reading(sigma_sweep: Mapping, scale_sweep: Mapping, num_units: int) -> str:
    """The activity sweeps of thesis Fig. 4.7, 4.8 in words, from their summaries (as for
    :func:`thesis_tables`) for Broadnets of ``num_units`` per cause: where the equilibrium activity
    is above 0.05, how far step 2 rises above it, and the largest equilibrium of the scale sweep."""
    live = [(sg, ex) for sg, eq, ex in zip(sigma_sweep["sigmas"], sigma_sweep["equilibrium"],
                                            sigma_sweep["step_2_excess"]) if eq > 0.05]
    return (
        "Fig. 4.7, 4.8: in this package's sigma convention (p(h = 1 | x) = sigmoid(W x / sigma^2 + "
        f"b)) a {num_units} + {num_units} Broadnet whose equilibrium activity is about 0 has a "
        "near-deterministic posterior: step 1 moves every unit from 0.5 to 0 or 1 and nothing "
        "moves after. Equilibrium activity above 0.05 appears only at sigma = "
        + (", ".join(f"{sg:g}" for sg, _ in live) or "none")
        + (f", with step 2 at most {max(ex for _, ex in live):.1f} units above it" if live else "")
        + f"; at sigma = {scale_sweep['sigma']:g} the equilibrium activity is at most "
        f"{max(scale_sweep['equilibrium']):.2f} at every alpha, so the thesis's \"equilibrium "
        "activity falls as alpha grows\" cannot show here. As in the thesis, no run shows several "
        "iterations of high activity (no negotiation).")
