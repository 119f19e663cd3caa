"""Specification of the Parzen-window log-likelihood (Cheung et al. Table 5, Breuleux et al.)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxdis.metrics import (parzen_evaluation, parzen_log_densities, parzen_log_likelihood,
                            select_parzen_bandwidth)


def parzen_loop(samples, points, sigma):
    """log (1/M) sum_j N(x; s_j, sigma^2 I), one point at a time, in float64 NumPy."""
    samples = np.asarray(samples, np.float64)
    dim = samples.shape[1]
    out = []
    for x in np.asarray(points, np.float64):
        log_kernels = [
            -np.sum((x - s) ** 2) / (2 * sigma**2) - 0.5 * dim * np.log(2 * np.pi * sigma**2)
            for s in samples
        ]
        peak = max(log_kernels)
        out.append(peak + np.log(np.mean(np.exp(np.asarray(log_kernels) - peak))))
    return np.asarray(out)


def test_matches_a_float64_loop_with_ragged_tiles():
    rng = np.random.default_rng(0)
    samples, points = rng.uniform(size=(53, 7)), rng.uniform(size=(29, 7))
    with jax.enable_x64(True):
        ours = parzen_log_densities(jnp.asarray(samples), jnp.asarray(points), 0.3, tile_size=8)
        np.testing.assert_allclose(ours, parzen_loop(samples, points, 0.3), rtol=1e-12)
        mean = parzen_log_likelihood(jnp.asarray(samples), jnp.asarray(points), 0.3, tile_size=8)
        assert float(mean) == pytest.approx(parzen_loop(samples, points, 0.3).mean(), rel=1e-12)


def test_float32_on_image_sized_data_is_close_to_float64():
    rng = np.random.default_rng(1)
    samples = (rng.uniform(size=(40, 784)) < 0.2).astype(np.float32)
    points = (rng.uniform(size=(10, 784)) < 0.2).astype(np.float32)
    ours = parzen_log_densities(samples, points, 0.2, tile_size=16)
    np.testing.assert_allclose(ours, parzen_loop(samples, points, 0.2), rtol=1e-5)


def test_bandwidth_is_chosen_on_validation_data():
    rng = np.random.default_rng(2)
    samples = rng.normal(scale=1.0, size=(400, 2)).astype(np.float32)
    validation = rng.normal(scale=1.0, size=(200, 2)).astype(np.float32)
    bandwidths = jnp.asarray([0.01, 0.3, 10.0])
    best, log_likelihoods = select_parzen_bandwidth(samples, validation, bandwidths, tile_size=64)
    assert float(best) == pytest.approx(0.3)
    expected = [parzen_loop(samples, validation, s).mean() for s in [0.01, 0.3, 10.0]]
    np.testing.assert_allclose(log_likelihoods, expected, rtol=1e-4)


def test_evaluation_scores_the_test_set_at_the_bandwidth_chosen_on_validation():
    rng = np.random.default_rng(4)
    samples = rng.normal(size=(300, 2)).astype(np.float32)
    validation, test = (rng.normal(size=(n, 2)).astype(np.float32) for n in (100, 80))
    result = parzen_evaluation(samples, validation, test, (0.01, 0.3, 10.0), tile_size=64)
    assert result["bandwidth"] == pytest.approx(0.3)
    expected = [parzen_loop(samples, validation, s).mean() for s in [0.01, 0.3, 10.0]]
    np.testing.assert_allclose(result["validation_log_likelihood_per_bandwidth"], expected,
                               rtol=1e-4)
    log_p = parzen_loop(samples, test, 0.3)
    assert result["log_likelihood"] == pytest.approx(log_p.mean(), rel=1e-5)
    assert result["standard_error"] == pytest.approx(log_p.std() / np.sqrt(80), rel=1e-4)


def test_vmaps_over_bandwidths_and_jits():
    rng = np.random.default_rng(3)
    samples, points = rng.uniform(size=(30, 3)), rng.uniform(size=(12, 3))
    sigmas = jnp.asarray([0.1, 0.2, 0.5])
    batched = jax.jit(jax.vmap(lambda s: parzen_log_likelihood(samples, points, s)))(sigmas)
    expected = [parzen_loop(samples, points, s).mean() for s in [0.1, 0.2, 0.5]]
    np.testing.assert_allclose(batched, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "samples, points, bandwidth, message",
    [
        (np.zeros(5), np.zeros((3, 1)), 0.1, "samples must have shape"),
        (np.zeros((5, 2)), np.zeros((3, 3)), 0.1, "share the dimension"),
        (np.zeros((5, 2), np.int32), np.zeros((3, 2)), 0.1, "samples must be a floating"),
        (np.zeros((5, 2)), np.zeros((3, 2)), 0.0, "bandwidth must be positive"),
    ],
)
def test_rejects_bad_inputs(samples, points, bandwidth, message):
    with pytest.raises((ValueError, TypeError), match=message):
        parzen_log_likelihood(samples, points, bandwidth)
