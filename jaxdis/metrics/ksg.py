"""The Kraskov-Stoegbauer-Grassberger (KSG) estimate of mutual information, exact and tiled.

The thesis measures disentangling by the mutual information between the two codes (thesis
eq. 6.2 and section 8.2), estimated with the first estimator of Kraskov, Stoegbauer and
Grassberger (2004, their eq. 8):

    I(X; Y) = psi(k) + psi(N) - < psi(n_x(i) + 1) + psi(n_y(i) + 1) >_i

with the maximum norm. For each point i, eps(i) is the distance to its k-th nearest neighbour
in the joint space z = (x, y), where ||z_i - z_j|| = max(||x_i - x_j||_inf, ||y_i - y_j||_inf);
n_x(i) is the number of points j != i with ||x_i - x_j||_inf < eps(i) (strictly), and n_y(i)
likewise in y.

The computation is brute force and exact (no approximate neighbours) and never holds an N x N
matrix: queries are cut into tiles of `tile_size` rows, and for each query tile a `lax.scan`
over key tiles of the same size keeps a running top-k of joint distances (pass 1), then a second
scan counts the marginal neighbours (pass 2). Memory is O(tile_size^2) per run; the work is
2 N^2 (dx + dy) absolute differences.

By default every column of x and y is first divided by its standard deviation, as
scikit-learn's ``mutual_info_regression`` does before its KSG: with the max norm the variable of
larger scale would otherwise pick every neighbour, and the estimate would read ~0 for strongly
dependent codes of different scales (``standardize=False`` gives the raw estimator).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.scipy.special import digamma

__all__ = ["ksg_mi"]


def ksg_mi(
    x,
    y,
    k: int = 3,
    *,
    standardize: bool = True,
    key=None,
    jitter: float = 1e-10,
    tile_size: int = 1024,
):
    """KSG estimator 1 of I(x; y) in nats, with the max norm (Kraskov et al. 2004, eq. 8).

    Args:
      x: (N, dx) floating array, one sample per row.
      y: (N, dy) floating array, rows paired with those of ``x``.
      k: the neighbour order, a Python int with 1 <= k < N.
      standardize: if True (the default), each column of x and y is divided by its standard
        deviation over the N samples (not centred: distances do not depend on the mean, and exact
        zeros stay exact zeros for the jitter below) before estimating, so that the estimate does
        not depend on the scale of either variable. Constant columns (standard deviation 0) are
        left as they are: they add 0 to every distance. If False, the raw estimator on the given
        values (the thesis's "MI < 0.1" rule is stated for it); with the max norm it is not scale
        invariant: ``ksg_mi(x, 0.1 * y, standardize=False)`` reads about 0 for strongly
        dependent x, y. A Python bool (static under jit).
      key: optional PRNG key. When given, Gaussian noise with standard deviation
        ``jitter * std(column)`` (the column's standard deviation over the N samples, after
        standardizing if ``standardize``) is added to every column of x and y before estimating, as the thesis does against tied points
        (section 6.2). Constant columns get no noise: they add nothing to any distance.
        In float32 a relative jitter below about 1e-7 is lost by rounding on values of the order
        of the column's scale, so the default 1e-10 separates only values that are exactly zero
        (the common case: ReLU codes). Pass a larger ``jitter`` to separate other ties.
        Breaking ties does not remove the bias of KSG on a point mass (all-zero rows stay a
        cluster of width ~jitter, where the estimator's local uniformity fails): on independent
        half-zero ReLU data the tiny default leaves a bias of about 0.1 nats, a jitter of 1e-3
        almost none (see tests/test_metrics_ksg.py).
      jitter: relative noise scale, see ``key``. Ignored when ``key`` is None.
      tile_size: rows per query and key tile (a Python int); memory grows as tile_size^2
        (times the number of runs under vmap). Clipped to N. N need not be a multiple of it:
        the last tile is padded and the padding masked out of the neighbour search, the counts
        and the mean. On the CPU, vmapped over 30 runs, a tile of 256 keeps the batch in cache
        and costs per run what a single run costs; 1024 costs about 4 times more per run
        (benchmarks/results/ksg.md).

    Returns:
      A scalar of the input's float dtype. It can be slightly negative for independent data.
      It is NaN if x or y holds a NaN or an infinity (so that, vmapped over runs, only the runs
      with bad values read NaN). It is exactly 0 if every column of x, or every column of y, is
      constant (all its rows equal): a constant carries no information. (The raw formula would
      give psi(k) - <psi(n_y(i) + 1)> there, since all x distances are 0 and n_x(i) = N - 1
      whenever eps(i) > 0: 0 for continuous y, but positive when y has ties, and
      psi(k) + psi(N) - 2 psi(1) when both are constant, since then every eps(i) = 0.)

    Ties: eps(i) is the k-th smallest joint distance among the N - 1 other points, duplicates
    counted with their multiplicity (as ``scipy.spatial.cKDTree.query`` does). n_x(i) and n_y(i)
    count points at a distance *strictly* below eps(i); points exactly at eps(i) are not counted,
    and the point itself never is. So if x_i has duplicates, eps(i) may be 0 and then
    n_x(i) = n_y(i) = 0.

    Works under ``jax.jit`` (k and tile_size static) and ``jax.vmap`` over a leading axis of
    x, y (and key), e.g. to score 30 runs in one call.
    """
    x, y, k, tile_size = _validate(x, y, k, tile_size)
    if not isinstance(standardize, bool):
        raise TypeError(f"ksg_mi: standardize must be a Python bool, got {standardize!r}")
    if not isinstance(jitter, jax.core.Tracer) and not float(jitter) >= 0:
        raise ValueError(f"ksg_mi: jitter must be >= 0, got {jitter}")
    return _ksg_mi(x, y, key, jitter, k=k, standardize=standardize, tile_size=tile_size)


@functools.partial(jax.jit, static_argnames=("k", "standardize", "tile_size"))
def _ksg_mi(x, y, key, jitter, *, k, standardize, tile_size):
    # Jitted here so that eager calls (one per epoch, say) compile once per shape.
    finite = jnp.all(jnp.isfinite(x)) & jnp.all(jnp.isfinite(y))
    # Every column constant: all distances in that variable are 0 (see Returns).
    constant = jnp.all(x == x[:1]) | jnp.all(y == y[:1])
    if standardize:
        x = _standardize(x)
        y = _standardize(y)
    estimate = _ksg_estimate(x, y, key, jitter, k=k, tile_size=tile_size)
    estimate = jnp.where(constant, jnp.zeros_like(estimate), estimate)
    return jnp.where(finite, estimate, jnp.full_like(estimate, jnp.nan))


def _standardize(values):
    # Divide each column by its standard deviation; constant columns (std 0) by 1.
    std = jnp.std(values, axis=0)
    return values / jnp.where(std > 0, std, jnp.ones_like(std))


def _ksg_estimate(x, y, key, jitter, *, k, tile_size):
    n = x.shape[0]
    if key is not None:
        key_x, key_y = jax.random.split(key)
        x = _add_jitter(x, key_x, jitter)
        y = _add_jitter(y, key_y, jitter)
    tile = min(tile_size, n)
    n_tiles = -(-n // tile)
    n_padded = n_tiles * tile

    # Pad with zeros; padded keys are masked out by `valid`, padded queries out of the mean.
    x_tiles = jnp.pad(x, ((0, n_padded - n), (0, 0))).reshape(n_tiles, tile, -1)
    y_tiles = jnp.pad(y, ((0, n_padded - n), (0, 0))).reshape(n_tiles, tile, -1)
    index_tiles = jnp.arange(n_padded).reshape(n_tiles, tile)
    valid_tiles = index_tiles < n

    # The column loop is a scan: on the CPU this beats materialising (T, T, d) differences; on
    # accelerators it is unrolled so that XLA fuses it into one kernel per tile pair.
    unroll_columns = jax.default_backend() != "cpu"

    def marginal_distances(query, keys):
        # (T, d), (T, d) -> (T, T): max-norm distances, max over columns of |q_c - k_c|.
        def take_column(distance, columns):
            query_column, key_column = columns
            return jnp.maximum(distance, jnp.abs(query_column[:, None] - key_column[None, :])), None

        zero = jnp.zeros((query.shape[0], keys.shape[0]), query.dtype)
        distance, _ = lax.scan(take_column, zero, (query.T, keys.T), unroll=unroll_columns)
        return distance

    def score_query_tile(query_tile):
        query_x, query_y, query_index = query_tile

        def pair_mask(key_index, key_valid):
            # Real keys other than the query point itself.
            return key_valid[None, :] & (query_index[:, None] != key_index[None, :])

        def top_k_step(nearest, key_tile):
            key_x, key_y, key_index, key_valid = key_tile
            joint = jnp.maximum(
                marginal_distances(query_x, key_x), marginal_distances(query_y, key_y)
            )
            joint = jnp.where(pair_mask(key_index, key_valid), joint, jnp.inf)
            candidates = jnp.concatenate([nearest, joint], axis=1)
            nearest = -lax.top_k(-candidates, k)[0]  # k smallest, ascending
            return nearest, None

        nearest0 = jnp.full((tile, k), jnp.inf, dtype=x.dtype)
        nearest, _ = lax.scan(top_k_step, nearest0, (x_tiles, y_tiles, index_tiles, valid_tiles))
        eps = nearest[:, k - 1]

        def count_step(counts, key_tile):
            key_x, key_y, key_index, key_valid = key_tile
            mask = pair_mask(key_index, key_valid)
            closer_x = mask & (marginal_distances(query_x, key_x) < eps[:, None])
            closer_y = mask & (marginal_distances(query_y, key_y) < eps[:, None])
            n_x, n_y = counts
            n_x = n_x + closer_x.sum(axis=1, dtype=jnp.int32)
            n_y = n_y + closer_y.sum(axis=1, dtype=jnp.int32)
            return (n_x, n_y), None

        zeros = jnp.zeros((tile,), jnp.int32)
        (n_x, n_y), _ = lax.scan(
            count_step, (zeros, zeros), (x_tiles, y_tiles, index_tiles, valid_tiles)
        )
        return digamma((n_x + 1).astype(x.dtype)) + digamma((n_y + 1).astype(x.dtype))

    psi_sums = lax.map(score_query_tile, (x_tiles, y_tiles, index_tiles))
    mean_psi = jnp.sum(jnp.where(valid_tiles, psi_sums, 0)) / n
    return digamma(jnp.asarray(k, x.dtype)) + digamma(jnp.asarray(n, x.dtype)) - mean_psi


def _add_jitter(values, key, jitter):
    scale = jitter * jnp.std(values, axis=0)
    return values + scale * jax.random.normal(key, values.shape, values.dtype)


def _validate(x, y, k, tile_size):
    x = jnp.asarray(x)
    y = jnp.asarray(y)
    for name, value in (("x", x), ("y", y)):
        if value.ndim != 2:
            raise ValueError(
                f"ksg_mi: {name} must have rank 2 (N, d) (vmap over any run axis), "
                f"got shape {value.shape}"
            )
        if not jnp.issubdtype(value.dtype, jnp.floating):
            raise TypeError(f"ksg_mi: {name} must be a floating array, got dtype {value.dtype}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"ksg_mi: x and y must have the same number of samples N, "
            f"got x {x.shape} and y {y.shape}"
        )
    if x.dtype != y.dtype:
        raise TypeError(f"ksg_mi: x and y must share a dtype, got {x.dtype} and {y.dtype}")
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"ksg_mi: k must be a Python int >= 1, got {k!r}")
    k = int(k)
    if x.shape[0] <= k:
        raise ValueError(f"ksg_mi: need more samples than k: N = {x.shape[0]}, k = {k}")
    if isinstance(tile_size, bool) or not isinstance(tile_size, int) or tile_size < 1:
        raise ValueError(f"ksg_mi: tile_size must be a Python int >= 1, got {tile_size!r}")
    return x, y, k, tile_size
