"""Parzen-window log-likelihood of generated samples (Cheung et al. Table 5; Breuleux et al. 2011).

A Gaussian kernel density is placed on M generated samples s_j, and test points x are scored
under it:

    log p(x) = log (1/M) sum_j N(x; s_j, sigma^2 I)
             = logsumexp_j( -||x - s_j||^2 / (2 sigma^2) ) - log M - (D/2) log(2 pi sigma^2).

sigma is chosen on a validation set (the bandwidth with the highest mean log-likelihood), as
Goodfellow et al. (2014) did and Cheung et al. followed. Test points are taken in tiles, and
for each tile a `lax.scan` over sample tiles keeps a running log-sum-exp, so memory is
O(tile_size^2) however many samples and points there are.

Squared distances use ||x||^2 + ||s||^2 - 2 x.s (one matrix product per tile pair), after
subtracting the samples' mean from both sets to keep the norms, and so the cancellation, small.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp

__all__ = ["parzen_log_densities", "parzen_log_likelihood", "select_parzen_bandwidth"]


def parzen_log_densities(samples, points, bandwidth, *, tile_size: int = 512):
    """log p(x) of each point under the Gaussian Parzen window on ``samples``.

    Args:
      samples: (M, D) floating array, the generated samples (kernel centres).
      points: (N, D) floating array, e.g. test images flattened.
      bandwidth: sigma > 0, a scalar (may be traced, e.g. under vmap over bandwidths).
      tile_size: points and samples per tile (static).

    Returns:
      (N,) log-densities in nats, of the samples' dtype.
    """
    samples, points = _validate(samples, points, bandwidth, tile_size)
    bandwidth = jnp.asarray(bandwidth, samples.dtype)
    return _log_densities(samples, points, bandwidth, tile_size=tile_size)


def parzen_log_likelihood(samples, test, bandwidth, *, tile_size: int = 512):
    """Mean Parzen-window log-likelihood of ``test`` (N, D) under ``samples`` (M, D), in nats."""
    return jnp.mean(parzen_log_densities(samples, test, bandwidth, tile_size=tile_size))


def select_parzen_bandwidth(samples, validation, bandwidths, *, tile_size: int = 512):
    """Chooses sigma among ``bandwidths`` by the mean log-likelihood of ``validation``.

    Returns:
      (best_bandwidth, log_likelihoods): a scalar and the (B,) mean validation log-likelihood of
      each bandwidth. Use the best one for ``parzen_log_likelihood`` on the test set.
    """
    bandwidths = jnp.asarray(bandwidths)
    if bandwidths.ndim != 1 or bandwidths.shape[0] == 0:
        raise ValueError(f"bandwidths must be a non-empty 1-D array, got shape {bandwidths.shape}")
    if not isinstance(bandwidths, jax.core.Tracer) and not bool(jnp.all(bandwidths > 0)):
        raise ValueError(f"bandwidths must all be positive, got {bandwidths}")
    samples, validation = _validate(samples, validation, 1.0, tile_size)
    bandwidths = bandwidths.astype(samples.dtype)
    log_likelihoods = lax.map(
        lambda sigma: jnp.mean(_log_densities(samples, validation, sigma, tile_size=tile_size)),
        bandwidths,
    )
    return bandwidths[jnp.argmax(log_likelihoods)], log_likelihoods


def parzen_evaluation(samples, validation, test, bandwidths, *, tile_size: int = 512) -> dict:
    """Goodfellow et al. (2014)'s procedure in one host call: sigma chosen among ``bandwidths`` on
    ``validation`` (:func:`select_parzen_bandwidth`), then the mean log-likelihood of ``test``
    under ``samples`` (nats) and its standard error, std(log p) / sqrt(N).

    Returns:
      {"bandwidth", "validation_log_likelihood_per_bandwidth" (a list), "log_likelihood",
      "standard_error"} as Python floats.
    """
    samples, validation, test = jnp.asarray(samples), jnp.asarray(validation), jnp.asarray(test)
    bandwidth, validation_ll = select_parzen_bandwidth(samples, validation, jnp.asarray(bandwidths),
                                                       tile_size=tile_size)
    log_p = np.asarray(parzen_log_densities(samples, test, bandwidth, tile_size=tile_size),
                       np.float64)
    return {"bandwidth": float(bandwidth),
            "validation_log_likelihood_per_bandwidth": np.asarray(validation_ll).tolist(),
            "log_likelihood": float(log_p.mean()),
            "standard_error": float(log_p.std() / np.sqrt(log_p.size))}


@functools.partial(jax.jit, static_argnames=("tile_size",))
def _log_densities(samples, points, bandwidth, *, tile_size):
    m, dim = samples.shape
    n = points.shape[0]
    centre = jnp.mean(samples, axis=0)
    samples, points = samples - centre, points - centre

    point_tile = min(tile_size, n)
    sample_tile = min(tile_size, m)
    point_tiles = _pad_to_tiles(points, point_tile)
    sample_tiles = _pad_to_tiles(samples, sample_tile)
    sample_valid = (jnp.arange(sample_tiles.shape[0] * sample_tile) < m).reshape(-1, sample_tile)

    def score_point_tile(query):
        query_norms = jnp.sum(query**2, axis=1)

        def accumulate(running, sample_block):
            # Running log-sum-exp: (max so far, sum of exp(value - max)).
            peak, total = running
            centres, valid = sample_block
            centre_norms = jnp.sum(centres**2, axis=1)
            squared = query_norms[:, None] + centre_norms[None, :] - 2 * query @ centres.T
            exponent = -jnp.maximum(squared, 0) / (2 * bandwidth**2)
            exponent = jnp.where(valid[None, :], exponent, -jnp.inf)
            new_peak = jnp.maximum(peak, jnp.max(exponent, axis=1))
            total = total * jnp.exp(peak - new_peak) + jnp.sum(
                jnp.exp(exponent - new_peak[:, None]), axis=1
            )
            return (new_peak, total), None

        rows = query.shape[0]
        start = (jnp.full((rows,), -jnp.inf, samples.dtype), jnp.zeros((rows,), samples.dtype))
        (peak, total), _ = lax.scan(accumulate, start, (sample_tiles, sample_valid))
        return peak + jnp.log(total)

    log_sums = lax.map(score_point_tile, point_tiles).reshape(-1)[:n]
    return log_sums - jnp.log(m) - 0.5 * dim * jnp.log(2 * jnp.pi * bandwidth**2)


def _pad_to_tiles(values, tile):
    n_tiles = -(-values.shape[0] // tile)
    padded = jnp.pad(values, ((0, n_tiles * tile - values.shape[0]), (0, 0)))
    return padded.reshape(n_tiles, tile, values.shape[1])


def _validate(samples, points, bandwidth, tile_size):
    samples = jnp.asarray(samples)
    points = jnp.asarray(points)
    for name, value in (("samples", samples), ("points", points)):
        if value.ndim != 2 or value.shape[0] == 0:
            raise ValueError(f"parzen: {name} must have shape (count > 0, D), got {value.shape}")
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(f"parzen: {name} must be a floating array, got dtype {value.dtype}")
    if samples.shape[1] != points.shape[1]:
        raise ValueError(
            f"parzen: samples {samples.shape} and points {points.shape} must share the dimension D"
        )
    if not isinstance(bandwidth, jax.core.Tracer) and not float(bandwidth) > 0:
        raise ValueError(f"parzen: bandwidth must be positive, got {bandwidth}")
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise ValueError(f"parzen: tile_size must be a Python int >= 1, got {tile_size!r}")
    return samples, points.astype(samples.dtype)
