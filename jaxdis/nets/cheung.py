"""The semi-supervised autoencoders of Cheung et al. (2015), their Tables 1 and 4, as Flax modules.

The encoder maps an image x to observed units ŷ (one softmax per label set) and latent units z
(linear), "Cheung et al. eq. 1"; the decoder maps {ŷ, z} to the reconstruction x̂,
"Cheung et al. eq. 2". The decoder takes the softmax outputs ŷ, not the one-hot label, as the
paper states (its Fig. 1 and Cheung et al. eq. 2: x̂ = G(F(x; θ); φ)). Training uses the
objective of "Cheung et al. eq. 3" from :mod:`jaxdis.losses`.

Every model is one :class:`XCovAutoencoder`; the functions :func:`mnist`, :func:`conv_mnist`,
:func:`maxout_mnist`, :func:`tfd`, :func:`conv_tfd` and :func:`conv_deconv_multipie` give it the
paper's sizes. Where the paper does not state a detail (kernel sizes, pooling, how the last
decoder layer becomes a 48x48 image), the choice made here is the one that reproduces the feature
map sizes of its tables, and the docstring says so.

Calling a model returns ``(y_logits, z, x_hat)``; ``y_logits`` is an array for one label set and a
dict ``{name: logits}`` for several (Multi-PIE: pose and illumination). ``model.decode(y_hat, z)``
takes ``y_hat`` of the same structure, for traversals, style transfer and Jacobians.

The analyses of the paper's section 3.4-3.5 are pure functions of a model and its parameters, at
the end of this module: traversals (Fig. 4), decoder Jacobians and their singular value spectra
(Fig. 5), swapping or scaling ŷ while keeping z (Fig. 6-9).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array
Labels = Any  # an array (one label set) or a dict {name: array} (several)


class XCovAutoencoder(nn.Module):
    """An autoencoder whose middle layer is split into observed units ŷ and latent units z.

    Attributes:
      image_shape: (H, W) for grey images or (H, W, C).
      label_sets: ((name, number of classes), ...): one softmax head each.
      latent_dim: the number of linear latent units z.
      encoder_conv: None, or (features, kernel, pool): one VALID convolution with ReLU and
        non-overlapping max-pooling before the dense encoder layers.
      encoder_widths: the dense encoder layers (x to {ŷ, z}).
      decoder_widths: the dense decoder layers ({ŷ, z} to x̂).
      maxout_pieces: 1 for ReLU units; k > 1 for maxout units with k linear pieces each
        (Goodfellow et al. 2013), in encoder and decoder.
      input_dropout, hidden_dropout: dropout rates on the encoder's input and on its hidden
        layers, active only with ``train=True`` (then a ``'dropout'`` PRNG key is required).
      output_deconv: None for a dense linear output layer; or (side, maps, kernel, stride): the last
        decoder layer is reshaped to (side, side, maps) and a linear transposed convolution
        (VALID) makes the image; (side - 1) * stride + kernel must equal H = W.
    """

    image_shape: tuple[int, ...]
    label_sets: tuple[tuple[str, int], ...]
    latent_dim: int
    encoder_conv: tuple[int, int, int] | None = None
    encoder_widths: tuple[int, ...] = (500, 500)
    decoder_widths: tuple[int, ...] = (500, 500)
    maxout_pieces: int = 1
    input_dropout: float = 0.0
    hidden_dropout: float = 0.0
    output_deconv: tuple[int, int, int, int] | None = None

    def setup(self):
        if len(self.image_shape) not in (2, 3):
            raise ValueError(f"image_shape: expected (H, W) or (H, W, C), got {self.image_shape}")
        if not self.label_sets:
            raise ValueError("label_sets: expected at least one (name, classes) pair")
        if self.maxout_pieces < 1:
            raise ValueError(f"maxout_pieces: expected >= 1, got {self.maxout_pieces}")
        if self.encoder_conv is not None:
            features, kernel, _ = self.encoder_conv
            self.conv = nn.Conv(features, (kernel, kernel), padding="VALID", name="conv")
        self.encoder_layers = [nn.Dense(w * self.maxout_pieces) for w in self.encoder_widths]
        self.heads = {name: nn.Dense(classes, name=f"head_{name}")
                      for name, classes in self.label_sets}
        self.latent = nn.Dense(self.latent_dim)
        self.decoder_layers = [nn.Dense(w * self.maxout_pieces) for w in self.decoder_widths]
        if self.output_deconv is None:
            self.output = nn.Dense(math.prod(self.image_shape))
        else:
            side, maps, kernel, stride = self.output_deconv
            height = self.image_shape[0]
            if side * side * maps != self.decoder_widths[-1] or (side - 1) * stride + kernel != height:
                raise ValueError(
                    f"output_deconv={self.output_deconv}: needs side*side*maps == last decoder width "
                    f"({self.decoder_widths[-1]}) and (side-1)*stride+kernel == image height ({height})")
            channels = self.image_shape[2] if len(self.image_shape) == 3 else 1
            self.output = nn.ConvTranspose(channels, (kernel, kernel), strides=(stride, stride),
                                           padding="VALID")
        self.drop_input = nn.Dropout(self.input_dropout)
        self.drop_hidden = nn.Dropout(self.hidden_dropout)

    # -- units -------------------------------------------------------------------------------
    def _activate(self, pre: Array) -> Array:
        if self.maxout_pieces == 1:
            return nn.relu(pre)
        return pre.reshape(pre.shape[:-1] + (-1, self.maxout_pieces)).max(axis=-1)

    # -- encoder, Cheung et al. eq. 1 --------------------------------------------------------
    def encode(self, x: Array, train: bool = False) -> tuple[Labels, Array]:
        """x (B, *image_shape) -> (y_logits, z)."""
        if x.ndim != len(self.image_shape) + 1 or tuple(x.shape[1:]) != tuple(self.image_shape):
            raise ValueError(f"x: expected shape (batch, {', '.join(map(str, self.image_shape))}), "
                             f"got {tuple(x.shape)}")
        h = self.drop_input(x, deterministic=not train)
        if self.encoder_conv is not None:
            _, _, pool = self.encoder_conv
            h = h if h.ndim == 4 else h[..., None]
            h = nn.max_pool(nn.relu(self.conv(h)), (pool, pool), strides=(pool, pool))
        h = h.reshape(h.shape[0], -1)
        for layer in self.encoder_layers:
            h = self.drop_hidden(self._activate(layer(h)), deterministic=not train)
        logits = {name: head(h) for name, head in self.heads.items()}
        y_logits = logits if len(self.label_sets) > 1 else logits[self.label_sets[0][0]]
        return y_logits, self.latent(h)

    # -- decoder, Cheung et al. eq. 2 --------------------------------------------------------
    def join(self, y_hat: Labels, z: Array) -> Array:
        """{ŷ, z} as one (B, classes + latent_dim) array: the decoder's input."""
        names = [name for name, _ in self.label_sets]
        if len(names) == 1:
            parts = [y_hat]
            if isinstance(y_hat, dict):
                raise ValueError(f"y_hat: expected an array for one label set, got a dict")
        else:
            if not isinstance(y_hat, dict) or set(y_hat) != set(names):
                got = sorted(y_hat) if isinstance(y_hat, dict) else type(y_hat).__name__
                raise ValueError(f"y_hat: expected a dict with keys {names}, got {got}")
            parts = [y_hat[name] for name in names]
        for (name, classes), part in zip(self.label_sets, parts):
            if part.ndim != 2 or part.shape[1] != classes:
                raise ValueError(f"y_hat[{name!r}]: expected shape (batch, {classes}), "
                                 f"got {tuple(part.shape)}")
        if z.ndim != 2 or z.shape[1] != self.latent_dim or z.shape[0] != parts[0].shape[0]:
            raise ValueError(f"z: expected shape ({parts[0].shape[0]}, {self.latent_dim}), "
                             f"got {tuple(z.shape)}")
        return jnp.concatenate(parts + [z], axis=1)

    def decoder_activations(self, y_hat: Labels, z: Array) -> list[Array]:
        """[{ŷ, z}, h_-L, ..., h_-2] (the input and each hidden layer after it; h_-3 is index 1
        in the MNIST model, the paper's Fig. 1 naming), then x̂ last."""
        h = self.join(y_hat, z)
        activations = [h]
        for layer in self.decoder_layers:
            h = self._activate(layer(h))
            activations.append(h)
        activations.append(self._output(h))
        return activations

    def decode_from(self, level: int, h: Array) -> Array:
        """x̂ from the activation ``h`` of decoder level ``level`` (0: {ŷ, z}, 1: the first hidden
        layer after it, ...): the map whose Jacobian is Cheung et al. eq. 9."""
        if not 0 <= level <= len(self.decoder_layers):
            raise ValueError(f"level: expected 0..{len(self.decoder_layers)}, got {level}")
        for layer in self.decoder_layers[level:]:
            h = self._activate(layer(h))
        return self._output(h)

    def _output(self, h: Array) -> Array:
        batch = h.shape[0]
        if self.output_deconv is None:
            return self.output(h).reshape((batch,) + tuple(self.image_shape))
        side, maps, _, _ = self.output_deconv
        image = self.output(h.reshape(batch, side, side, maps))
        return image.reshape((batch,) + tuple(self.image_shape))

    def decode(self, y_hat: Labels, z: Array) -> Array:
        """x̂ = G(ŷ, z; φ), Cheung et al. eq. 2."""
        return self.decode_from(0, self.join(y_hat, z))

    def __call__(self, x: Array, train: bool = False) -> tuple[Labels, Array, Array]:
        """x -> (y_logits, z, x̂); the decoder sees the softmax ŷ = softmax(y_logits)."""
        y_logits, z = self.encode(x, train)
        return y_logits, z, self.decode(softmax(y_logits), z)


