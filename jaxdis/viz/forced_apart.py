"""The figures of Forced Apart: which unit fires most (Fig. 2, 3), PCA views (Fig. 5), AMI against
the number of clusters (Fig. 6), and the margin sweep of section 3.4; and the markdown tables of
the report (Table 1 beside the paper's, the autoencoder column, Fig. 6 as numbers, the margin
sweep, the check of the paper's claim), assembled per run by :func:`run_markdown`.

Each figure function takes NumPy arrays and returns a matplotlib Figure (save it with
``RunDir.save_figure``); the counting and projecting are separate functions so tests can check them.
Each table function takes a run summary's entries (``{"mean", "std", "per_seed"}`` per score) and
returns markdown lines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def _figure(*args, **kwargs):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def most_active_unit_counts(fc1, classes, n_classes: int | None = None) -> np.ndarray:
    """counts[u, c]: how many examples of class c have unit u as their most active FC1 unit
    (Forced Apart Fig. 2, 3). ``fc1`` (N, U) activations, ``classes`` (N,) ints."""
    fc1, classes = np.asarray(fc1), np.asarray(classes)
    if fc1.ndim != 2 or classes.shape != fc1.shape[:1]:
        raise ValueError(f"fc1 (N, units) and classes (N,): got {fc1.shape} and {classes.shape}")
    n_classes = int(classes.max()) + 1 if n_classes is None else n_classes
    counts = np.zeros((fc1.shape[1], n_classes), np.int64)
    np.add.at(counts, (np.argmax(fc1, axis=1), classes), 1)
    return counts


def unit_histograms(panels: Mapping[str, tuple[np.ndarray, np.ndarray]], class_names=None):
    """One panel per entry ``title -> (fc1, classes)``: for each FC1 unit (y axis), a stacked bar
    of the examples for which it is the most active unit, coloured by original class."""
    fig, axes = _figure(1, len(panels), figsize=(4.5 * len(panels), 4), squeeze=False)
    import matplotlib.pyplot as plt

    for ax, (title, (fc1, classes)) in zip(axes[0], panels.items()):
        counts = most_active_unit_counts(fc1, classes)
        left = np.zeros(counts.shape[0])
        colours = plt.get_cmap("tab10" if counts.shape[1] <= 10 else "tab20")
        for c in range(counts.shape[1]):
            label = class_names[c] if class_names is not None else str(c)
            ax.barh(np.arange(counts.shape[0]), counts[:, c], left=left, color=colours(c),
                    label=label)
            left += counts[:, c]
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("examples whose most active unit it is")
        ax.set_ylabel("FC1 unit")
        ax.set_yticks(np.arange(counts.shape[0]))
    axes[0, -1].legend(fontsize=7, title="class", loc="lower right")
    fig.tight_layout()
    return fig


def pca_2d(features) -> np.ndarray:
    """The projection of ``features`` (N, D) on its first two principal components, (N, 2)."""
    features = np.asarray(features, np.float64)
    centred = features - features.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return centred @ vt[:2].T


def pca_views(rows: Mapping[str, np.ndarray], binary, classes):
    """Forced Apart Fig. 5: for each ``title -> fc1`` a row of two PCA scatter plots, coloured by
    the binary label and by the original class."""
    fig, axes = _figure(len(rows), 2, figsize=(9, 4 * len(rows)), squeeze=False)
    for (title, fc1), (ax_b, ax_c) in zip(rows.items(), axes):
        xy = pca_2d(fc1)
        for ax, colour, name, cmap in ((ax_b, binary, "binary label", "coolwarm"),
                                       (ax_c, classes, "class", "tab10")):
            points = ax.scatter(xy[:, 0], xy[:, 1], c=colour, s=2, cmap=cmap, alpha=0.6)
            ax.set_title(f"{title}, coloured by {name}", fontsize=9)
            ax.set_xticks([]), ax.set_yticks([])
        fig.colorbar(points, ax=ax_c, ticks=np.unique(classes))
    fig.tight_layout()
    return fig


def ami_vs_clusters_plot(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], title=""):
    """Forced Apart Fig. 6: AMI against the number of KMeans clusters, one line per loss."""
    fig, ax = _figure(figsize=(5, 3.5))
    for name, (counts, ami) in curves.items():
        ax.plot(counts, ami, marker="o", label=name)
    ax.set_xlabel("number of clusters")
    ax.set_ylabel("AMI")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def margin_sweep_plot(margins, ami, accuracy, baseline_ami=None, title=""):
    """Section 3.4: AMI (left axis) and binary accuracy (right axis) against the margin m.
    ``ami`` and ``accuracy`` are (n_margins, n_seeds); the mean is drawn with the seeds as dots."""
    margins, ami, accuracy = (np.asarray(a, np.float64) for a in (margins, ami, accuracy))
    fig, ax = _figure(figsize=(5, 3.5))
    ax.plot(margins, ami.mean(axis=1), marker="o", color="C0", label="AMI")
    ax.plot(np.repeat(margins, ami.shape[1]), ami.ravel(), ".", color="C0", alpha=0.4)
    if baseline_ami is not None:
        ax.axhline(baseline_ami, color="C0", ls="--", lw=1, label="AMI, baseline")
    ax.set_xscale("log")
    ax.set_xlabel("margin m")
    ax.set_ylabel("AMI")
    twin = ax.twinx()
    twin.plot(margins, accuracy.mean(axis=1), marker="s", color="C1", label="binary accuracy")
    twin.set_ylabel("binary accuracy")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="lower left")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- report tables


def mean_std_cell(entry) -> str:
    """"0.467 ± 0.012": a score's mean ± std over seeds, from ``{"mean", "std", ...}``."""
    return f"{entry['mean']:.3f} ± {entry['std']:.3f}"


