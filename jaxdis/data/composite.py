"""Composite datasets with ground truth: two causes combined into one image.

The benchmarks of thesis section 8.2, built from any images in [0, 1] (MNIST, Fashion-MNIST, the
8x8 digits):

    "simple"     two digits side by side, (N, H, 2W)          x = a | b
    "additive"   two digits averaged, (N, H, W)               x = (a + b) / 2
    "occlusive"  two digits pixel-wise unioned, (N, H, W)     x = max(a, b)

and the data of thesis chapters 3, 4 and 6: an upright digit of some classes combined with a digit
of other classes rotated by 90 degrees (:func:`make_rotated_composite`), and a digit plus a linear
gradient of random angle (:func:`make_gradient_composite`). The toy datasets of thesis Fig. 3.3
are in :mod:`jaxdis.data.toy`.

Every composite keeps its two causes exactly as they entered x, so that::

    x == cause_a + cause_b            (composite.combine == "sum")
    x == np.maximum(cause_a, cause_b)  (composite.combine == "max")

holds exactly, in float32, for every kind and value range (:meth:`Composite.recombine`).

Value ranges. Thesis section 8.2: "prior to combination each component image is normalised into a
range such that, after combination, images in the dataset are in the range [0, 1]". With
``value_range=(lo, hi)`` and ``s = hi - lo``, a source image ``a`` in [0, 1] enters x as

    simple      cause_a = lo + s * a on its own half, 0 on the other half  -> x in [lo, hi]
    additive    cause_a = (lo + s * a) / 2                                 -> x in [lo, hi]
    occlusive   cause_a = lo + s * a                                       -> x in [lo, hi]
    sum         cause_a = lo + s * a (each cause in [lo, hi])              -> x in [2 lo, 2 hi]

("sum" is the plain addition of thesis chapters 3, 4 and 6, where each cause is normalised to
[0, 1], or [-1, 1] in chapter 3, and x = a + b.) Source images must already lie in [0, 1] (the
loaders' pixel / 255): nothing is rescaled silently.

Each source image is used at most once: pairs come from a permutation, so N pairs use 2N images
(thesis section 8.2: "each image in MNIST is used no more than once").

Binarised composites. Section 8.2 says "the base MNIST images contain entirely binary-valued
pixels", which the MNIST files are not (grey levels at the strokes' edges). ``binarize=True``
(:func:`make_composite`, :func:`load_composite`) thresholds each source image first,
``a <- 1 if a > 0.5 else 0``, and then combines as above, so with the default value range

    simple      x in {0, 1}, each digit on its own half
    additive    x = (a + b) / 2 in {0, 0.5, 1}
    occlusive   x = max(a, b) in {0, 1}: the logical OR of the two digits

and the causes are the binarised images exactly as they entered x (x still recombines exactly).
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

import numpy as np

KINDS = ("simple", "additive", "occlusive")
COMBINES = ("sum", "additive", "occlusive")   # for the rotated, gradient and toy composites
N_ANGLE_BINS = 8   # the gradient's angle, as a class label: its octant


@dataclasses.dataclass(frozen=True)
class Composite:
    """A composite dataset and its ground truth (NumPy arrays, N examples).

    Attributes:
      x: float32 (N, H, W') the combined images.
      cause_a, cause_b: float32, the shape of x: each cause exactly as it entered x.
      label_a, label_b: int32 (N,) the class of each cause (for a continuous cause, a bin of its
        generating variable; the variable itself is in ``factors``).
      kind: what made it, e.g. "additive", "rotated-sum", "gradient-sum", "toy-bars".
      seed: the seed that made it.
      combine: "sum" (x = cause_a + cause_b) or "max" (x = max(cause_a, cause_b)).
      index_a, index_b: int64 (N,) the source image of each cause, as an index into the images
        given to the builder; None for generated causes.
      factors: generating variables by name (e.g. "angle_b" in radians), float32 (N,) each.
    """

    x: np.ndarray
    cause_a: np.ndarray
    cause_b: np.ndarray
    label_a: np.ndarray
    label_b: np.ndarray
    kind: str
    seed: int
    combine: str = "sum"
    index_a: np.ndarray | None = None
    index_b: np.ndarray | None = None
    factors: Mapping[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.combine not in ("sum", "max"):
            raise ValueError(f"combine must be 'sum' or 'max', got {self.combine!r}")
        n = self.x.shape[0]
        for name in ("cause_a", "cause_b"):
            if getattr(self, name).shape != self.x.shape:
                raise ValueError(f"{name} must have the shape of x {self.x.shape}, "
                                 f"got {getattr(self, name).shape}")
        for name in ("label_a", "label_b", "index_a", "index_b"):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(f"{name} must have shape ({n},), got {value.shape}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def recombine(self) -> np.ndarray:
        """x computed again from the causes; equals ``x`` exactly."""
        if self.combine == "sum":
            return self.cause_a + self.cause_b
        return np.maximum(self.cause_a, self.cause_b)


def make_composite(kind: str, images, labels, n_pairs: int, seed: int,
                   value_range: tuple[float, float] = (0.0, 1.0),
                   binarize: bool = False) -> Composite:
    """The Simple, Additive or Occlusive dataset of thesis section 8.2 from random image pairs.

    Args:
      kind: "simple" (side by side, x is (N, H, 2W)), "additive" ((a + b) / 2) or "occlusive"
        (pixel-wise maximum).
      images: float (M, H, W) in [0, 1].
      labels: integer (M,).
      n_pairs: N, the number of composites; needs 2N <= M images.
      seed: seeds the permutation that pairs the images.
      value_range: (lo, hi) the range of x (see the module docstring for the causes).
      binarize: threshold the source images at 0.5 to {0, 1} before combining (module docstring).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    images, labels = _check_images(images, labels)
    if binarize:
        images = binarize_images(images)
    lo, hi = _check_value_range(value_range)
    n_pairs = _check_n_pairs(n_pairs, len(images) // 2, f"{len(images)} images (2 per pair)")
    order = np.random.default_rng(seed).permutation(len(images))
    index_a, index_b = order[:n_pairs], order[n_pairs:2 * n_pairs]
    a, b = images[index_a], images[index_b]
    if kind == "simple":
        height, width = a.shape[1:]
        cause_a = np.zeros((n_pairs, height, 2 * width), np.float32)
        cause_b = np.zeros_like(cause_a)
        cause_a[:, :, :width] = _scale(a, lo, hi)
        cause_b[:, :, width:] = _scale(b, lo, hi)
        x, combine = cause_a + cause_b, "sum"
    else:
        x, cause_a, cause_b, combine = combine_causes(a, b, kind, value_range)
    return Composite(x=x, cause_a=cause_a, cause_b=cause_b, label_a=labels[index_a],
                     label_b=labels[index_b], kind=kind, seed=int(seed), combine=combine,
                     index_a=index_a, index_b=index_b)


def make_rotated_composite(images, labels, classes_a: Sequence[int] = (0, 1, 2),
                           classes_b: Sequence[int] = (3, 4, 5), n_pairs: int | None = None,
                           seed: int = 0, combine: str = "additive",
                           value_range: tuple[float, float] = (0.0, 1.0)) -> Composite:
    """An upright digit of ``classes_a`` combined with a digit of ``classes_b`` rotated by 90°.

    Cause b is ``np.rot90`` of its source image (90 degrees counter-clockwise). The thesis's data:
    chapter 6 (Fig. 6.2): upright 0, 1, 2 plus rotated 3, 4, 5, 5000 images, combine="sum";
    chapter 4 (Fig. 4.1): classes_a=(0, 1), classes_b=(2, 4), 1000 images, combine="sum";
    chapter 3 (Fig. 3.6): classes_a=(3,), classes_b=(7,), 1000 images, combine="sum",
    value_range=(-1, 1). Each cause is in [0, 1] before combining (the images must be), then
    mapped as the module docstring says.

    Args:
      images: float (M, H, H) in [0, 1] (square, so the rotation keeps the shape).
      labels: integer (M,).
      classes_a, classes_b: disjoint sets of classes for the upright and the rotated cause.
      n_pairs: N; None takes as many as the rarer side allows.
      seed: seeds the two permutations that draw the images.
      combine: "additive" ((a + b) / 2), "sum" (a + b) or "occlusive" (max).
      value_range: (lo, hi), see the module docstring.
    """
    images, labels = _check_images(images, labels)
    if images.shape[1] != images.shape[2]:
        raise ValueError(f"images must be square to rotate by 90 degrees, got {images.shape[1:]}")
    _check_value_range(value_range)  # before any work: combine_causes checks it again
    classes_a, classes_b = _check_classes(classes_a, classes_b, labels)
    pool_a = np.flatnonzero(np.isin(labels, classes_a))
    pool_b = np.flatnonzero(np.isin(labels, classes_b))
    n_pairs = _check_n_pairs(n_pairs, min(len(pool_a), len(pool_b)),
                             f"{len(pool_a)} images of classes {classes_a} and {len(pool_b)} "
                             f"of classes {classes_b}")
    rng = np.random.default_rng(seed)
    index_a = rng.permutation(pool_a)[:n_pairs]
    index_b = rng.permutation(pool_b)[:n_pairs]
    rotated_b = np.rot90(images[index_b], k=1, axes=(1, 2))
    x, cause_a, cause_b, op = combine_causes(images[index_a], rotated_b, combine, value_range)
    return Composite(x=x, cause_a=cause_a, cause_b=cause_b, label_a=labels[index_a],
                     label_b=labels[index_b], kind=f"rotated-{combine}", seed=int(seed),
                     combine=op, index_a=index_a, index_b=index_b)


def make_gradient_composite(images, labels, classes: Sequence[int] = (5,),
                            n_pairs: int | None = None, seed: int = 0, combine: str = "sum",
                            value_range: tuple[float, float] = (0.0, 1.0)) -> Composite:
    """A digit plus a linear gradient of random angle (thesis section 3.5, Fig. 3.4).

    Thesis: "1000 MNIST 5's added to a linear gradient across the image. The gradient is
    determined by only one parameter, the angle of increase across the image. The digits and
    gradients are both normalised into the range [0, 1] before being added together." The angle
    is uniform in [0, 2 pi); the gradient is :func:`linear_gradients`. ``label_b`` is the angle's
    octant (0..7) and ``factors["angle_b"]`` the angle itself.

    Args:
      images: float (M, H, W) in [0, 1]; labels: integer (M,).
      classes: the digit classes used (each image at most once).
      n_pairs: N; None takes every image of those classes.
      seed, combine, value_range: as :func:`make_rotated_composite`.
    """
    images, labels = _check_images(images, labels)
    _check_value_range(value_range)  # before any work: combine_causes checks it again
    classes = _check_class_set("classes", classes, labels)
    pool = np.flatnonzero(np.isin(labels, classes))
    n_pairs = _check_n_pairs(n_pairs, len(pool), f"{len(pool)} images of classes {classes}")
    rng = np.random.default_rng(seed)
    index_a = rng.permutation(pool)[:n_pairs]
    angles = rng.uniform(0.0, 2 * np.pi, size=n_pairs)
    gradients = linear_gradients(angles, images.shape[1:])
    x, cause_a, cause_b, op = combine_causes(images[index_a], gradients, combine, value_range)
    return Composite(x=x, cause_a=cause_a, cause_b=cause_b, label_a=labels[index_a],
                     label_b=angle_bins(angles), kind=f"gradient-{combine}", seed=int(seed),
                     combine=op, index_a=index_a, index_b=None,
                     factors={"angle_b": angles.astype(np.float32)})


def load_composite(kind: str, split: str = "train", n_pairs: int | None = None, seed: int = 0,
                   value_range: tuple[float, float] = (0.0, 1.0), source: str = "mnist",
                   data_dir=None, binarize: bool = False) -> Composite:
    """Loads a split of MNIST or Fashion-MNIST and builds ``make_composite(kind, ...)`` from it.

    Args:
      kind: "simple", "additive" or "occlusive".
      split: "train", "validation" or "test" (see :func:`jaxdis.data.load_mnist`).
      n_pairs: N; None: as many as the split allows (M // 2).
      seed, value_range: as :func:`make_composite`.
      source: "mnist" or "fashion_mnist" ("fashion-mnist" also accepted).
      data_dir: passed to the loader.
      binarize: as :func:`make_composite`.
    """
    from jaxdis.data.mnist import load_fashion_mnist, load_mnist

    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist,
               "fashion-mnist": load_fashion_mnist}
    if source not in loaders:
        raise ValueError(f"source must be one of {', '.join(loaders)}; got {source!r}")
    if kind not in KINDS:  # before loading: a typo should not cost a load
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    images, labels = loaders[source](split, data_dir=data_dir)
    if n_pairs is None:
        n_pairs = len(images) // 2
    return make_composite(kind, images, labels, n_pairs, seed, value_range=value_range,
                          binarize=binarize)


def load_training_set(dataset: str, n_train: int, probe_size: int, data_seed: int,
                      binarize: bool = False):
    """The training set of a seed sweep on MNIST or one of its composites (thesis section 8.2),
    with a probe set: the examples on which the sweep measures its codes every epoch.

    The probe rows are ``probe_size`` distinct rows drawn uniformly by ``data_seed``, sorted.

    Args:
      dataset: "mnist" (plain digits: no ground truth) or a composite kind of :data:`KINDS`.
      n_train: examples (composite pairs or digits) from MNIST's training split; 0: all it holds
        (:func:`training_set_size`).
      probe_size: probe examples, at least 10 and at most the training set.
      data_seed: which digits are paired, and which examples are probed.
      binarize: threshold a composite's source digits at 0.5 (:func:`make_composite`).

    Returns:
      (images, composite, probe): images float32 (N, H, W) in [0, 1]; the :class:`Composite`
      they are the x of (None for "mnist"); probe the sorted probe rows, int (probe_size,).
    """
    if dataset == "mnist":
        from jaxdis.data.mnist import load_mnist

        if binarize:
            raise ValueError("binarize=true needs a composite dataset, got 'mnist'")
        images, _ = load_mnist("train")
        if n_train:
            images = images[:n_train]
        composite = None
    else:
        composite = load_composite(dataset, "train", n_pairs=n_train or None, seed=data_seed,
                                   binarize=binarize)
        images = composite.x
    if n_train and len(images) < n_train:
        raise ValueError(f"n_train={n_train}: only {len(images)} examples are available")
    if probe_size > len(images) or probe_size < 10:
        raise ValueError(f"probe_size: expected between 10 and the {len(images)} examples, "
                         f"got {probe_size}")
    probe = np.sort(np.random.default_rng(data_seed).choice(len(images), probe_size,
                                                            replace=False))
    return np.asarray(images, np.float32), composite, probe


def check_training_set(dataset: str, n_train: int, probe_size: int, batch_size: int) -> None:
    """Raises ValueError, before anything is loaded, for a training set :func:`load_training_set`
    could not give or a sweep could not cut into minibatches: a probe set of fewer than 10
    examples, more examples than the MNIST source holds, a probe set or a minibatch larger than
    the training set (its size read from the source when ``n_train`` is 0, if known)."""
    if probe_size < 10:
        raise ValueError(f"probe_size: expected at least 10, got {probe_size}")
    available = training_set_size(dataset) if dataset in KINDS + ("mnist",) else None
    if n_train and available is not None and n_train > available:
        raise ValueError(f"n_train={n_train}: the MNIST source found holds only {available} "
                         f"training {'images' if dataset == 'mnist' else 'pairs'} (`jaxdis data "
                         "info` says which)")
    n_train = n_train or available
    if n_train and probe_size > n_train:
        raise ValueError(f"probe_size: expected between 10 and the {n_train} training examples, "
                         f"got {probe_size}")
    if n_train and batch_size > n_train:
        raise ValueError(f"batch_size {batch_size} is larger than the {n_train} training "
                         "examples")


def training_set_size(dataset: str) -> int | None:
    """The examples :func:`load_training_set` gives ``dataset`` with ``n_train`` 0: the images of
    the MNIST source that would be loaded for "mnist", half as many pairs for a composite; None
    if that is unknown before loading (tensorflow-datasets). FileNotFoundError if no source holds
    MNIST."""
    from jaxdis.data.mnist import split_size

    images = split_size("train")
    if images is None:
        return None
    return images if dataset == "mnist" else images // 2


# --------------------------------------------------------------------------- generated causes


def linear_gradients(angles, shape: tuple[int, int]) -> np.ndarray:
    """Linear ramps rising across the image in the direction of each angle, scaled to [0, 1].

    Pixel (row r, column c), centred coordinates u = c - (W-1)/2, v = (H-1)/2 - r (v points up):
    g = u cos(angle) + v sin(angle), then (g - min g) / (max g - min g) per image, so the ramp is
    0 at one corner or edge and 1 at the opposite. Angle 0 rises left to right, pi/2 bottom to top.
    Returns float32 (len(angles), H, W).
    """
    angles = np.asarray(angles, dtype=np.float64).reshape(-1, 1, 1)
    height, width = shape
    rows, cols = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    u = cols - (width - 1) / 2.0
    v = (height - 1) / 2.0 - rows
    g = u * np.cos(angles) + v * np.sin(angles)
    g_min = g.min(axis=(1, 2), keepdims=True)
    g_max = g.max(axis=(1, 2), keepdims=True)
    return ((g - g_min) / (g_max - g_min)).astype(np.float32)


def angle_bins(angles, n_bins: int = N_ANGLE_BINS) -> np.ndarray:
    """The bin of each angle (radians, [0, 2 pi)) among n_bins equal sectors, int32."""
    bins = np.floor(np.mod(np.asarray(angles), 2 * np.pi) / (2 * np.pi / n_bins))
    return np.minimum(bins, n_bins - 1).astype(np.int32)


# --------------------------------------------------------------------------- shared pieces


def binarize_images(images01: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """1 where a pixel is above ``threshold``, 0 elsewhere, float32."""
    return (np.asarray(images01) > threshold).astype(np.float32)


def _scale(images01: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """[0, 1] -> [lo, hi], affinely, in float32."""
    return (np.float32(lo) + np.float32(hi - lo) * images01).astype(np.float32)


def combine_causes(a01, b01, combine: str, value_range: tuple[float, float] = (0.0, 1.0)):
    """Two causes drawn in [0, 1] made into one image, as every builder here makes its x.

    With (lo, hi) = ``value_range`` and s = hi - lo, in float32 (module docstring)::

        "sum"        cause_a = lo + s a,        cause_b = lo + s b,        x = cause_a + cause_b
        "additive"   cause_a = (lo + s a) / 2,  cause_b = (lo + s b) / 2,  x = cause_a + cause_b
        "occlusive"  cause_a = lo + s a,        cause_b = lo + s b,        x = max(cause_a, cause_b)

    so ``x`` recombines exactly from the causes. For a generated cause (:mod:`jaxdis.data.toy`,
    :func:`make_gradient_composite`) draw it in [0, 1] and combine it here.

    Args:
      a01, b01: float (N, H, W) the two causes in [0, 1] (not checked: the builders check the
        images they are given).
      combine: "sum", "additive" or "occlusive".
      value_range: (lo, hi) with lo < hi.

    Returns:
      (x, cause_a, cause_b, op), float32 arrays of the causes' shape, and ``op`` ("sum" or "max")
      the :attr:`Composite.combine` that recombines them.
    """
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {', '.join(COMBINES)}; got {combine!r}")
    lo, hi = _check_value_range(value_range)
    if np.shape(a01) != np.shape(b01):
        raise ValueError(f"b01 must have the shape of a01 {np.shape(a01)}, got {np.shape(b01)}")
    cause_a, cause_b = _scale(a01, lo, hi), _scale(b01, lo, hi)
    if combine == "occlusive":
        return np.maximum(cause_a, cause_b), cause_a, cause_b, "max"
    if combine == "additive":
        cause_a, cause_b = cause_a / np.float32(2), cause_b / np.float32(2)
    return cause_a + cause_b, cause_a, cause_b, "sum"


def _check_images(images, labels) -> tuple[np.ndarray, np.ndarray]:
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 3:
        raise ValueError(f"images must have shape (M, H, W), got {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be floats in [0, 1], got dtype {images.dtype} "
                         "(uint8 pixels: divide by 255)")
    if images.size and not (np.isfinite(images).all() and images.min() >= 0
                            and images.max() <= 1):
        raise ValueError(f"images must lie in [0, 1], got values in "
                         f"[{images.min()}, {images.max()}]")
    if labels.shape != images.shape[:1]:
        raise ValueError(f"labels must have shape ({images.shape[0]},) to match images, "
                         f"got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {labels.dtype}")
    return images.astype(np.float32, copy=False), labels.astype(np.int32)


def _check_value_range(value_range) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be a pair (lo, hi), got {value_range!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"value_range must be finite with lo < hi, got {value_range!r}")
    return lo, hi


def _check_n_pairs(n_pairs, available: int, what: str) -> int:
    if n_pairs is None:
        n_pairs = available
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, (int, np.integer)):
        raise ValueError(f"n_pairs must be an int, got {n_pairs!r}")
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be at least 1, got {n_pairs} (from {what})")
    if n_pairs > available:
        raise ValueError(f"n_pairs={n_pairs} needs more images than given: {what} allow at most "
                         f"{available} pairs without using an image twice")
    return int(n_pairs)


def _check_class_set(name: str, classes, labels) -> tuple[int, ...]:
    classes = tuple(int(c) for c in classes)
    if not classes:
        raise ValueError(f"{name} must name at least one class")
    absent = sorted(set(classes) - set(np.unique(labels).tolist()))
    if absent:
        raise ValueError(f"{name}: classes {absent} have no images")
    return classes


def _check_classes(classes_a, classes_b, labels):
    classes_a = _check_class_set("classes_a", classes_a, labels)
    classes_b = _check_class_set("classes_b", classes_b, labels)
    shared = sorted(set(classes_a) & set(classes_b))
    if shared:
        raise ValueError(f"classes_a and classes_b must be disjoint, both hold {shared}")
    return classes_a, classes_b
