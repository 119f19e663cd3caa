"""Shared fixtures.

``mnist``: where the tests that need MNIST's full IDX files find them, as README.md says: the
folder in ``JAXDIS_DATA_DIR`` (holding the four files directly or in ``mnist/``), else
``../shared/data`` beside the checkout (the development machines' copy). Tests that use it skip
when neither holds MNIST.
"""

import dataclasses
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")


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