def claim_check(table: Mapping[str, dict], names: Mapping[str, str]) -> list[str]:
    """The paper's claim, checked on one dataset's test set: L_single and L_multi raise AMI over
    the baseline, DeCov and XCov, at a cost of at most 0.5 percentage points of binary accuracy.
    ``table``: {loss: {"test": {"ami", "accuracy"}}}; ``names``: {loss: printed name}. Empty
    without a baseline row."""
    test = {loss: entry["test"] for loss, entry in table.items()}
    if "baseline" not in test:
        return []
    ami = {loss: t["ami"]["mean"] for loss, t in test.items()}
    lines = [f"Claim check (test set; computed from the table above): best AMI: "
             f"{names[max(ami, key=ami.get)]}."]
    for loss in ("single", "multi"):
        if loss not in test:
            continue
        beaten = [names[o] for o in ("baseline", "decov", "xcov") if o in ami
                  and ami[loss] <= ami[o]]
        cost = 100 * (test["baseline"]["accuracy"]["mean"] - test[loss]["accuracy"]["mean"])
        # the seed spread of the two rows compared, so a difference can be read against it
        ami_std = max(test[loss]["ami"]["std"], test["baseline"]["ami"]["std"])
        accuracy_std = 100 * max(test[loss]["accuracy"]["std"],
                                 test["baseline"]["accuracy"]["std"])
        lines.append(f"- {names[loss]}: AMI {ami[loss] - ami['baseline']:+.3f} over the "
                     f"baseline (seed std up to {ami_std:.3f}); "
                     + (f"NOT above {', '.join(beaten)}" if beaten else "above every other row")
                     + f"; accuracy cost {cost:+.2f} percentage points, seed std up to "
                     f"{accuracy_std:.2f} ({'within' if cost <= 0.5 else 'MORE than'} the "
                     f"paper's 0.5).")
    return lines


def scale_comparison_markdown(reduced: Mapping[str, dict], full: Mapping[str, dict],
                              names: Mapping[str, str]) -> list[str]:
    """Two Table 1s of one dataset and model side by side on the test set: test AMI, binary
    accuracy and its cost against the same scale's baseline (percentage points), at the reduced
    scale (``reduced``) and on all training images (``full``); tables as in
    :func:`table1_markdown`."""
    lines = ["| loss | reduced: AMI | full: AMI | reduced: accuracy | full: accuracy | "
             "reduced: cost (pp) | full: cost (pp) |", "|" + "---|" * 7]
    for loss in (name for name in names if name in reduced and name in full):
        cells = [mean_std_cell(t[loss]["test"]["ami"]) for t in (reduced, full)]
        cells += [mean_std_cell(t[loss]["test"]["accuracy"]) for t in (reduced, full)]
        for t in (reduced, full):
            accuracy = {row: t[row]["test"]["accuracy"]["mean"] for row in (loss, "baseline")
                        if row in t}
            cost = 100 * (accuracy["baseline"] - accuracy[loss]) if "baseline" in accuracy else None
            cells.append("n/a" if cost is None else f"{cost:+.2f}")
        lines.append(f"| {names[loss]} | " + " | ".join(cells) + " |")
    return lines + [""]


