"""The toy two-cause datasets of thesis Fig. 3.3, generated from a few random variables.

The thesis shows them only as pictures, with these captions, so the exact geometry here is ours:

    "shapes"  (a) "A small circle and square independently take one of five locations and sizes."
              Circle in the top half, square in the bottom half (they never touch); location and
              size each one of five, independently. label = 5 * location + size (0..24).
    "waves"   (b) "A combination of sine waves, generated from a single random variable, is added
              to a linear gradient." Cause a: 1/2 + (sin(2 pi f c / W + 2 pi t) +
              sin(2 pi f r / H)) / 4 with t uniform in [0, 1) and frequency f = 1 + 2 t; cause b:
              :func:`jaxdis.data.composite.linear_gradients` of a uniform angle.
              label_a = the decile of t, label_b = the angle's octant.
    "lines"   (c) "Two lines are generated, the offset and orientation of each line are generated
              from a single random variable." Line k from t_k uniform in [0, 1): orientation
              pi t_k, signed offset from the centre (t_k - 1/2) H / 2, width 2 pixels.
              label = the decile of t_k.
    "bars"    (d) "A pattern of bars, in six locations, and blocks, in five locations, are
              generated independently and added together. The requirement of an odd number of
              each entangles the causes." Cause a: vertical bars at six places, a uniformly drawn
              subset of odd size; cause b: square blocks at five places, likewise.
              label = the subset as a bit mask (bit i: bar or block i is present).

Each cause is drawn in [0, 1] and combined as in :mod:`jaxdis.data.composite` (``combine`` and
``value_range`` as there), so ``x == composite.recombine()`` exactly; the generating variables are
in ``composite.factors``.
"""

from __future__ import annotations

import numpy as np

from jaxdis.data.composite import Composite, angle_bins, combine_causes, linear_gradients

TOY_KINDS = ("shapes", "waves", "lines", "bars")
N_BARS, N_BLOCKS = 6, 5


def make_toy(kind: str, n: int, seed: int, size: int = 28, combine: str = "sum",
             value_range: tuple[float, float] = (0.0, 1.0)) -> Composite:
    """n images (size, size) of a toy dataset of thesis Fig. 3.3 (see the module docstring).

    Args:
      kind: "shapes", "waves", "lines" or "bars".
      n: number of images.
      seed: seeds every random variable.
      size: image side in pixels, at least 16.
      combine: "sum" (a + b), "additive" ((a + b) / 2) or "occlusive" (max).
      value_range: (lo, hi), see :mod:`jaxdis.data.composite`.
    """
    if kind not in TOY_KINDS:
        raise ValueError(f"kind must be one of {', '.join(TOY_KINDS)}; got {kind!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int of at least 16 pixels, got {size!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an int of at least 1, got {n!r}")
    rng = np.random.default_rng(seed)
    a, b, label_a, label_b, factors = _GENERATORS[kind](rng, int(n), int(size))
    x, cause_a, cause_b, op = combine_causes(a, b, combine, value_range)
    return Composite(x=x, cause_a=cause_a, cause_b=cause_b, label_a=label_a.astype(np.int32),
                     label_b=label_b.astype(np.int32), kind=f"toy-{kind}", seed=int(seed),
                     combine=op, factors={k: v.astype(np.float32) for k, v in factors.items()})


def _grid(size: int):
    return np.meshgrid(np.arange(size), np.arange(size), indexing="ij")  # rows, cols


def _shapes(rng, n, size):
    rows, cols = _grid(size)
    centres = np.round(np.linspace(0.2, 0.8, 5) * (size - 1))
    extents = np.linspace(1.5, 0.17 * size, 5)       # circle radius / half the square's side
    loc_a, size_a, loc_b, size_b = (rng.integers(0, 5, n) for _ in range(4))
    cr, cc, radius = np.round(0.25 * (size - 1)), centres[loc_a], extents[size_a]
    circle = ((rows - cr) ** 2 + (cols - cc[:, None, None]) ** 2) <= radius[:, None, None] ** 2
    sr, sc, half = np.round(0.75 * (size - 1)), centres[loc_b], extents[size_b]
    square = ((np.abs(rows - sr) <= half[:, None, None])
              & (np.abs(cols - sc[:, None, None]) <= half[:, None, None]))
    factors = {"location_a": loc_a, "size_a": size_a, "location_b": loc_b, "size_b": size_b}
    return (circle.astype(np.float32), square.astype(np.float32), 5 * loc_a + size_a,
            5 * loc_b + size_b, factors)


def _waves(rng, n, size):
    rows, cols = _grid(size)
    t = rng.uniform(0.0, 1.0, n)[:, None, None]
    frequency = 1.0 + 2.0 * t
    waves = 0.5 + 0.25 * (np.sin(2 * np.pi * frequency * cols / size + 2 * np.pi * t)
                          + np.sin(2 * np.pi * frequency * rows / size))
    angles = rng.uniform(0.0, 2 * np.pi, n)
    t = t[:, 0, 0]
    return (waves.astype(np.float32), linear_gradients(angles, (size, size)), _deciles(t),
            angle_bins(angles), {"t_a": t, "angle_b": angles})


def _lines(rng, n, size):
    t_a, t_b = rng.uniform(0.0, 1.0, n), rng.uniform(0.0, 1.0, n)
    return (_line_images(t_a, size), _line_images(t_b, size), _deciles(t_a), _deciles(t_b),
            {"t_a": t_a, "t_b": t_b})


def _line_images(t, size):
    rows, cols = _grid(size)
    centre = (size - 1) / 2.0
    theta = (np.pi * t)[:, None, None]
    offset = ((t - 0.5) * size / 2.0)[:, None, None]
    distance = (cols - centre) * np.cos(theta) + (rows - centre) * np.sin(theta) - offset
    return (np.abs(distance) <= 1.0).astype(np.float32)


def _bars(rng, n, size):
    rows, cols = _grid(size)
    mask_a, mask_b = _odd_masks(rng, n, N_BARS), _odd_masks(rng, n, N_BLOCKS)
    bar_width = max(1, size // 14)
    bar_left = np.round(np.linspace(0.1, 0.9, N_BARS) * size - bar_width / 2).astype(int)
    bars_per_place = np.stack([(cols >= l) & (cols < l + bar_width) for l in bar_left])
    side = max(2, size // 7)
    places = [(0.2, 0.2), (0.2, 0.8), (0.5, 0.5), (0.8, 0.2), (0.8, 0.8)]
    blocks_per_place = np.stack([
        (np.abs(rows - r * (size - 1)) < side / 2) & (np.abs(cols - c * (size - 1)) < side / 2)
        for r, c in places])
    bars = _union(_bits(mask_a, N_BARS), bars_per_place)
    blocks = _union(_bits(mask_b, N_BLOCKS), blocks_per_place)
    return bars, blocks, mask_a, mask_b, {}


def _odd_masks(rng, n, places):
    """Uniform draws from the bit masks of `places` bits with an odd number of bits set."""
    masks = np.arange(2 ** places)
    odd = masks[np.array([bin(m).count("1") % 2 == 1 for m in masks])]
    return rng.choice(odd, size=n)


def _bits(masks, places):
    return (masks[:, None] >> np.arange(places)) & 1          # (n, places)


def _union(present, per_place):
    # Places do not overlap, so a sum over present places is their union.
    return np.einsum("np,phw->nhw", present.astype(np.float32), per_place.astype(np.float32))


def _deciles(t):
    return np.minimum(np.floor(t * 10), 9).astype(np.int32)


_GENERATORS = {"shapes": _shapes, "waves": _waves, "lines": _lines, "bars": _bars}
