"""MNIST and Fashion-MNIST: where to find them, and the splits of the source works.

Splits (the 50,000 / 10,000 split of the training file used by the source works):

    "train"       the first 50,000 images of the training file
    "validation"  its last 10,000
    "test"        the 10,000 images of the test file

Images come back as float32 in [0, 1] (the uint8 pixels divided by 255), shape (N, 28, 28); labels
as int32 in 0..9. Sources, tried in this order until one holds the dataset:

    "data_dir"         the ``data_dir`` argument
    "JAXDIS_DATA_DIR"  the environment variable of that name (used when no ``data_dir`` is given)
    "debian"           Fashion-MNIST only: Debian's package dataset-fashion-mnist,
                       /usr/share/datasets/fashion-mnist/
    "tfds"             tensorflow-datasets, when installed (it downloads only if download=True)
    "sample"           MNIST only: the test set shipped in jaxdis/data/sample/ (see its README)

A directory source holds the four IDX files under LeCun's names (``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
optionally ``.gz``) directly, or in a subfolder ``mnist/`` (MNIST) or ``fashion-mnist/`` /
``fashion_mnist/`` (Fashion-MNIST); so one root can serve both datasets. The two datasets share
file names and format, so the loaders check the published label counts: Fashion-MNIST files read
as MNIST (or the reverse) are an error, never silently the wrong data.

With only the sample, "test" is the sample's 10,000 images and "train" / "validation" are its
first 8,000 / last 2,000, with a one-time warning: good for demos, not for comparing with papers.

tensorflow-datasets caveat: tfds shuffles examples when it prepares a dataset (its default), so its
"train[50000:]" is a different 10,000 images from the IDX file's last 10,000; prefer IDX files
to reproduce the source works' validation split exactly.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np

from jaxdis.data.idx import read_idx_cached

SPLITS = ("train", "validation", "test")
SOURCES = ("data_dir", "JAXDIS_DATA_DIR", "debian", "tfds", "sample")
DATA_DIR_ENV = "JAXDIS_DATA_DIR"
N_TRAIN = 50_000          # "train" is the training file's first 50,000, "validation" the rest
N_TRAIN_FILE = 60_000     # images in the training file
N_TEST_FILE = 10_000      # images in the test file
N_SAMPLE_TRAIN = 8_000    # with only the shipped sample: its first 8,000 images are "train"

# Module attributes rather than constants in the functions, so tests can point them elsewhere.
DEBIAN_FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
SAMPLE_DIR = Path(__file__).resolve().parent / "sample"

IDX_FILES = {  # split file -> (images, labels), LeCun's names
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclasses.dataclass(frozen=True)
class _Dataset:
    name: str                  # as describe_sources names it
    title: str                 # for messages
    subfolders: tuple[str, ...]
    tfds_name: str
    debian_dir: bool           # Debian packages it
    has_sample: bool           # jaxdis ships a sample of it
    label_counts: dict         # split file -> published count of each class, 0..9


# The published label counts identify the dataset: MNIST and Fashion-MNIST files share names and
# format, and a directory of one must not be read as the other.
_MNIST = _Dataset("mnist", "MNIST", ("mnist",), "mnist", debian_dir=False, has_sample=True,
                  label_counts={
                      "train": (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949),
                      "test": (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)})
_FASHION = _Dataset("fashion_mnist", "Fashion-MNIST", ("fashion-mnist", "fashion_mnist"),
                    "fashion_mnist", debian_dir=True, has_sample=False,
                    label_counts={"train": (6000,) * 10, "test": (1000,) * 10})


@dataclasses.dataclass(frozen=True)
class _Candidate:
    source: str       # one of SOURCES
    location: str     # where, for people
    found: bool
    path: Path | None = None   # the directory holding the files, for directory sources


def load_mnist(split: str, data_dir: str | os.PathLike | None = None, download: bool = False,
               source: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST as ``(images float32 (N, 28, 28) in [0, 1], labels int32 (N,))``.

    Args:
      split: "train" (50,000), "validation" (10,000) or "test" (10,000).
      data_dir: a directory of IDX files to try first (see the module docstring).
      download: let tensorflow-datasets download the data if it is installed.
      source: force one source (one of ``SOURCES``) instead of trying them in order.
    """
    return _load(_MNIST, split, data_dir, download, source)


