"""The networks of Forced Apart (section 4, Fig. 1 and Fig. 4).

Every classifier here ends the way Forced Apart Fig. 1 does: a penultimate layer FC1 with a ReLU,
whose activations are clustered by KMeans, and FC2, a single unit whose sigmoid is the binary
decision. Each ``__call__`` returns ``(logit, fc1)``:

- ``logit``: (N,) the pre-sigmoid output of FC2 (train with a sigmoid cross-entropy on logits,
  which is the paper's sigmoid plus binary cross-entropy, computed stably);
- ``fc1``: (N, fc1_units) the ReLU activations of FC1: what L_multi (Forced Apart eq. 8), DeCov
  and XCov act on, and what is clustered.

FC1's weights, on which L_single acts (Forced Apart eq. 5, 6), are :func:`fc1_weight_rows` of the
parameters: one row per FC1 unit (Flax stores the kernel as (inputs, units), so the rows of
Forced Apart eq. 6, "the rows of the weight matrix W_FC1 ... leading to different patterns of
activations", are the columns of the kernel: each unit's incoming weights).

Models:
- :class:`SequenceClassifier`: the RNN of Fig. 1 (an LSTM, FC1 with ReLU, FC2 with a sigmoid),
  for pen-stroke sequences (section 4.1) or MNIST read as 28 rows of 28 pixels.
- :class:`SequenceAutoencoder`: an LSTM encoder, FC1 as the code, an LSTM decoder; the
  "MNIST autoencoder" column of Table 1, trained with Forced Apart eq. 11.
- :class:`TextClassifier`: the same RNN behind a word embedding, for DBPedia (section 4.3).
- :class:`ConvClassifier`: VGG-16 blocks up to pool3, convolutions of 256 and 128 3x3 filters and
  8 1x1 filters, FC1 of 15 units, FC2 of 1 (section 4.2, Fig. 4); :func:`cifar_cnn` is the paper's
  size for 32x32 colour images, :func:`grey28_cnn` the same idea sized for 28x28 grey images.
  ``conv="shifted"`` computes the same convolutions and pools as shifted matrix products
  (:class:`ShiftedConv`, :func:`max_pool_2x2`), which stay fast when a stack of models is vmapped
  on a CPU; ``conv="lax"`` (``nn.Conv``, ``nn.max_pool``) is its slow, obviously correct twin.
- :class:`MLPClassifier`: dense layers, then FC1 and FC2; a cheap model for MNIST images.

:func:`make_classifier` picks one of them for 28x28 grey images by name; :func:`stacked_outputs`
applies a stack of trained models (a leading model axis on the parameters) to a dataset.
"""

from __future__ import annotations

from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

FC1_UNITS = 15  # Forced Apart section 4.2: "a fully-connected layer of size 15 (FC1)"


def _check_rank(name: str, x, rank: int, what: str) -> None:
    if x.ndim != rank:
        raise ValueError(f"{name}: expected {what} (rank {rank}), got shape {x.shape}")


def _check_float(name: str, x) -> None:
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name}: expected a floating dtype, got {x.dtype}")


class BinaryHead(nn.Module):
    """FC1 (ReLU) then FC2 (one unit, the logit of the sigmoid decision): Forced Apart Fig. 1."""

    fc1_units: int = FC1_UNITS

    @nn.compact
    def __call__(self, features):
        fc1 = nn.relu(nn.Dense(self.fc1_units, name="fc1")(features))
        logit = nn.Dense(1, name="fc2")(fc1)[:, 0]
        return logit, fc1


class SequenceClassifier(nn.Module):
    """The RNN of Forced Apart Fig. 1: LSTM, FC1 with ReLU, FC2 with a sigmoid.

    Input ``sequences`` (N, T, F) float; optional ``lengths`` (N,) int: the steps after a sequence's
    length are padding, and the LSTM state fed to FC1 is the one at its last real step.
    """

    hidden: int = 128
    fc1_units: int = FC1_UNITS

    @nn.compact
    def __call__(self, sequences, lengths=None):
        _check_rank("sequences", sequences, 3, "(batch, time, features)")
        _check_float("sequences", sequences)
        (_, last_hidden), _ = nn.RNN(
            nn.OptimizedLSTMCell(self.hidden), return_carry=True, name="rnn"
        )(sequences, seq_lengths=lengths)
        return BinaryHead(self.fc1_units, name="head")(last_hidden)


class TextClassifier(nn.Module):
    """The text RNN of Forced Apart section 4.3: word embedding, LSTM, FC1 (ReLU), FC2 (sigmoid).

    Input ``tokens`` (N, T) int, 0 is padding; ``lengths`` (N,) int.
    """

    vocab_size: int
    embed_dim: int = 64
    hidden: int = 128
    fc1_units: int = FC1_UNITS

    @nn.compact
    def __call__(self, tokens, lengths=None):
        _check_rank("tokens", tokens, 2, "(batch, time) token ids")
        if not jnp.issubdtype(tokens.dtype, jnp.integer):
            raise TypeError(f"tokens: expected an integer dtype, got {tokens.dtype}")
        embedded = nn.Embed(self.vocab_size, self.embed_dim, name="embed")(tokens)
        (_, last_hidden), _ = nn.RNN(
            nn.OptimizedLSTMCell(self.hidden), return_carry=True, name="rnn"
        )(embedded, seq_lengths=lengths)
        return BinaryHead(self.fc1_units, name="head")(last_hidden)


