"""Per-seed summaries of a two-code seed sweep (jaxdis.metrics.seed_sweep): each field follows its
definition, a broken seed stands alone, and the ground truth tells disentangled codes apart."""

import numpy as np
import pytest

from jaxdis import data, metrics


def test_mi_summary_reads_the_last_epoch_of_every_seed():
    mi = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, np.nan], [1.0, 0.2, 0.3]])
    mi_raw = mi / 2
    spread_a = np.array([[0.3, 0.3, 0.3], [0.3, 0.3, 0.3], [0.3, 0.2, 0.001]])  # seed 2 collapses
    spread_b = np.full((3, 3), 0.25)
    codes = np.zeros((3, 5, 2))
    codes_b = codes.copy()
    codes_b[1, 0, 0] = np.inf  # seed 1's final codes are broken
    summary = metrics.mi_summary(mi, mi_raw, spread_a, spread_b, codes, codes_b)
    np.testing.assert_array_equal(summary["final_mi_per_seed"], [0.1, np.nan, 0.3])
    np.testing.assert_array_equal(summary["final_mi_raw_per_seed"], [0.05, np.nan, 0.15])
    assert summary["final_mi_mean"] == pytest.approx(0.2)
    assert summary["final_mi_median"] == pytest.approx(0.2)
    assert summary["initial_mi_mean"] == pytest.approx(0.9)
    np.testing.assert_array_equal(summary["final_code_std_per_seed"], [0.25, 0.25, 0.001])
    np.testing.assert_array_equal(summary["final_code_std_a_per_seed"], [0.3, 0.3, 0.001])
    assert summary["unhealthy_code_seeds"] == [2]
    assert summary["unhealthy_code_rule"] == metrics.UNHEALTHY_CODE_RULE
    assert summary["nonfinite_seeds"] == [1]
    with pytest.raises(ValueError, match=r"code_b_std: expected the \(n_seeds, n_epochs\) shape"):
        metrics.mi_summary(mi, mi_raw, spread_a, spread_b[:, :2], codes, codes_b)


@pytest.fixture(scope="module")
def probe():
    """A composite of 400 pairs of the shipped sample's test digits."""
    images, labels = data.load_mnist("test", source="sample")
    return data.make_composite("additive", images[:800], labels[:800], 400, seed=0)


def test_ground_truth_scores_tell_disentangled_codes_from_entangled_ones(probe):
    rows = np.arange(len(probe))
    clean_a, clean_b = metrics.oracle_codes(probe.cause_a, probe.cause_b, 4)
    mixed_a, mixed_b = clean_a + clean_b, clean_a - clean_b  # each code carries both causes
    broken_a = np.full_like(clean_a, np.nan)
    codes_a = np.stack([clean_a, mixed_a, broken_a])
    codes_b = np.stack([clean_b, mixed_b, clean_b])
    # Reconstructions: the causes themselves, their average, and the causes again.
    halves = (probe.cause_a + probe.cause_b) / 2
    recon_a = np.stack([probe.cause_a, halves, probe.cause_a])
    recon_b = np.stack([probe.cause_b, halves, probe.cause_b])
    scores = metrics.ground_truth_scores(probe, rows, codes_a, codes_b, recon_a, recon_b,
                                         with_classifier=False)
    score = np.asarray(scores["disentanglement_per_seed"])
    # The oracle's own codes reach its ceiling; mixing them sinks the score; NaN stays alone.
    assert score[0] == pytest.approx(scores["disentanglement_oracle"], abs=1e-5)
    assert score[0] > 0.1 and score[1] < score[0] / 4 and np.isnan(score[2])
    assert np.asarray(scores["disentanglement_matrix_per_seed"]).shape == (3, 2, 2)
    assert len(scores["disentanglement_chance_per_seed"]) == 3
    assert len(scores["label_disentanglement_per_seed"]) == 3
    recovery = scores["cause_recovery_per_seed"]
    assert recovery[0] == pytest.approx(1.0) and recovery[2] == pytest.approx(1.0)
    assert recovery[1] < 0.6
    assert scores["cause_recovery_raw_per_seed"][0] == pytest.approx(1.0)
    assert "pair_recognition_per_seed" not in scores and "pair_recognition" not in scores


def test_seed_distribution_skips_seeds_without_a_finite_value():
    assert metrics.seed_distribution([3.0, np.nan, 1.0, 2.0, np.inf]) == {
        "median": 2.0, "q25": 1.5, "q75": 2.5, "min": 1.0, "max": 3.0}
    assert metrics.seed_distribution([np.nan]) == {}


def test_sweep_verdicts_count_the_seeds_by_each_rule():
    summary = {"final_mi_per_seed": [0.5, 0.2, 0.3, 1.0],
               "final_mi_raw_per_seed": [0.05, 0.2, 0.09, 1.0],
               "disentanglement_per_seed": [0.3, 0.01, 0.2, np.nan],
               "disentanglement_chance_per_seed": [0.01, 0.0, 0.02, np.nan],
               "label_disentanglement_per_seed": [0.5, 0.0, 0.4, np.nan],
               "disentanglement_oracle": 0.4, "unhealthy_code_seeds": [1, 3],
               "nonfinite_seeds": [3], "probe_reconstruction_per_seed": [10.0, 11.0, 12.0, 13.0],
               "cause_recovery_per_seed": [0.8, 0.1, 0.5, 0.4]}
    verdicts = metrics.sweep_verdicts(summary, mi_threshold=0.1, score_fraction=0.5,
                                      collapse_threshold=0.01,
                                      code_std=np.array([0.3, 0.005, 0.2, 0.0]),
                                      stage1_code_std=np.array([0.001, 0.005, 0.2, np.nan]))
    assert verdicts["seeds_disentangled"] == 2  # 0.3 and 0.2 reach half the ceiling 0.4
    assert verdicts["seeds_below_mi_threshold"] == 2  # raw MI 0.05 and 0.09
    assert (verdicts["seeds_collapsed"], verdicts["seeds_collapsed_in_stage1"]) == (2, 2)
    assert verdicts["unhealthy_code_seeds"] == 2 and verdicts["nonfinite_seeds"] == [3]
    assert verdicts["disentanglement"] == metrics.seed_distribution([0.3, 0.01, 0.2])
    assert verdicts["cause_recovery"]["max"] == 0.8
    assert "pair_recognition" not in verdicts and "stage1_active_units" not in verdicts
    plain = metrics.sweep_verdicts({k: summary[k] for k in (
        "final_mi_per_seed", "final_mi_raw_per_seed", "unhealthy_code_seeds", "nonfinite_seeds",
        "probe_reconstruction_per_seed")}, mi_threshold=0.1, score_fraction=0.5,
        collapse_threshold=0.01)
    assert "seeds_disentangled" not in plain and "seeds_collapsed" not in plain
