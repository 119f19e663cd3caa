"""Shared fixtures and helpers.

``relative_error``: the one measure the tests compare a fast path with its slow twin by.
``write_idx``, ``counts``: IDX test files and label counts, for the data tests.
``mnist``: where the tests that need MNIST's full IDX files find them, as README.md says: the
folder in ``JAXDIS_DATA_DIR`` (holding the four files directly or in ``mnist/``), else
``../shared/data`` beside the checkout (the development machines' copy). Tests that use it skip
when neither holds MNIST.
"""

import dataclasses
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max |expected|, in float64 (``expected`` all zero: divided by
    1e-300, so any difference fails). Tests import it with ``from conftest import
    relative_error``."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(actual - expected)) / max(np.max(np.abs(expected)), 1e-300))


def write_idx(path, array, gz=False):
    """A plain reference IDX writer (big-endian header and data), to make test files."""
    codes = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}
    array = np.asarray(array)
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    raw = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    Path(path).write_bytes(gzip.compress(raw) if gz else raw)
    return raw


def counts(labels):
    return np.bincount(labels, minlength=10).tolist()


@dataclasses.dataclass(frozen=True)
class MnistFiles:
    root: Path    # the folder given (JAXDIS_DATA_DIR or ../shared/data)
    files: Path   # the folder holding the four files: root itself or root/mnist

    def path(self, name: str) -> Path:
        """The file of LeCun's name ``name`` (without .gz), gzipped or not."""
        for candidate in (self.files / f"{name}.gz", self.files / name):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(self.files / name)


def _holds_mnist(folder: Path) -> bool:
    return all((folder / n).is_file() or (folder / f"{n}.gz").is_file() for n in IDX_NAMES)


def find_mnist() -> MnistFiles | None:
    roots = [os.environ.get("JAXDIS_DATA_DIR"), REPO.parent / "shared" / "data"]
    for root in roots:
        if not root:
            continue
        root = Path(root).expanduser().resolve()
        for folder in (root, root / "mnist"):
            if _holds_mnist(folder):
                return MnistFiles(root, folder)
    return None


@pytest.fixture(scope="session")
def mnist() -> MnistFiles:
    found = find_mnist()
    if found is None:
        pytest.skip("MNIST's IDX files are in neither $JAXDIS_DATA_DIR nor ../shared/data")
    return found