class SequenceAutoencoder(nn.Module):
    """A sequence autoencoder whose code is an FC1 of ReLU units (Table 1, "MNIST autoencoder").

    Encoder: LSTM over (N, T, F); its last state goes through FC1 (ReLU), the representation that
    is clustered and that L_multi (Forced Apart eq. 10, 11) acts on. Decoder: the code, repeated at
    every step, drives an LSTM whose outputs are mapped back to F features.
    Returns ``(reconstruction (N, T, F), fc1 (N, fc1_units))``.
    """

    hidden: int = 128
    fc1_units: int = FC1_UNITS

    @nn.compact
    def __call__(self, sequences, lengths=None):
        _check_rank("sequences", sequences, 3, "(batch, time, features)")
        _check_float("sequences", sequences)
        _, steps, features = sequences.shape
        (_, last_hidden), _ = nn.RNN(
            nn.OptimizedLSTMCell(self.hidden), return_carry=True, name="encoder"
        )(sequences, seq_lengths=lengths)
        fc1 = nn.relu(nn.Dense(self.fc1_units, name="fc1")(last_hidden))
        repeated = jnp.repeat(fc1[:, None, :], steps, axis=1)
        decoded = nn.RNN(nn.OptimizedLSTMCell(self.hidden), name="decoder")(repeated)
        return nn.Dense(features, name="out")(decoded), fc1


