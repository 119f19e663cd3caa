"""Chapter 4 analyses: activity (eq. 4.8), model difference (eq. 4.12) against brute force over all
permutations, unit configurations (eq. 4.10, 4.11), interpolation (eq. 4.13), variance shares."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.energy import analysis, cd, exact
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


def test_sampler_frequencies_converge_to_the_exact_posterior_in_its_state_order():
    model = random_model(21, 2, 3, 5)
    model = model._replace(W=0.8 * model.W, V=0.8 * model.V)
    x = jnp.asarray(np.random.default_rng(5).normal(size=(1, 5)), jnp.float32)
    exact_probs, freqs = analysis.posterior_vs_sampler(model, x, jax.random.key(0), 1.0,
                                                       num_samples=20000, num_steps=15)
    assert exact_probs.shape == freqs.shape == (2 ** 5,)
    np.testing.assert_allclose(exact_probs.sum(), 1.0, rtol=1e-5)
    np.testing.assert_allclose(freqs.sum(), 1.0)
    # a state index that disagreed with exact.log_posterior's order would give a large distance
    assert 0.5 * np.abs(freqs - exact_probs).sum() < 0.03
    with pytest.raises(ValueError, match="x"):
        analysis.posterior_vs_sampler(model, jnp.concatenate([x, x]), jax.random.key(0), 1.0,
                                      10, 2)


def test_pairwise_model_differences_is_the_symmetric_matrix_of_eq_4_12():
    models = [random_model(30 + i, 3, 2, 4) for i in range(3)]
    stacked = jax.tree.map(lambda *t: jnp.stack(t), *models)
    pairwise = analysis.pairwise_model_differences(stacked)
    np.testing.assert_array_equal(pairwise, pairwise.T)
    np.testing.assert_array_equal(np.diag(pairwise), 0.0)
    assert pairwise[0, 2] == analysis.model_difference(models[0], models[2])


def test_retrained_configurations_start_from_every_split_and_compare_to_the_original():
    model = random_model(40, 2, 2, 5)
    x = jnp.asarray(np.random.default_rng(6).normal(size=(16, 5)), jnp.float32)
    result = analysis.retrain_configurations(model, jax.random.key(1), x, epochs=2, batch_size=8,
                                             sigma=1.0, learning_rate=0.05)
    count = math.comb(4, 2) // 2
    assert result.index_sets.shape == (count, 2) and result.curves.shape == (count, 3)
    configs, _ = analysis.unit_configurations(model)
    np.testing.assert_allclose(result.log_likelihood_before, [
        exact.mean_log_evidence(jax.tree.map(lambda t, i=i: t[i], configs), x, 1.0)
        for i in range(count)], rtol=1e-5)
    np.testing.assert_allclose(result.curves[:, 0], result.log_likelihood_before, rtol=1e-5)
    assert result.to_original[0] == 0.0 and np.all(result.to_original[1:] > 0)
    assert result.original_moved > 0 and np.all(np.isfinite(result.nearest_other))


def test_retrained_interpolations_measure_each_blend_against_the_original_and_the_swap():
    model = random_model(41, 2, 2, 5)
    x = jnp.asarray(np.random.default_rng(7).normal(size=(16, 5)), jnp.float32)
    to_original, to_swapped = analysis.retrain_interpolations(
        model, [(0, 1), (1, 0)], (0.0, 1.0), jax.random.key(2), x, epochs=1, batch_size=16,
        sigma=1.0, learning_rate=1e-6)  # a tiny step: each blend stays where it started
    assert to_original.shape == to_swapped.shape == (2, 2)
    np.testing.assert_allclose(to_original[:, 1], 0.0, atol=1e-6)  # alpha = 1: the original
    np.testing.assert_allclose(to_swapped[:, 0], 0.0, atol=1e-6)  # alpha = 0: the swap


def test_activity_sweep_wants_hyper_at_unit_noise_and_gives_one_curve_per_setting():
    rng = np.random.default_rng(8)
    cause_a, cause_b = (jnp.asarray(rng.uniform(-1, 1, (16, 5)), jnp.float32) for _ in range(2))
    hyper = cd.CDHyper(sigma=1.0, learning_rate=0.01, k=1)
    curves = analysis.activity_sweep(jax.random.key(3), cause_a, cause_b, (0.5, 2.0), (1.0, 1.0),
                                     num_units=3, epochs=1, hyper=hyper, batch_size=8, steps=4)
    assert curves.shape == (2, 4) and np.all(np.asarray(curves) >= 0)
    with pytest.raises(ValueError, match="hyper"):
        analysis.activity_sweep(jax.random.key(3), cause_a, cause_b, (0.5,), (1.0,), num_units=3,
                                epochs=1, hyper=cd.CDHyper(sigma=0.5), batch_size=8, steps=4)
    with pytest.raises(ValueError, match="sigmas, alphas"):
        analysis.activity_sweep(jax.random.key(3), cause_a, cause_b, (0.5, 1.0), (1.0,),
                                num_units=3, epochs=1, hyper=hyper, batch_size=8, steps=4)


def test_explained_variance_of_a_model_that_reconstructs_nothing():
    model = random_model(42, 2, 2, 5)
    silent = model._replace(W=0 * model.W, V=0 * model.V)  # every reconstruction is 0
    x = jnp.asarray(np.random.default_rng(9).normal(size=(20, 5)) + 3, jnp.float32)
    want = 1 - jnp.sum(x**2) / jnp.sum((x - x.mean(0)) ** 2)
    np.testing.assert_allclose(analysis.explained_variance(silent, x, 1.0), want, rtol=1e-6)
    assert analysis.explained_variance(model, x, 1.0) != pytest.approx(float(want))
