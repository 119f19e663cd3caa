"""Figures of thesis Part III (jaxdis.viz.disentangling): grids place each image in its cell, MI
curves mark unhealthy codes, and the figure sets of a seed sweep are named and built as said."""

import numpy as np
import pytest

from jaxdis import viz
from jaxdis.metrics import UNHEALTHY_CODE_RULE


def test_figure_grids_place_each_image_in_its_cell():
    images = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    picture = viz.tile(images, pad=1)
    assert picture.shape == (2 * 5 - 1, 3 * 6 - 1)
    for r in range(2):
        for c in range(3):
            np.testing.assert_array_equal(picture[r * 5: r * 5 + 4, c * 6: c * 6 + 5], images[r, c])
    with pytest.raises(ValueError, match="grid"):
        viz.cross_plot(np.zeros((3, 4, 4)), np.zeros((2, 4, 4)), np.zeros((3, 2, 4, 4)))
    with pytest.raises(ValueError, match=r"mi: expected \(n_seeds, n_epochs\)"):
        viz.mi_curves(np.zeros(5))
    fig = viz.mi_curves(np.random.default_rng(0).random((3, 6)), [(2, "stage 3")])
    assert len(fig.axes[0].lines) == 3 + 1 + 1  # seeds, mean, boundary


def test_mi_curves_mark_the_epochs_whose_codes_are_unhealthy():
    mi = np.random.default_rng(0).random((3, 6))
    flags = np.zeros((3, 6), bool)
    flags[1, 2:] = True  # seed 1 collapses at epoch 2 and stays collapsed
    fig = viz.mi_curves(mi, flags=flags, flag_label="spread < 0.01")
    lines = fig.axes[0].lines
    assert [line.get_linestyle() for line in lines[:3]] == ["-", "--", "-"]
    crosses = [line for line in lines if line.get_marker() == "x"]
    assert len(crosses) == 1 and len(crosses[0].get_xdata()) == 4
    assert any("spread < 0.01" in text.get_text() and "1 at the last" in text.get_text()
               for text in fig.texts)
    with pytest.raises(ValueError, match="flags"):
        viz.mi_curves(mi, flags=flags[:2])


def test_mi_readings_draw_both_estimates_and_flag_unhealthy_codes():
    rng = np.random.default_rng(1)
    mi, mi_raw = rng.random((3, 5)), rng.random((3, 5))
    spread_a = np.full((3, 5), 0.3)
    spread_b = spread_a.copy()
    spread_b[2, 3:] = 0.001  # seed 2's second code collapses at epoch 3
    figures = viz.mi_readings(mi, mi_raw, spread_a, spread_b, [(1, "stage 1")], title="sweep")
    assert list(figures) == ["mi_curves", "mi_raw_curves"]
    for name, values, estimate in (("mi_curves", mi, "standardised code units"),
                                   ("mi_raw_curves", mi_raw, "raw codes, as the thesis")):
        ax = figures[name].axes[0]
        assert ax.get_title() == f"sweep\nKSG MI on {estimate}"
        np.testing.assert_array_equal(ax.lines[0].get_ydata(), values[0])
        crosses = [line for line in ax.lines if line.get_marker() == "x"]
        assert len(crosses) == 1 and list(crosses[0].get_xdata()) == [3, 4]
        assert any(UNHEALTHY_CODE_RULE in text.get_text() for text in figures[name].texts)


def test_seed_reconstructions_show_the_first_seeds_input_and_outputs():
    inputs = np.random.default_rng(2).random((10, 4, 6))
    flat = np.stack([inputs.reshape(10, -1) * s for s in (0.1, 0.2)])  # 2 seeds, flat outputs
    figures = viz.seed_reconstructions(inputs, (flat, flat / 2), ["input", "y", "y / 2"],
                                       n_examples=3)
    assert list(figures) == ["reconstructions_seed0", "reconstructions_seed1"]
    picture = figures["reconstructions_seed1"].axes[0].images[0].get_array()
    # Row 0: the input, then seed 1's outputs of it, each in its own 4 x 6 cell.
    np.testing.assert_allclose(picture[:4, :6], inputs[0])
    np.testing.assert_allclose(picture[:4, 7:13], inputs[0] * 0.2)
    np.testing.assert_allclose(picture[:4, 14:20], inputs[0] * 0.1)
    assert picture.shape == (3 * 5 - 1, 3 * 7 - 1)
    with pytest.raises(ValueError, match="labels"):
        viz.seed_reconstructions(inputs, (flat,), ["input"])
