"""jaxdis.viz.energy: the Broadnet studies' figures (what they draw) and thesis-beside-ours tables
(what they read from a summary)."""

import numpy as np
import pytest

from jaxdis.viz import energy as viz
from jaxdis.viz.tables import markdown_table


def test_figures_draw_what_they_are_given():
    rng = np.random.default_rng(0)
    exact_probs = rng.dirichlet(np.ones(16))
    freqs = np.where(exact_probs > 0.05, exact_probs, 0.0)
    fig = viz.posterior_vs_sampler(exact_probs, freqs, 100, "t")
    line, dots = fig.axes[0].lines
    assert len(line.get_xdata()) == 16  # sampled states + 20, at most all 16
    assert len(dots.get_xdata()) == np.sum(freqs > 0)
    assert len(viz.activity_curves(rng.uniform(size=(5, 30))).axes[0].lines) == 10 + 1
    assert len(viz.sweep_curves(rng.uniform(size=(3, 5)), (0.1, 1, 2), "sigma").axes[0].lines) == 3
    assert len(viz.log_likelihood_curves(rng.normal(size=(4, 7))).axes[0].lines) == 4
    rows = [("A", rng.normal(size=(3, 12))), ("B", rng.normal(size=(2, 12)))]
    assert len(viz.unit_weights(rows, (3, 4)).axes) == 2 * 3
    curves = rng.normal(size=(6, 4))
    fig = viz.unit_configurations(rng.normal(size=6), curves, rng.uniform(size=6),
                                  rng.uniform(size=6), 0.5)
    assert len(fig.axes) == 3 and len(fig.axes[1].lines) == 6
    assert len(viz.interpolation((0.2, 0.8), rng.uniform(size=(3, 2)),
                                 rng.uniform(size=(3, 2))).axes[0].lines) == 3 + 2


def test_figures_refuse_mismatched_arguments_by_name():
    with pytest.raises(ValueError, match="frequencies"):
        viz.posterior_vs_sampler(np.ones(4) / 4, np.ones(5) / 5, 10)
    with pytest.raises(ValueError, match="values"):
        viz.sweep_curves(np.ones((3, 5)), (1, 2), "alpha")
    with pytest.raises(ValueError, match="to_original, to_swapped"):
        viz.interpolation((0.2, 0.8), np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="rows"):
        viz.unit_weights([], (2, 2))


def test_thesis_tables_read_the_numbers_of_each_study_in_thesis_order():
    summary = {
        "interpolation": {"alphas": [0.2, 0.8], "share_closer_to_original": [0.25, 1.0],
                          "mean_to_original": [2.5, 1.25]},
        "activity": {"activity_step_1": 33.5, "activity_step_2": "nan",  # as JSON writes NaN
                     "activity_equilibrium_steps_3_on": 2.0},
        "activity-sigma": {"sigmas": [0.5, 2.0], "equilibrium": [0.0, 0.86],
                           "step_2_excess": [0.0, 1.67], "mean_activity": [[50, 0, 0], [40, 2, 1]]},
    }
    tables = viz.thesis_tables(summary, posterior_samples=10, bias_share_threshold=0.05,
                               exact_epochs=50)
    assert [title for title, _ in tables] == ["Activity along inference (Fig. 4.6)",
                                              "Activity against sigma (Fig. 4.7)",
                                              "Interpolation between a unit pair (Fig. 4.17)"]
    (_, activity), (_, sweep), (_, interpolation) = tables
    assert activity[1][2] == "nan vs 2.00 (mean of steps 3+)"
    assert sweep[0][2] == "2: (0.50, 2.00)" and sweep[1][2] == "0.5: 0.00, 2: 0.86"
    assert sweep[3][2] == "0.5: 50.0, 2: 40.0"
    assert interpolation[0][2] == "closer to the original, per alpha 0.2: 25%, 0.8: 100%"
    lines = markdown_table(("quantity", "thesis", "ours"), activity)
    assert lines[0] == "| quantity | thesis | ours |" and len(lines) == 2 + len(activity)


def test_cd_rows_and_reading():
    cd_summary = {
        "rotated/samples": {"batch": 5, "log_likelihood_start": [-10.4, -11.0],
                            "log_likelihood_end": [-9.6, "nan"],
                            "centred_recovery": [[0.5, 0.01], [0.0, -0.02]],
                            "explained_variance": [0.25, 0.0]},
        "gradient/samples": {"batch": 5, "log_likelihood_start": [-1.0],
                             "log_likelihood_end": [-1.0], "centred_recovery": [[0.0, 0.0]],
                             "explained_variance": [0.0]},
        "seconds": 3.0,
    }
    rows = viz.cd_rows(cd_summary, ["gradient/samples", "rotated/samples", "side-by-side/x"])
    assert [row[0] for row in rows] == ["gradient", "rotated"]  # the order asked for
    assert rows[1][4] == "-10 -> -10; -11 -> diverged"
    assert rows[1][5] == "(0.50, 0.01); (0.00, -0.02)" and rows[1][3] == 5
    reading = viz.cd_reading(cd_summary)
    assert reading.startswith("Of the 3 CD runs, 1 recovered a cause")
    assert "cause A of run 0 of rotated/samples (0.50)" in reading and "[-0.02, 0.01]" in reading


def test_sweep_reading_names_the_live_settings():
    sigma_sweep = {"sigmas": [0.1, 2.0, 3.0], "equilibrium": [0.0, 0.86, 0.73],
                   "step_2_excess": [0.0, 1.67, 1.69]}
    text = viz.sweep_reading(sigma_sweep, {"sigma": 0.1, "equilibrium": [0.0, 0.004]}, 50)
    assert "only at sigma = 2, 3, with step 2 at most 1.7 units above it" in text
    assert "50 + 50 Broadnet" in text and "at most 0.00 at every alpha" in text
