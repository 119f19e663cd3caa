"""The loss components of *Forced Apart* (ICLR 2018 submission): L_single, L_multi, L_ae.

All of them are sums of hinges on pairwise divergences between softmaxed vectors,

    f(p, q) = max(0, m - D(p || q))                                   (Forced Apart eq. 7)

so they push distributions apart until each divergence reaches the margin m, then stop. D is the
Kullback-Leibler divergence, or Jensen-Shannon with `divergence="js"` (Forced Apart footnote 1).

Pairs. The paper writes each pair i < j as f(p_i, p_j) + f(p_j, p_i) (Forced Apart eq. 5); that
is the sum of f over ordered pairs i != j, which is how it is computed here. Pairs i = j are
excluded (their hinge is the constant m). Forced Apart eq. 8 and 10, read literally as double sums
over all i, j, count each pair twice and add the constant 2m/N; the issue's reading (pairs i < j)
is implemented, which equals the literal form divided by 2, minus m/N: the same gradients at half
the weight.

Checks. An empty batch (N = 0, or K = 0 weight rows) is an error while tracing (the loss of
nothing is 0 / 0). A margin below 0 would make every hinge 0 (no push at all): given as a concrete
number it is an error; a traced margin (a hyperparameter riding on a `vmap` axis, say) cannot be
read while tracing and is not checked. NaN in the input gives a NaN loss: the hinge
max(0, m - D) keeps a NaN divergence and nothing masks it (with labels, an example alone in its
class enters no pair, so its values do not enter the loss at all).

Memory. The divergences of one block of rows against all N rows are computed at a time (KL: a
matrix product of probabilities and log-probabilities, (B, N); JS: (B, N, D)) inside a scan whose
body is rematerialised under `grad`, so peak memory grows as B*N (B*N*D for JS), not N^2.
"""

import functools

import jax
import jax.numpy as jnp

from jaxdis.losses import _checks

# Rows per block: KL blocks hold (B, N) floats, JS blocks (B, N, D), hence the smaller default.
ROWS_PER_BLOCK = {"kl": 256, "js": 32}


def _divergences_from(p_i, log_p_i, p, log_p, divergence):
    """D(p_i || p_j) for one distribution p_i (D,) against every row of p (N, D): shape (N,)."""
    if divergence == "kl":
        # KL(p_i || p_j) = sum_k p_ik log p_ik - sum_k p_ik log p_jk; the cross term is log_p @ p_i.
        return jnp.sum(p_i * log_p_i) - log_p @ p_i
    # JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m) = 1/2 sum p log p + 1/2 sum q log q - sum m log m
    # with m = (p + q) / 2: one log per element. Where both probabilities underflow, m = 0 and the
    # floor keeps m log m = 0 instead of NaN.
    mid = 0.5 * (p_i + p)
    log_mid = jnp.log(jnp.maximum(mid, jnp.finfo(mid.dtype).tiny))
    own_terms = 0.5 * (jnp.sum(p_i * log_p_i) + jnp.sum(p * log_p, axis=-1))
    return own_terms - jnp.sum(mid * log_mid, axis=-1)


def _pairwise_hinge_sum(logits, groups, margin, divergence, rows_per_block):
    """sum over ordered pairs i != j with groups[i] == groups[j] of max(0, m - D(p_i || p_j))."""
    log_p = jax.nn.log_softmax(logits, axis=-1)
    p = jnp.exp(log_p)
    n = logits.shape[0]
    columns = jnp.arange(n)

    @jax.checkpoint  # recompute each block's (B, N) divergences in the backward pass
    def row_sum(row):
        i, p_i, log_p_i, group_i = row
        hinge = jnp.maximum(0.0, margin - _divergences_from(p_i, log_p_i, p, log_p, divergence))
        keep = (columns != i) & (groups == group_i)
        return jnp.sum(jnp.where(keep, hinge, 0.0))

    if rows_per_block is None:
        rows_per_block = ROWS_PER_BLOCK[divergence]
    row_sums = jax.lax.map(row_sum, (columns, p, log_p, groups), batch_size=min(rows_per_block, n))
    return jnp.sum(row_sums)


