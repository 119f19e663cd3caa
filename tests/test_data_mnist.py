"""jaxdis.data.mnist: MNIST and Fashion-MNIST from a folder, Debian, tensorflow-datasets or the
shipped sample; their splits, errors and `jaxdis data info`."""

import gzip
import importlib.machinery
import os
import subprocess
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from jaxdis import data
from jaxdis.data import mnist as mnist_module

from conftest import counts, write_idx

REPO = Path(__file__).resolve().parents[1]
# The published MNIST label counts (digits 0..9), as /work/shared/data/README.md lists them.
MNIST_TRAIN_FILE_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
# The tests of the real MNIST files take the `mnist` fixture (tests/conftest.py): the folder in
# JAXDIS_DATA_DIR, else ../shared/data beside the checkout; they skip without one.
needs_fashion = pytest.mark.skipif(
    not mnist_module.DEBIAN_FASHION_MNIST_DIR.is_dir(),
    reason="Debian's dataset-fashion-mnist is not installed")


@pytest.fixture
def no_tfds(monkeypatch):
    """Behave as if tensorflow-datasets were not installed, whether or not it is."""
    monkeypatch.setattr(mnist_module, "_tfds_candidate", lambda dataset: mnist_module._Candidate(
        "tfds", f"tensorflow_datasets '{dataset.tfds_name}': not installed", False))


@pytest.fixture
def only_sample(monkeypatch, no_tfds):
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_module, "_sample_warned", False)


# --------------------------------------------------------------------------- real MNIST


def test_mnist_from_env_dir_has_the_published_counts_and_split(monkeypatch, mnist):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(mnist.root))  # the files, or a root holding mnist/
    train_x, train_y = data.load_mnist("train")
    valid_x, valid_y = data.load_mnist("validation")
    test_x, test_y = data.load_mnist("test")
    assert train_x.shape == (50_000, 28, 28) and valid_x.shape == (10_000, 28, 28)
    assert test_x.shape == (10_000, 28, 28)
    for images, labels in ((train_x, train_y), (valid_x, valid_y), (test_x, test_y)):
        assert images.dtype == np.float32 and labels.dtype == np.int32
        assert images.min() == 0.0 and images.max() == 1.0
    # The 50,000 / 10,000 split partitions the training file: its counts add up to the file's.
    assert (np.array(counts(train_y)) + counts(valid_y)).tolist() == MNIST_TRAIN_FILE_COUNTS
    assert counts(test_y) == MNIST_TEST_COUNTS
    # "train" is the file's first 50,000 images, in order; "validation" the rest.
    raw_images = data.read_idx(mnist.path("train-images-idx3-ubyte"))
    raw_labels = data.read_idx(mnist.path("train-labels-idx1-ubyte"))
    np.testing.assert_array_equal(train_x, raw_images[:50_000] / np.float32(255))
    np.testing.assert_array_equal(valid_x[-1], raw_images[-1] / np.float32(255))
    np.testing.assert_array_equal(np.concatenate([train_y, valid_y]), raw_labels)


def test_data_dir_argument_comes_before_the_env_var(monkeypatch, tmp_path, mnist):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))  # empty: would fall back to the sample
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the sample must not be used
        images, labels = data.load_mnist("test", data_dir=mnist.files)  # files directly
    assert counts(labels) == MNIST_TEST_COUNTS


def _plain(path):
    """An IDX file's bytes, uncompressed."""
    raw = Path(path).read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def test_uncompressed_idx_files_load_like_gzipped_ones(tmp_path, mnist):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(_plain(mnist.path(name)), 1))
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(_plain(mnist.path(name)))
    images, labels = data.load_mnist("test", data_dir=tmp_path)
    reference_images, reference_labels = data.load_mnist("test", data_dir=mnist.root)
    np.testing.assert_array_equal(images, reference_images)
    np.testing.assert_array_equal(labels, reference_labels)


def test_a_corrupt_file_in_a_data_dir_is_an_error_not_a_fallback(tmp_path, mnist):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        source = mnist.path(name)
        (tmp_path / source.name).symlink_to(source)
    raw = _plain(mnist.path("t10k-images-idx3-ubyte"))
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(raw[:-784])  # one image short
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: truncated IDX data"):
        data.load_mnist("test", data_dir=tmp_path)


def test_mnist_files_are_not_served_as_fashion_mnist(monkeypatch, mnist):
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte(.gz)?: not Fashion-MNIST: its "
                                         r"label counts \[980, 1135, .*published \[1000, 1000"):
        data.load_fashion_mnist("test", data_dir=mnist.files)


