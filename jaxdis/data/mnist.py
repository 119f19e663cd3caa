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
import gzip
import importlib.util
import os
import warnings
import zlib
from pathlib import Path

import numpy as np

from jaxdis.data.idx import IDX_DTYPES, read_idx_cached

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

    Returns rows ``{"dataset", "source", "location", "found", "files"}``. ``found`` (a bool) says
    whether the loader would use that source: for a directory (or the shipped sample), every
    IDX file it needs reads as valid (:func:`inspect_idx`: header, size, shape) and its label
    files have the dataset's published label counts, so a folder of MNIST files is not reported
    as Fashion-MNIST, nor the reverse. ``files`` lists, for directory sources, each file found
    with its status ("valid", "truncated", "corrupt" or "foreign") and what was seen, so a
    damaged file is named. Imports nothing heavy: tensorflow-datasets counts as found when it is
    installed (whether it holds the data, or may download it, is only known when loading).
    """
    rows = []
    for dataset in (_MNIST, _FASHION):
        for candidate in _candidates(dataset, data_dir):
            files, found, location = [], candidate.found, candidate.location
            if candidate.path is not None:
                names = IDX_FILES["test"] if candidate.source == "sample" else (
                    IDX_FILES["train"] + IDX_FILES["test"])
                files = [_file_report(candidate.path, name, dataset) for name in names]
                problems = [f for f in files if f["status"] != "valid"]
                if problems:
                    found = False
                    first = problems[0]
                    owners = {f.get("owner") for f in problems}
                    if len(owners) == 1 and None not in owners:  # well-formed, another dataset
                        location = (f"{candidate.path}: holds {owners.pop()}'s files (by their "
                                    f"label counts), not {dataset.title}'s")
                    else:
                        location = (f"{candidate.path}: {first['name']} is {first['status']}"
                                    + (f" (and {len(problems) - 1} more files are not valid)"
                                       if len(problems) > 1 else ""))
            rows.append({"dataset": dataset.name, "source": candidate.source,
                         "location": location, "found": found, "files": files})
    rows.append({"dataset": "digits_8x8", "source": "scikit-learn",
                 "location": "sklearn.datasets.load_digits (bundled with scikit-learn)",
                 "found": importlib.util.find_spec("sklearn") is not None, "files": []})
    return rows


def inspect_idx(path: str | os.PathLike) -> dict:
    """What an IDX file holds, from its header and its size, without keeping its data.

    Returns ``{"status", "detail", "dtype", "shape"}``: status "valid" (a well-formed IDX file:
    its data is exactly as long as the header declares), "truncated" (shorter than that, or a
    gzip stream cut short), "corrupt" (a damaged gzip stream) or "foreign" (not an IDX file, or
    one with trailing bytes). A gzipped file is decompressed in chunks to measure its length.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            magic = f.read(2)
        opener = gzip.open if magic == b"\x1f\x8b" else open
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[:2] != b"\x00\x00":
                return {"status": "foreign", "dtype": None, "shape": None,
                        "detail": f"not an IDX file (it starts with {head[:4].hex() or 'nothing'})"}
            code, ndim = head[2], head[3]
            if code not in IDX_DTYPES or ndim == 0:
                return {"status": "foreign", "dtype": None, "shape": None,
                        "detail": f"not an IDX file (dtype code 0x{code:02x}, {ndim} dimensions)"}
            dims = f.read(4 * ndim)
            if len(dims) < 4 * ndim:
                return {"status": "truncated", "dtype": None, "shape": None,
                        "detail": f"its header stops after {4 + len(dims)} of {4 + 4 * ndim} "
                                  "bytes"}
            length = 0
            for chunk in iter(lambda: f.read(1 << 22), b""):
                length += len(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
        cut = isinstance(error, EOFError)
        return {"status": "truncated" if cut else "corrupt", "dtype": None, "shape": None,
                "detail": f"its gzip stream is {'cut short' if cut else 'damaged'} ({error})"}
    shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    described = f"{' x '.join(map(str, shape))} {dtype.name}"
    report = {"dtype": dtype.name, "shape": shape}
    if length < expected:
        return {**report, "status": "truncated",
                "detail": f"{described} needs {expected} data bytes, it has {length}"}
    if length > expected:
        return {**report, "status": "foreign",
                "detail": f"{length - expected} bytes after the {described} data its header "
                          "declares"}
    return {**report, "status": "valid", "detail": described}


def _file_report(directory: Path, name: str, dataset: _Dataset) -> dict:
    """One LeCun file of a directory source: present, well-formed, the expected shape, and (for
    label files) the dataset's published label counts."""
    path = _idx_path(directory, name)
    if path is None:
        return {"name": name, "path": None, "status": "missing", "detail": "no such file"}
    report = {"name": path.name, "path": str(path), **inspect_idx(path)}
    split_file = "train" if name.startswith("train") else "test"
    n = N_TRAIN_FILE if split_file == "train" else N_TEST_FILE
    expected = (n,) if "labels" in name else (n, 28, 28)
    if report["status"] != "valid":
        return report
    if report["shape"] != expected or report["dtype"] != "uint8":
        return {**report, "status": "foreign",
                "detail": f"{report['detail']}, not {dataset.title}'s "
                          f"{' x '.join(map(str, expected))} uint8"}
    if "labels" in name:
        owner = _label_owner(path, split_file)
        if owner is not dataset:
            what = f"{owner.title}'s labels" if owner else "labels of no known dataset"
            return {**report, "status": "foreign", "owner": owner.title if owner else None,
                    "detail": f"{report['detail']}: {what} (by their counts), not "
                              f"{dataset.title}'s"}
        report["detail"] += f": {dataset.title}'s {split_file} labels"
    return report


def _label_owner(path: Path, split_file: str) -> _Dataset | None:
    """The dataset whose published label counts ``path`` has, or None."""
    try:
        labels = read_idx_cached(path)
    except (ValueError, OSError):
        return None
    counts = tuple(np.bincount(labels, minlength=10).tolist()) if labels.ndim == 1 else None
    for dataset in (_MNIST, _FASHION):
        if counts == dataset.label_counts[split_file]:
            return dataset
    return None


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
    complete = [d for d in [root] + [root / sub for sub in dataset.subfolders]
                if _dir_with_files(d, (), names) is not None]
    # MNIST and Fashion-MNIST share file names: prefer the folder whose labels are this
    # dataset's (a root of MNIST files with a fashion-mnist/ subfolder serves both). With none,
    # the first complete folder is used, and loading it names the file that is not this dataset.
    for directory in complete:
        if all(_label_owner(_idx_path(directory, IDX_FILES[split][1]), split) is dataset
               for split in ("train", "test")):
            return _Candidate(source, str(directory), True, directory)
    if complete:
        return _Candidate(source, str(complete[0]), True, complete[0])
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
