"""jaxdis.data.labels: the binary task of Forced Apart (original classes merged into groups)."""

import numpy as np
import pytest

from jaxdis import data


def test_binary_labels_default_is_0_to_4_versus_5_to_9():
    labels = np.arange(10).repeat(2)
    binary = data.binary_labels(labels)
    assert binary.dtype == np.int32
    assert binary.tolist() == [0] * 10 + [1] * 10
    assert labels.tolist() == np.arange(10).repeat(2).tolist()  # the original is kept


def test_binary_labels_custom_groups_and_any_shape():
    labels = np.array([[0, 1], [2, 0]])
    binary = data.binary_labels(labels, groups=((1, 2), (0,)))
    assert binary.tolist() == [[1, 0], [0, 1]]


@pytest.mark.parametrize("labels, groups, message", [
    ([0, 1, 10], ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9)), r"labels \[10\] are in no group"),
    ([0, 1], ((0, 1), (1, 2)), r"groups overlap: label 1"),
    ([0.0, 1.0], ((0,), (1,)), r"labels must be integers"),
    ([0, 1], ((0, 1),), r"at least two groups"),
])
def test_binary_labels_errors(labels, groups, message):
    with pytest.raises(ValueError, match=message):
        data.binary_labels(np.array(labels), groups=groups)
