"""Covariance penalties: XCov (Cheung et al. 2015) and DeCov (Cogswell et al. 2015).

Cheung et al. train an autoencoder whose code splits into observed units y_hat (a softmax over
classes) and latent units z, with the objective of Cheung et al. eq. 3,

    alpha * U(x, x_hat) + beta * S(y, y_hat) + gamma * C(y_hat, z),

where C is the XCov penalty of Cheung et al. eq. 6 that decorrelates y_hat from z across a batch.
DeCov (the Forced Apart paper's baseline) applies the same idea within one layer.
"""

import jax
import jax.numpy as jnp

from jaxdis.losses import _checks


def _batch_covariance(a, b):
    """(1/N) sum_n (a^n - mean a)(b^n - mean b)^T: the batch cross-covariance, shape (Da, Db)."""
    a_centred = a - jnp.mean(a, axis=0)
    b_centred = b - jnp.mean(b, axis=0)
    return a_centred.T @ b_centred / a.shape[0]


@jax.jit
def xcov(y, z):
    """XCov, the sum-squared cross-covariance penalty of Cheung et al. eq. 6.

        C(y, z) = 1/2 sum_ij [ 1/N sum_n (y_i^n - mean_i y)(z_j^n - mean_j z) ]^2

    computed as half the squared Frobenius norm of the (Dy, Dz) batch cross-covariance, so memory
    does not grow with N beyond the inputs. Its gradients are Cheung et al. eq. 7 and 8 (the test
    suite checks `jax.grad` against them).

    Args:
      y: (N, Dy) float, the observed units (in Cheung et al. eq. 3, the softmax outputs y_hat).
      z: (N, Dz) float, the latent units.
    Returns:
      A scalar, zero when the batch cross-covariance is zero; NaN if y or z holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    y = _checks.floating("y", y, ndim=2)
    _checks.nonempty("y", y)
    z = _checks.floating("z", z, ndim=2)
    _checks.same_batch(("y", y), ("z", z))
    return 0.5 * jnp.sum(_batch_covariance(y, z) ** 2)


@jax.jit
def decov(h):
    """DeCov (Cogswell et al. 2015): the covariance penalty between distinct units of one layer.

        C = (1/N) sum_n (h^n - mean h)(h^n - mean h)^T,   L = 1/2 (||C||_F^2 - ||diag C||_2^2)

    The diagonal (each unit's variance) is excluded, so only cross-unit covariance is penalised.

    Args:
      h: (N, D) float, a layer's activations.
    Returns:
      A scalar; NaN if h holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    h = _checks.floating("h", h, ndim=2)
    _checks.nonempty("h", h)
    covariance = _batch_covariance(h, h)
    return 0.5 * (jnp.sum(covariance**2) - jnp.sum(jnp.diagonal(covariance) ** 2))


@jax.jit
def semi_supervised_objective(x, x_hat, y_true, y_logits, z, label_mask, alpha, beta, gamma):
    """The semi-supervised autoencoder objective of Cheung et al. eq. 3 on one batch.

        total = alpha * U + beta * S + gamma * C(y_hat, z),   y_hat = softmax(y_logits)

    - U (Cheung et al. eq. 4) = ||x - x_hat||^2 summed over all non-batch axes, mean over the batch.
    - S (Cheung et al. eq. 5) = -sum_i y_i log y_hat_i, the softmax cross-entropy, times
      `label_mask` per example, mean over the whole batch (unlabelled examples count in N with
      S = 0: this is Cheung et al. eq. 3's "beta is set to zero for unlabelled data").
    - C (Cheung et al. eq. 6) = `xcov(y_hat, z)` on the softmax outputs, over all examples.

    Args:
      x, x_hat: (N, ...) float, input and reconstruction, same shape.
      y_true: either (N,) integer class labels or (N, K) float target distributions (one-hot).
        Labels of unlabelled examples are ignored and may hold any value (e.g. -1).
      y_logits: (N, K) float, the encoder's pre-softmax observed units.
      z: (N, Dz) float, the latent units.
      label_mask: (N,) bool or float, 1 where the example's label may be used.
      alpha, beta, gamma: scalar weights.
    Returns:
      (total, parts) with parts = {"reconstruction": U, "supervised": S, "xcov": C}, unweighted.
      NaN in x, x_hat, y_logits or z, or in a labelled example's target, gives NaN; an
      unlabelled example's label or target is masked out and may be anything, NaN included.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    x = _checks.floating("x", x, min_ndim=2)
    _checks.nonempty("x", x)
    x_hat = _checks.floating("x_hat", x_hat)
    _checks.same_shape("x", x, "x_hat", x_hat)
    y_logits = _checks.floating("y_logits", y_logits, ndim=2)
    z = _checks.floating("z", z, ndim=2)
    _checks.same_batch(("x", x), ("y_logits", y_logits), ("z", z))
    n, num_classes = y_logits.shape
    label_mask = jnp.asarray(label_mask)
    if label_mask.shape != (n,):
        raise ValueError(
            f"label_mask must have shape ({n},), one flag per example, got {label_mask.shape}"
        )
    if not (label_mask.dtype == jnp.bool_ or jnp.issubdtype(label_mask.dtype, jnp.floating)):
        raise TypeError(f"label_mask must be bool or float, got dtype {label_mask.dtype}")
    alpha = _checks.scalar("alpha", alpha)
    beta = _checks.scalar("beta", beta)
    gamma = _checks.scalar("gamma", gamma)

    log_y_hat = jax.nn.log_softmax(y_logits, axis=-1)
    y_true = jnp.asarray(y_true)
    if jnp.issubdtype(y_true.dtype, jnp.integer):
        _checks.labels_of_length("y_true", y_true, n)
        # Unlabelled rows may carry out-of-range labels; point them at class 0 so that the lookup
        # stays finite (they are masked out below, and 0 * NaN would still be NaN).
        safe_labels = jnp.where(label_mask.astype(bool), y_true, 0)
        cross_entropy = -jnp.take_along_axis(log_y_hat, safe_labels[:, None], axis=1)[:, 0]
    elif jnp.issubdtype(y_true.dtype, jnp.floating):
        if y_true.shape != (n, num_classes):
            raise ValueError(
                f"y_true given as target distributions must have shape {(n, num_classes)} like "
                f"y_logits, got {y_true.shape}"
            )
        targets = jnp.where(label_mask[:, None].astype(bool), y_true, 0.0)  # NaN-safe masking
        cross_entropy = -jnp.sum(targets * log_y_hat, axis=1)
    else:
        raise TypeError(f"y_true must be integer labels or float targets, got dtype {y_true.dtype}")

    reconstruction = jnp.mean(jnp.sum((x - x_hat).reshape(n, -1) ** 2, axis=1))
    supervised = jnp.mean(label_mask.astype(log_y_hat.dtype) * cross_entropy)
    cross_covariance = xcov(jnp.exp(log_y_hat), z)
    total = alpha * reconstruction + beta * supervised + gamma * cross_covariance
    parts = {"reconstruction": reconstruction, "supervised": supervised, "xcov": cross_covariance}
    return total, parts
