"""Loaders for the Forced Apart data that cannot be had offline, kept real for users who have it.

- MNIST pen-stroke sequences (de Jong 2016; Forced Apart section 4.1), read from the files of
  https://github.com/edwin-de-jong/mnist-digits-stroke-sequence-data (``sequences.tar.gz``,
  unpacked into a directory the user names; it holds every file in one flat folder). The layout,
  as checked against that repository and the code that wrote it
  (https://github.com/edwin-de-jong/mnist-digits-as-stroke-sequences, ``R/processImages.R`` and
  ``R/constructInputData.R``), for MNIST image ``i`` of ``train`` (0-59,999) or ``test``
  (0-9,999):

  - ``{train,test}img-{i}-inputdata.txt``: one pen step per line, four space-separated integers
    ``dx dy eos eod``, no header. ``dx dy`` is the pen's move in pixels (y points down) from the
    previous point, so the first line is the starting point itself (the implicit origin is
    (0, 0)); a stroke's end is its own line ``0 0 1 0``; the last line has ``eod = 1`` (in the
    repository's samples ``0 0 1 1``, the last stroke's end). Example, the repository's
    ``fig/trainimg-2-inputdata.txt`` (a 4): ``5 9 0 0``, ``0 1 0 0``, ..., ``0 0 1 0``,
    ``1 -9 0 0``, ..., ``0 0 1 1``.
  - ``{train,test}img-{i}-targetdata.txt``: the same lines with the digit's ten-way one-hot class
    in front (14 columns: ``one-hot(10) dx dy eos eod``); the class is on every line and the
    four step columns repeat the input's (``constructInputData(points, label, TRUE)``).
  - ``{train,test}img-{i}-points.txt`` (the pixel coordinates, CSV, ``-1,-1`` at a stroke's end)
    is not read.

  The class is read from the target file, which is checked against the input file (same steps,
  one class on every line).
- CIFAR-10 (section 4.2) and DBPedia (section 4.3) through tensorflow-datasets, which is an optional
  dependency (``pip install jaxdis[tfds]``) imported only when these loaders are called.

Each dataset comes with the paper's binary task: two groups of original classes
(:data:`STROKE_GROUPS`, :data:`CIFAR10_GROUPS`, :data:`DBPEDIA_GROUPS`), mapped to 0/1 by
:func:`jaxdis.data.labels.binary_labels`; the model sees only the group, and clustering is scored
against the original class.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, NamedTuple

import numpy as np

# Forced Apart section 4.1: classes 0-4 are the first group, 5-9 the second.
STROKE_GROUPS = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
# Section 4.2: airplane, automobile, bird, cat, deer / dog, frog, horse, ship, truck.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
CIFAR10_GROUPS = ((0, 1, 2, 3, 4), (5, 6, 7, 8, 9))
# Section 4.3, in the label order of DBPedia-14 (Zhang et al. 2015; tfds/HF "dbpedia_14").
DBPEDIA_CLASSES = ("Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder",
                   "MeanOfTransportation", "Building", "NaturalPlace", "Village", "Animal",
                   "Plant", "Album", "Film", "WrittenWork")
DBPEDIA_GROUPS = (tuple(range(0, 7)), tuple(range(7, 14)))

STROKE_FEATURES = 4  # dx, dy, end of stroke, end of digit
_TFDS_HINT = "install the optional dependency: pip install 'jaxdis[tfds]'"


class Sequences(NamedTuple):
    """Zero-padded sequences: ``inputs`` (N, T, F) or (N, T) tokens, ``lengths`` (N,) int32,
    ``labels`` (N,) int32 original classes."""

    inputs: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray


# --------------------------------------------------------------------------- pen-stroke sequences


def _stroke_split(split: str) -> tuple[str, slice | None]:
    """The paper's train/test files; validation is the last 10,000 training images, as for MNIST."""
    if split == "train":
        return "trainimg", slice(0, 50_000)
    if split == "validation":
        return "trainimg", slice(50_000, 60_000)
    if split == "test":
        return "testimg", None
    raise ValueError(f"split: expected 'train', 'validation' or 'test', got {split!r}")


def _read_rows(path: Path, columns: int) -> np.ndarray:
    try:
        rows = np.loadtxt(path, dtype=np.float32, ndmin=2)
    except ValueError as error:
        raise ValueError(f"{path}: not a table of numbers ({error})") from None
    if rows.shape[0] == 0 or rows.shape[1] != columns:
        raise ValueError(f"{path}: expected rows of {columns} numbers, got shape {rows.shape}")
    return rows