def softmax(y_logits: Labels) -> Labels:
    """ŷ: the softmax of each head's logits (an array, or a dict of arrays)."""
    return jax.tree.map(jax.nn.softmax, y_logits)


# -- the paper's models (Table 1 and Table 4) --------------------------------------------------

def mnist(latent_dim: int = 2) -> XCovAutoencoder:
    """Table 1, MNIST: 784-500-500-[10 SM, 2 linear]-500-500-784 linear, ReLU."""
    return XCovAutoencoder(image_shape=(28, 28), label_sets=(("digit", 10),),
                           latent_dim=latent_dim, encoder_widths=(500, 500),
                           decoder_widths=(500, 500))


def conv_mnist(latent_dim: int = 2) -> XCovAutoencoder:
    """Table 4, ConvMNIST: 12x12x32 ConvReLU-500-[10 SM, 2 linear]-500-500-784 linear.

    12x12x32 from 28x28: a 5x5 VALID convolution (24x24) and 2x2 max-pooling; the paper gives only
    the map size.
    """
    return XCovAutoencoder(image_shape=(28, 28), label_sets=(("digit", 10),),
                           latent_dim=latent_dim, encoder_conv=(32, 5, 2), encoder_widths=(500,),
                           decoder_widths=(500, 500))


def maxout_mnist(latent_dim: int = 2, input_dropout: float = 0.2,
                 hidden_dropout: float = 0.5) -> XCovAutoencoder:
    """Table 4, MaxoutMNIST: 240-5 maxout x2-[10 SM, 2 linear]-240-5 maxout x2-784 linear.

    Dropout on the encoder as in Goodfellow et al. (2013b)'s maxout MNIST: input units kept with
    probability 0.8, hidden units with 0.5.
    """
    return XCovAutoencoder(image_shape=(28, 28), label_sets=(("digit", 10),),
                           latent_dim=latent_dim, encoder_widths=(240, 240),
                           decoder_widths=(240, 240), maxout_pieces=5,
                           input_dropout=input_dropout, hidden_dropout=hidden_dropout)


