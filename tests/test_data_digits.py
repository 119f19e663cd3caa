"""jaxdis.data.digits: scikit-learn's 8x8 digits."""

import numpy as np

from jaxdis import data

from conftest import counts


def test_digits_8x8_are_sklearns_digits_scaled_to_unit_range():
    from sklearn.datasets import load_digits

    images, labels = data.load_digits_8x8()
    reference = load_digits()
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.dtype == np.int32 and counts(labels) == np.bincount(reference.target).tolist()
    assert images.min() == 0.0 and images.max() == 1.0
    np.testing.assert_allclose(images, reference.images / 16.0, rtol=0, atol=1e-7)