def test_a_well_formed_file_of_the_wrong_shape_is_an_error(tmp_path, no_tfds):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((60_000, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros((60_000,), np.uint8))
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((10_000, 28, 28), np.uint8))
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros((9_999,), np.uint8))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte: expected MNIST labels as "
                                         r"uint8 of shape \(10000,\), got uint8 \(9999,\)"):
        data.load_mnist("test", data_dir=tmp_path)


def test_returned_arrays_are_the_callers_to_change(only_sample):
    first, first_labels = data.load_mnist("test", source="sample")
    first[:] = 7.0
    first_labels[:] = 3
    second, second_labels = data.load_mnist("test", source="sample")
    assert second.max() == 1.0 and counts(second_labels) == MNIST_TEST_COUNTS


# --------------------------------------------------------------------------- the shipped sample


def test_the_shipped_sample_is_the_mnist_test_set(only_sample):
    images, labels = data.load_mnist("test", source="sample")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.float32
    assert labels.dtype == np.int32 and counts(labels) == MNIST_TEST_COUNTS
    assert images.min() == 0.0 and images.max() == 1.0


def test_the_sample_is_the_last_resort_and_warns_once(only_sample):
    with pytest.warns(UserWarning, match=r"shipped MNIST sample .* first 8,000 .* last 2,000"):
        train_x, train_y = data.load_mnist("train")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once only
        valid_x, valid_y = data.load_mnist("validation")
        test_x, test_y = data.load_mnist("test")
    assert train_x.shape == (8_000, 28, 28) and valid_x.shape == (2_000, 28, 28)
    assert (np.array(counts(train_y)) + counts(valid_y)).tolist() == MNIST_TEST_COUNTS
    np.testing.assert_array_equal(np.concatenate([train_x, valid_x]), test_x)


def test_the_sample_readme_states_provenance_license_and_checksums():
    import hashlib

    readme = (mnist_module.SAMPLE_DIR / "README.md").read_text()
    assert "LeCun" in readme and "Cortes" in readme and "Burges" in readme
    assert "CC BY-SA 3.0" in readme
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        digest = hashlib.sha256((mnist_module.SAMPLE_DIR / name).read_bytes()).hexdigest()
        assert digest in readme, f"the README's sha256 of {name} is not the file's"


# --------------------------------------------------------------------------- Fashion-MNIST


@needs_fashion
def test_fashion_mnist_from_debian_has_balanced_classes(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))  # holds nothing: Debian's dir is next
    train_x, train_y = data.load_fashion_mnist("train")
    valid_x, valid_y = data.load_fashion_mnist("validation")
    test_x, test_y = data.load_fashion_mnist("test")
    assert train_x.shape == (50_000, 28, 28) and valid_x.shape == (10_000, 28, 28)
    assert test_x.shape == (10_000, 28, 28) and test_x.dtype == np.float32
    assert train_y.dtype == np.int32 and 0.0 <= train_x.min() and train_x.max() <= 1.0
    # Fashion-MNIST: 6,000 training and 1,000 test images of each of the 10 classes.
    assert (np.array(counts(train_y)) + counts(valid_y)).tolist() == [6_000] * 10
    assert counts(test_y) == [1_000] * 10


# --------------------------------------------------------------------------- errors and sources


def test_unknown_split_lists_the_valid_ones():
    with pytest.raises(ValueError,
                       match=r"split must be one of train, validation, test; got 'val'"):
        data.load_mnist("val")


def test_unknown_source_lists_the_valid_ones(only_sample):
    with pytest.raises(ValueError, match=r"source for MNIST must be one of JAXDIS_DATA_DIR, tfds, "
                                         r"sample .*got 'debian'"):
        data.load_mnist("test", source="debian")


def test_missing_fashion_mnist_lists_every_place_and_how_to_supply_it(monkeypatch, tmp_path,
                                                                       no_tfds):
    monkeypatch.setattr(mnist_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError) as error:
        data.load_fashion_mnist("train", data_dir=tmp_path)  # exists, holds nothing
    message = str(error.value)
    assert "Fashion-MNIST ('train') not found" in message
    assert (f"data_dir: {tmp_path} or {tmp_path / 'fashion-mnist'} or "
            f"{tmp_path / 'fashion_mnist'}: no complete set of the four IDX files") in message
    assert f"debian: {tmp_path / 'no-debian'}: no such directory" in message
    assert "tfds: tensorflow_datasets 'fashion_mnist': not installed" in message
    assert "JAXDIS_DATA_DIR=DIR" in message and "t10k-images-idx3-ubyte[.gz]" in message
    assert "dataset-fashion-mnist" in message and "download=True" in message


