"""Chapter 4 analyses: activity (eq. 4.8), model difference (eq. 4.12) against brute force over all
permutations, unit configurations (eq. 4.10, 4.11), interpolation (eq. 4.13), variance shares."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.energy import analysis, exact
from jaxdis.energy.broadnet import BroadnetParams


def random_model(seed, num_a=5, num_b=5, num_visible=7):
    rng = np.random.default_rng(seed)
    return BroadnetParams(*(jnp.asarray(rng.normal(size=s), jnp.float32) for s in
                            ((num_a, num_visible), (num_b, num_visible), (num_a,), (num_b,))))


def test_activity_is_eq_4_8_with_half_at_step_zero():
    rng = np.random.default_rng(0)
    trace_a, trace_b = rng.uniform(size=(6, 3, 4)), rng.uniform(size=(6, 3, 2))
    want = np.zeros((6, 3))
    for n in range(3):
        prev_a, prev_b = np.full(4, 0.5), np.full(2, 0.5)
        for t in range(6):
            want[t, n] = np.abs(trace_a[t, n] - prev_a).sum() + np.abs(trace_b[t, n] - prev_b).sum()
            prev_a, prev_b = trace_a[t, n], trace_b[t, n]
    np.testing.assert_allclose(analysis.activity(jnp.asarray(trace_a), jnp.asarray(trace_b)), want,
                               rtol=1e-6)


def brute_force_matched_distance(rows_1, rows_2):
    rows_1, rows_2 = np.asarray(rows_1, np.float64), np.asarray(rows_2, np.float64)
    return min(np.sum((rows_1[list(p)] - rows_2) ** 2)
               for p in itertools.permutations(range(len(rows_1))))


@pytest.mark.parametrize("seed", range(3))
def test_model_difference_equals_brute_force_over_all_permutations(seed):
    one, two = random_model(seed), random_model(seed + 100)
    want = (brute_force_matched_distance(one.W, two.W)
            + brute_force_matched_distance(one.V, two.V))
    np.testing.assert_allclose(analysis.model_difference(one, two), want, rtol=1e-9)


def test_model_difference_ignores_unit_order_within_a_cause():
    model = random_model(4)
    shuffled = BroadnetParams(model.W[::-1], model.V[jnp.asarray([2, 0, 4, 1, 3])], model.a, model.b)
    assert analysis.model_difference(model, shuffled) == pytest.approx(0.0, abs=1e-9)
    assert analysis.model_difference(model, random_model(5)) > 1.0


def test_unit_configurations_are_all_splits_of_the_units():
    model = random_model(6)
    configs, index_sets = analysis.unit_configurations(model, drop_mirrors=False)
    assert len(index_sets) == math.comb(10, 5) == configs.W.shape[0]
    first = jax.tree.map(lambda t: t[0], configs)
    for got, want in zip(first, model):
        np.testing.assert_array_equal(got, want)
    units = np.concatenate([model.W, model.V])
    for c in range(0, 252, 37):  # every configuration holds each unit exactly once, with its bias
        rows = np.concatenate([configs.W[c], configs.V[c]])
        order = np.lexsort(rows.T)
        np.testing.assert_array_equal(rows[order], units[np.lexsort(units.T)])
        np.testing.assert_array_equal(configs.a[c], np.concatenate([model.a, model.b])[index_sets[c]])
    mirrors_dropped, _ = analysis.unit_configurations(model)
    assert mirrors_dropped.W.shape[0] == 126


def test_unit_configurations_keep_log_partition_of_swapped_causes():
    # Swapping the names of the two causes (I <-> J) leaves the model's distribution unchanged.
    model = random_model(7, 3, 3, 4)
    configs, index_sets = analysis.unit_configurations(model, drop_mirrors=False)
    mirror = [i for i, I in enumerate(index_sets) if set(I) == {3, 4, 5}][0]
    swapped = jax.tree.map(lambda t: t[mirror], configs)
    np.testing.assert_allclose(exact.log_partition(swapped, 1.0), exact.log_partition(model, 1.0),
                               rtol=1e-6)


def test_interpolation_endpoints_are_the_model_and_the_swap():
    model = random_model(8)
    same = analysis.interpolate_units(model, 1, 3, 1.0)
    for got, want in zip(same, model):
        np.testing.assert_allclose(got, want)
    swapped = analysis.interpolate_units(model, 1, 3, 0.0)
    np.testing.assert_allclose(swapped.W[1], model.V[3])
    np.testing.assert_allclose(swapped.V[3], model.W[1])
    np.testing.assert_allclose([swapped.a[1], swapped.b[3]], [model.b[3], model.a[1]])
    half = analysis.interpolate_units(model, 1, 3, 0.25)
    np.testing.assert_allclose(half.W[1], 0.25 * model.W[1] + 0.75 * model.V[3], rtol=1e-6)
    np.testing.assert_allclose(half.W[0], model.W[0])
    with pytest.raises(ValueError, match="j, k"):
        analysis.interpolate_units(model, 5, 0, 0.5)


def test_variance_share_finds_a_cause_that_is_a_bias():
    model = random_model(9, 3, 3, 6)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(40, 6)), jnp.float32)
    # Cause B's units all fire regardless of x: a huge bias and tiny weights.
    biased = model._replace(V=model.V * 1e-3, b=jnp.full(3, 30.0))
    shares = analysis.cause_variance_shares(biased, x, 1.0)
    assert shares[1] < 1e-3 and shares[0] > 0.999
    np.testing.assert_allclose(jnp.sum(analysis.cause_variance_shares(model, x, 1.0)), 1.0,
                               rtol=1e-6)


def test_cause_recovery_is_one_for_the_generating_split_and_not_for_a_mixed_one():
    # Units on separate pixels (orthogonal rows): the posterior is exact and factorial, and with
    # sigma = 0.1 a point mass on the generating state.
    rows = 2 * np.eye(6, dtype=np.float32)
    rng = np.random.default_rng(2)
    h_a, h_b = rng.integers(0, 2, (50, 2)), rng.integers(0, 2, (50, 2))
    cause_a = jnp.asarray(h_a @ rows[[0, 1]])
    cause_b = jnp.asarray(h_b @ rows[[2, 3]])
    x, bias = cause_a + cause_b, jnp.full(2, -2.0 / 0.01)  # -||row||^2 / (2 sigma^2)

    def model(units_a, units_b):
        return BroadnetParams(jnp.asarray(rows[units_a]), jnp.asarray(rows[units_b]), bias, bias)

    generating = analysis.cause_recovery(model([0, 1], [2, 3]), x, cause_a, cause_b, 0.1)
    np.testing.assert_allclose(generating, 1.0, atol=1e-4)
    renamed = analysis.cause_recovery(model([2, 3], [0, 1]), x, cause_a, cause_b, 0.1)
    np.testing.assert_allclose(renamed, 1.0, atol=1e-4)  # the causes' names do not matter
    mixed = analysis.cause_recovery(model([0, 2], [1, 3]), x, cause_a, cause_b, 0.1)
    assert np.all(np.asarray(mixed) < 0.7), mixed


@pytest.mark.parametrize("num_a, num_b", [(4, 3), (2, 5), (6, 6)])
def test_fast_posterior_means_equal_the_tabulated_posterior(num_a, num_b):
    model = random_model(11 + num_a, num_a, num_b, 9)
    model = model._replace(W=0.5 * model.W, V=0.5 * model.V)
    x = jnp.asarray(np.random.default_rng(3).normal(size=(13, 9)), jnp.float32)
    fast = analysis.posterior_mean_reconstructions(model, x, 0.8, method="fast")
    table = analysis.posterior_mean_reconstructions(model, x, 0.8, method="table")
    for got, want in zip(fast, table):
        scale = float(jnp.max(jnp.abs(want)))
        assert scale > 0.1  # the comparison is not vacuous
        np.testing.assert_allclose(got, want, atol=1e-5 * scale, rtol=1e-4)
    with pytest.raises(ValueError, match="method"):
        analysis.posterior_mean_reconstructions(model, x, 0.8, method="nope")


def test_centred_cause_recovery_ignores_a_constant_moved_between_the_true_causes():
    model = random_model(5, 3, 3, 6)
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(size=(30, 6)), jnp.float32)
    cause_a = jnp.asarray(rng.normal(size=(30, 6)), jnp.float32)
    cause_b = x - cause_a
    shift = jnp.asarray(rng.normal(size=6), jnp.float32) * 3
    recover = lambda a, b, centred: analysis.cause_recovery(model, x, a, b, 1.0, centred)  # noqa
    np.testing.assert_allclose(recover(cause_a + shift, cause_b - shift, True),
                               recover(cause_a, cause_b, True), rtol=1e-5)
    assert not np.allclose(recover(cause_a + shift, cause_b - shift, False),
                           recover(cause_a, cause_b, False), rtol=1e-2)