def load_fashion_mnist(split: str, data_dir: str | os.PathLike | None = None,
                       download: bool = False, source: str | None = None
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Fashion-MNIST as ``(images float32 (N, 28, 28) in [0, 1], labels int32 (N,))``.

    Same splits and arguments as :func:`load_mnist`; jaxdis ships no Fashion-MNIST sample.
    """
    return _load(_FASHION, split, data_dir, download, source)


def describe_sources(data_dir: str | os.PathLike | None = None) -> list[dict]:
    """Every candidate source of every dataset, in the order the loaders try them.

    Returns rows ``{"dataset", "source", "location", "found"}`` (``found`` a bool). Imports
    nothing heavy: tensorflow-datasets counts as found when it is installed (whether it holds the
    data, or may download it, is only known when loading).
    """
    rows = []
    for dataset in (_MNIST, _FASHION):
        for candidate in _candidates(dataset, data_dir):
            rows.append({"dataset": dataset.name, "source": candidate.source,
                         "location": candidate.location, "found": candidate.found})
    rows.append({"dataset": "digits_8x8", "source": "scikit-learn",
                 "location": "sklearn.datasets.load_digits (bundled with scikit-learn)",
                 "found": importlib.util.find_spec("sklearn") is not None})
    return rows


def split_size(split: str, dataset: str = "mnist", data_dir: str | os.PathLike | None = None
               ) -> int | None:
    """How many images ``load_mnist(split)`` (or Fashion-MNIST's loader) would return, without
    loading them: from the first source found (a directory of IDX files: 50,000, 10,000 and
    10,000; the shipped sample: 8,000, 2,000 and 10,000), or None when that source is
    tensorflow-datasets (whether it holds the data is only known when loading).

    Raises FileNotFoundError, as the loader would, when no source holds the dataset.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    spec = {"mnist": _MNIST, "fashion_mnist": _FASHION, "fashion-mnist": _FASHION}[dataset]
    candidates = _candidates(spec, data_dir)
    for candidate in candidates:
        if not candidate.found:
            continue
        if candidate.source == "tfds":
            return None
        if candidate.source == "sample":
            return {"train": N_SAMPLE_TRAIN, "validation": N_TEST_FILE - N_SAMPLE_TRAIN,
                    "test": N_TEST_FILE}[split]
        return {"train": N_TRAIN, "validation": N_TRAIN_FILE - N_TRAIN,
                "test": N_TEST_FILE}[split]
    raise FileNotFoundError(_missing_message(
        spec, split, [f"{c.source}: {c.location}" for c in candidates]))


# --------------------------------------------------------------------------- finding sources


def _candidates(dataset: _Dataset, data_dir) -> list[_Candidate]:
    candidates = []
    if data_dir is not None:
        candidates.append(_directory_candidate("data_dir", Path(data_dir).expanduser(), dataset))
    else:
        env = os.environ.get(DATA_DIR_ENV)
        if env:
            candidates.append(_directory_candidate(DATA_DIR_ENV, Path(env).expanduser(), dataset))
        else:
            candidates.append(_Candidate(DATA_DIR_ENV, f"${DATA_DIR_ENV} is not set", False))
    if dataset.debian_dir:
        candidates.append(_directory_candidate("debian", DEBIAN_FASHION_MNIST_DIR, dataset))
    candidates.append(_tfds_candidate(dataset))
    if dataset.has_sample:
        sample = _dir_with_files(SAMPLE_DIR, (), IDX_FILES["test"])
        candidates.append(_Candidate("sample", f"{SAMPLE_DIR} (MNIST test set only)",
                                     sample is not None, sample))
    return candidates


def _directory_candidate(source: str, root: Path, dataset: _Dataset) -> _Candidate:
    names = IDX_FILES["train"] + IDX_FILES["test"]
    found = _dir_with_files(root, dataset.subfolders, names)
    if found is not None:
        return _Candidate(source, str(found), True, found)
    if not root.is_dir():
        return _Candidate(source, f"{root}: no such directory", False)
    where = " or ".join([str(root)] + [str(root / sub) for sub in dataset.subfolders])
    return _Candidate(source, f"{where}: no complete set of the four IDX files", False)


def _dir_with_files(root: Path, subfolders, names) -> Path | None:
    """The first of root, root/subfolder... holding every file of `names` (plain or .gz)."""
    for directory in [root] + [root / sub for sub in subfolders]:
        if all(_idx_path(directory, name) is not None for name in names):
            return directory
    return None


def _idx_path(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _tfds_candidate(dataset: _Dataset) -> _Candidate:
    installed = importlib.util.find_spec("tensorflow_datasets") is not None
    where = f"tensorflow_datasets '{dataset.tfds_name}'"
    if not installed:
        return _Candidate("tfds", f"{where}: not installed", False)
    return _Candidate("tfds", f"{where} (downloads only with download=True)", True)


# --------------------------------------------------------------------------- loading


def _load(dataset: _Dataset, split: str, data_dir, download: bool, source: str | None):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    candidates = _candidates(dataset, data_dir)
    if source is not None:
        valid = [c.source for c in candidates]
        if source not in valid:
            raise ValueError(f"source for {dataset.title} must be one of {', '.join(valid)} "
                             f"(with data_dir={data_dir!r}); got {source!r}")
        candidates = [c for c in candidates if c.source == source]
    looked = []
    for candidate in candidates:
        if not candidate.found:
            looked.append(f"{candidate.source}: {candidate.location}")
            continue
        if candidate.source == "tfds":
            loaded = _load_tfds(dataset, split, download, looked)
            if loaded is None:
                continue
            return loaded
        if candidate.source == "sample":
            if source is None:
                _warn_sample_in_use(looked)
            return _load_sample(split)
        return _load_directory(candidate.path, split, dataset)
    raise FileNotFoundError(_missing_message(dataset, split, looked))


def _load_directory(directory: Path, split: str, dataset: _Dataset):
    split_file = "test" if split == "test" else "train"
    images, labels = _read_pair(directory, split_file, dataset)
    if split == "train":
        images, labels = images[:N_TRAIN], labels[:N_TRAIN]
    elif split == "validation":
        images, labels = images[N_TRAIN:], labels[N_TRAIN:]
    return _to_float(images), labels.astype(np.int32)


def _load_sample(split: str):
    images, labels = _read_pair(SAMPLE_DIR, "test", _MNIST)
    if split == "train":
        images, labels = images[:N_SAMPLE_TRAIN], labels[:N_SAMPLE_TRAIN]
    elif split == "validation":
        images, labels = images[N_SAMPLE_TRAIN:], labels[N_SAMPLE_TRAIN:]
    return _to_float(images), labels.astype(np.int32)


def _read_pair(directory: Path, split_file: str, dataset: _Dataset):
    """Reads and checks one images/labels file pair; returns the cached uint8 arrays."""
    image_name, label_name = IDX_FILES[split_file]
    image_path, label_path = _idx_path(directory, image_name), _idx_path(directory, label_name)
    expected = N_TEST_FILE if split_file == "test" else N_TRAIN_FILE
    labels = read_idx_cached(label_path)
    if labels.dtype != np.uint8 or labels.shape != (expected,):
        raise ValueError(f"{label_path}: expected {dataset.title} labels as uint8 of shape "
                         f"({expected},), got {labels.dtype} {labels.shape}")
    label_counts = tuple(np.bincount(labels, minlength=10).tolist())
    if label_counts != dataset.label_counts[split_file]:
        raise ValueError(
            f"{label_path}: not {dataset.title}: its label counts {list(label_counts)} differ "
            f"from {dataset.title}'s published {list(dataset.label_counts[split_file])}. If this "
            f"folder holds another dataset, keep each in its own subfolder "
            f"({', '.join(_MNIST.subfolders + _FASHION.subfolders)}) of the data directory.")
    images = read_idx_cached(image_path)
    if images.dtype != np.uint8 or images.shape != (expected, 28, 28):
        raise ValueError(f"{image_path}: expected {dataset.title} images as uint8 of shape "
                         f"({expected}, 28, 28), got {images.dtype} {images.shape}")
    return images, labels


def _to_float(images_uint8: np.ndarray) -> np.ndarray:
    return np.divide(images_uint8, np.float32(255.0), dtype=np.float32)  # one pass, one copy


def _load_tfds(dataset: _Dataset, split: str, download: bool, looked: list):
    """Loads through tensorflow-datasets; None (with a note in `looked`) if it has no data."""
    import tensorflow_datasets as tfds  # only here: importing jaxdis.data never imports tensorflow

    tfds_split = {"train": f"train[:{N_TRAIN}]", "validation": f"train[{N_TRAIN}:]",
                  "test": "test"}[split]
    try:
        dataset_tf = tfds.load(dataset.tfds_name, split=tfds_split, batch_size=-1,
                               as_supervised=True, download=download)
    except Exception as error:  # noqa: BLE001 - tfds's "not prepared" error type varies by version
        if download:
            raise  # the caller asked for a download: its failure is the answer
        looked.append(f"tfds: {dataset.tfds_name} is not prepared ({type(error).__name__}: "
                      f"{error}); pass download=True to let tensorflow-datasets fetch it")
        return None
    images, labels = tfds.as_numpy(dataset_tf)
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28):
        raise ValueError(f"tensorflow-datasets {dataset.tfds_name!r} {tfds_split}: expected "
                         f"uint8 images (N, 28, 28[, 1]), got {images.dtype} {images.shape}")
    return _to_float(images), np.asarray(labels).astype(np.int32)


_sample_warned = False


def _warn_sample_in_use(looked: list) -> None:
    global _sample_warned
    if _sample_warned:
        return
    _sample_warned = True
    places = "".join(f"\n  - {line}" for line in looked)
    warnings.warn(
        "jaxdis is using its shipped MNIST sample (the 10,000 MNIST test images): 'train' is its "
        "first 8,000 and 'validation' its last 2,000 images, so results are not comparable with "
        "the papers. For the full MNIST, set JAXDIS_DATA_DIR to a directory of the IDX files or "
        f"install jaxdis[tfds] and pass download=True. Looked in:{places}",
        UserWarning, stacklevel=4)


def _missing_message(dataset: _Dataset, split: str, looked: list) -> str:
    places = "".join(f"\n  - {line}" for line in looked) or "\n  - (no source selected)"
    sub = " or ".join(f"{s}/" for s in dataset.subfolders)
    files = ", ".join(f"{n}[.gz]" for n in IDX_FILES["train"] + IDX_FILES["test"])
    extra = ("\n  - or install Debian's package dataset-fashion-mnist"
             if dataset.debian_dir else "")
    return (f"{dataset.title} ({split!r}) not found. Looked in:{places}\n"
            f"To supply it:\n"
            f"  - pass data_dir=DIR or set {DATA_DIR_ENV}=DIR, where DIR (or its subfolder "
            f"{sub}) holds {files}{extra}\n"
            f"  - or pip install 'jaxdis[tfds]' and call with download=True")
