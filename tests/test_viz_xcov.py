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
        "curves": viz.validation_curves(rng.random((2, 4)), rng.random((2, 4)) * 40,
                                        ["gamma=10 seed 0", "gamma=0 seed 0"], [False, True]),
    }
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.stat().st_size > 1000


def test_analysis_and_label_swap_figures_render_from_a_trained_models_parameters(tmp_path):
    import jax
    import jax.numpy as jnp

    from jaxdis.nets import cheung

    model = cheung.XCovAutoencoder(image_shape=(6, 6), label_sets=(("c", 3),), latent_dim=2,
                                   encoder_widths=(8,), decoder_widths=(8, 8))
    params = {f"gamma={g}": model.init(jax.random.key(g), jnp.zeros((1, 6, 6))) for g in (10, 0)}
    rng = np.random.default_rng(0)
    images = rng.random((4, 6, 6)).astype(np.float32)
    z = {title: rng.normal(0, 0.3, (50, 2)) for title in params}
    figures, spectra = viz.analysis_figures(model, params, images, z, np.linspace(5, -5, 5),
                                            caption=", seed 0")
    assert set(figures) == {"xcov_traversal_gamma10", "xcov_traversal_gamma0",
                            "xcov_jacobian_gamma10", "xcov_jacobian_gamma0",
                            "xcov_style_transfer", "xcov_scaled_y"}
    assert set(spectra) == set(params) and spectra["gamma=0"]["h-3"].shape == (3, 8)
    assert list(spectra["gamma=0"]) == ["{y, z}", "h-3", "h-2"]  # Fig. 5e's order, not sorted
    figures.update(viz.label_swap_figures(model, params["gamma=0"], images, "tiny, seed 0"))
    assert "xcov_npz_swap_c" in figures
    for name, fig in figures.items():
        path = tmp_path / f"{name}.png"
        fig.savefig(path)
        assert path.stat().st_size > 1000
