"""The composite data of thesis Part I, flattened for the energy models: an image x (N, D) and its
two true causes, with x = cause_a + cause_b, as float32 arrays.

- :func:`rotated_digits`: Fig. 4.1, an upright 0 or 1 plus a 2 or 4 rotated by 90 degrees, each
  cause in [0, 1] (the data of thesis ch. 4);
- :func:`section_3_5`: the three datasets of thesis section 3.5, each cause in [-1, 1].

Each draws from MNIST ``(images, labels)`` (``jaxdis.data.load_mnist``) with ``jaxdis.data``'s
composite makers; the same seed gives the same images.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

SECTION_3_5 = ("gradient", "rotated", "side-by-side")


def _flat(images) -> jax.Array:
    return jnp.asarray(images.reshape(len(images), -1), jnp.float32)


def rotated_digits(images, labels, n_images: int, seed: int):
    """Fig. 4.1: an upright 0 or 1 plus a 2 or 4 rotated by 90 degrees, each in [0, 1], summed;
    ``n_images`` composites. Returns (x, cause_a, cause_b), each (n_images, 784)."""
    from jaxdis import data

    composite = data.make_rotated_composite(images, labels, classes_a=(0, 1), classes_b=(2, 4),
                                            n_pairs=n_images, seed=seed, combine="sum")
    return _flat(composite.x), _flat(composite.cause_a), _flat(composite.cause_b)


def section_3_5(name: str, images, labels, n_images: int, seed: int):
    """The data of thesis section 3.5, each cause in [-1, 1] (the thesis's tweak), ``n_images``
    examples: "gradient" an MNIST 5 plus a linear gradient of random angle (Fig. 3.4); "rotated" a
    3 plus a 7 rotated by 90 degrees (Fig. 3.6); "side-by-side" a 3 and a 7 next to each other,
    28 x 56, each cause 0 on the other's half (Fig. 3.7). Returns ((x, cause_a, cause_b) flattened,
    the image shape)."""
    from jaxdis import data

    common = dict(n_pairs=n_images, seed=seed, combine="sum", value_range=(-1, 1))
    if name == "gradient":
        comp = data.make_gradient_composite(images, labels, classes=(5,), **common)
    elif name == "rotated":
        comp = data.make_rotated_composite(images, labels, classes_a=(3,), classes_b=(7,), **common)
    elif name == "side-by-side":
        rng = np.random.default_rng(seed)
        index_a = rng.permutation(np.flatnonzero(labels == 3))[:n_images]
        index_b = rng.permutation(np.flatnonzero(labels == 7))[:n_images]
        zeros = np.zeros_like(images[index_a])
        cause_a = np.concatenate([2 * images[index_a] - 1, zeros], 2)
        cause_b = np.concatenate([zeros, 2 * images[index_b] - 1], 2)
        return (_flat(cause_a + cause_b), _flat(cause_a), _flat(cause_b)), cause_a.shape[1:]
    else:
        raise ValueError(f"name: expected one of {SECTION_3_5}, got {name!r}")
    return (_flat(comp.x), _flat(comp.cause_a), _flat(comp.cause_b)), comp.x.shape[1:]
