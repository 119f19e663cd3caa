"""Specification of jaxdis.metrics.ksg_mi, the KSG mutual-information estimator."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial import cKDTree
from scipy.special import digamma

from jaxdis.metrics import ksg_mi

from conftest import relative_error


def standardized(values):
    """Each column divided by its standard deviation (ddof 0), constant columns left alone."""
    values = np.asarray(values, np.float64)
    std = values.std(axis=0)
    return values / np.where(std > 0, std, 1.0)


def ksg_reference(x, y, k=3, standardize=True):
    """KSG estimator 1 with k-d trees, written from Kraskov et al. (2004) eq. 8, in float64.

    With ``standardize`` (ksg_mi's default) on the data scaled column by column to unit
    standard deviation, as ksg_mi documents.

    eps(i): k-th neighbour distance in the joint max-norm space, self excluded (query k + 1
    points, the first being the point itself). n_x(i), n_y(i): points j != i strictly closer
    than eps(i) in each marginal (query_ball_point counts <= r, so r is the float just below
    eps; when eps = 0 nothing is strictly closer).
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if standardize:
        x, y = standardized(x), standardized(y)
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
    # The raw estimator: dividing by a standard deviation keeps equal values equal, but rounds
    # equal distances |a - b| = |c - d| differently, so exact ties are tested on the raw values.
    with jax.enable_x64(True):
        ours = float(ksg_mi(jnp.asarray(x), jnp.asarray(y), standardize=False, tile_size=100))
    assert abs(ours - ksg_reference(x, y, standardize=False)) < 1e-4


@pytest.mark.parametrize("k", [1, 4, 10])
@pytest.mark.parametrize("tile_size", [32, 96, 1000])
def test_exact_with_duplicates_for_any_k_and_tile(k, tile_size):
    """Pass 1 keeps the k buckets of 32 keys with the smallest minima: exact whatever k and the
    number of buckets per tile, with duplicated rows and exact ties at eps."""
    rng = np.random.default_rng(100 + k)
    x = np.round(rng.normal(size=(500, 2)), 1)
    x[250:300] = x[:50]  # duplicated rows
    y = np.round(x[:, :1] + rng.normal(size=(500, 1)), 1)
    with jax.enable_x64(True):
        ours = ksg_mi(jnp.asarray(x), jnp.asarray(y), k, standardize=False, tile_size=tile_size)
    assert abs(float(ours) - ksg_reference(x, y, k, standardize=False)) < 1e-9


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
    # May be slightly negative. Over seeds the estimate at this N and dimension (4 + 3) spreads
    # by a few hundredths of a nat either way (seed 2 standardised: -0.035, raw: +0.010).
    assert abs(float(ksg_mi(x, y))) < 0.05
    assert abs(float(ksg_mi(x, y, standardize=False))) < 0.02


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


def test_vmap_with_an_unbatched_argument_and_nested_vmap():
    """On the CPU a vmapped call runs a custom batching rule (the runs one after another)."""
    rng = np.random.default_rng(17)
    xs = jnp.asarray(rng.normal(size=(2, 3, 150, 2)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(150, 1)), jnp.float32) + xs[0, 0, :, :1]
    score = functools.partial(ksg_mi, tile_size=64)
    shared_y = jax.vmap(score, in_axes=(0, None))(xs[0], y)
    np.testing.assert_allclose(shared_y, [score(x, y) for x in xs[0]], rtol=1e-6)
    nested = jax.jit(jax.vmap(jax.vmap(score)))(xs, xs**2)
    looped = [[score(x, x**2) for x in row] for row in xs]
    np.testing.assert_allclose(nested, looped, rtol=1e-6)


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


def test_standardizing_makes_the_estimate_scale_invariant():
    """Ten correlated Gaussian coordinates (truth 1.44 nats), y shrunk tenfold: with the max
    norm the raw estimator lets x pick every neighbour and reads ~0; the default does not.
    (In 20 dimensions at N = 2,000 KSG is biased down: both estimators read 0.63 here.)"""
    x, y, truth = correlated_gaussians(np.random.default_rng(10), 2000, [0.5] * 10)
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    unscaled = float(ksg_mi(x, y))
    assert relative_error(ksg_mi(x, 0.1 * y), unscaled) < 1e-4
    assert relative_error(ksg_mi(100.0 * x, 0.1 * y), unscaled) < 1e-4
    assert 0.5 < unscaled < truth
    raw_scaled = float(ksg_mi(x, 0.1 * y, standardize=False))
    assert abs(raw_scaled) < 0.01, raw_scaled
    # On data that already have unit variance the two hardly differ.
    assert abs(float(ksg_mi(x, y, standardize=False)) - unscaled) < 0.05


@pytest.mark.parametrize("k", [1, 3])
def test_standardized_estimate_matches_the_kdtree_twin_in_float32(k):
    rng = np.random.default_rng(11 + k)
    scales = np.asarray([1e-3, 1.0, 50.0])
    x = rng.normal(size=(1200, 3)) * scales
    y = (np.tanh(x[:, :2] / scales[:2]) + 0.5 * rng.normal(size=(1200, 2))) * [7.0, 0.02]
    expected = ksg_reference(x, y, k)
    ours = ksg_mi(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), k=k, tile_size=256)
    # float32 distances can reorder a near-tied neighbour now and then: a few 1e-4 at most.
    assert relative_error(ours, expected) < 1e-3, (float(ours), expected)
    raw = ksg_mi(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), k=k, standardize=False)
    assert relative_error(raw, ksg_reference(x, y, k, standardize=False)) < 1e-3


