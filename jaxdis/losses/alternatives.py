"""Disentangling penalties that the thesis considered and rejected (thesis section 9.1).

Useful as baselines: the CDA penalty on Jacobians (thesis eq. 9.1), Maximum Mean Discrepancy
(thesis eq. 9.2) and the MeanNN mutual-information estimate (thesis eq. 9.3, 9.4).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special

from jaxdis.losses import _checks


def _squared_distances(a, b):
    """||a_i - b_j||^2 for all i, j as a matrix, shape (Na, Nb), without an (Na, Nb, D) tensor.

    Callers centre a and b on a common point first: ||a||^2 + ||b||^2 - 2 a.b loses precision when
    the points lie far from the origin compared with their spread.
    """
    squared = jnp.sum(a**2, axis=1)[:, None] + jnp.sum(b**2, axis=1)[None, :] - 2.0 * a @ b.T
    return jnp.maximum(squared, 0.0)


@jax.jit
def cda_penalty(jac_a, jac_b):
    """The CDA penalty of thesis eq. 9.1 (Rifai et al. 2012), mean over the batch.

        J = sum_jk ( d z^a_j / dx . d z^b_k / dx )^2

    For each example, the dot products over input elements between the input-gradient of every
    unit of code block a and every unit of code block b, squared and summed: it is zero when no
    two units in different blocks are sensitive to the same input elements. It takes Jacobians
    rather than networks so that it stays a function of arrays; obtain them with, e.g.,
    `jax.vmap(jax.jacrev(encode_a))(x)` for an `encode_a` mapping one example to its code.

    Args:
      jac_a: (N, Ka, *input_shape) float, d z^a / dx for each example.
      jac_b: (N, Kb, *input_shape) float, d z^b / dx, same N and input shape.
    Returns:
      A scalar; NaN if either Jacobian holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    jac_a = _checks.floating("jac_a", jac_a, min_ndim=3)
    _checks.nonempty("jac_a", jac_a)
    jac_b = _checks.floating("jac_b", jac_b, min_ndim=3)
    _checks.same_batch(("jac_a", jac_a), ("jac_b", jac_b))
    if jac_a.shape[2:] != jac_b.shape[2:]:
        raise ValueError(
            f"jac_b must have the input shape of jac_a {jac_a.shape[2:]} after (N, K), "
            f"got {jac_b.shape[2:]}"
        )
    n = jac_a.shape[0]
    flat_a = jac_a.reshape(n, jac_a.shape[1], -1)
    flat_b = jac_b.reshape(n, jac_b.shape[1], -1)
    overlap = jnp.einsum("nji,nki->njk", flat_a, flat_b)  # (N, Ka, Kb)
    return jnp.mean(jnp.sum(overlap**2, axis=(1, 2)))


@jax.jit
def mmd(x, y, bandwidth):
    """Squared Maximum Mean Discrepancy with a Gaussian kernel, unbiased estimate (thesis eq. 9.2).

    The supremum of thesis eq. 9.2 over the unit ball of a Gaussian-kernel Hilbert space has the
    closed form (Gretton et al. 2012, MMD^2_u)

        MMD^2 = 1/(N(N-1)) sum_{i!=j} k(x_i, x_j) + 1/(M(M-1)) sum_{i!=j} k(y_i, y_j)
                - 2/(NM) sum_{i,j} k(x_i, y_j),      k(a, b) = exp(-||a - b||^2 / (2 bandwidth^2)).

    Unbiased, so it can be slightly negative when both samples come from one distribution.
    Memory grows as (N + M)^2: it is meant for minibatches.

    Args:
      x: (N, D) float, N >= 2.
      y: (M, D) float, M >= 2; the sizes may differ.
      bandwidth: scalar kernel width (> 0).
    Returns:
      A scalar, the squared MMD; NaN if x or y holds NaN.
    Raises:
      ValueError: fewer than 2 examples in x or y (an empty batch included), while tracing.
    """
    x = _checks.floating("x", x, ndim=2)
    y = _checks.floating("y", y, ndim=2)
    if x.shape[1] != y.shape[1]:
        raise ValueError(
            f"y must have the feature size of x ({x.shape[1]}) on axis 1, got {y.shape[1]}"
        )
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(
            f"x and y need at least 2 examples each, got {x.shape[0]} and {y.shape[0]}"
        )
    bandwidth = _checks.scalar("bandwidth", bandwidth)
    n, m = x.shape[0], y.shape[0]
    centre = (jnp.sum(x, axis=0) + jnp.sum(y, axis=0)) / (n + m)
    x, y = x - centre, y - centre

    def kernel(a, b):
        return jnp.exp(-_squared_distances(a, b) / (2.0 * bandwidth**2))

    def mean_off_diagonal(k):
        size = k.shape[0]
        return jnp.sum(jnp.where(jnp.eye(size, dtype=bool), 0.0, k)) / (size * (size - 1))

    within = mean_off_diagonal(kernel(x, x)) + mean_off_diagonal(kernel(y, y))
    return within - 2.0 * jnp.mean(kernel(x, y))


