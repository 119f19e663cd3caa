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


def test_report_names_the_margins_that_trained_alike():
    sweep = {"margins": [0.1, 3.0, 10.0], "ami": [[0.4, 0.5], [0.45, 0.5], [0.45, 0.5]],
             "accuracy": [[0.9, 0.9], [0.91, 0.9], [0.91, 0.9]]}
    assert viz.identical_margins(sweep) == [3.0, 10.0]
    sweep["ami"][1] = [0.45, 0.51]  # one seed differs: not the same training
    assert viz.identical_margins(sweep) == []


NAMES = {"baseline": "Baseline", "xcov": "XCov", "multi": "L_multi"}


def _scores(ami, accuracy, std=0.01):
    return {"ami": {"mean": ami, "std": std}, "nmi": {"mean": ami + 0.01, "std": std},
            "accuracy": {"mean": accuracy, "std": 0.001}}


def test_the_scale_comparison_puts_each_losss_reduced_and_full_scores_side_by_side():
    reduced = {"baseline": {"test": _scores(0.40, 0.95)}, "multi": {"test": _scores(0.45, 0.946)}}
    full = {"baseline": {"test": _scores(0.42, 0.98)}, "multi": {"test": _scores(0.50, 0.981)},
            "xcov": {"test": _scores(0.5, 0.98)}}  # a row only one scale has is left out
    lines = viz.scale_comparison_markdown(reduced, full, NAMES)
    assert lines[0].startswith("| loss | reduced: AMI | full: AMI |")
    assert lines[2:4] == [
        "| Baseline | 0.400 ± 0.010 | 0.420 ± 0.010 | 0.950 ± 0.001 | 0.980 ± 0.001 | +0.00 "
        "| +0.00 |",
        "| L_multi | 0.450 ± 0.010 | 0.500 ± 0.010 | 0.946 ± 0.001 | 0.981 ± 0.001 | +0.40 "
        "| -0.10 |"]
    assert lines[4:] == [""]


def test_claim_check_reads_the_test_rows_against_the_baseline():
    table = {"baseline": {"test": _scores(0.40, 0.95)}, "xcov": {"test": _scores(0.50, 0.95)},
             "multi": {"test": _scores(0.45, 0.949)}}
    lines = viz.claim_check(table, NAMES)
    assert lines[0].endswith("best AMI: XCov.")
    assert lines[1].startswith("- L_multi: AMI +0.050 over the baseline (seed std up to 0.010); "
                               "NOT above XCov; accuracy cost +0.10 percentage points")
    assert "(within the paper's 0.5)" in lines[1]
    assert viz.claim_check({"multi": table["multi"]}, NAMES) == []  # no baseline: no check


def test_run_markdown_lays_out_one_runs_tables(tmp_path):
    entry = {"validation": _scores(0.3, 0.9), "test": _scores(0.4, 0.95)}
    summary = {"dataset": "mnist", "model": "mlp", "wall_seconds": 12.0,
               "table": {"multi": entry, "baseline": entry},  # JSON sorts keys: rows re-ordered
               "provenance": {"device": "cpu", "date": "today", "commit": "abc"},
               "config": {"train_size": 0, "epochs": 3, "seeds": 2, "eval_size": 500,
                          "mlp_hidden": [16], "margin_single": 10.0, "margin_multi": 1.0,
                          "weight_decov": 1.0, "weight_xcov": 1.0, "weight_single": 1.0,
                          "weight_multi": 1.0},
               "ami_vs_clusters": {"L_multi": {"clusters": [2, 5], "ami": [0.1, 0.2]},
                                   "Baseline": {"clusters": [2, 5], "ami": [0.3, 0.4]}},
               "margin_sweep": {"loss": "multi", "margins": [1.0, 3.0], "ami": [[0.4], [0.4]],
                                "nmi": [[0.5], [0.5]], "accuracy": [[0.9], [0.9]]}}
    paper = {"col": {"baseline": (0.1, 0.2), "multi": (0.3, 0.4)}}
    (tmp_path / "forced_apart_x_units.png").write_bytes(b"")
    (tmp_path / "forced_apart_x_other.png").write_bytes(b"")
    figures = viz.figure_links(tmp_path, "forced_apart_x_", {"units": "Fig. 2/3"})
    assert figures == [("Fig. 2/3", "figures/forced_apart_x_units.png")]
    lines = viz.run_markdown(summary, "jaxdis run ...", paper, {}, NAMES, figures)
    text = "\n".join(lines)
    assert lines[0] == "## mnist (mlp)" and "- command: `jaxdis run ...`" in lines
    assert "- model: MLP, hidden layers (16,), then FC1 of 15 (not the paper's)" in lines
    assert "- scale: 50000 training examples, 3 epochs, 2 seeds" in text
    rows = [line for line in lines if line.startswith(("| Baseline", "| L_multi"))]
    assert rows[0] == ("| Baseline | 0.300 ± 0.010 | 0.310 ± 0.010 | 0.900 ± 0.001 | 0.400 ± 0.010 "
                       "| 0.410 ± 0.010 | 0.950 ± 0.001 | 0.100 / 0.200 |")
    assert rows[1].startswith("| L_multi |") and rows[2] == "| Baseline | 0.300 | 0.400 |"
    assert "![Fig. 2/3](figures/forced_apart_x_units.png)" in lines
    assert "| 1 | 0.400 | 0.500 | 0.900 |" in lines and "Margins 1, 3 gave identical" in text
    assert "model selection" not in text
    summary["config"].update(select_on_validation=True, patience=4)
    assert "stopped once no model improved for 4 epochs" in "\n".join(
        viz.run_markdown(summary, "c", paper, {}, NAMES))
    summary.update(epochs_trained=2, selected_epochs={"baseline": [1, 2], "multi": [2, 2]})
    assert ("- trained 2 of at most 3 epochs; selected epochs (1 = first): Baseline [1, 2]; "
            "L_multi [2, 2]") in viz.run_markdown(summary, "c", paper, {}, NAMES)


def test_autoencoder_markdown_says_whether_rows_differ_beyond_the_seed_noise():
    table = {"baseline": {"test": _scores(0.40, 0, std=0.05)},
             "multi": {"test": _scores(0.42, 0, std=0.05)}}
    lines = viz.autoencoder_markdown(table, {"baseline": (0.1, 0.2), "multi": (0.3, 0.4)}, NAMES)
    assert "| L_multi | 0.420 ± 0.050 | 0.430 ± 0.050 | 0.300 / 0.400 |" in lines
    assert "no effect of the loss components is measurable" in lines[-2]
    table["multi"]["test"]["ami"]["mean"] = 0.6
    assert "more than the seed noise" in viz.autoencoder_markdown(table, {"baseline": (0, 0),
                                                                          "multi": (0, 0)},
                                                                   NAMES)[-2]
