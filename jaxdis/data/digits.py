"""scikit-learn's bundled 8x8 digits: a tiny real dataset for tests and demos (no files needed)."""

from __future__ import annotations

import numpy as np

DIGITS_MAX = 16.0  # the UCI digits count pixels in a 4x4 block: values 0..16


def load_digits_8x8() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits of ``sklearn.datasets.load_digits``.

    Returns ``(images float32 (1797, 8, 8) in [0, 1], labels int32 (1797,))``; the pixel counts
    0..16 are divided by 16.
    """
    from sklearn.datasets import load_digits  # imported here: scikit-learn is slow to import

    digits = load_digits()
    images = (np.asarray(digits.images, dtype=np.float32) / np.float32(DIGITS_MAX))
    return images.reshape(-1, 8, 8), np.asarray(digits.target, dtype=np.int32)
