"""The XCov figures: the image mosaic is laid out exactly, every figure renders."""

import numpy as np
import pytest

from jaxdis.viz import xcov as viz


def test_mosaic_places_each_image_in_its_cell():
    images = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    out = viz.mosaic(images, pad=1, value=-1.0)
    assert out.shape == (2 * 3 - 1, 3 * 3 - 1)
    for r in range(2):
        for c in range(3):
            np.testing.assert_array_equal(out[3 * r:3 * r + 2, 3 * c:3 * c + 2], images[r, c])
    assert np.all(out[2, :] == -1.0) and np.all(out[:, 2] == -1.0)
    with pytest.raises(ValueError, match="images: expected"):
        viz.mosaic(np.zeros((3, 2, 2)))


def test_figures_render(tmp_path):
    rng = np.random.default_rng(0)
    figures = {
        "hist": viz.z_histogram(rng.normal(0, 0.35, (500, 2))),
        "traversal": viz.traversal_figure({"z1": rng.random((10, 9, 28, 28)),
                                           "z2": rng.random((10, 9, 28, 28))}),
        "jacobian": viz.jacobian_figure(rng.normal(size=(10, 2, 28, 28)),
                                        {"{y, z}": rng.random((10, 12)),
                                         "h-3": rng.random((10, 500))}),
        "style": viz.style_transfer_figure({"gamma=10": (rng.random((4, 28, 28)),
                                                         rng.random((4, 10, 28, 28)))}),
        "scaled": viz.scaled_label_figure({"gamma=10": rng.random((11, 10, 28, 28))},
                                          np.linspace(5, -5, 11)),
        "labels": viz.accuracy_vs_labels_plot([100, 600], {"a": [0.8, 0.9],
                                                           "b": np.array([[0.7, 0.72],
                                                                          [0.8, 0.81]])}, 0.95),
    }
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.stat().st_size > 1000
