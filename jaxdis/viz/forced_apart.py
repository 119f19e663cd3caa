"""The figures of Forced Apart: which unit fires most (Fig. 2, 3), PCA views (Fig. 5), AMI against
the number of clusters (Fig. 6), and the margin sweep of section 3.4.

Each function takes NumPy arrays and returns a matplotlib Figure (save it with
``RunDir.save_figure``); the counting and projecting are separate functions so tests can check them.
"""

from __future__ import annotations

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
