"""The labelled-images .npz layout for user-supplied licensed data (TFD, Multi-PIE)."""

import zipfile

import numpy as np
import pytest

from jaxdis.data.labelled_npz import load_labelled_npz, save_labelled_npz


def _faces(n=6, shape=(48, 48)):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (n,) + shape, dtype=np.uint8)


def test_round_trip_with_two_label_sets_and_splits(tmp_path):
    images = _faces()
    pose = np.array([0, 3, 12, 5, 5, 1])
    light = np.array([18, 0, 2, 2, -1, 7])  # -1: unlabelled
    split = np.array(["train", "train", "validation", "test", "train", "test"])
    path = save_labelled_npz(tmp_path / "pie.npz", images, {"pose": pose, "illumination": light},
                             split)
    data = load_labelled_npz(path)
    assert data.images.dtype == np.float32 and data.images.shape == (6, 48, 48)
    np.testing.assert_allclose(data.images, images / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(data.labels["pose"], pose)
    assert data.labels["illumination"].dtype == np.int32
    assert data.label_sets == (("illumination", 19), ("pose", 13))
    test = load_labelled_npz(path, split="test")
    np.testing.assert_allclose(test.images, images[[3, 5]] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(test.labels["illumination"], [2, 7])


def test_float_colour_images_are_kept(tmp_path):
    images = np.random.default_rng(1).random((3, 8, 8, 3)).astype(np.float64)
    path = save_labelled_npz(tmp_path / "c.npz", images, {"expression": np.array([0, 6, 2])})
    data = load_labelled_npz(path)
    assert data.images.shape == (3, 8, 8, 3)
    np.testing.assert_allclose(data.images, images, rtol=1e-6)


def _raw(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


@pytest.mark.parametrize("arrays, message", [
    ({"labels_expression": np.zeros(3, int)}, "missing key 'images'"),
    ({"images": np.zeros((3, 4, 4))}, "at least one label array"),
    ({"images": np.zeros((3, 4, 4)), "labels_e": np.zeros(2, int)},
     r"'labels_e' has shape \(2,\), expected \(3,\)"),
    ({"images": np.zeros((3, 4, 4)), "labels_e": np.zeros(3)}, "'labels_e' must hold integers"),
    ({"images": np.zeros((3, 4, 4), np.int64), "labels_e": np.zeros(3, int)},
     "'images' must be uint8 or float"),
    ({"images": np.full((3, 4, 4), 2.0), "labels_e": np.zeros(3, int)}, r"must lie in \[0, 1\]"),
    ({"images": np.full((3, 4, 4), np.nan), "labels_e": np.zeros(3, int)}, "NaN"),
    ({"images": np.zeros((3, 16)), "labels_e": np.zeros(3, int)}, r"\(N, H, W\)"),
    ({"images": np.zeros((3, 4, 4)), "labels_e": np.array([0, -2, 1])}, "-1 for unlabelled"),
    ({"images": np.zeros((3, 4, 4)), "labels_e": np.zeros(3, int), "ids": np.zeros(3)},
     r"unexpected keys \['ids'\]"),
    ({"images": np.zeros((3, 4, 4)), "labels_e": np.zeros(3, int),
      "split": np.array(["train", "dev", "test"])}, r"'split' holds \['dev'\]"),
])
def test_bad_files_name_the_key(tmp_path, arrays, message):
    path = _raw(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        load_labelled_npz(path)


def test_missing_corrupt_and_unsplit_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such labelled-images"):
        load_labelled_npz(tmp_path / "absent.npz")
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_labelled_npz(broken)
    truncated = tmp_path / "truncated.npz"
    good = save_labelled_npz(tmp_path / "good.npz", _faces(), {"e": np.zeros(6, int)})
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable .npz"):
        load_labelled_npz(truncated)
    with pytest.raises(ValueError, match="no 'split' array"):
        load_labelled_npz(good, split="train")
    with pytest.raises(ValueError, match="split: expected one of"):
        load_labelled_npz(good, split="training")


def test_pickled_objects_are_refused(tmp_path):
    path = _raw(tmp_path / "obj.npz", images=np.zeros((2, 4, 4)),
                labels_e=np.array([0, 1], dtype=object))
    with pytest.raises(ValueError, match="only numeric and string arrays"):
        load_labelled_npz(path)


def test_save_checks_before_writing(tmp_path):
    with pytest.raises(ValueError, match="'labels_e' has shape"):
        save_labelled_npz(tmp_path / "x.npz", _faces(), {"e": np.zeros(5, int)})
    assert not (tmp_path / "x.npz").exists()
