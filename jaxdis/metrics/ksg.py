"""The Kraskov-Stoegbauer-Grassberger (KSG) estimate of mutual information, exact and tiled.

The thesis measures disentangling by the mutual information between the two codes
(thesis eq. 6.2 and section 8.2), estimated with the first estimator of Kraskov, Stoegbauer and
Grassberger (Kraskov et al. (2004) eq. 8):

    I(X; Y) = psi(k) + psi(N) - < psi(n_x(i) + 1) + psi(n_y(i) + 1) >_i

with the maximum norm. For each point i, eps(i) is the distance to its k-th nearest neighbour
in the joint space z = (x, y), where ||z_i - z_j|| = max(||x_i - x_j||_inf, ||y_i - y_j||_inf);
n_x(i) is the number of points j != i with ||x_i - x_j||_inf < eps(i) (strictly), and n_y(i)
likewise in y.

The computation is brute force and exact (no approximate neighbours: the same neighbours, the
same strict counts as a k-d tree on the same float values) and never holds an N x N matrix. The
points are cut into tiles of `tile_size`; one `lax.scan` visits each pair of tiles (I, J) with
I <= J once and computes its block of max-norm distances, which serves the points of I against
those of J and, transposed, the points of J against those of I (distances are symmetric: half
the work of visiting every ordered pair). Pass 1 keeps, for every point, the k buckets of 32
keys with the smallest minimum distance, from which eps is then computed exactly; pass 2 counts
the marginal neighbours. Memory is O(tile_size^2) per run; the work is N^2 (dx + dy) absolute
differences (each pass computes every distance once).

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
    """KSG estimator 1 of I(x; y) in nats, with the max norm (Kraskov et al. (2004) eq. 8).

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
        standardizing if ``standardize``) is added to every column of x and y before
        estimating, as the thesis does against tied points (section 6.2). Constant columns get
        no noise: they add nothing to any distance.
        In float32 a relative jitter below about 1e-7 is lost by rounding on values of the order
        of the column's scale, so the default 1e-10 separates only values that are exactly zero
        (the common case: ReLU codes). Pass a larger ``jitter`` to separate other ties.
        Breaking ties does not remove the bias of KSG on a point mass (all-zero rows stay a
        cluster of width ~jitter, where the estimator's local uniformity fails): on independent
        half-zero ReLU data the tiny default leaves a bias of about 0.1 nats, a jitter of 1e-3
        almost none (see tests/test_metrics_ksg.py).
      jitter: relative noise scale, see ``key``. Ignored when ``key`` is None.
      tile_size: points per tile (a Python int, clipped to N and rounded up to a multiple of
        32); a block of tile^2 distances is the working set, 4 MB in float32 at the default
        1024. N need not be a multiple of it: the last tile is padded with points at
        +inf, which are nobody's neighbour and are left out of the mean. On the CPU, 1024 was
        the fastest of 512, 1024 and 2048 at N = 25,000 (benchmarks/results/ksg.md).

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

    Works under ``jax.jit`` (k, standardize and tile_size static) and ``jax.vmap`` over a
    leading axis of x, y (and key), e.g. to score 30 runs in one call. On the CPU a vmapped call
    scores the runs one after another inside the one computation (a custom batching rule, so
    memory does not grow with the number of runs and each run's block stays in cache); 30 runs
    then cost about 30 single runs. On accelerators the runs are batched as usual. The custom
    batching rule has no reverse-mode derivative; the estimate is piecewise constant in x and y
    anyway.
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
    if key is not None:
        key_x, key_y = jax.random.split(key)
        x = _add_jitter(x, key_x, jitter)
        y = _add_jitter(y, key_y, jitter)
    return _exact_core(k, tile_size, jax.default_backend() == "cpu")(x, y)


# Pass 1 tracks, per point, the k buckets of this many keys with the smallest minimum distance
# (see _eps_from_buckets); a full top-k over every block costs more than the block on the CPU.
_BUCKET = 32
# Columns per step of the distance scan: 2 measured a little faster than 1, 4 or 10.
_COLUMNS_PER_STEP = 2


@functools.lru_cache(maxsize=None)
def _exact_core(k, tile_size, on_cpu):
    """The estimate from (already standardised and jittered) x, y, as a function of x, y.

    On the CPU a vmapped call scores the runs one after another (a custom batching rule, a
    `lax.map` over the runs), so that each run's block stays in cache: 30 runs cost about 30
    single runs. Batching the blocks of 30 runs instead multiplies the working set by 30 (120 MB
    at tile 1024), and with the former tiled code cost 4 times more per run. On accelerators the
    ordinary batching applies.
    """

    def core(x, y):
        return _ksg_blocks(x, y, k=k, tile_size=tile_size, unroll_columns=not on_cpu)

    if not on_cpu:
        return core
    core = jax.custom_batching.custom_vmap(core)

    @core.def_vmap
    def _one_run_after_another(axis_size, in_batched, x, y):
        x, y = (
            value if batched else jnp.broadcast_to(value, (axis_size, *value.shape))
            for value, batched in zip((x, y), in_batched)
        )
        return lax.map(lambda run: core(*run), (x, y)), True

    return core


def _ksg_blocks(x, y, *, k, tile_size, unroll_columns):
    """Exact KSG by blocks of tile x tile point pairs, each block computed once for both tiles.

    The N points are cut into tiles of T; the pairs of tiles (I, J) with I <= J are visited in one
    `lax.scan` (max-norm distances are symmetric, so the block D[I, J] serves the queries of I
    against the keys of J and, transposed, those of J against I: half the work of visiting every
    ordered pair). Pass 1 keeps, for every point, the k key buckets with the smallest minimum
    distance, then computes eps(i) from their points; pass 2, once every eps(i) is known, counts
    the marginal neighbours strictly closer than eps(i) in both directions. Padding points lie at
    +inf in every coordinate, so they are nobody's neighbour (two padding points are at NaN from
    each other, which only padding rows and columns see); a point's distance to itself starts
    at +inf, so it is never its own neighbour.
    """
    n, dx = x.shape
    dtype = x.dtype
    tile = min(tile_size, n)
    bucket = min(_BUCKET, tile)
    tile = -(-tile // bucket) * bucket  # a whole number of buckets
    n_tiles = -(-n // tile)
    n_padded = n_tiles * tile
    inf = jnp.asarray(jnp.inf, dtype)

    points = jnp.pad(
        jnp.concatenate([x, y], axis=1), ((0, n_padded - n), (0, 0)), constant_values=jnp.inf
    )
    tile_i, tile_j = np.triu_indices(n_tiles)
    pairs = (jnp.asarray(tile_i, jnp.int32), jnp.asarray(tile_j, jnp.int32))
    eye = jnp.eye(tile, dtype=bool)

    def column_layout(values):
        # (N_padded, d) -> a tuple of `group` arrays (tiles, steps, T): slot c of step s holds
        # column s * group + c of every point of the tile, contiguous. Laid out once, so that each
        # step of the column scan reads whole rows (XLA's CPU code for a slice of a scanned slice
        # is several times slower).
        d = values.shape[1]
        group = min(_COLUMNS_PER_STEP, d)
        if d % group:  # repeat column 0: it changes no maximum
            values = jnp.concatenate([values, values[:, :1].repeat(group - d % group, 1)], 1)
        columns = values.reshape(n_tiles, tile, -1).transpose(0, 2, 1)  # (tiles, d, T)
        return tuple(columns[:, c::group] for c in range(group))

    def block_distances(layout, i, j, on_diagonal):
        # The (T, T) max-norm distances between tiles i and j, a few columns per step of a scan
        # (on the CPU this keeps one (T, T) array in cache instead of materialising (T, T, d)
        # differences; on accelerators it is unrolled so that XLA fuses it into one kernel).
        group = len(layout)

        def take_columns(distance, columns):
            for c in range(group):
                difference = columns[c][:, None] - columns[group + c][None, :]
                distance = jnp.maximum(distance, jnp.abs(difference))
            return distance, None

        start = jnp.where(on_diagonal & eye, inf, jnp.zeros((), dtype))  # self-pairs excluded
        columns = tuple(slot[i] for slot in layout) + tuple(slot[j] for slot in layout)
        distance, _ = lax.scan(take_columns, start, columns, unroll=unroll_columns)
        return distance

    joint_layout = column_layout(points)
    marginal_layouts = (column_layout(points[:, :dx]), column_layout(points[:, dx:]))

    # Pass 1 keeps, per point, the k key buckets (of `bucket` points) with the smallest minimum
    # distance; eps is then the k-th smallest distance to the points of those k buckets (see
    # _eps_from_buckets for why this is exact).
    n_buckets = tile // bucket
    bucket_offsets = jnp.arange(n_buckets, dtype=jnp.int32)

    def merge(best, best_ids, minima, first_bucket):
        ids = jnp.broadcast_to(first_bucket + bucket_offsets, minima.shape)
        values, chosen = lax.top_k(-jnp.concatenate([best, minima], axis=1), k)
        return -values, jnp.take_along_axis(jnp.concatenate([best_ids, ids], axis=1), chosen, 1)

    def top_k_step(state, pair):
        best, best_ids = state
        i, j = pair
        on_diagonal = i == j
        distance = block_distances(joint_layout, i, j, on_diagonal)
        # Tile i's points over the buckets of tile j, and tile j's over those of tile i.
        row_minima = distance.reshape(tile, n_buckets, bucket).min(axis=2)
        col_minima = distance.reshape(n_buckets, bucket, tile).min(axis=1).T
        # A diagonal block is symmetric: its columns are its rows, already merged.
        col_minima = jnp.where(on_diagonal, inf, col_minima)
        values, ids = merge(best[i], best_ids[i], row_minima, j * n_buckets)
        best, best_ids = best.at[i].set(values), best_ids.at[i].set(ids)
        values, ids = merge(best[j], best_ids[j], col_minima, i * n_buckets)
        best, best_ids = best.at[j].set(values), best_ids.at[j].set(ids)
        return (best, best_ids), None

    empty_bucket = n_tiles * n_buckets  # an extra bucket of padding points, at +inf
    state = (
        jnp.full((n_tiles, tile, k), inf),
        jnp.full((n_tiles, tile, k), empty_bucket, jnp.int32),
    )
    (_, best_ids), _ = lax.scan(top_k_step, state, pairs)
    bucket_points = jnp.concatenate(
        [points, jnp.full((bucket, points.shape[1]), jnp.inf, dtype)]
    ).reshape(empty_bucket + 1, bucket, -1)
    eps = lax.map(
        lambda tile_args: _eps_from_buckets(*tile_args, bucket_points, k),
        (points.reshape(n_tiles, tile, -1), jnp.arange(n_padded).reshape(n_tiles, tile), best_ids),
    )  # (tiles, T)

    def count_step(counts, pair):
        i, j = pair
        on_diagonal = i == j
        updated = []
        for layout, count in zip(marginal_layouts, counts):
            distance = block_distances(layout, i, j, on_diagonal)
            row_counts = _count_below(distance, eps[i][:, None], axis=1)
            col_counts = _count_below(distance, eps[j][None, :], axis=0)
            col_counts = jnp.where(on_diagonal, 0, col_counts)
            updated.append(count.at[i].add(row_counts).at[j].add(col_counts))
        return tuple(updated), None

    zeros = jnp.zeros((n_tiles, tile), jnp.int32)
    (n_x, n_y), _ = lax.scan(count_step, (zeros, zeros), pairs)
    valid = (jnp.arange(n_padded) < n).reshape(n_tiles, tile)
    psi_sums = digamma((n_x + 1).astype(dtype)) + digamma((n_y + 1).astype(dtype))
    mean_psi = jnp.sum(jnp.where(valid, psi_sums, 0)) / n
    return digamma(jnp.asarray(k, dtype)) + digamma(jnp.asarray(n, dtype)) - mean_psi


def _eps_from_buckets(query_points, query_index, bucket_ids, bucket_points, k):
    """eps for a tile of T points: the k-th smallest distance to the points of its k buckets.

    Exact: let u be the largest of the k smallest bucket minima (the k chosen buckets). The
    chosen buckets hold k points at distance <= u, so eps <= u; a point closer than u lies in a
    bucket whose minimum is below u, which is chosen. So the points closer than eps, and enough
    points at eps, are all in the chosen buckets, whichever buckets tied at u were chosen.
    """
    bucket = bucket_points.shape[1]
    neighbours = bucket_points[bucket_ids].reshape(query_points.shape[0], -1, query_points.shape[1])
    distance = jnp.max(jnp.abs(query_points[:, None, :] - neighbours), axis=2)  # (T, k * bucket)
    neighbour_index = (bucket_ids[:, :, None] * bucket + jnp.arange(bucket)).reshape(
        distance.shape
    )
    distance = jnp.where(neighbour_index == query_index[:, None], jnp.inf, distance)  # not itself
    return _k_smallest(distance, k)[:, k - 1]


def _k_smallest(values, k):
    """The k smallest entries of each row of `values`, ascending, duplicates counted with their
    multiplicity: k minimum reductions (cheaper on the CPU than `lax.top_k`)."""
    minima, counts = [], []
    value = jnp.min(values, axis=1, keepdims=True)
    for rank in range(k):
        if rank:
            value = jnp.min(jnp.where(values > value, values, jnp.inf), axis=1, keepdims=True)
        minima.append(value)
        if rank < k - 1:
            counts.append(jnp.sum(values == value, axis=1, keepdims=True, dtype=jnp.int32))
    ranked = []
    for rank in range(k):
        # The rank-th smallest is the first distinct minimum whose cumulative count exceeds rank.
        chosen = minima[k - 1]
        for m in reversed(range(k - 1)):
            chosen = jnp.where(sum(counts[: m + 1]) > rank, minima[m], chosen)
        ranked.append(chosen)
    return jnp.concatenate(ranked, axis=1)


def _count_below(distance, threshold, axis):
    """Per row (axis=1) or column (axis=0) of a (T, T) block, how many entries are < threshold.

    Summed first over groups of lanes in int16, then in int32: on the CPU XLA vectorises this
    form several times better than one int32 sum over the block."""
    below = distance < threshold
    tile = distance.shape[0]
    lanes = next((width for width in (128, 64, 32) if tile % width == 0), None)
    if lanes is None or tile // lanes >= 2**15:
        return jnp.sum(below, axis=axis, dtype=jnp.int32)
    if axis == 1:
        partial = jnp.sum(below.reshape(tile, tile // lanes, lanes), axis=1, dtype=jnp.int16)
        return jnp.sum(partial, axis=1, dtype=jnp.int32)
    partial = jnp.sum(below.reshape(tile // lanes, lanes, tile), axis=0, dtype=jnp.int16)
    return jnp.sum(partial, axis=0, dtype=jnp.int32)


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
