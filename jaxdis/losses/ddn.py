"""Losses of the Discriminative Disentangling Network (DDN), thesis ch. 9.

Two encoders f_a, f_b map x to codes z_a, z_b; two predictors try to guess one code from the other,
q_ba: z_b -> z_a and q_ab: z_a -> z_b. Predictors minimise their predictive loss; each encoder
minimises an encoding loss that makes its own code hard to predict. Which network trains on which
loss is thesis eq. 9.7:

    parameters of f_a  : l^E_a  = z_a . q_ba(z_b)                      (thesis eq. 9.6)
    parameters of f_b  : l^E_b  = z_b . q_ab(z_a)
    parameters of q_ba : l^P_ba = ||q_ba(z_b) - z_a||^2                (thesis eq. 9.5)
    parameters of q_ab : l^P_ab = ||q_ab(z_a) - z_b||^2

(The thesis's eq. 9.7 prints the two predictor rows with their subscripts swapped; the prose,
"each predictor network is trained to minimise its corresponding loss", and the definitions of
thesis eq. 9.5 fix them as above.) An encoder is trained on the loss where its code is the
*target* of a prediction, not the input. Each loss depends on the parameters of several networks,
so use `jaxdis.losses.grad_by_role` to differentiate each loss with respect to its own network
only.

Batch reduction: the thesis defines each loss per example (squared norms summed over code units,
or over pixels for reconstructions) and trains on minibatches of 128 without saying how the batch
is reduced; here every loss is the per-example value averaged over the batch, so learning rates do
not depend on the batch size.
"""

import jax
import jax.numpy as jnp

from jaxdis.losses import _checks


def _per_example_squared_error(name_a, a, name_b, b):
    a = _checks.floating(name_a, a, min_ndim=2)
    _checks.nonempty(name_a, a)
    b = _checks.floating(name_b, b)
    _checks.same_shape(name_a, a, name_b, b)
    return jnp.sum((a - b).reshape(a.shape[0], -1) ** 2, axis=1)


def _per_example_dot(code, prediction):
    code = _checks.floating("code", code, ndim=2)
    _checks.nonempty("code", code)
    prediction = _checks.floating("prediction", prediction, ndim=2)
    _checks.same_shape("code", code, "prediction", prediction)
    return jnp.sum(code * prediction, axis=1)


@jax.jit
def ddn_predictive_loss(prediction, target):
    """The predictive loss of thesis eq. 9.5, mean over the batch of the squared error.

        l^P_ba(x) = ||q_ba(z_b) - z_a||^2   (summed over the code units of one example)

    Trains the predictor that produced `prediction` (q_ba for target z_a; thesis eq. 9.7), never
    the encoders: route it with `grad_by_role`. With denoising (thesis eq. 9.12) the prediction is
    made from `ddn_denoise(key, z_b, sigma)` instead of z_b.

    Args:
      prediction: (N, K) float, q_ba(z_b).
      target: (N, K) float, z_a.
    Returns:
      A scalar; NaN if either input holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    return jnp.mean(_per_example_squared_error("prediction", prediction, "target", target))


@jax.jit
def ddn_encoding_loss(code, prediction):
    """The encoding loss of thesis eq. 9.6, mean over the batch of a dot product.

        l^E_a(x) = z_a . q_ba(z_b)

    Trains the encoder that produced `code` (f_a; thesis eq. 9.7): the encoder whose code the
    predictor is trying to predict. By thesis eq. 9.8 its gradient with respect to f_a equals that
    of 1/2 (||z_a||^2 - ||q_ba(z_b) - z_a||^2): it pushes z_a away from its prediction while
    keeping it small.

    Args:
      code: (N, K) float, z_a = f_a(x).
      prediction: (N, K) float, q_ba(z_b), the prediction of `code` from the other code.
    Returns:
      A scalar (it may be negative); NaN if either input holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    return jnp.mean(_per_example_dot(code, prediction))


@jax.jit
def ddn_finetune_encoding_loss(code, prediction, x, reconstruction, alpha):
    """The encoding loss of end-to-end fine-tuning, thesis eq. 9.11, mean over the batch.

        l^E_a(x) = z_a . q_ba(z_b) + alpha * ||g(z_a, z_b) - x||^2

    the encoding loss of thesis eq. 9.6 plus a reconstruction term of the joint decoder g
    (squared error summed over all non-batch axes, as in the decoders' losses of thesis eq. 9.10).
    It trains the encoder that produced `code` (f_a); the thesis uses alpha = 0.1, only in the
    fine-tuning stage.

    Args:
      code: (N, K) float, z_a.
      prediction: (N, K) float, q_ba(z_b).
      x: (N, ...) float, the input.
      reconstruction: float array shaped like x, g(z_a, z_b).
      alpha: scalar weight of the reconstruction term.
    Returns:
      A scalar; NaN if any input holds NaN.
    Raises:
      ValueError: an empty batch (N = 0), while tracing.
    """
    dot = _per_example_dot(code, prediction)
    squared_error = _per_example_squared_error("x", x, "reconstruction", reconstruction)
    _checks.same_batch(("code", jnp.asarray(code)), ("x", jnp.asarray(x)))
    alpha = _checks.scalar("alpha", alpha)
    return jnp.mean(dot + alpha * squared_error)


@jax.jit
def ddn_denoise(key, code, sigma):
    """The noisy predictor input of thesis eq. 9.12: z + epsilon, epsilon ~ N(0, sigma^2 I).

    The predictive losses become ||q_ba(z_b + eps) - z_a||^2 and ||q_ab(z_a + eps) - z_b||^2; the
    thesis uses sigma = 0.1. Use a fresh key per step and per predictor.

    Args:
      key: a PRNG key.
      code: (N, K) float, the code fed to a predictor.
      sigma: scalar noise standard deviation.
    Returns:
      An array shaped and typed like `code` (NaN where `code` is NaN). Not a loss: an empty
      batch gives an empty array.
    """
    code = _checks.floating("code", code, ndim=2)
    sigma = _checks.scalar("sigma", sigma)
    noise = jax.random.normal(key, code.shape, code.dtype)
    return code + sigma.astype(code.dtype) * noise