@functools.partial(jax.jit, static_argnames=("divergence", "rows_per_block"))
def _forced_apart_single_jit(w, margin, divergence="kl", *, rows_per_block=None):
    """The jitted body of :func:`forced_apart_single` (the margin already checked)."""
    w = _checks.floating("w", w, ndim=2)
    _checks.nonempty("w", w)
    margin = _checks.scalar("margin", margin)
    divergence = _checks.divergence_name(divergence)
    groups = jnp.zeros(w.shape[0], jnp.int32)
    return _pairwise_hinge_sum(w, groups, margin, divergence, rows_per_block)


@functools.partial(jax.jit, static_argnames=("divergence", "rows_per_block"))
def _forced_apart_multi_jit(h, labels, margin, divergence="kl", *, rows_per_block=None):
    """The jitted body of :func:`forced_apart_multi` (the margin already checked)."""
    h = _checks.floating("h", h, ndim=2)
    _checks.nonempty("h", h)
    labels = _checks.labels_of_length("labels", labels, h.shape[0])
    margin = _checks.scalar("margin", margin)
    divergence = _checks.divergence_name(divergence)
    n = h.shape[0]
    return _pairwise_hinge_sum(h, labels, margin, divergence, rows_per_block) / n**2


@functools.partial(jax.jit, static_argnames=("divergence", "rows_per_block"))
def _forced_apart_multi_unsupervised_jit(h, margin, divergence="kl", *, rows_per_block=None):
    """The jitted body of :func:`forced_apart_multi_unsupervised` (the margin already checked)."""
    h = _checks.floating("h", h, ndim=2)
    _checks.nonempty("h", h)
    margin = _checks.scalar("margin", margin)
    divergence = _checks.divergence_name(divergence)
    n = h.shape[0]
    groups = jnp.zeros(n, jnp.int32)
    return _pairwise_hinge_sum(h, groups, margin, divergence, rows_per_block) / n**2


@functools.partial(jax.jit, static_argnames=("divergence", "rows_per_block"))
def _forced_apart_autoencoder_jit(x, x_hat, h, margin, alpha, divergence="kl", *, rows_per_block=None):
    """The jitted body of :func:`forced_apart_autoencoder` (the margin already checked)."""
    x = _checks.floating("x", x, min_ndim=2)
    _checks.nonempty("x", x)
    x_hat = _checks.floating("x_hat", x_hat)
    _checks.same_shape("x", x, "x_hat", x_hat)
    h = _checks.floating("h", h, ndim=2)
    _checks.same_batch(("x", x), ("h", h))
    alpha = _checks.scalar("alpha", alpha)
    reconstruction = jnp.mean(jnp.sum((x - x_hat).reshape(x.shape[0], -1) ** 2, axis=1))
    separation = _forced_apart_multi_unsupervised_jit(
        h, margin, divergence, rows_per_block=rows_per_block
    )
    return (1.0 - alpha) * reconstruction + alpha * separation


def forced_apart_single(w, margin, divergence="kl", *, rows_per_block=None):
    """L_single, Forced Apart eq. 5, 6, 7: pushes the rows of a weight matrix apart.

        d_k = softmax(W[k])                                           (Forced Apart eq. 6)
        L_single = sum_{i<j} f(d_i, d_j) + f(d_j, d_i),  f(p, q) = max(0, m - D(p || q))

    No normalisation (Forced Apart eq. 5 is a plain sum). It trains only this layer's weights.

    Args:
      w: (K, D) float, one row per unit whose weights should differ. A Flax `nn.Dense` kernel is
        stored (inputs, units), so pass `kernel.T` to compare units.
      margin: scalar m >= 0 (the paper finds 5-10 good for L_single).
      divergence: "kl" or "js".
      rows_per_block: rows per block of the pairwise computation; changes memory and speed,
        not the result (default `ROWS_PER_BLOCK[divergence]`).
    Returns:
      A scalar; NaN if the input holds NaN (see the module docstring).
    Raises:
      ValueError: an empty batch (while tracing), or a concrete margin below 0.
    """
    _checks.concrete_nonnegative("margin", margin)
    return _forced_apart_single_jit(w, margin, divergence, rows_per_block=rows_per_block)


