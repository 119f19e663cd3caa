"""jaxdis.energy.datasets: the composites of thesis Part I, x = cause_a + cause_b, flattened."""

import numpy as np
import pytest

from jaxdis.energy import datasets


def fake_mnist(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(n, 28, 28)).astype(np.float32), np.arange(n) % 10


@pytest.mark.parametrize("name", datasets.SECTION_3_5)
def test_section_3_5_datasets_add_up_with_causes_in_minus_one_to_one(name):
    images, labels = fake_mnist()
    (x, a, b), shape = datasets.section_3_5(name, images, labels, 30, seed=1)
    assert x.shape == a.shape == b.shape == (30, int(np.prod(shape)))
    assert x.dtype == np.float32
    np.testing.assert_allclose(x, a + b, atol=1e-6)
    assert np.all(np.asarray(a) >= -1) and np.all(np.asarray(a) <= 1)
    if name == "side-by-side":  # 28 x 56, each cause 0 on the other's half
        assert shape == (28, 56)
        halves = np.asarray(a).reshape(30, 28, 56)
        assert np.all(halves[:, :, 28:] == 0) and np.all(np.asarray(b).reshape(30, 28, 56)[
            :, :, :28] == 0)
    again = datasets.section_3_5(name, images, labels, 30, seed=1)[0][0]
    np.testing.assert_array_equal(x, again)  # the same seed, the same images


def test_rotated_digits_of_fig_4_1_and_unknown_names():
    images, labels = fake_mnist()
    x, a, b = datasets.rotated_digits(images, labels, 25, seed=2)
    assert x.shape == (25, 784)
    np.testing.assert_allclose(x, a + b, atol=1e-6)
    assert np.all(np.asarray(a) >= 0) and np.all(np.asarray(a) <= 1)
    with pytest.raises(ValueError, match="name"):
        datasets.section_3_5("nope", images, labels, 5, seed=0)