def tfd(latent_dim: int = 793) -> XCovAutoencoder:
    """Table 1, TFD: 2304-2000-2000-[7 SM, 793 linear]-2000-2000-2304 linear (48x48 faces)."""
    return XCovAutoencoder(image_shape=(48, 48), label_sets=(("expression", 7),),
                           latent_dim=latent_dim, encoder_widths=(2000, 2000),
                           decoder_widths=(2000, 2000))


def conv_tfd(latent_dim: int = 793) -> XCovAutoencoder:
    """Table 4, ConvTFD: 22x22x16 ConvReLU-2000-[7 SM, 793 linear]-2000-2000-2304 linear.

    22x22x16 from 48x48: a 5x5 VALID convolution (44x44) and 2x2 max-pooling.
    """
    return XCovAutoencoder(image_shape=(48, 48), label_sets=(("expression", 7),),
                           latent_dim=latent_dim, encoder_conv=(16, 5, 2),
                           encoder_widths=(2000,), decoder_widths=(2000, 2000))


def conv_deconv_multipie(latent_dim: int = 793) -> XCovAutoencoder:
    """Table 1, ConvDeconvMultiPIE: 20x20x32 ConvReLU-2000-2000-[13 SM, 19 SM, 793 linear]-
    2000 x4-48x48x1 Deconv (9 layers).

    20x20x32 from 48x48: a 9x9 VALID convolution (40x40) and 2x2 max-pooling. The deconvolution:
    the last 2000 units read as a 20x20x5 map, a 10x10 transposed convolution with stride 2
    ((20 - 1) * 2 + 10 = 48). The paper names only the output size; this is one reading.
    """
    return XCovAutoencoder(image_shape=(48, 48), label_sets=(("pose", 13), ("illumination", 19)),
                           latent_dim=latent_dim, encoder_conv=(32, 9, 2),
                           encoder_widths=(2000, 2000), decoder_widths=(2000, 2000, 2000, 2000),
                           output_deconv=(20, 5, 10, 2))