class ShiftedConv(nn.Module):
    """A stride-1, "SAME"-padded k x k convolution written as k*k matrix products:

        y[n, h, w, :] = b + sum_{i, j} x_pad[n, h + i, w + j, :] @ K[i, j]

    with ``x_pad`` the input zero-padded by (k - 1) / 2 on each side. This is exactly
    ``nn.Conv(features, (k, k), padding="SAME")`` (same parameter names, shapes and
    initialisers, so the two read each other's parameters). Why: vmapped over a stack of models,
    ``nn.Conv`` becomes a grouped convolution, whose gradient is slow on XLA's CPU backend, while
    these products become batched matrix products, which that backend runs much faster.
    """

    features: int
    kernel_size: int = 3

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        if k % 2 != 1:
            raise ValueError(f"kernel_size: expected an odd size (SAME padding is then symmetric), "
                             f"got {k}")
        kernel = self.param("kernel", nn.initializers.lecun_normal(),
                            (k, k, x.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
        half = (k - 1) // 2
        padded = jnp.pad(x, ((0, 0), (half, half), (half, half), (0, 0)))
        height, width = x.shape[1:3]
        out = sum(padded[:, i:i + height, j:j + width] @ kernel[i, j]
                  for i in range(k) for j in range(k))
        return out + bias


def max_pool_2x2(x):
    """``nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")`` by a reshape: an odd height or
    width is padded with -inf at its end (where SAME puts it), then each 2x2 window is reduced.
    Same values; its gradient avoids the select-and-scatter that is slow under vmap on a CPU."""
    pad_h, pad_w = x.shape[1] % 2, x.shape[2] % 2
    if pad_h or pad_w:
        x = jnp.pad(x, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), constant_values=-jnp.inf)
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


CONV_IMPLEMENTATIONS = ("lax", "shifted")


class ConvClassifier(nn.Module):
    """The CNN of Forced Apart section 4.2 and Fig. 4.

    ``blocks``: VGG-16 blocks, each 3x3 convolutions (ReLU, same padding) then a 2x2 max-pool;
    VGG-16 up to pool3 is ((64, 64), (128, 128), (256, 256, 256)). ``head``: then 3x3 convolutions
    of 256 and 128 filters and a 1x1 convolution of 8 filters, flattened into FC1 and FC2.
    ``conv``: "lax" (``nn.Conv`` and ``nn.max_pool``) or "shifted" (:class:`ShiftedConv` and
    :func:`max_pool_2x2`): the same function and the same parameters, computed two ways.
    Input ``images`` (N, H, W, C) float.
    """

    blocks: Sequence[Sequence[int]] = ((64, 64), (128, 128), (256, 256, 256))
    head: Sequence[int] = (256, 128, 8)
    fc1_units: int = FC1_UNITS
    conv: str = "lax"

    @nn.compact
    def __call__(self, images):
        _check_rank("images", images, 4, "(batch, height, width, channels)")
        _check_float("images", images)
        if self.conv not in CONV_IMPLEMENTATIONS:
            raise ValueError(f"conv: expected one of {CONV_IMPLEMENTATIONS}, got {self.conv!r}")
        names = (f"Conv_{i}" for i in range(sum(map(len, self.blocks)) + len(self.head)))

        def conv(x, features, size):  # explicit names: both implementations share parameters
            if self.conv == "shifted":
                return ShiftedConv(features, size, name=next(names))(x)
            return nn.Conv(features, (size, size), padding="SAME", name=next(names))(x)

        def pool(x):
            if self.conv == "shifted":
                return max_pool_2x2(x)
            return nn.max_pool(x, (2, 2), strides=(2, 2), padding="SAME")

        x = images
        for block in self.blocks:
            for features in block:
                x = nn.relu(conv(x, features, 3))
            x = pool(x)
        *three_by_three, one_by_one = self.head
        for features in three_by_three:
            x = nn.relu(conv(x, features, 3))
        x = nn.relu(conv(x, one_by_one, 1))
        return BinaryHead(self.fc1_units, name="head")(x.reshape(x.shape[0], -1))


def cifar_cnn(width: float = 1.0, conv: str = "lax") -> ConvClassifier:
    """The paper's CNN for 32x32 colour images (VGG-16 to pool3: 32 -> 16 -> 8 -> 4).

    ``width`` scales every convolution's filters (1.0 is the paper's model; the 8 1x1 filters
    and FC1's 15 units are kept, since the representation's size is part of the method).
    ``conv``: see :class:`ConvClassifier`."""
    return ConvClassifier(blocks=_scaled(((64, 64), (128, 128), (256, 256, 256)), width),
                          head=(*_scaled(((256, 128),), width)[0], 8), conv=conv)


def grey28_cnn(width: float = 1.0, conv: str = "lax") -> ConvClassifier:
    """The same idea for 28x28 grey images: three VGG blocks (28 -> 14 -> 7 -> 4 with same
    padding), the 256/128/8 head and FC1 of 15. ``width`` scales the filters as in
    :func:`cifar_cnn` (1.0: VGG-16's 64 to 256 filters); 0.125 (8 to 32 filters) makes it
    trainable on a CPU."""
    return cifar_cnn(width, conv)


def _scaled(blocks, width):
    if width <= 0:
        raise ValueError(f"width: expected a positive filter multiplier, got {width}")
    return tuple(tuple(max(1, round(f * width)) for f in block) for block in blocks)


class MLPClassifier(nn.Module):
    """Dense ReLU layers, then FC1 (ReLU) and FC2 (sigmoid). Input (N, ...) float, flattened."""

    hidden: Sequence[int] = (256,)
    fc1_units: int = FC1_UNITS

    @nn.compact
    def __call__(self, inputs):
        _check_float("inputs", inputs)
        if inputs.ndim < 2:
            raise ValueError(f"inputs: expected (batch, ...), got shape {inputs.shape}")
        x = inputs.reshape(inputs.shape[0], -1)
        for features in self.hidden:
            x = nn.relu(nn.Dense(features)(x))
        return BinaryHead(self.fc1_units, name="head")(x)


def fc1_weight_rows(params) -> jax.Array:
    """FC1's weight matrix with one row per FC1 unit, (fc1_units, inputs): the W of
    Forced Apart eq. 6, whose rows L_single pushes apart. Works for every model of this module."""
    params = params.get("params", params)
    fc1 = params["head"]["fc1"] if "head" in params else params["fc1"]
    return fc1["kernel"].T


CLASSIFIERS = ("rnn", "mlp", "cnn")


def make_classifier(kind: str, *, rnn_hidden: int, mlp_hidden: Sequence[int], cnn_width: float,
                    cnn_conv: str) -> tuple[nn.Module, Callable]:
    """A classifier of (N, 28, 28) grey images and the function shaping them into its input:

    - "rnn": :class:`SequenceClassifier` with ``rnn_hidden`` units, reading 28 rows of 28 pixels
      (Forced Apart Fig. 1); the images go in as they are;
    - "mlp": :class:`MLPClassifier` with hidden layers ``mlp_hidden``; as they are;
    - "cnn": :func:`grey28_cnn` with ``cnn_width`` of VGG-16's filters, ``cnn_conv`` convolutions;
      the images get a channel axis, (N, 28, 28, 1).
    """
    if kind == "rnn":
        return SequenceClassifier(hidden=rnn_hidden), lambda x: x
    if kind == "mlp":
        return MLPClassifier(hidden=mlp_hidden), lambda x: x
    if kind == "cnn":
        return grey28_cnn(cnn_width, cnn_conv), lambda x: x[..., None]
    raise ValueError(f"kind: expected one of {CLASSIFIERS}, got {kind!r}")


def stacked_outputs(model: nn.Module, params_stack, inputs, chunk: int = 1000) -> tuple:
    """Every model's outputs on ``inputs``: ``model.apply`` vmapped over the leading model axis
    of ``params_stack``, as a tuple of NumPy arrays with leading (model, example) axes (for a
    classifier here: logits (M, N) and FC1 (M, N, units)), computed ``chunk`` examples at a time
    to bound memory."""
    if chunk < 1:
        raise ValueError(f"chunk: expected >= 1, got {chunk}")
    apply = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))
    pieces = [apply(params_stack, jnp.asarray(inputs[i:i + chunk]))
              for i in range(0, len(inputs), chunk)]
    return tuple(np.concatenate([np.asarray(p[k]) for p in pieces], axis=1)
                 for k in range(len(pieces[0])))
