"""Clustering scores of a representation (Forced Apart, Table 1 and Fig. 6).

Forced Apart judges a layer's features by how well KMeans clusters of them match the classes:
the adjusted mutual information with the "max" normalisation (AMI_max) and the normalised
mutual information with the geometric normalisation (NMI_sqrt = I / sqrt(H(U) H(V))), averaged
over KMeans restarts. These are host functions (scikit-learn), not traceable by JAX; call them
on the arrays a run returns.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_mutual_info_score, normalized_mutual_info_score

__all__ = ["cluster_scores", "ami_vs_clusters"]


def cluster_scores(features, classes, n_clusters: int, seeds: Sequence[int] = (0, 1, 2)) -> dict:
    """KMeans on ``features``, scored against ``classes`` (Forced Apart Table 1).

    One KMeans fit (``n_init=1``) per seed; AMI (average_method="max") and NMI
    (average_method="geometric") of each fit's clusters against the classes.

    Args:
      features: (N, d) array, e.g. a network's penultimate-layer activations.
      classes: (N,) integer class labels.
      n_clusters: number of KMeans clusters, 1 <= n_clusters <= N.
      seeds: KMeans ``random_state`` of each restart.

    Returns:
      {"ami": mean over seeds, "nmi": mean over seeds,
       "ami_per_seed": (len(seeds),) array, "nmi_per_seed": (len(seeds),) array}.
    """
    features, classes = _validate(features, classes)
    n_clusters = _check_n_clusters(n_clusters, len(features))
    seeds = _check_seeds(seeds)
    ami, nmi = [], []
    for seed in seeds:
        clusters = KMeans(n_clusters=n_clusters, n_init=1, random_state=seed).fit_predict(features)
        ami.append(adjusted_mutual_info_score(classes, clusters, average_method="max"))
        nmi.append(normalized_mutual_info_score(classes, clusters, average_method="geometric"))
    ami, nmi = np.asarray(ami), np.asarray(nmi)
    return {
        "ami": float(ami.mean()),
        "nmi": float(nmi.mean()),
        "ami_per_seed": ami,
        "nmi_per_seed": nmi,
    }


def ami_vs_clusters(
    features, classes, cluster_counts: Sequence[int], seeds: Sequence[int] = (0, 1, 2)
) -> dict:
    """AMI_max against the number of KMeans clusters (Forced Apart Fig. 6).

    Returns:
      {"n_clusters": (C,) int array, "ami": (C,) mean over seeds,
       "ami_per_seed": (C, len(seeds)) array}.
    """
    features, classes = _validate(features, classes)
    counts = [_check_n_clusters(c, len(features)) for c in cluster_counts]
    if not counts:
        raise ValueError("ami_vs_clusters: cluster_counts must not be empty")
    per_seed = np.stack(
        [cluster_scores(features, classes, c, seeds)["ami_per_seed"] for c in counts]
    )
    return {
        "n_clusters": np.asarray(counts),
        "ami": per_seed.mean(axis=1),
        "ami_per_seed": per_seed,
    }


def _validate(features, classes):
    features = np.asarray(features)
    classes = np.asarray(classes)
    if features.ndim != 2:
        raise ValueError(f"features must have shape (N, d), got {features.shape}")
    real = np.issubdtype(features.dtype, np.integer) or np.issubdtype(features.dtype, np.floating)
    if not real:
        raise TypeError(f"features must be real numbers, got dtype {features.dtype}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features hold NaN or infinite values")
    if classes.ndim != 1 or len(classes) != len(features):
        raise ValueError(
            f"classes must have shape (N,) = ({len(features)},) to match features, "
            f"got {classes.shape}"
        )
    if not np.issubdtype(classes.dtype, np.integer):
        raise TypeError(f"classes must be integer labels, got dtype {classes.dtype}")
    return features, classes


def _check_n_clusters(n_clusters, n):
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise TypeError(f"n_clusters must be an int, got {n_clusters!r}")
    if not 1 <= n_clusters <= n:
        raise ValueError(f"n_clusters must be in [1, N = {n}], got {n_clusters}")
    return int(n_clusters)


def _check_seeds(seeds):
    seeds = tuple(seeds)
    all_ints = all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in seeds)
    if not seeds or not all_ints:
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    return seeds
