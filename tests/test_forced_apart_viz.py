"""Forced Apart figures: the counts of Fig. 2/3 and the PCA of Fig. 5 against slow twins."""

import numpy as np
import pytest
from sklearn.decomposition import PCA

from jaxdis.viz import forced_apart as viz


def test_most_active_unit_counts_match_a_loop():
    rng = np.random.default_rng(0)
    fc1, classes = rng.random((200, 6)), rng.integers(0, 4, 200)
    counts = viz.most_active_unit_counts(fc1, classes)
    expected = np.zeros((6, 4), int)
    for row, c in zip(fc1, classes):
        expected[int(np.argmax(row)), c] += 1
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == 200
    with pytest.raises(ValueError, match="classes"):
        viz.most_active_unit_counts(fc1, classes[:-1])


def test_pca_2d_matches_sklearn_up_to_sign():
    rng = np.random.default_rng(1)
    features = rng.normal(size=(300, 5)) * np.array([5.0, 3.0, 1.0, 0.5, 0.1])
    ours = viz.pca_2d(features)
    theirs = PCA(2).fit_transform(features)
    for k in range(2):
        sign = np.sign(ours[:, k] @ theirs[:, k])
        np.testing.assert_allclose(sign * ours[:, k], theirs[:, k], rtol=1e-8, atol=1e-8)


def test_figures_draw(tmp_path):
    rng = np.random.default_rng(2)
    fc1, classes = rng.random((100, 15)), rng.integers(0, 10, 100)
    binary = (classes >= 5).astype(int)
    figures = [
        viz.unit_histograms({"baseline": (fc1, classes), "L_multi": (fc1 ** 2, classes)}),
        viz.pca_views({"baseline": fc1}, binary, classes),
        viz.ami_vs_clusters_plot({"baseline": ([2, 5, 10], [0.1, 0.2, 0.3])}),
        viz.margin_sweep_plot([0.1, 1.0], np.full((2, 3), 0.4), np.full((2, 3), 0.9), 0.3),
    ]
    for i, fig in enumerate(figures):
        fig.savefig(tmp_path / f"{i}.png", dpi=30)
        assert (tmp_path / f"{i}.png").stat().st_size > 0
