"""Figures and tables of post-processed ICA (thesis ch. 6).

Figures: the MI of each annealing trial along its steps (Fig. 6.4) beside the tolerance sweep of
thesis section 6.4 (:func:`mi_curves`), and the components of each recovered cause with
single-cause reconstructions (Fig. 6.3, 6.5; :func:`grouping`). Each returns a matplotlib Figure
(save it with ``RunDir.save_figure``).

Tables: rows for ``jaxdis.viz.tables.markdown_table`` drawn from the per-trial numbers a run
records (:func:`negative_mi_rows`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from jaxdis.ica import ICAResult, reconstruct


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def mi_curves(settings: Sequence[Mapping], curves: Sequence, tol_sweep: Sequence[Mapping] = ()):
    """Fig. 6.4: the MI (thesis eq. 6.2) of every trial along its annealing steps, one panel per
    setting (``settings[i]["n_sources"]``, ``curves[i]`` (trials, steps)); and, when ``tol_sweep``
    is given, a panel of its mean grouping accuracy, component purity and cause recovery against
    FastICA's tol (thesis section 6.4). A setting is a summary with "n_sources", "ica_tol" and
    "mean" (of "accuracy", "purity", "cause_recovery")."""
    if len(curves) != len(settings):
        raise ValueError(f"curves: expected one (trials, steps) array per setting "
                         f"({len(settings)}), got {len(curves)}")
    panels = len(settings) + (1 if tol_sweep else 0)
    fig, axes = _figure(1, panels, figsize=(4 * panels, 3.2), squeeze=False)
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


def grouping(x, fit: ICAResult, mask, share_a, title: str, n_shown: int = 8,
             n_components: int = 12):
    """Fig. 6.3, 6.5: the first ``n_components`` components (columns of the mixing matrix) of
    each group of ``mask``, each marked with the share of its variance the upright digit (cause
    A) drives (``share_a``), and for the first ``n_shown`` images of x (N, side, side): the input,
    the reconstructions from group A only, from group B only (thesis eq. 6.1) and from all
    components."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[1] != x.shape[2]:
        raise ValueError(f"x: expected square images (N, side, side), got shape {x.shape}")
    mask = np.asarray(mask, bool)
    side = x.shape[-1]
    fig, axes = _figure(2 + n_shown // 2, max(n_components, 8), figsize=(12, 6.5))
    for ax in axes.ravel():
        ax.axis("off")
    for row, (name, members) in enumerate((("A", np.flatnonzero(mask)),
                                           ("B", np.flatnonzero(~mask)))):
        for col, c in enumerate(members[:n_components]):
            axes[row, col].imshow(fit.mixing[:, c].reshape(side, side), cmap="gray")
            axes[row, col].text(0, side + 5, f"up {share_a[c]:.2f}", fontsize=6)
        axes[row, 0].set_title(f"cause {name}: {len(members)} components", fontsize=8, loc="left")
    everything = np.ones_like(mask)
    for i in range(n_shown):
        row, col = 2 + i // 2, 4 * (i % 2)
        images = [x[i].ravel()] + [
            np.asarray(reconstruct(fit.sources[i:i + 1], fit.mixing, fit.mean, m))[0]
            for m in (mask, ~mask, everything)
        ]
        for j, image in enumerate(images):
            axes[row, col + j].imshow(image.reshape(side, side), cmap="gray")
            if i < 2:
                axes[row, col + j].set_title(("input", "A only", "B only", "all")[j], fontsize=8)
    fig.suptitle(title)
    return fig


NEGATIVE_MI_COLUMNS = ("sources", "trials with final MI < 0", "their accuracy",
                       "accuracy of the others", "rank correlation of final MI and accuracy")


def negative_mi_rows(settings: Sequence[Mapping]) -> list:
    """The thesis's reading of Fig. 6.4, "scores below zero result in visible disentangling",
    measured per setting (a summary with "n_sources" and "trials", each trial with "final_mi" and
    "accuracy"): how many trials end below zero, their mean accuracy and the others', and the
    Spearman rank correlation of final MI and accuracy across trials (negative if a lower MI goes
    with a better grouping; NaN with fewer than 3 trials). Columns: :data:`NEGATIVE_MI_COLUMNS`."""
    from scipy.stats import spearmanr

    def mean_or_dash(values):
        return f"{values.mean():.3f}" if values.size else "-"

    rows = []
    for s in settings:
        final_mi = np.array([t["final_mi"] for t in s["trials"]])
        accuracy = np.array([t["accuracy"] for t in s["trials"]])
        below = final_mi < 0
        correlation = spearmanr(final_mi, accuracy).statistic if len(s["trials"]) > 2 else np.nan
        rows.append((s["n_sources"], f"{below.sum()} of {below.size}",
                     mean_or_dash(accuracy[below]), mean_or_dash(accuracy[~below]),
                     f"{correlation:.2f}"))
    return rows


THESIS_CLAIMS = {50: "well separated into two causes (Fig. 6.3)",
                 200: "largely fails to separate causes despite a low MI (Fig. 6.5)"}
_MEASURES = ("chance", "above chance", "component purity", "cause recovery", "final MI",
             "MI of true grouping", "truth below shuffles")
SETTING_COLUMNS = ("sources", "thesis (by eye)", "grouping accuracy", *_MEASURES,
                   "annealed below truth")
TOLERANCE_COLUMNS = ("FastICA tol", "ICA iterations", "grouping accuracy", *_MEASURES)


def _chance(setting: Mapping) -> list[float]:
    """Each trial's chance accuracy (``ica.chance_grouping_accuracy``), from its group sizes."""
    from jaxdis.ica import chance_grouping_accuracy

    return [chance_grouping_accuracy(setting["n_sources"], t["true_components_in_a"],
                                     t["components_in_a"]) for t in setting["trials"]]


def _measures(setting: Mapping) -> tuple:
    """The cells of :data:`_MEASURES`: chance averaged over trials, accuracy minus chance (mean
    over trials +- its standard error), and the means of the setting's summary."""
    m = setting["mean"]
    gain = np.array([t["accuracy"] for t in setting["trials"]]) - np.array(_chance(setting))
    error = gain.std(ddof=1) / np.sqrt(gain.size) if gain.size > 1 else np.nan
    return (f"{np.mean(_chance(setting)):.3f}", f"{gain.mean():+.3f} +- {error:.3f}",
            f"{m['purity']:.3f}", f"{m['cause_recovery']:.3f}", f"{m['final_mi']:.4f}",
            f"{m['true_grouping_mi']:.4f}", f"{m['truth_below_shuffles']:.2f}")


def setting_rows(settings: Sequence[Mapping]) -> list:
    """One row per number of sources (:data:`SETTING_COLUMNS`): what the thesis saw by eye
    (:data:`THESIS_CLAIMS`) beside the measured grouping accuracy (mean, sd and range over
    trials), its chance level, the purity, cause recovery and MI readings. A setting is the
    summary ``experiments/ppica.py`` records: "n_sources", "mean" and per-trial "trials"."""
    rows = []
    for s in settings:
        accuracy = [t["accuracy"] for t in s["trials"]]
        rows.append((s["n_sources"], THESIS_CLAIMS.get(s["n_sources"], ""),
                     f"{s['mean']['accuracy']:.3f} (sd {np.std(accuracy):.3f}, "
                     f"{min(accuracy):.2f}-{max(accuracy):.2f})", *_measures(s),
                     f"{s['mean']['annealed_below_truth']:.2f}"))
    return rows


def tolerance_rows(tol_sweep: Sequence[Mapping]) -> list:
    """One row per FastICA tolerance of thesis section 6.4's sweep (:data:`TOLERANCE_COLUMNS`):
    the ICA iterations of each trial, the grouping accuracy and the readings of
    :func:`setting_rows`."""
    return [(f"{s['ica_tol']:g}", ", ".join(str(t["ica_iterations"]) for t in s["trials"]),
             f"{s['mean']['accuracy']:.3f}", *_measures(s)) for s in tol_sweep]


def columns_legend(random_groupings: int) -> str:
    """What the columns of :func:`setting_rows` and :func:`tolerance_rows` mean, in words
    (``random_groupings``: the shuffles of the true grouping each trial scored)."""
    return (
        "Grouping accuracy: share of components grouped with the cause that drives most of their "
        "variance (1 = perfect, up to swapping the groups). Chance: the expected accuracy of a "
        "random grouping with the annealed group sizes (`jaxdis.ica.chance_grouping_accuracy`; "
        "above 0.5 because the score takes the better labelling), averaged over trials. Above "
        "chance: mean of accuracy minus chance over trials, +- its standard error. "
        "Component purity: mean of max(share, 1 - share). Cause recovery: "
        "`jaxdis.metrics.cause_recovery` (centred) of the single-cause reconstructions. "
        f"Truth below shuffles: share of {random_groupings} random shuffles of the true grouping "
        "(same group sizes) whose MI is above the true grouping's, averaged over trials (1: eq. "
        "6.2 prefers the truth to every shuffle). Annealed below truth: share of trials whose "
        "annealed grouping has a lower MI than the true one (the objective, not the search, "
        "then stands between the annealer and the truth).")