def _meannn_entropy_constant(n, d):
    """The data-free part of H_mean: psi(N) - mean_{k<N} psi(k) + log c_d, c_d the unit d-ball's
    volume."""
    mean_digamma = np.mean(special.digamma(np.arange(1, n)))
    log_unit_ball = 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1.0)
    return float(special.digamma(n) - mean_digamma + log_unit_ball)


def _mean_log_distance(a, rows_per_block=256):
    """1/(N(N-1)) sum_{i!=j} log ||a_i - a_j||, one block of rows at a time.

    Distances come from explicit differences, not from ||a||^2 + ||b||^2 - 2 a.b: the log makes
    the relative accuracy of the smallest distances matter, and in float32 the matrix form rounds
    close pairs to exactly 0. Blocks of rows keep memory at (B, N, d) rather than (N, N, d).
    """
    n = a.shape[0]
    columns = jnp.arange(n)

    @jax.checkpoint
    def row_sum(row):
        i, a_i = row
        squared = jnp.sum((a - a_i) ** 2, axis=1)
        off_diagonal = columns != i
        # The diagonal's log 0 = -inf would poison the gradient even when masked out.
        log_distance = 0.5 * jnp.log(jnp.where(off_diagonal, squared, 1.0))
        return jnp.sum(jnp.where(off_diagonal, log_distance, 0.0))

    row_sums = jax.lax.map(row_sum, (columns, a), batch_size=min(rows_per_block, n))
    return jnp.sum(row_sums) / (n * (n - 1))


def _meannn_entropy(a):
    """H_mean of thesis eq. 9.3 (Faivishevsky & Goldberger 2008) for the rows of a (N, d).

        H_mean = psi(N) - 1/(N-1) sum_{k=1}^{N-1} psi(k) + log c_d
                 + d/(N(N-1)) sum_{i!=j} log ||a_i - a_j||

    the Kozachenko-Leonenko k-nearest-neighbour entropy estimate averaged over k = 1..N-1, so that
    every pair appears once for each i: the "const + C sum_ij log ||x_i - x_j||" of the thesis.
    """
    n, d = a.shape
    return _meannn_entropy_constant(n, d) + d * _mean_log_distance(a)


@jax.jit
def meannn_mi(x, y):
    """The MeanNN mutual-information estimate of thesis eq. 9.3, 9.4, in nats.

        I_mean(X; Y) = H_mean(X) + H_mean(Y) - H_mean(X, Y)

    with H_mean the MeanNN entropy (thesis eq. 9.3, constants included, see `_meannn_entropy`) of
    x, of y and of their concatenation [x, y]. Differentiable, but biased; the thesis found it too
    coarse to disentangle anything but simple low-dimensional data. Exactly coincident points give
    log 0 = -inf, as in every nearest-neighbour estimator: add noise deliberately (with a key) to
    codes with ties, such as ReLU outputs.

    Args:
      x: (N, Dx) float, N >= 2.
      y: (N, Dy) float, paired with x row by row.
    Returns:
      A scalar; NaN if x or y holds NaN.
    Raises:
      ValueError: fewer than 2 examples (an empty batch included), while tracing.
    """
    x = _checks.floating("x", x, ndim=2)
    y = _checks.floating("y", y, ndim=2)
    _checks.same_batch(("x", x), ("y", y))
    if x.shape[0] < 2:
        raise ValueError(f"x and y need at least 2 examples, got {x.shape[0]}")
    joint = jnp.concatenate([x, y], axis=1)
    return _meannn_entropy(x) + _meannn_entropy(y) - _meannn_entropy(joint)
