"""Specification of jaxdis.metrics.ksg_mi, the KSG mutual-information estimator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import digamma

from jaxdis.metrics import ksg_mi


def ksg_reference(x, y, k=3):
    """KSG estimator 1 with k-d trees, written from Kraskov et al. (2004) eq. 8, in float64.

    eps(i): k-th neighbour distance in the joint max-norm space, self excluded (query k + 1
    points, the first being the point itself). n_x(i), n_y(i): points j != i strictly closer
    than eps(i) in each marginal (query_ball_point counts <= r, so r is the float just below
    eps; when eps = 0 nothing is strictly closer).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    n = len(x)
    joint = np.hstack([x, y])
    eps = cKDTree(joint).query(joint, k=k + 1, p=np.inf)[0][:, k]

    def count_strictly_closer(values):
        radius = np.nextafter(eps, 0.0)
        counts = cKDTree(values).query_ball_point(values, radius, p=np.inf, return_length=True)
        return np.where(eps > 0, counts - 1, 0)  # minus the point itself

    n_x = count_strictly_closer(x)
    n_y = count_strictly_closer(y)
    return digamma(k) + digamma(n) - np.mean(digamma(n_x + 1) + digamma(n_y + 1))


def correlated_gaussians(rng, n, rhos):
    """x_c, y_c standard normal pairs with correlation rhos[c]; truth -1/2 sum log(1 - rho^2)."""
    rhos = np.asarray(rhos)
    x = rng.normal(size=(n, len(rhos)))
    y = rhos * x + np.sqrt(1 - rhos**2) * rng.normal(size=(n, len(rhos)))
    return x, y, -0.5 * np.sum(np.log(1 - rhos**2))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_an_independent_kdtree_implementation_in_float64(k):
    rng = np.random.default_rng(k)
    x = rng.normal(size=(1500, 3))
    y = np.tanh(x[:, :2]) + 0.5 * rng.normal(size=(1500, 2))
    with jax.enable_x64(True):
        # 1500 rows in tiles of 256: the last tile is padded.
        ours = float(ksg_mi(jnp.asarray(x), jnp.asarray(y), k=k, tile_size=256))
    assert abs(ours - ksg_reference(x, y, k)) < 1e-4


def test_counts_ties_strictly_as_documented():
    """ReLU-like codes: many exact zeros and repeated values, even duplicated rows."""
    rng = np.random.default_rng(1)
    x = np.maximum(np.round(rng.normal(size=(800, 3)), 1), 0.0)
    y = np.maximum(np.round(x[:, :2] + rng.normal(size=(800, 2)), 1), 0.0)
    joint = np.hstack([x, y])
    assert len(np.unique(joint, axis=0)) < len(joint)  # the data do hold duplicated points
    with jax.enable_x64(True):
        ours = float(ksg_mi(jnp.asarray(x), jnp.asarray(y), tile_size=100))
    assert abs(ours - ksg_reference(x, y)) < 1e-4


def test_correlated_gaussians_within_the_estimators_bias():
    x, y, truth = correlated_gaussians(np.random.default_rng(0), 5000, [0.9, 0.6])
    estimate = float(ksg_mi(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)))
    # truth = 1.056 nats; Kraskov et al. (Fig. 4-5) report errors of a few hundredths of a nat
    # for Gaussians of this size and dimension with k = 3.
    assert abs(estimate - truth) < 0.04, (estimate, truth)


def test_independent_data_scores_near_zero():
    rng = np.random.default_rng(2)
    x = jnp.asarray(rng.normal(size=(3000, 4)), jnp.float32)
    y = jnp.asarray(rng.uniform(size=(3000, 3)), jnp.float32)
    assert abs(float(ksg_mi(x, y))) < 0.02  # may be slightly negative


def test_invariant_to_sample_order():
    x, y, _ = correlated_gaussians(np.random.default_rng(3), 2000, [0.7, 0.3])
    order = np.random.default_rng(4).permutation(2000)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    np.testing.assert_allclose(ksg_mi(x[order], y[order]), ksg_mi(x, y), rtol=1e-5)


def test_tile_size_does_not_change_the_result():
    x, y, _ = correlated_gaussians(np.random.default_rng(5), 200, [0.8])
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    expected = ksg_mi(x, y, tile_size=200)
    for tile_size in [1, 33, 199, 4096]:
        np.testing.assert_allclose(ksg_mi(x, y, tile_size=tile_size), expected, rtol=1e-5)


