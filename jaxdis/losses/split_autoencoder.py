"""The Additive Split Autoencoder (ASAE) of thesis ch. 8 (section 8.3).

Two autoencoders run in parallel on the same input and their outputs are added,
y = f_A(x) + f_B(x); the split limits how the two codes can interact, which is what is meant to
separate additive causes.
"""

import jax
import jax.numpy as jnp

from jaxdis.losses import _checks


@jax.jit
def split_autoencoder_loss(x, recon_a, recon_b):
    """Reconstruction loss of the ASAE (thesis ch. 8): ||x - (y_A + y_B)||^2, mean over the batch.

    y_A = f_A(x) and y_B = f_B(x) are the two autoencoders' outputs (each ends in a sigmoid in the
    thesis, section 8.4). The thesis trains the ASAE "identically to a standard autoencoder" and
    does not write the loss; the squared error summed over all non-batch axes is used, the form of
    the thesis's other reconstruction errors (thesis eq. 9.10). Both autoencoders train on this
    one loss.

    Args:
      x: (N, ...) float, the input.
      recon_a, recon_b: float arrays shaped like x, the outputs y_A and y_B.
    Returns:
      A scalar; NaN if any input holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    x = _checks.floating("x", x, min_ndim=2)
    _checks.nonempty("x", x)
    recon_a = _checks.floating("recon_a", recon_a)
    recon_b = _checks.floating("recon_b", recon_b)
    _checks.same_shape("x", x, "recon_a", recon_a)
    _checks.same_shape("x", x, "recon_b", recon_b)
    error = x - (recon_a + recon_b)
    return jnp.mean(jnp.sum(error.reshape(x.shape[0], -1) ** 2, axis=1))
