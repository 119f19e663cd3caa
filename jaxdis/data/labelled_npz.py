"""Labelled images from a user-supplied ``.npz`` file: the way in for licensed datasets.

The Toronto Faces Database and Multi-PIE (Cheung et al. sections 3.2-3.3) are licensed and cannot
be shipped or downloaded here. A user who has them converts them once to this layout (for
example with :func:`save_labelled_npz`) and every model of :mod:`jaxdis.nets.cheung` runs on it.

The layout, one ``.npz`` file (``numpy.savez``; no pickled objects)::

    images          (N, H, W) or (N, H, W, C); uint8 in [0, 255] or float in [0, 1]
    labels_<name>   (N,) integers in [0, classes) for each label set <name>, at least one
                    (TFD: labels_expression; Multi-PIE: labels_pose and labels_illumination)
    split           optional, (N,) strings "train", "validation" or "test"

Unlabelled examples (most of TFD) carry the label -1; the semi-supervised objective masks them.
Any other key is an error, so nothing in the file is silently ignored.

Training on such a file (it then needs the ``split`` array; the label names must be the model's)::

    jaxdis run xcov --set model=tfd --set npz=tfd.npz --set gamma=1000
    jaxdis run xcov --set model=conv_deconv_multipie --set npz=multipie.npz
"""

from __future__ import annotations

import dataclasses
import os
import zipfile
from pathlib import Path

import numpy as np

SPLITS = ("train", "validation", "test")
UNLABELLED = -1


@dataclasses.dataclass(frozen=True)
class LabelledImages:
    """images float32 (N, H, W[, C]) in [0, 1]; labels {name: int32 (N,)} with -1 = unlabelled."""

    images: np.ndarray
    labels: dict[str, np.ndarray]

    @property
    def label_sets(self) -> tuple[tuple[str, int], ...]:
        """((name, classes), ...), classes = largest label + 1, for the model's ``label_sets``."""
        return tuple((name, int(values.max()) + 1) for name, values in sorted(self.labels.items()))


def save_labelled_npz(path: str | os.PathLike, images: np.ndarray, labels: dict[str, np.ndarray],
                      split: np.ndarray | None = None) -> Path:
    """Writes the layout above; checks it exactly as :func:`load_labelled_npz` will."""
    arrays = {"images": np.asarray(images)}
    arrays.update({f"labels_{name}": np.asarray(values) for name, values in labels.items()})
    if split is not None:
        arrays["split"] = np.asarray(split, dtype=str)
    _check(arrays, str(path))
    path = Path(path)
    with open(path, "wb") as f:  # a file object: numpy would otherwise append ".npz"
        np.savez(f, **arrays)
    return path


def load_labelled_npz(path: str | os.PathLike, split: str | None = None) -> LabelledImages:
    """Reads and checks a labelled-images ``.npz``; ``split`` selects "train", "validation" or
    "test" (the file must then have a ``split`` array). Errors name the key and what was
    expected."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split: expected one of {SPLITS} or None, got {split!r}")
    arrays = _read(path)
    if split is None:
        return _images_and_labels(arrays, np.ones(len(arrays["images"]), bool))
    if "split" not in arrays:
        raise ValueError(f"{path}: split={split!r} asked for, but the file has no 'split' array")
    return _images_and_labels(arrays, arrays["split"] == split)


def load_labelled_npz_splits(path: str | os.PathLike) -> dict[str, LabelledImages]:
    """{"train", "validation", "test": LabelledImages}, the file read once; it must have a
    ``split`` array. A split with no examples is returned empty (the caller decides)."""
    arrays = _read(path)
    if "split" not in arrays:
        raise ValueError(f"{path}: expected a 'split' array (N,) of 'train', 'validation', 'test' "
                         f"to divide the examples, found keys {sorted(arrays)}")
    return {split: _images_and_labels(arrays, arrays["split"] == split) for split in SPLITS}


def _read(path: str | os.PathLike) -> dict[str, np.ndarray]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such labelled-images .npz file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"{path}: not a readable .npz file ({error})") from None
    except ValueError as error:  # object arrays need pickle, which is refused
        raise ValueError(f"{path}: {error}; the layout holds only numeric and string arrays") from None
    _check(arrays, str(path))
    return arrays


def _images_and_labels(arrays: dict[str, np.ndarray], keep: np.ndarray) -> LabelledImages:
    """The examples where ``keep``, images as float32 in [0, 1] (uint8 divided by 255)."""
    images = arrays["images"][keep]
    images = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images.astype(np.float32)
    labels = {key[len("labels_"):]: value[keep].astype(np.int32)
              for key, value in arrays.items() if key.startswith("labels_")}
    return LabelledImages(images=images, labels=labels)


def _check(arrays: dict[str, np.ndarray], where: str) -> None:
    label_keys = sorted(k for k in arrays if k.startswith("labels_"))
    unknown = sorted(set(arrays) - {"images", "split"} - set(label_keys))
    if unknown:
        raise ValueError(f"{where}: unexpected keys {unknown}; the layout has 'images', "
                         f"'labels_<name>' and optionally 'split'")
    if "images" not in arrays:
        raise ValueError(f"{where}: missing key 'images' (N, H, W) or (N, H, W, C)")
    if not label_keys or any(k == "labels_" for k in label_keys):
        raise ValueError(f"{where}: expected at least one label array 'labels_<name>', got keys "
                         f"{sorted(arrays)}")
    images = arrays["images"]
    if images.ndim not in (3, 4):
        raise ValueError(f"{where}: 'images' must be (N, H, W) or (N, H, W, C), got shape "
                         f"{images.shape}")
    if images.dtype == np.uint8:
        pass
    elif np.issubdtype(images.dtype, np.floating):
        if not np.all(np.isfinite(images)):
            raise ValueError(f"{where}: 'images' holds NaN or infinite values")
        if images.size and (images.min() < 0.0 or images.max() > 1.0):
            raise ValueError(f"{where}: float 'images' must lie in [0, 1], got "
                             f"[{images.min()}, {images.max()}]")
    else:
        raise ValueError(f"{where}: 'images' must be uint8 or float, got dtype {images.dtype}")
    n = images.shape[0]
    for key in label_keys:
        values = arrays[key]
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"{where}: {key!r} must hold integers, got dtype {values.dtype}")
        if values.shape != (n,):
            raise ValueError(f"{where}: {key!r} has shape {values.shape}, expected ({n},) "
                             f"to match 'images'")
        if values.size and values.min() < UNLABELLED:
            raise ValueError(f"{where}: {key!r} holds {values.min()}; labels are >= 0, "
                             f"or -1 for unlabelled")
    if "split" in arrays:
        split = arrays["split"]
        if split.shape != (n,) or split.dtype.kind != "U":
            raise ValueError(f"{where}: 'split' must be ({n},) strings, got shape {split.shape} "
                             f"dtype {split.dtype}")
        bad = sorted(set(np.unique(split).tolist()) - set(SPLITS))
        if bad:
            raise ValueError(f"{where}: 'split' holds {bad}; expected only {SPLITS}")