def test_vmap_over_runs_equals_a_loop_and_jits():
    rng = np.random.default_rng(6)
    xs = jnp.asarray(rng.normal(size=(4, 300, 3)), jnp.float32)
    ys = xs[..., :2] * jnp.asarray([0.0, 0.5, 1.0, 2.0])[:, None, None] + jnp.asarray(
        rng.normal(size=(4, 300, 2)), jnp.float32
    )
    batched = jax.jit(jax.vmap(lambda x, y: ksg_mi(x, y, tile_size=128)))(xs, ys)
    looped = [ksg_mi(x, y, tile_size=128) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(batched, looped, rtol=1e-5, atol=1e-6)
    assert np.all(np.diff(np.asarray(batched)) > 0)  # more coupling, more information


def test_vmap_with_one_key_per_run():
    rng = np.random.default_rng(7)
    xs = jnp.asarray(rng.normal(size=(3, 300, 2)), jnp.float32)
    keys = jax.random.split(jax.random.key(0), 3)
    batched = jax.vmap(lambda x, key: ksg_mi(x, x**2, key=key))(xs, keys)
    looped = [ksg_mi(x, x**2, key=key) for x, key in zip(xs, keys)]
    np.testing.assert_allclose(batched, looped, rtol=1e-5)


def test_jitter_separates_tied_zeros_and_leaves_continuous_data_alone():
    rng = np.random.default_rng(8)
    relu = jnp.asarray(np.maximum(rng.normal(size=(1000, 4)), 0.0), jnp.float32)
    x, y = relu[:, :2], relu[:, 2:]  # independent, a quarter of the rows all zero in x
    plain = float(ksg_mi(x, y))
    tiny = float(ksg_mi(x, y, key=jax.random.key(1)))
    small = float(ksg_mi(x, y, key=jax.random.key(1), jitter=1e-3))
    # Without jitter the tied rows have eps = 0 and add psi(1) twice: a large spurious
    # information. A tiny jitter breaks the ties, but the zeros remain a point mass of width
    # 1e-10, where KSG's local uniformity fails: it is biased, though much less. A jitter of
    # 1e-3 of the column's scale makes the data continuous and the estimate near zero.
    assert plain > 0.3
    assert 0 < tiny < plain / 2
    assert abs(small) < 0.03
    with jax.enable_x64(True):
        continuous_x = jnp.asarray(rng.normal(size=(500, 2)))
        continuous_y = continuous_x + jnp.asarray(rng.normal(size=(500, 2)))
        np.testing.assert_allclose(
            ksg_mi(continuous_x, continuous_y, key=jax.random.key(2)),
            ksg_mi(continuous_x, continuous_y),
            atol=1e-6,
        )


def test_memory_is_bounded_by_tiles_not_n_squared():
    """Compiles (without running) N = 100,000 with dx = dy = 10: N^2 floats would be 40 GB."""
    spec = jax.ShapeDtypeStruct((100_000, 10), jnp.float32)
    compiled = jax.jit(lambda x, y: ksg_mi(x, y, tile_size=1024)).lower(spec, spec).compile()
    assert compiled.memory_analysis().temp_size_in_bytes < 64e6


@pytest.mark.parametrize(
    "x, y, k, message",
    [
        (np.zeros((10, 2, 1)), np.zeros((10, 2)), 3, "x must have rank 2"),
        (np.zeros((10, 2)), np.zeros(10), 3, "y must have rank 2"),
        (np.zeros((10, 2)), np.zeros((9, 2)), 3, "same number of samples"),
        (np.zeros((10, 2), np.int32), np.zeros((10, 2)), 3, "x must be a floating array"),
        (np.zeros((3, 2)), np.zeros((3, 2)), 3, "more samples than k"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 0, "k must be"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 2.0, "k must be"),
    ],
)
def test_rejects_bad_inputs_naming_the_argument(x, y, k, message):
    with pytest.raises((ValueError, TypeError), match=message):
        ksg_mi(jnp.asarray(x), jnp.asarray(y), k=k)


def test_rejects_bad_tile_size_and_jitter():
    with pytest.raises(ValueError, match="tile_size"):
        ksg_mi(jnp.zeros((10, 2)), jnp.zeros((10, 2)), tile_size=0)
    with pytest.raises(ValueError, match="jitter"):
        ksg_mi(jnp.zeros((10, 2)), jnp.zeros((10, 2)), key=jax.random.key(0), jitter=-1.0)


@pytest.mark.slow
def test_matches_kdtree_at_moderately_large_n():
    x, y, _ = correlated_gaussians(np.random.default_rng(9), 20_000, [0.9, 0.5, 0.2])
    with jax.enable_x64(True):
        ours = float(ksg_mi(jnp.asarray(x), jnp.asarray(y)))
    assert abs(ours - ksg_reference(x, y)) < 1e-4