def forced_apart_multi(h, labels, margin, divergence="kl", *, rows_per_block=None):
    """L_multi, Forced Apart eq. 8, 9: pushes apart the activations of examples sharing a label.

        h^s_k = softmax(h_k)                                          (Forced Apart eq. 9)
        L_multi = 1/N^2 sum_{i<j, y_i = y_j} f(h^s_i, h^s_j) + f(h^s_j, h^s_i)  (Forced Apart eq. 8)

    with f of Forced Apart eq. 7 and N the batch size. It trains every layer behind h.

    Args:
      h: (N, D) float, the target layer's activations (before the softmax
        of Forced Apart eq. 9).
      labels: (N,) integer labels; only pairs with equal labels contribute.
      margin: scalar m >= 0 (the paper finds 0.1-1 good for L_multi).
      divergence: "kl" or "js".
      rows_per_block: rows per block of the pairwise computation; changes memory and speed,
        not the result (default `ROWS_PER_BLOCK[divergence]`).
    Returns:
      A scalar; NaN if the input holds NaN (see the module docstring).
    Raises:
      ValueError: an empty batch (while tracing), or a concrete margin below 0.
    """
    _checks.concrete_nonnegative("margin", margin)
    return _forced_apart_multi_jit(h, labels, margin, divergence, rows_per_block=rows_per_block)


def forced_apart_multi_unsupervised(h, margin, divergence="kl", *, rows_per_block=None):
    """L_multi without labels, Forced Apart eq. 10: all pairs of examples are pushed apart.

        L_multi2 = 1/N^2 sum_{i<j} f(h^s_i, h^s_j) + f(h^s_j, h^s_i),   h^s = softmax(h)

    Args:
      h: (N, D) float, the target layer's activations.
      margin: scalar m >= 0.
      divergence: "kl" or "js".
      rows_per_block: rows per block of the pairwise computation; changes memory and speed,
        not the result (default `ROWS_PER_BLOCK[divergence]`).
    Returns:
      A scalar; NaN if the input holds NaN (see the module docstring).
    Raises:
      ValueError: an empty batch (while tracing), or a concrete margin below 0.
    """
    _checks.concrete_nonnegative("margin", margin)
    return _forced_apart_multi_unsupervised_jit(h, margin, divergence, rows_per_block=rows_per_block)


def forced_apart_autoencoder(x, x_hat, h, margin, alpha, divergence="kl", *, rows_per_block=None):
    """L_ae, Forced Apart eq. 11: an autoencoder's reconstruction cost plus unsupervised L_multi.

        L_ae = (1 - alpha) * 1/N sum_i ||x_i - x_hat_i||^2 + alpha * L_multi2(h)

    ||.||^2 is the squared (Frobenius) norm over all non-batch axes, so sequences (N, T, C) work
    as well as vectors; L_multi2 is `forced_apart_multi_unsupervised` (Forced Apart eq. 10).

    Args:
      x, x_hat: (N, ...) float, input and reconstruction, same shape.
      h: (N, D) float, the code layer's activations.
      margin: scalar m >= 0.
      alpha: scalar weight in [0, 1] of the Forced Apart term.
      divergence: "kl" or "js".
    Returns:
      A scalar; NaN if the input holds NaN (see the module docstring).
    Raises:
      ValueError: an empty batch (while tracing), or a concrete margin below 0.
    """
    _checks.concrete_nonnegative("margin", margin)
    return _forced_apart_autoencoder_jit(x, x_hat, h, margin, alpha, divergence, rows_per_block=rows_per_block)
