"""Specification of the clustering scores of Forced Apart (Table 1, Fig. 6)."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_mutual_info_score

from jaxdis.metrics import ami_vs_clusters, cluster_scores


def blobs(rng, n_per_class, n_classes, dim=5, spread=0.05):
    centres = 3.0 * np.eye(n_classes, dim)
    classes = np.repeat(np.arange(n_classes), n_per_class)
    return centres[classes] + spread * rng.normal(size=(len(classes), dim)), classes


def entropy(labels):
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return -np.sum(p * np.log(p))


def mutual_information(a, b):
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1.0)
    joint /= len(a)
    outer = joint.sum(1, keepdims=True) * joint.sum(0, keepdims=True)
    nonzero = joint > 0
    return np.sum(joint[nonzero] * np.log(joint[nonzero] / outer[nonzero]))


def test_perfectly_separated_classes_score_one():
    features, classes = blobs(np.random.default_rng(0), 50, 4)
    scores = cluster_scores(features, classes, n_clusters=4)
    assert scores["ami"] == pytest.approx(1.0)
    assert scores["nmi"] == pytest.approx(1.0)
    assert scores["ami_per_seed"].shape == scores["nmi_per_seed"].shape == (3,)


def test_shuffled_labels_score_near_zero():
    rng = np.random.default_rng(1)
    features, classes = blobs(rng, 100, 4)
    scores = cluster_scores(features, rng.permutation(classes), n_clusters=4, seeds=(0, 1))
    assert abs(scores["ami"]) < 0.02
    assert scores["nmi"] < 0.03  # NMI is not adjusted for chance: small but positive


def test_normalisations_are_ami_max_and_nmi_geometric():
    """Features that are one-hot codes of a partition: KMeans recovers the partition exactly."""
    rng = np.random.default_rng(2)
    partition = rng.integers(0, 5, size=300)
    classes = np.where(rng.uniform(size=300) < 0.7, partition % 3, rng.integers(0, 3, size=300))
    features = np.eye(5)[partition]
    scores = cluster_scores(features, classes, n_clusters=5, seeds=(0,))
    nmi_sqrt = mutual_information(classes, partition) / np.sqrt(
        entropy(classes) * entropy(partition)
    )
    assert scores["nmi"] == pytest.approx(nmi_sqrt, rel=1e-9)
    ami_max = adjusted_mutual_info_score(classes, partition, average_method="max")
    assert scores["ami"] == pytest.approx(ami_max, rel=1e-9)
    assert ami_max != pytest.approx(adjusted_mutual_info_score(classes, partition), rel=1e-3)


def test_ami_against_number_of_clusters_peaks_at_the_true_count():
    features, classes = blobs(np.random.default_rng(3), 40, 4)
    curve = ami_vs_clusters(features, classes, cluster_counts=[2, 4, 8], seeds=(0, 1))
    assert list(curve["n_clusters"]) == [2, 4, 8]
    assert curve["ami_per_seed"].shape == (3, 2)
    assert np.argmax(curve["ami"]) == 1
    np.testing.assert_allclose(curve["ami"], curve["ami_per_seed"].mean(1))


@pytest.mark.parametrize(
    "features, classes, n_clusters, message",
    [
        (np.zeros(10), np.zeros(10, int), 2, "features must have shape"),
        (np.zeros((10, 2)), np.zeros(9, int), 2, "classes must have shape"),
        (np.zeros((10, 2)), np.zeros(10), 2, "classes must be integer"),
        (np.full((10, 2), np.nan), np.zeros(10, int), 2, "NaN"),
        (np.zeros((10, 2)), np.zeros(10, int), 11, "n_clusters must be in"),
    ],
)
def test_rejects_bad_inputs(features, classes, n_clusters, message):
    with pytest.raises((ValueError, TypeError), match=message):
        cluster_scores(features, classes, n_clusters)