MODELS = {
    "mnist": mnist,
    "conv_mnist": conv_mnist,
    "maxout_mnist": maxout_mnist,
    "tfd": tfd,
    "conv_tfd": conv_tfd,
    "conv_deconv_multipie": conv_deconv_multipie,
}


# -- the max-norm constraint -------------------------------------------------------------------

def max_norm_project(params, max_norm: float = 0.9):
    """Rescales each unit's incoming weight vector to norm <= ``max_norm`` (biases untouched).

    The authors' configurations (Pylearn2 ``max_col_norm``, about 0.9) constrain every weight
    matrix this way; the paper does not mention it. A pure projection, applied after each update:
    for a kernel of shape (..., fan_in, units), the norm is taken over all axes but the last.
    A transposed convolution's kernel is (kh, kw, in, out) in Flax, and is treated the same way.
    """
    def project(path, leaf):
        if getattr(path[-1], "key", None) != "kernel":
            return leaf
        axes = tuple(range(leaf.ndim - 1))
        norms = jnp.sqrt(jnp.sum(jnp.square(leaf), axis=axes, keepdims=True))
        return leaf * jnp.minimum(1.0, max_norm / jnp.maximum(norms, 1e-12))

    return jax.tree_util.tree_map_with_path(project, params)


# -- analyses: section 3.4 and 3.5 -------------------------------------------------------------

def one_hot_codes(model: XCovAutoencoder, label_set: str, classes: Array,
                  fixed: dict[str, Array] | None = None) -> Labels:
    """ŷ as one-hot vectors of ``classes`` for ``label_set``; other label sets from ``fixed``."""
    sizes = dict(model.label_sets)
    if label_set not in sizes:
        raise ValueError(f"label_set: expected one of {sorted(sizes)}, got {label_set!r}")
    hot = jax.nn.one_hot(classes, sizes[label_set])
    if len(sizes) == 1:
        return hot
    fixed = dict(fixed or {})
    missing = set(sizes) - set(fixed) - {label_set}
    if missing:
        raise ValueError(f"fixed: needs ŷ for the other label sets {sorted(missing)}")
    return {**fixed, label_set: hot}


def traversal_grid(model: XCovAutoencoder, params, latent_index: int, sigma: float,
                   steps: int = 9, span: float = 2.0, label_set: str | None = None) -> Array:
    """Cheung et al. Fig. 4b-c: images (classes, steps, *image_shape).

    For each class, ŷ is its one-hot vector and z is zero except z[latent_index], which sweeps
    linearly over [-span * sigma, +span * sigma] (sigma: the std of z on the test set).
    """
    if not 0 <= latent_index < model.latent_dim:
        raise ValueError(f"latent_index: expected 0..{model.latent_dim - 1}, got {latent_index}")
    label_set = label_set or model.label_sets[0][0]
    if len(model.label_sets) > 1:
        raise ValueError("traversal_grid: defined for one label set (the MNIST models)")
    classes = dict(model.label_sets)[label_set]
    values = jnp.linspace(-span * sigma, span * sigma, steps)
    z = jnp.zeros((classes, steps, model.latent_dim)).at[:, :, latent_index].set(values)
    y = jnp.repeat(jax.nn.one_hot(jnp.arange(classes), classes)[:, None, :], steps, axis=1)
    images = model.apply(params, y.reshape(classes * steps, classes),
                         z.reshape(classes * steps, -1), method=model.decode)
    return images.reshape((classes, steps) + tuple(model.image_shape))


def decoder_jacobians(model: XCovAutoencoder, params, y_hat: Array, z: Array,
                      levels: Sequence[int] = (0, 1, 2)) -> dict[int, tuple[Array, Array]]:
    """Cheung et al. eq. 9 and Fig. 5, for one example (y_hat (classes,), z (latent_dim,)).

    Returns {level: (jacobian, active)}: ``jacobian`` (pixels, units) is ∂x̂_i/∂h^k_j at decoder
    level k (0: {ŷ, z}; 1: the first layer after it, h_-3 in the paper's Fig. 1; 2: h_-2), by
    forward-mode differentiation (``jax.jacfwd``: fewer inputs than pixels); ``active`` (units,)
    marks the units with non-zero activation, the only ones the paper keeps ("we remove hidden
    units with zero activation"). At level 0 every unit counts as active.
    """
    activations = model.apply(params, y_hat[None], z[None], method=model.decoder_activations)
    result = {}
    for level in levels:
        h = activations[level][0]

        def image_of(h_one, level=level):
            return model.apply(params, level, h_one[None], method=model.decode_from).reshape(-1)

        jacobian = jax.jacfwd(image_of)(h)
        active = jnp.ones(h.shape, bool) if level == 0 else h != 0
        result[level] = (jacobian, active)
    return result


