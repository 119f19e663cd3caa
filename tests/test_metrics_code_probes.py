"""The ground-truth disentanglement score: what it says of codes whose truth we built."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

from jaxdis.metrics import code_probes as dis

N, LATENT, PIXELS = 2000, 4, 60


@pytest.fixture(scope="module")
def world():
    """Two independent causes, each an image made from 4 latent numbers plus a little noise."""
    rng = np.random.default_rng(0)
    latent_a, latent_b = rng.normal(size=(2, N, LATENT)).astype(np.float32)
    mix_a, mix_b = rng.normal(size=(2, LATENT, PIXELS)).astype(np.float32)
    cause_a = latent_a @ mix_a + 0.1 * rng.normal(size=(N, PIXELS)).astype(np.float32)
    cause_b = latent_b @ mix_b + 0.1 * rng.normal(size=(N, PIXELS)).astype(np.float32)
    # Labels a linear classifier can read from the latent numbers (10 classes).
    classes = rng.normal(size=(LATENT, 10)).astype(np.float32)
    labels_a, labels_b = np.argmax(latent_a @ classes, 1), np.argmax(latent_b @ classes, 1)
    return dict(latent_a=latent_a, latent_b=latent_b, cause_a=cause_a, cause_b=cause_b,
                labels_a=labels_a, labels_b=labels_b, rng=rng)


def verdict(world, code_a, code_b):
    return dis.disentanglement(code_a, code_b, world["cause_a"], world["cause_b"],
                               world["labels_a"], world["labels_b"])


def test_perfect_codes_score_near_one_with_a_diagonal_matrix(world):
    result = verdict(world, world["latent_a"], world["latent_b"])
    matrix = np.asarray(result["matrix"])
    assert matrix[0, 0] > 0.95 and matrix[1, 1] > 0.95
    assert matrix[0, 1] < 0.01 and matrix[1, 0] < 0.01
    assert float(result["score"]) > 0.94
    assert float(result["label_score"]) > 0.5
    assert float(result["chance"]) < 0.02


def test_swapped_codes_score_the_same(world):
    direct = verdict(world, world["latent_a"], world["latent_b"])
    swapped = verdict(world, world["latent_b"], world["latent_a"])
    np.testing.assert_allclose(swapped["matrix"], np.asarray(direct["matrix"])[::-1], rtol=1e-5)
    assert float(swapped["score"]) == pytest.approx(float(direct["score"]), rel=1e-5)


def test_entangled_codes_score_near_zero(world):
    a, b = world["latent_a"], world["latent_b"]
    result = verdict(world, a + b, a - b)
    assert np.all(np.asarray(result["matrix"]) > 0.3)  # informative, but about both causes
    assert float(result["score"]) < 0.05


def test_one_code_holding_everything_scores_zero(world):
    both = np.concatenate([world["latent_a"], world["latent_b"]], axis=1)
    nothing = world["rng"].normal(size=(N, LATENT)).astype(np.float32)
    result = verdict(world, both, nothing)
    assert float(result["score"]) < 0.05


def test_both_codes_carrying_the_same_cause_score_zero(world):
    a = world["latent_a"]
    assert float(verdict(world, a, 2 * a + 1)["score"]) < 0.05


def test_collapsed_constant_codes_score_exactly_zero_not_nan(world):
    constant = np.full((N, LATENT), 0.37, np.float32)
    result = verdict(world, constant, constant)
    assert float(result["score"]) == 0.0
    np.testing.assert_array_equal(result["matrix"], np.zeros((2, 2)))
    np.testing.assert_array_equal(result["label_matrix"], np.zeros((2, 2)))
    # One collapsed code beside a perfect one: the collapsed cause lives nowhere.
    assert float(verdict(world, world["latent_a"], constant)["score"]) == 0.0


def test_a_shrunken_code_scores_as_its_full_size_twin(world):
    """What the Kraskov estimate gets wrong: shrinking a code must not change the verdict."""
    full = verdict(world, world["latent_a"], world["latent_b"])
    shrunk = verdict(world, world["latent_a"], 1e-3 * world["latent_b"])
    assert float(shrunk["score"]) == pytest.approx(float(full["score"]), rel=1e-4)


def test_partial_information_lowers_the_score_in_proportion(world):
    a = world["latent_a"][:, :2]  # half of cause a's latent numbers
    result = verdict(world, a, world["latent_b"])
    assert 0.3 < float(result["score"]) < 0.7
    assert float(result["score"]) < float(result["matrix"][0, 0]) + 1e-6


def test_the_oracle_ceiling_is_the_causes_compressed_to_the_code_size(world):
    oracle_a, oracle_b = dis.oracle_codes(world["cause_a"], world["cause_b"], LATENT)
    assert oracle_a.shape == (N, LATENT)
    ceiling = float(verdict(world, oracle_a, oracle_b)["score"])
    assert ceiling > 0.95  # 4 components hold a rank-4 cause
    # Smaller codes reach less, and the ceiling says how much less.
    small = [dis.oracle_codes(world["cause_a"], world["cause_b"], 1)]
    assert float(verdict(world, *small[0])["score"]) < ceiling - 0.3


def test_probe_r2_matches_scikit_learn_ridge_in_float64(world):
    code = world["latent_a"] + 0.5 * world["latent_b"]
    target = world["cause_a"]
    n_fit = N // 2
    mean, std = code[:n_fit].mean(0), code[:n_fit].std(0)
    features = (code.astype(np.float64) - mean) / std
    ridge = Ridge(alpha=1e-3 * n_fit).fit(features[:n_fit], target[:n_fit].astype(np.float64))
    expected = r2_score(target[n_fit:], ridge.predict(features[n_fit:]),
                        multioutput="variance_weighted")
    got = float(dis.probe_r2(code, target))
    assert abs(got - expected) / abs(expected) < 1e-4


def test_scores_are_vmappable_over_seeds_and_a_nan_seed_stands_alone(world):
    a, b = world["latent_a"], world["latent_b"]
    codes_a = np.stack([a, a + b, a])
    codes_b = np.stack([b, a - b, b.copy()])
    codes_b[2, 5, 0] = np.nan
    batched = jax.jit(jax.vmap(dis.disentanglement, in_axes=(0, 0, None, None, None, None)))
    result = batched(codes_a, codes_b, world["cause_a"], world["cause_b"], world["labels_a"],
                     world["labels_b"])
    for seed in range(2):
        single = verdict(world, codes_a[seed], codes_b[seed])
        assert float(result["score"][seed]) == pytest.approx(float(single["score"]), abs=1e-5)
    assert np.isnan(result["score"][2]) and np.isnan(result["label_score"][2])
    assert np.all(np.isfinite(result["score"][:2]))


def test_infinite_values_in_a_code_give_nan_too(world):
    b = world["latent_b"].copy()
    b[0, 0] = np.inf
    assert np.isnan(float(verdict(world, world["latent_a"], b)["score"]))


def test_the_score_of_a_matrix_follows_its_definition():
    assert float(dis.disentanglement_score(np.eye(2))) == 1.0
    assert float(dis.disentanglement_score(np.eye(2)[::-1])) == 1.0
    assert float(dis.disentanglement_score(np.full((2, 2), 0.5))) == 0.0
    assert float(dis.disentanglement_score([[1.0, 1.0], [0.0, 0.0]])) == 0.0
    # gaps: code a 0.8 - 0.1, code b 0.7 - 0.3, cause a 0.8 - 0.3, cause b 0.7 - 0.1; the least
    assert float(dis.disentanglement_score([[0.8, 0.1], [0.3, 0.7]])) == pytest.approx(0.4)


def test_bad_input_names_the_argument(world):
    a, b = world["latent_a"], world["latent_b"]
    with pytest.raises(ValueError, match="code_b"):
        dis.probe_matrix(a, b[:-1], world["cause_a"], world["cause_b"])
    with pytest.raises(ValueError, match="code_a"):
        dis.probe_matrix(a[:, 0], b, world["cause_a"], world["cause_b"])
    with pytest.raises(ValueError, match="fit_fraction"):
        dis.probe_matrix(a, b, world["cause_a"], world["cause_b"], fit_fraction=1.5)
    with pytest.raises(ValueError, match="labels_a"):
        dis.label_probe_matrix(a, b, world["labels_a"][:-1], world["labels_b"])
    with pytest.raises(ValueError, match="matrix"):
        dis.disentanglement_score(np.eye(3))
    with pytest.raises(ValueError, match="n_code"):
        dis.oracle_codes(world["cause_a"], world["cause_b"], 0)


def test_unhealthy_codes_flags_collapsed_and_unequal_spreads():
    spread_a = np.array([0.3, 0.005, 0.45, 0.3, np.nan])
    spread_b = np.array([0.25, 0.3, 0.009, 0.04, 0.3])
    np.testing.assert_array_equal(dis.unhealthy_codes(spread_a, spread_b),
                                  [False, True, True, False, True])
    assert bool(dis.unhealthy_codes(0.3, 0.02))  # 15 times smaller


def test_the_small_solver_matches_numpy_in_float64():
    rng = np.random.default_rng(3)
    for d in (1, 2, 10, 17):
        features = rng.normal(size=(50, d))
        matrix = features.T @ features + 0.1 * np.eye(d)
        right = rng.normal(size=(d, 7))
        got = np.asarray(dis.solve_positive_definite(jnp.asarray(matrix, jnp.float32),
                                                     jnp.asarray(right, jnp.float32)))
        expected = np.linalg.solve(matrix, right)
        assert np.abs(got - expected).max() / np.abs(expected).max() < 1e-4, d


@pytest.mark.timeout(180)
def test_ten_seeds_of_ten_unit_codes_score_in_one_call(world):
    """jnp.linalg.solve hung the CPU runtime on exactly this shape (jax 0.10.2)."""
    rng = np.random.default_rng(5)
    codes_a = rng.normal(size=(10, N, 10)).astype(np.float32)
    codes_b = rng.normal(size=(10, N, 10)).astype(np.float32)
    codes_a[0, :, :LATENT], codes_b[0, :, :LATENT] = world["latent_a"], world["latent_b"]
    batched = jax.jit(jax.vmap(dis.disentanglement, in_axes=(0, 0, None, None, None, None)))
    result = batched(codes_a, codes_b, world["cause_a"], world["cause_b"], world["labels_a"],
                     world["labels_b"])
    assert float(result["score"][0]) > 0.9 and np.all(np.asarray(result["score"][1:]) < 0.05)