def test_missing_mnist_lists_the_sample_too(monkeypatch, tmp_path, only_sample):
    monkeypatch.setattr(mnist_module, "SAMPLE_DIR", tmp_path / "no-sample")
    with pytest.raises(FileNotFoundError) as error:
        data.load_mnist("test")
    message = str(error.value)
    assert "$JAXDIS_DATA_DIR is not set" in message and "tfds:" in message
    assert f"sample: {tmp_path / 'no-sample'}" in message


def test_describe_sources_rows(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXDIS_DATA_DIR", str(tmp_path))
    rows = data.describe_sources()
    assert all(set(row) == {"dataset", "source", "location", "found", "files"} for row in rows)
    assert all(isinstance(row["found"], bool) for row in rows)
    by_key = {(row["dataset"], row["source"]): row for row in rows}
    assert [s for d, s in by_key if d == "mnist"] == ["JAXDIS_DATA_DIR", "tfds", "sample"]
    assert [s for d, s in by_key if d == "fashion_mnist"] == ["JAXDIS_DATA_DIR", "debian", "tfds"]
    assert by_key[("mnist", "JAXDIS_DATA_DIR")]["found"] is False
    assert by_key[("mnist", "sample")]["found"] is True
    assert by_key[("fashion_mnist", "debian")]["found"] == (
        mnist_module.DEBIAN_FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file()
    assert by_key[("digits_8x8", "scikit-learn")]["found"] is True


def test_describe_sources_with_a_data_dir_finds_its_subfolder(mnist):
    rows = data.describe_sources(data_dir=mnist.root)
    row = next(r for r in rows if r["dataset"] == "mnist" and r["source"] == "data_dir")
    assert row["found"] is True and row["location"] == str(mnist.files)


# --------------------------------------------------------------------------- tensorflow-datasets


def test_importing_jaxdis_data_never_imports_tensorflow(tmp_path):
    # A stand-in tensorflow_datasets that explodes when imported; finding it must not import it.
    fake = tmp_path / "tensorflow_datasets"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise RuntimeError('tensorflow_datasets was imported')\n")
    code = ("import sys, jaxdis.data as d; rows = d.describe_sources(); "
            "assert not any(m.split('.')[0] in ('tensorflow', 'tensorflow_datasets') "
            "for m in sys.modules), sorted(sys.modules); "
            "print([r['found'] for r in rows if r['source'] == 'tfds'])")
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{REPO}")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[True, True]"  # seen as installed, yet not imported


def _fake_tfds(monkeypatch, load):
    module = types.ModuleType("tensorflow_datasets")
    module.__spec__ = importlib.machinery.ModuleSpec("tensorflow_datasets", None)
    module.load = load
    module.as_numpy = lambda pair: pair
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)


def test_tfds_source_converts_to_the_same_arrays_and_splits(monkeypatch):
    # tensorflow is not installed here: this drives the tfds code path with a stand-in module.
    calls = []

    def load(name, split, batch_size, as_supervised, download):
        calls.append((name, split, batch_size, as_supervised, download))
        n = {"train[:50000]": 5, "train[50000:]": 3, "test": 2}[split]
        return np.full((n, 28, 28, 1), 255, np.uint8), np.arange(n, dtype=np.int64)

    _fake_tfds(monkeypatch, load)
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    sizes = {}
    for split in data.SPLITS:
        images, labels = data.load_mnist(split, download=True)
        assert images.dtype == np.float32 and images.shape[1:] == (28, 28)
        assert images.max() == 1.0 and labels.dtype == np.int32
        sizes[split] = len(images)
    assert sizes == {"train": 5, "validation": 3, "test": 2}
    assert calls[0] == ("mnist", "train[:50000]", -1, True, True)
    assert [c[1] for c in calls] == ["train[:50000]", "train[50000:]", "test"]


def test_tfds_without_prepared_data_falls_through_when_download_is_off(monkeypatch, tmp_path):
    def load(name, split, batch_size, as_supervised, download):
        raise AssertionError(f"Dataset {name}: could not find data")

    _fake_tfds(monkeypatch, load)
    monkeypatch.delenv("JAXDIS_DATA_DIR", raising=False)
    monkeypatch.setattr(mnist_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    with pytest.raises(FileNotFoundError, match=r"tfds: fashion_mnist is not prepared .*could not "
                                                r"find data.*pass download=True"):
        data.load_fashion_mnist("test")
    with pytest.raises(AssertionError, match="could not find data"):
        data.load_fashion_mnist("test", download=True)  # asked to download: its failure shows


# --------------------------------------------------------------------------- `jaxdis data info`


def lecun_folder(folder, dataset="mnist", gz=True):
    """The four files as LeCun names them, well-formed, with the dataset's published label
    counts (blank images): what `data info` should call valid."""
    folder.mkdir(parents=True, exist_ok=True)
    spec = mnist_module._MNIST if dataset == "mnist" else mnist_module._FASHION
    for split, (images, labels) in mnist_module.IDX_FILES.items():
        counts = spec.label_counts[split]
        suffix = ".gz" if gz else ""
        write_idx(folder / (labels + suffix), np.repeat(np.arange(10, dtype=np.uint8), counts),
                  gz=gz)
        write_idx(folder / (images + suffix), np.zeros((sum(counts), 28, 28), np.uint8), gz=gz)
    return folder


def _row(rows, dataset, source="data_dir"):
    return next(r for r in rows if r["dataset"] == dataset and r["source"] == source)


def _statuses(row):
    return {f["name"]: f["status"] for f in row["files"]}


@pytest.fixture(scope="module")
def mnist_like(tmp_path_factory):
    return lecun_folder(tmp_path_factory.mktemp("data") / "mnist-files")


def test_data_info_calls_a_folder_of_valid_mnist_files_mnist_and_not_fashion_mnist(mnist_like):
    rows = data.describe_sources(data_dir=mnist_like)
    mnist, fashion = _row(rows, "mnist"), _row(rows, "fashion_mnist")
    assert mnist["found"] is True and set(_statuses(mnist).values()) == {"valid"}
    assert fashion["found"] is False
    assert fashion["location"] == (f"{mnist_like}: holds MNIST's files (by their label counts), "
                                   "not Fashion-MNIST's")
    assert _statuses(fashion)["t10k-labels-idx1-ubyte.gz"] == "foreign"


def test_data_info_names_a_truncated_or_foreign_file_and_does_not_call_it_found(tmp_path):
    folder = lecun_folder(tmp_path / "d", gz=False)
    raw = (folder / "t10k-images-idx3-ubyte").read_bytes()
    (folder / "t10k-images-idx3-ubyte").write_bytes(raw[:-784])  # one image short
    (folder / "train-labels-idx1-ubyte").write_bytes(b"<html>not found</html>")
    row = _row(data.describe_sources(data_dir=folder), "mnist")
    assert row["found"] is False
    assert _statuses(row) == {"train-images-idx3-ubyte": "valid",
                              "train-labels-idx1-ubyte": "foreign",
                              "t10k-images-idx3-ubyte": "truncated",
                              "t10k-labels-idx1-ubyte": "valid"}
    assert row["location"].startswith(f"{folder}: train-labels-idx1-ubyte is foreign")


def test_an_idx_file_of_another_shape_is_foreign(tmp_path):
    folder = lecun_folder(tmp_path / "d")
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((10_000, 14, 14), np.uint8), gz=True)
    row = _row(data.describe_sources(data_dir=folder), "mnist")
    report = next(f for f in row["files"] if f["name"] == "t10k-images-idx3-ubyte.gz")
    assert report["status"] == "foreign"
    assert report["detail"] == "10000 x 14 x 14 uint8, not MNIST's 10000 x 28 x 28 uint8"


def test_one_root_serves_mnist_and_a_fashion_mnist_subfolder(tmp_path, no_tfds, monkeypatch):
    root = lecun_folder(tmp_path / "root")  # MNIST's files directly in the root
    lecun_folder(root / "fashion-mnist", dataset="fashion")
    monkeypatch.setattr(mnist_module, "DEBIAN_FASHION_MNIST_DIR", tmp_path / "no-debian")
    rows = data.describe_sources(data_dir=root)
    assert _row(rows, "mnist")["location"] == str(root) and _row(rows, "mnist")["found"]
    fashion = _row(rows, "fashion_mnist")
    assert fashion["location"] == str(root / "fashion-mnist") and fashion["found"]
    _, labels = data.load_fashion_mnist("test", data_dir=root)  # from the subfolder
    assert counts(labels) == [1000] * 10


def test_the_data_info_command_prints_each_file_with_its_status(tmp_path, capsys):
    from jaxdis import cli

    folder = lecun_folder(tmp_path / "d")
    cut = (folder / "train-images-idx3-ubyte.gz").read_bytes()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(cut[: len(cut) // 2])
    assert cli.main(["data", "info", "--data-dir", str(folder)]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "train-images-idx3-ubyte.gz  truncated"
                in line)
    assert "gzip stream is cut short" in line
    assert any(line.startswith("mnist") and " no " in line and "train-images-idx3-ubyte.gz is "
               "truncated" in line for line in out.splitlines())