def normalised_singular_values(jacobian: Array, active: Array) -> Array:
    """The singular values of a Jacobian's active columns, divided by the largest (Fig. 5e).

    Inactive columns are zeroed, not dropped, so the shape is static (jit-safe); they add only
    zero singular values, which sort last.
    """
    s = jnp.linalg.svd(jacobian * active[None, :], compute_uv=False)
    return s / jnp.maximum(s[0], jnp.finfo(s.dtype).tiny)


# The decoder levels of Fig. 5e: {ŷ, z} and the two hidden layers after it (h_-3, h_-2 in Fig. 1).
JACOBIAN_LEVELS = {0: "{y, z}", 1: "h-3", 2: "h-2"}


def jacobian_analysis(model: XCovAutoencoder, params) -> tuple[Array, dict[str, Array]]:
    """Cheung et al. Fig. 5 at z = 0 and ŷ one-hot for each class (one label set): the columns of
    ∂x̂/∂z as images (classes, latent_dim, *image_shape) (Fig. 5b), and the normalised singular
    values of the Jacobian at each level of :data:`JACOBIAN_LEVELS`, {name: (classes, units)}
    (Fig. 5e), from :func:`decoder_jacobians` and :func:`normalised_singular_values`."""
    if len(model.label_sets) != 1:
        raise ValueError("jacobian_analysis: defined for one label set (the MNIST models)")
    classes = model.label_sets[0][1]
    images, spectra = [], {name: [] for name in JACOBIAN_LEVELS.values()}
    for c in range(classes):
        jacobians = decoder_jacobians(model, params, jax.nn.one_hot(c, classes),
                                      jnp.zeros(model.latent_dim), levels=tuple(JACOBIAN_LEVELS))
        jacobian_z = jacobians[0][0][:, classes:].T  # (latent, pixels): the z columns of {ŷ, z}
        images.append(jacobian_z.reshape((model.latent_dim,) + tuple(model.image_shape)))
        for level, name in JACOBIAN_LEVELS.items():
            spectra[name].append(normalised_singular_values(*jacobians[level]))
    return jnp.stack(images), {name: jnp.stack(values) for name, values in spectra.items()}


def swap_labels(model: XCovAutoencoder, params, x: Array, label_set: str | None = None) -> Array:
    """Cheung et al. Fig. 6, 8, 9: encode x, keep z (and the other label sets' ŷ), set the chosen
    label set's ŷ to each one-hot class in turn. Returns (batch, classes, *image_shape)."""
    label_set = label_set or model.label_sets[0][0]
    y_logits, z = model.apply(params, x, method=model.encode)
    y_hat = softmax(y_logits)
    classes = dict(model.label_sets).get(label_set)
    if classes is None:
        raise ValueError(f"label_set: expected one of {[n for n, _ in model.label_sets]}, "
                         f"got {label_set!r}")
    fixed = y_hat if isinstance(y_hat, dict) else None

    def decode_as(c):
        batch_classes = jnp.full((x.shape[0],), c)
        return model.apply(params, one_hot_codes(model, label_set, batch_classes, fixed), z,
                           method=model.decode)

    images = jax.vmap(decode_as)(jnp.arange(classes))  # (classes, batch, ...)
    return jnp.swapaxes(images, 0, 1)


def scaled_labels(model: XCovAutoencoder, params, z: Array, scales: Array) -> Array:
    """Cheung et al. Fig. 7: ŷ = s * one_hot(c) for each class c and scale s (5 to -5 in the
    paper, beyond the softmax's range), z kept. ``z`` is (latent_dim,), one example; returns
    (scales, classes, *image_shape). One label set only."""
    if len(model.label_sets) != 1:
        raise ValueError("scaled_labels: defined for one label set")
    classes = model.label_sets[0][1]
    y = scales[:, None, None] * jnp.eye(classes)[None]  # (scales, classes, classes)
    flat_y = y.reshape(-1, classes)
    flat_z = jnp.broadcast_to(z, (flat_y.shape[0], z.shape[-1]))
    images = model.apply(params, flat_y, flat_z, method=model.decode)
    return images.reshape((scales.shape[0], classes) + tuple(model.image_shape))
