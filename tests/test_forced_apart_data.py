"""Loaders for the Forced Apart data that cannot be had offline (section 4.1-4.3), tested on small
files and arrays made here in the formats of de Jong's repository and of tensorflow-datasets."""

import builtins

import numpy as np
import pytest

from jaxdis.data import sequences as seq
from jaxdis.data.labels import binary_labels


def _write_stroke_files(directory, prefix, index, steps, digit):
    """One image in de Jong's format: inputdata 'dx dy eos eod'; targetdata one-hot + next step."""
    lines = [" ".join(str(int(v)) for v in row) for row in steps]
    (directory / f"{prefix}-{index}-inputdata.txt").write_text("\n".join(lines) + "\n")
    one_hot = ["1" if c == digit else "0" for c in range(10)]
    targets = [" ".join(one_hot + line.split()) for line in lines[1:] + ["0 0 0 1"]]
    (directory / f"{prefix}-{index}-targetdata.txt").write_text("\n".join(targets) + "\n")


@pytest.fixture
def stroke_dir(tmp_path):
    rng = np.random.default_rng(0)
    made = {}
    for prefix, indices in (("trainimg", [0, 1, 2, 50_000]), ("testimg", [0, 1])):
        for i in indices:
            length = int(rng.integers(2, 7))
            steps = np.concatenate([rng.integers(-3, 4, (length, 2)),
                                    rng.integers(0, 2, (length, 2))], axis=1)
            digit = int(rng.integers(0, 10))
            _write_stroke_files(tmp_path, prefix, i, steps, digit)
            made[prefix, i] = (steps, digit)
    return tmp_path, made


def test_stroke_sequences_are_read_padded_and_labelled(stroke_dir):
    directory, made = stroke_dir
    train = seq.load_stroke_sequences(directory, "train")
    assert train.inputs.shape[0] == 3 and train.inputs.dtype == np.float32
    for row, i in enumerate([0, 1, 2]):
        steps, digit = made["trainimg", i]
        assert train.lengths[row] == len(steps) and train.labels[row] == digit
        np.testing.assert_array_equal(train.inputs[row, : len(steps)], steps)
        assert not train.inputs[row, len(steps):].any()  # zero padding
    validation = seq.load_stroke_sequences(directory, "validation")
    assert validation.labels.tolist() == [made["trainimg", 50_000][1]]
    test = seq.load_stroke_sequences(directory, "test", max_length=3, limit=1)
    assert test.inputs.shape == (1, 3, 4)
    assert test.lengths[0] == min(3, len(made["testimg", 0][0]))


def test_stroke_loader_errors_name_the_problem(stroke_dir, tmp_path_factory):
    directory, _ = stroke_dir
    with pytest.raises(FileNotFoundError, match="sequences.tar.gz"):
        seq.load_stroke_sequences(directory / "nowhere", "train")
    with pytest.raises(ValueError, match="split"):
        seq.load_stroke_sequences(directory, "dev")
    with pytest.raises(FileNotFoundError, match="no trainimg"):
        seq.load_stroke_sequences(tmp_path_factory.mktemp("empty"), "train")
    (directory / "trainimg-1-targetdata.txt").write_text("0 0 1 1 0 0 0 0 0 0 1 1 0 0\n")
    with pytest.raises(ValueError, match="one-hot"):
        seq.load_stroke_sequences(directory, "train")
    (directory / "trainimg-1-inputdata.txt").write_text("1 2 3\n")
    with pytest.raises(ValueError, match="trainimg-1-inputdata.txt"):
        seq.load_stroke_sequences(directory, "train")


def test_binary_tasks_follow_the_papers_splits():
    np.testing.assert_array_equal(binary_labels(np.arange(10), seq.STROKE_GROUPS),
                                  [0] * 5 + [1] * 5)
    dbpedia = binary_labels(np.arange(14), seq.DBPEDIA_GROUPS)
    first = [seq.DBPEDIA_CLASSES[c] for c in np.flatnonzero(dbpedia == 0)]
    assert first == ["Company", "EducationalInstitution", "Artist", "Athlete", "OfficeHolder",
                     "MeanOfTransportation", "Building"]  # section 4.3
    cifar_second = [seq.CIFAR10_CLASSES[c]
                    for c in np.flatnonzero(binary_labels(np.arange(10), seq.CIFAR10_GROUPS))]
    assert cifar_second == ["dog", "frog", "horse", "ship", "truck"]  # section 4.2
    with pytest.raises(ValueError, match="no group"):
        binary_labels(np.array([0, 11]), seq.STROKE_GROUPS)


def test_cifar10_conversion_of_a_tfds_batch():
    rng = np.random.default_rng(1)
    batch = {"id": np.array([b"a", b"b"]),
             "image": rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8),
             "label": np.array([3, 9], np.int64)}
    images, labels = seq.cifar10_from_tfds(batch)
    assert images.dtype == np.float32 and labels.dtype == np.int32
    np.testing.assert_allclose(images * 255, batch["image"], atol=1e-4)
    assert labels.tolist() == [3, 9]
    with pytest.raises(ValueError, match="image"):
        seq.cifar10_from_tfds({"image": batch["image"][..., 0], "label": batch["label"]})


def test_dbpedia_conversion_builds_tokens_from_bytes():
    batch = {"title": np.array([b"Acme Corp", b"Tiny Town"], dtype=object),
             "content": np.array([b"Acme makes anvils, anvils.", b"A village."], dtype=object),
             "label": np.array([0, 8], np.int64)}
    vocabulary = seq.build_vocabulary([b"Acme Corp. anvils anvils acme village"], size=5)
    # counts: acme 2, anvils 2, corp 1, village 1 -> ids 2, 3, 4 (ties alphabetical)
    assert vocabulary == {"acme": 2, "anvils": 3, "corp": 4}
    out = seq.dbpedia_from_tfds(batch, vocabulary, max_length=4)
    assert out.inputs.dtype == np.int32 and out.inputs.shape == (2, 4)
    # "acme corp acme makes anvils anvils" cut to 4; "tiny town a village" all unknown
    assert out.inputs[0].tolist() == [2, 4, 2, seq.UNKNOWN]
    assert out.inputs[1].tolist() == [seq.UNKNOWN] * 4
    assert out.lengths.tolist() == [4, 4] and out.labels.tolist() == [0, 8]


def test_tfds_loaders_say_how_to_install_tfds(monkeypatch):
    real_import = builtins.__import__

    def no_tfds(name, *args, **kwargs):
        if name.startswith("tensorflow_datasets"):
            raise ImportError("No module named 'tensorflow_datasets'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tfds)
    with pytest.raises(ImportError, match=r"jaxdis\[tfds\]"):
        seq.load_cifar10("train")
    with pytest.raises(ImportError, match=r"jaxdis\[tfds\]"):
        seq.load_dbpedia("train")