def test_constant_columns_add_nothing_to_any_distance():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(700, 2))
    y = x[:, :1] + rng.normal(size=(700, 1))
    padded_x = np.hstack([x, np.full((700, 1), 5.0)])
    padded_y = np.hstack([np.zeros((700, 1)), y, np.full((700, 1), -3.0)])
    with jax.enable_x64(True):
        ours = ksg_mi(jnp.asarray(padded_x), jnp.asarray(padded_y))
        np.testing.assert_allclose(ours, ksg_mi(jnp.asarray(x), jnp.asarray(y)), rtol=1e-12)
    assert abs(float(ours) - ksg_reference(padded_x, padded_y)) < 1e-6


@pytest.mark.parametrize("standardize", [True, False])
def test_all_constant_data_scores_exactly_zero(standardize):
    """A constant carries no information: 0, where the raw formula would read psi(k) - <psi(n_y
    + 1)> (positive when y has ties) or, with both constant, psi(k) + psi(N) - 2 psi(1)."""
    rng = np.random.default_rng(13)
    constant = jnp.full((300, 2), 0.7, jnp.float32)
    tied = jnp.asarray(np.round(rng.normal(size=(300, 2)), 1), jnp.float32)
    continuous = jnp.asarray(rng.normal(size=(300, 3)), jnp.float32)
    for x, y in [(constant, tied), (tied, constant), (constant, constant), (constant, continuous)]:
        assert float(ksg_mi(x, y, standardize=standardize)) == 0.0
        assert float(ksg_mi(x, y, standardize=standardize, key=jax.random.key(0))) == 0.0
    assert float(ksg_mi(jnp.zeros((300, 1)), jnp.zeros((300, 1)), standardize=standardize)) == 0.0
    # ... and under vmap, beside a run that is not constant.
    xs = jnp.stack([constant, tied])
    batched = jax.vmap(lambda x, y: ksg_mi(x, y, standardize=standardize))(xs, xs)
    assert float(batched[0]) == 0.0 and float(batched[1]) > 1.0


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("standardize", [True, False])
def test_nan_or_inf_gives_nan_for_that_run_only_under_vmap(bad, standardize):
    rng = np.random.default_rng(14)
    xs = rng.normal(size=(4, 300, 2)).astype(np.float32)
    ys = (xs + rng.normal(size=(4, 300, 2))).astype(np.float32)
    clean = jax.vmap(lambda x, y: ksg_mi(x, y, standardize=standardize))(xs, ys)
    xs[1, 17, 0] = bad
    ys[3, 5, 1] = bad
    score = jax.jit(jax.vmap(lambda x, y: ksg_mi(x, y, standardize=standardize)))
    batched = np.asarray(score(jnp.asarray(xs), jnp.asarray(ys)))
    assert np.isnan(batched[1]) and np.isnan(batched[3])
    np.testing.assert_allclose(batched[[0, 2]], np.asarray(clean)[[0, 2]], rtol=1e-6)
    assert np.isnan(float(ksg_mi(jnp.asarray(xs[1]), jnp.asarray(ys[1]), key=jax.random.key(0))))


def test_standardize_jits_and_vmaps():
    rng = np.random.default_rng(15)
    xs = jnp.asarray(rng.normal(size=(3, 400, 2)) * [[[0.01, 30.0]]], jnp.float32)
    ys = xs[..., :1] * 1e3 + jnp.asarray(rng.normal(size=(3, 400, 1)), jnp.float32)
    batched = jax.jit(jax.vmap(ksg_mi))(xs, ys)
    looped = [ksg_mi(x, y) for x, y in zip(xs, ys)]
    np.testing.assert_allclose(batched, looped, rtol=1e-5)
    for x, y, ours in zip(xs, ys, batched):
        assert relative_error(ours, ksg_reference(x, y)) < 1e-3


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
        (np.zeros((10, 2)), np.zeros((10, 2)), "3", "k must be"),
        (np.zeros((10, 2)), np.zeros((10, 2)), True, "k must be"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 10, "more samples than k"),
        (np.zeros((10, 2)), np.zeros((10, 2)), 11, "more samples than k"),
        (np.zeros(10), np.zeros((10, 2)), 3, "x must have rank 2"),
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
    with pytest.raises(TypeError, match="standardize"):
        ksg_mi(jnp.zeros((10, 2)), jnp.zeros((10, 2)), standardize="yes")


def test_numpy_integer_k_is_accepted():
    x = jnp.asarray(np.random.default_rng(16).normal(size=(100, 2)), jnp.float32)
    assert float(ksg_mi(x, x**2, k=np.int64(3))) == float(ksg_mi(x, x**2, k=3))


@pytest.mark.slow
def test_matches_kdtree_at_moderately_large_n():
    x, y, _ = correlated_gaussians(np.random.default_rng(9), 20_000, [0.9, 0.5, 0.2])
    with jax.enable_x64(True):
        ours = float(ksg_mi(jnp.asarray(x), jnp.asarray(y)))
    assert abs(ours - ksg_reference(x, y)) < 1e-4