def table1_markdown(table: Mapping[str, dict], paper: Mapping[str, Mapping[str, tuple]],
                    names: Mapping[str, str]) -> list[str]:
    """Our Table 1 rows (validation and test AMI, NMI, accuracy, mean ± std) beside the paper's
    columns ``paper`` ({column: {loss: (AMI, NMI)}}), rows in the order of ``names``, then
    :func:`claim_check`."""
    header = ("| loss | val AMI | val NMI | val acc | test AMI | test NMI | test acc | "
              + " | ".join(f"paper {c} AMI / NMI" for c in paper) + " |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for loss in (name for name in names if name in table):  # JSON sorts the keys
        val, test = table[loss]["validation"], table[loss]["test"]
        quoted = " | ".join("{:.3f} / {:.3f}".format(*column[loss]) for column in paper.values())
        lines.append(f"| {names[loss]} | {mean_std_cell(val['ami'])} | "
                     f"{mean_std_cell(val['nmi'])} | {mean_std_cell(val['accuracy'])} | "
                     f"{mean_std_cell(test['ami'])} | {mean_std_cell(test['nmi'])} | "
                     f"{mean_std_cell(test['accuracy'])} | {quoted} |")
    return lines + ["", *claim_check(table, names), ""]


def autoencoder_markdown(table: Mapping[str, dict], paper: Mapping[str, tuple],
                         names: Mapping[str, str]) -> list[str]:
    """The sequence autoencoder's test AMI and NMI beside the paper's ``paper`` ({loss: (AMI,
    NMI)}), and whether the rows differ by more than the seed noise (the largest difference of
    the rows' mean AMI against the mean of their seed stds)."""
    lines = ["Sequence autoencoder (no labels; the paper's \"MNIST autoencoder\" column), test "
             "set:", "", "| loss | test AMI | test NMI | paper AMI / NMI |", "|---|---|---|---|"]
    for loss in (name for name in names if name in table):
        test = table[loss]["test"]
        lines.append(f"| {names[loss]} | {mean_std_cell(test['ami'])} | "
                     f"{mean_std_cell(test['nmi'])} | "
                     + "{:.3f} / {:.3f} |".format(*paper[loss]))
    means = [entry["test"]["ami"]["mean"] for entry in table.values()]
    stds = [entry["test"]["ami"]["std"] for entry in table.values()]
    spread, noise = max(means) - min(means), float(np.mean(stds))
    return lines + ["", f"Autoencoder check: the rows' mean AMI differ by at most {spread:.3f}, "
                    f"against a seed std of {noise:.3f}: "
                    + ("no effect of the loss components is measurable at this scale."
                       if spread < noise else "the rows differ by more than the seed noise."), ""]


def clusters_markdown(curves: Mapping[str, dict], names: Sequence[str]) -> list[str]:
    """Fig. 6 as numbers: ``curves`` {name: {"clusters", "ami"}}, rows in the order of
    ``names``."""
    counts = next(iter(curves.values()))["clusters"]
    lines = ["AMI against the number of KMeans clusters (Fig. 6), test set, mean over seeds:", "",
             "| loss | " + " | ".join(f"{k} clusters" for k in counts) + " |",
             "|---|" + "---|" * len(counts)]
    lines += [f"| {name} | " + " | ".join(f"{a:.3f}" for a in curves[name]["ami"]) + " |"
              for name in names if name in curves]
    return lines + [""]


def identical_margins(sweep) -> list[float]:
    """The margins of a sweep whose models match the largest margin's exactly (per-seed AMI and
    accuracy); empty when only that margin is left."""
    last = len(sweep["margins"]) - 1
    same = [i for i in range(last + 1)
            if sweep["ami"][i] == sweep["ami"][last]
            and sweep["accuracy"][i] == sweep["accuracy"][last]]
    return [sweep["margins"][i] for i in same] if len(same) > 1 else []


def margin_sweep_markdown(sweep, name: str) -> list[str]:
    """The margin sweep of section 3.4 (mean over seeds per margin) of the loss printed as
    ``name``, and which margins trained alike (:func:`identical_margins`) and why."""
    lines = [f"Margin sweep of {name} (section 3.4), validation set, mean over seeds:", "",
             "| margin | AMI | NMI | accuracy |", "|---|---|---|---|"]
    for m, ami, nmi, acc in zip(sweep["margins"], sweep["ami"], sweep["nmi"], sweep["accuracy"]):
        lines.append(f"| {m:g} | {np.mean(ami):.3f} | {np.mean(nmi):.3f} | {np.mean(acc):.3f} |")
    same = identical_margins(sweep)
    if same:
        lines += ["", f"Margins {', '.join(f'{m:g}' for m in same)} gave identical scores (every "
                  "seed's AMI and accuracy equal), as expected: the hinge max(0, m - D) is linear "
                  "in D while every pair's divergence stays below m, so its gradient does not "
                  "depend on m there; only smaller margins, which switch pairs off, change the "
                  "training."]
    return lines + [""]


def model_line(config: Mapping, model: str) -> str:
    """The model as run, from its saved config: the CNN's filters (VGG-16's, or scaled)."""
    from jaxdis.nets.forced_apart import grey28_cnn

    if model == "cnn":
        cnn = grey28_cnn(config["cnn_width"])
        filters = " ".join("-".join(map(str, block)) for block in (*cnn.blocks, cnn.head))
        return (f"VGG-16-to-pool3 CNN of section 4.2 for 28x28, filters {filters} "
                f"({config['cnn_width']:g} of VGG-16's; the 8 1x1 filters and FC1 of 15 as in "
                f"the paper), computed as `{config.get('cnn_conv', 'lax')}` convolutions")
    if model == "mlp":
        return f"MLP, hidden layers {tuple(config['mlp_hidden'])}, then FC1 of 15 (not the paper's)"
    return f"LSTM of {config['rnn_hidden']} units (Fig. 1), then FC1 of 15"


def figure_links(folder, stem: str, captions: Mapping[str, str]) -> list[tuple[str, str]]:
    """(caption, "figures/NAME") of each figure ``folder/STEM+KIND.png`` whose KIND has a caption
    in ``captions``, sorted by name: the figures a report links to."""
    kept = sorted(Path(folder).glob(f"{stem}*.png"))
    return [(captions[f.stem[len(stem):]], f"figures/{f.name}") for f in kept
            if f.stem[len(stem):] in captions]


def run_markdown(summary: Mapping, command: str, paper: Mapping[str, Mapping[str, tuple]],
                 autoencoder_paper: Mapping[str, tuple], names: Mapping[str, str],
                 figures: Sequence[tuple[str, str]] = (), title: str | None = None) -> list[str]:
    """One run's section of the report, from its summary (forced_apart_*.json): the command, model,
    scale, provenance, margins and weights; :func:`table1_markdown` beside ``paper``; the
    autoencoder rows beside ``autoencoder_paper`` (if run); the ``figures`` (caption, link); Fig. 6
    as numbers; the margin sweep (if run). ``names``: {loss: printed name}, in row order;
    ``title``: the section's heading (default "DATASET (MODEL)")."""
    config, prov = summary["config"], summary["provenance"]
    title = title or f"{summary['dataset']} ({summary['model']})"
    lines = [f"## {title}", "",
             f"- command: `{command}`",
             f"- model: {model_line(config, summary['model'])}",
             f"- scale: {config['train_size'] or 50000} training examples, "
             f"{config['epochs']} epochs, {config['seeds']} seeds in one vmapped program, "
             f"{config['eval_size'] or 10000} validation and test examples clustered",
             f"- device: {prov['device']}; date: {prov['date']}; commit: {prov['commit']}; "
             f"wall time: {summary['wall_seconds']:.0f} s",
             f"- margins: L_single {config['margin_single']}, L_multi "
             f"{config['margin_multi']}; weights: DeCov {config['weight_decov']}, XCov "
             f"{config['weight_xcov']}, L_single {config['weight_single']}, L_multi "
             f"{config['weight_multi']}"]
    if config.get("select_on_validation"):  # runs from before these fields have neither
        lines.append("- model selection: each model's epoch of best validation probe score"
                     + (f", stopped once no model improved for {config['patience']} epochs"
                        if config.get("patience") else ""))
        if "selected_epochs" in summary:  # runs from before these keys have neither
            lines.append(f"- trained {summary['epochs_trained']} of at most {config['epochs']} "
                         "epochs; selected epochs (1 = first): " + "; ".join(
                             f"{names[loss]} {epochs}"
                             for loss, epochs in summary["selected_epochs"].items()))
    lines.append("")
    if summary.get("dead_models"):
        lines += [f"- diverged (frozen) models: {summary['dead_models']}", ""]
    lines += table1_markdown(summary["table"], paper, names)
    if "autoencoder" in summary:
        lines += autoencoder_markdown(summary["autoencoder"], autoencoder_paper, names)
    lines += [f"![{caption}]({link})" for caption, link in figures] + ([""] if figures else [])
    if "ami_vs_clusters" in summary:  # Fig. 6 as numbers, also where its figure was not kept
        lines += clusters_markdown(summary["ami_vs_clusters"], list(names.values()))
    if "margin_sweep" in summary:
        lines += margin_sweep_markdown(summary["margin_sweep"],
                                       names[summary["margin_sweep"]["loss"]])
    return lines
