"""jaxdis.viz.ica: the figures of post-processed ICA and the tables drawn from a run's summary."""

import numpy as np
import pytest

from jaxdis import ica
from jaxdis.viz import ica as viz
from jaxdis.viz.tables import markdown_table


def setting(n_sources, accuracies, tol=1e-4):
    trials = [{"accuracy": a, "final_mi": 0.1 - a / 10, "ica_iterations": 50,
               "true_components_in_a": n_sources // 2, "components_in_a": n_sources // 2}
              for a in accuracies]
    mean = {"accuracy": np.mean(accuracies), "purity": 0.8, "cause_recovery": 0.3,
            "final_mi": 0.01, "true_grouping_mi": -0.02, "truth_below_shuffles": 0.75,
            "annealed_below_truth": 0.0}
    return {"n_sources": n_sources, "ica_tol": tol, "trials": trials, "mean": mean}


def test_ppica_report_measures_whether_negative_mi_goes_with_good_grouping():
    trials = [{"final_mi": mi, "accuracy": acc}
              for mi, acc in ((-0.2, 0.9), (-0.1, 0.8), (0.1, 0.6), (0.3, 0.5))]
    header, *_, row = markdown_table(viz.NEGATIVE_MI_COLUMNS, viz.negative_mi_rows(
        [{"n_sources": 50, "trials": trials}]))
    assert row == "| 50 | 2 of 4 | 0.850 | 0.550 | -1.00 |"


def test_setting_and_tolerance_rows_quote_chance_from_the_group_sizes():
    settings = [setting(50, [0.9, 0.7]), setting(7, [0.6])]
    rows = viz.setting_rows(settings)
    assert len(rows[0]) == len(viz.SETTING_COLUMNS)
    assert rows[0][1] == viz.THESIS_CLAIMS[50] and rows[1][1] == ""
    assert rows[0][2] == "0.800 (sd 0.100, 0.70-0.90)"
    chance = ica.chance_grouping_accuracy(50, 25, 25)
    assert rows[0][3] == f"{chance:.3f}"
    gain, error = 0.8 - chance, np.std([0.1, -0.1], ddof=1) / np.sqrt(2)
    assert rows[0][4] == f"{gain:+.3f} +- {error:.3f}"
    assert rows[1][4].endswith("+- nan")  # one trial: no standard error
    (tol_row,) = viz.tolerance_rows([setting(50, [0.9], tol=0.1)])
    assert tol_row[:3] == ("0.1", "50", "0.900") and len(tol_row) == len(viz.TOLERANCE_COLUMNS)
    assert "of 4 random shuffles" in viz.columns_legend(4)


def test_figures_draw_every_trial_and_each_group():
    settings = [setting(6, [0.9, 0.7])]
    curves = [np.random.default_rng(0).normal(size=(2, 12))]
    fig = viz.mi_curves(settings, curves, [setting(6, [0.8], tol=t) for t in (0.1, 0.01)])
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2 and len(fig.axes[1].lines) == 3
    with pytest.raises(ValueError, match="curves"):
        viz.mi_curves(settings, curves * 2)

    rng = np.random.default_rng(1)
    x = rng.uniform(size=(20, 4, 4)).astype(np.float32)
    fit = ica.fast_ica(x.reshape(20, -1), 5, seed=0)
    mask = np.array([True, False, True, False, False])
    fig = viz.grouping(x, fit, mask, np.full(5, 0.5), "t", n_shown=4)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5 + 4 * 4  # every component of both groups, 4 images per example
    with pytest.raises(ValueError, match="x"):
        viz.grouping(x.reshape(20, -1), fit, mask, np.full(5, 0.5), "t")