def read_stroke_file(directory, prefix: str, index: int) -> tuple[np.ndarray, int]:
    """One image's pen steps (T, 4) float32 ``dx dy eos eod`` and its digit class, from de Jong's
    ``{prefix}-{index}-inputdata.txt`` and ``-targetdata.txt`` (layout in the module docstring)."""
    directory = Path(directory)
    target_name = directory / f"{prefix}-{index}-targetdata.txt"
    steps = _read_rows(directory / f"{prefix}-{index}-inputdata.txt", STROKE_FEATURES)
    target = _read_rows(target_name, 10 + STROKE_FEATURES)
    one_hot = target[:, :10]
    if not (set(np.unique(one_hot)) <= {0.0, 1.0} and np.all(one_hot.sum(axis=1) == 1)
            and np.all(one_hot == one_hot[0])):
        raise ValueError(f"{target_name}: the first ten columns are not one one-hot class on "
                         f"every line (first line: {one_hot[0].tolist()})")
    if target.shape[0] != steps.shape[0] or not np.array_equal(target[:, 10:], steps):
        raise ValueError(f"{target_name}: its last four columns should repeat the "
                         f"inputdata file's {steps.shape[0]} steps (de Jong's format)")
    return steps, int(np.argmax(one_hot[0]))


def load_stroke_sequences(directory, split: str, max_length: int | None = None,
                          limit: int | None = None) -> Sequences:
    """MNIST pen-stroke sequences (de Jong 2016) of one split, from an unpacked ``sequences/``.

    Args:
      directory: the folder holding ``trainimg-*-inputdata.txt`` etc.
      split: 'train' (training images 0-49,999), 'validation' (50,000-59,999) or 'test'.
      max_length: pad or cut every sequence to this many steps (default: the longest).
      limit: read only the first ``limit`` images of the split (quick looks, tests).
    Returns :class:`Sequences` with inputs (N, T, 4) float32 ``dx dy eos eod``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(
            f"directory: {directory} is not a folder; unpack sequences.tar.gz from "
            "https://github.com/edwin-de-jong/mnist-digits-stroke-sequence-data there")
    prefix, window = _stroke_split(split)
    pattern = re.compile(rf"^{prefix}-(\d+)-inputdata\.txt$")
    indices = sorted(int(m.group(1)) for m in map(pattern.match, os.listdir(directory)) if m)
    if window is not None:
        indices = [i for i in indices if window.start <= i < window.stop]
    if not indices:
        raise FileNotFoundError(f"directory: no {prefix}-N-inputdata.txt files for split "
                                f"{split!r} in {directory}")
    if limit is not None:
        indices = indices[:limit]
    read = [read_stroke_file(directory, prefix, i) for i in indices]
    steps, labels = zip(*read)
    return pad_sequences(steps, np.asarray(labels, np.int32), max_length)


def pad_sequences(sequences: Iterable[np.ndarray], labels, max_length: int | None = None
                  ) -> Sequences:
    """Stacks variable-length (T_i, ...) arrays into one zero-padded (N, T, ...) array; sequences
    longer than ``max_length`` are cut (and their length says so)."""
    sequences = [np.asarray(s) for s in sequences]
    labels = np.asarray(labels, np.int32)
    if len(sequences) != labels.shape[0]:
        raise ValueError(f"labels: expected {len(sequences)} labels, got {labels.shape[0]}")
    lengths = np.array([s.shape[0] for s in sequences], np.int32)
    steps = int(lengths.max()) if max_length is None else int(max_length)
    if steps < 1:
        raise ValueError(f"max_length: expected at least 1, got {steps}")
    out = np.zeros((len(sequences), steps, *sequences[0].shape[1:]), sequences[0].dtype)
    for row, sequence in enumerate(sequences):
        out[row, : min(steps, len(sequence))] = sequence[:steps]
    return Sequences(out, np.minimum(lengths, steps), labels)


# --------------------------------------------------------------------------- tensorflow-datasets


def _tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError(f"tensorflow-datasets is needed for CIFAR-10 and DBPedia; {_TFDS_HINT}"
                          ) from None
    return tfds


def cifar10_from_tfds(batch: dict) -> tuple[np.ndarray, np.ndarray]:
    """Converts a tfds CIFAR-10 batch ({'image': (N, 32, 32, 3) uint8, 'label': (N,) int64, ...})
    to float32 images in [0, 1] and int32 class labels."""
    images, labels = np.asarray(batch["image"]), np.asarray(batch["label"])
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or images.dtype != np.uint8:
        raise ValueError(f"batch['image']: expected (N, 32, 32, 3) uint8, got "
                         f"{images.shape} {images.dtype}")
    if labels.shape != images.shape[:1] or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise ValueError(f"batch['label']: expected ({images.shape[0]},) classes 0-9, got "
                         f"shape {labels.shape}")
    return images.astype(np.float32) / 255.0, labels.astype(np.int32)


def _split_slices(split: str, validation_size: int) -> str:
    if split == "train":
        return f"train[:-{validation_size}]"
    if split == "validation":
        return f"train[-{validation_size}:]"
    if split == "test":
        return "test"
    raise ValueError(f"split: expected 'train', 'validation' or 'test', got {split!r}")


def load_cifar10(split: str, validation_size: int = 5000, data_dir=None):
    """CIFAR-10 through tfds: float32 (N, 32, 32, 3) in [0, 1] and int32 classes; validation is
    the last ``validation_size`` training images. Binary labels: ``binary_labels(y, CIFAR10_GROUPS)``.
    """
    tfds = _tfds()
    batch = tfds.as_numpy(tfds.load("cifar10", split=_split_slices(split, validation_size),
                                    batch_size=-1, data_dir=data_dir))
    return cifar10_from_tfds(batch)


_WORD = re.compile(r"[a-z0-9']+")
PAD, UNKNOWN = 0, 1  # token ids reserved in every vocabulary


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def tokenize(text) -> list[str]:
    """Lower-cased words of a str or of the UTF-8 bytes tfds returns."""
    return _WORD.findall(_text(text).lower())


def build_vocabulary(texts: Iterable, size: int) -> dict[str, int]:
    """The ``size - 2`` most frequent words (ties broken alphabetically) -> ids 2..size-1; id 0 is
    padding and id 1 an unknown word."""
    if size < 3:
        raise ValueError(f"size: expected at least 3 (padding, unknown, one word), got {size}")
    counts = Counter(word for text in texts for word in tokenize(text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[: size - 2]
    return {word: index + 2 for index, (word, _) in enumerate(ranked)}


def encode_texts(texts: Iterable, vocabulary: dict[str, int], max_length: int,
                 labels) -> Sequences:
    """Token ids (N, max_length) int32, zero-padded and cut at ``max_length`` words."""
    encoded = [np.array([vocabulary.get(w, UNKNOWN) for w in tokenize(t)] or [UNKNOWN], np.int32)
               for t in texts]
    return pad_sequences(encoded, labels, max_length)


def dbpedia_from_tfds(batch: dict, vocabulary: dict[str, int], max_length: int) -> Sequences:
    """Converts a DBPedia-14 batch ({'title': (N,) bytes, 'content': (N,) bytes, 'label': (N,)
    int64}) to token sequences of "title. content" and int32 classes 0-13."""
    titles, contents = np.asarray(batch["title"]), np.asarray(batch["content"])
    labels = np.asarray(batch["label"])
    if not (titles.shape == contents.shape == labels.shape and titles.ndim == 1):
        raise ValueError(f"batch: expected title, content and label of one shape (N,), got "
                         f"{titles.shape}, {contents.shape}, {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 13):
        raise ValueError("batch['label']: expected DBPedia classes 0-13")
    texts = [f"{_text(t)}. {_text(c)}" for t, c in zip(titles, contents)]
    return encode_texts(texts, vocabulary, max_length, labels.astype(np.int32))


def load_dbpedia(split: str, vocabulary: dict[str, int] | None = None, vocabulary_size=20_000,
                 max_length: int = 100, validation_size: int = 10_000, data_dir=None):
    """DBPedia-14 through tfds's Hugging Face bridge (``huggingface:dbpedia_14``).

    Returns ``(Sequences, vocabulary)``; build the vocabulary on 'train' and pass it to the
    other splits. Binary labels: ``binary_labels(labels, DBPEDIA_GROUPS)`` (section 4.3).
    """
    tfds = _tfds()
    batch = tfds.as_numpy(tfds.load("huggingface:dbpedia_14",
                                    split=_split_slices(split, validation_size),
                                    batch_size=-1, data_dir=data_dir))
    if vocabulary is None:
        if split != "train":
            raise ValueError("vocabulary: build it on split='train' and pass it to other splits")
        vocabulary = build_vocabulary(
            (f"{_text(t)}. {_text(c)}" for t, c in zip(batch["title"], batch["content"])),
            vocabulary_size)
    return dbpedia_from_tfds(batch, vocabulary, max_length), vocabulary
