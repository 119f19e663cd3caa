"""Datasets: MNIST and Fashion-MNIST loaders, the 8x8 digits, composite datasets with ground truth.

Everything returns NumPy arrays (the training engine moves them to the device once). Importing
this package imports neither tensorflow nor tensorflow-datasets.
"""

from jaxdis.data.composite import (
    COMBINES,
    KINDS,
    Composite,
    check_training_set,
    combine_causes,
    load_composite,
    load_training_set,
    make_composite,
    make_gradient_composite,
    make_rotated_composite,
    training_set_size,
)
from jaxdis.data.digits import load_digits_8x8
from jaxdis.data.idx import read_idx
from jaxdis.data.labels import binary_labels
from jaxdis.data.mnist import (
    SOURCES,
    SPLITS,
    describe_sources,
    inspect_idx,
    load_fashion_mnist,
    load_mnist,
    split_size,
)
from jaxdis.data.toy import TOY_KINDS, make_toy

__all__ = [
    "COMBINES",
    "KINDS",
    "SOURCES",
    "SPLITS",
    "TOY_KINDS",
    "Composite",
    "binary_labels",
    "check_training_set",
    "combine_causes",
    "describe_sources",
    "inspect_idx",
    "load_composite",
    "load_digits_8x8",
    "load_fashion_mnist",
    "load_mnist",
    "load_training_set",
    "make_composite",
    "make_gradient_composite",
    "make_rotated_composite",
    "make_toy",
    "read_idx",
    "split_size",
    "training_set_size",
]
