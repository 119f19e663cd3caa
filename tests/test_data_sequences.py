"""Loaders for the Forced Apart data that cannot be had offline (section 4.1-4.3), tested on small
files and arrays made here in the formats of de Jong's repository and of tensorflow-datasets."""

import builtins

import numpy as np
import pytest

from jaxdis.data import sequences as seq
from jaxdis.data.labels import binary_labels


def _write_stroke_files(directory, prefix, index, points, digit):
    """One image written as de Jong's R code writes it (R/constructInputData.R, then write.table
    without header in R/processImages.R): ``points`` are (x, y) pixels in drawing order, (-1, -1)
    closing each stroke. inputdata: ``dx dy eos eod`` per point, moves from the previous point
    (from (0, 0) for the first), a stroke's end as ``0 0 1 0``, eod on the last line; targetdata:
    the one-hot class, then the same four columns, on every line. Returns the steps (T, 4)."""
    steps, previous = [], (0, 0)
    for x, y in points:
        if x >= 0 and y >= 0:
            steps.append([x - previous[0], y - previous[1], 0, 0])
            previous = (x, y)
        else:
            steps.append([0, 0, 1, 0])
    steps[-1][3] = 1
    one_hot = [int(c == digit) for c in range(10)]
    for name, rows in (("inputdata", steps), ("targetdata", [one_hot + row for row in steps])):
        text = "".join(" ".join(str(v) for v in row) + "\n" for row in rows)
        (directory / f"{prefix}-{index}-{name}.txt").write_text(text)
    return np.array(steps)


def _random_points(rng):
    """One to three strokes of unit pixel moves, each closed by (-1, -1)."""
    points, x, y = [], int(rng.integers(3, 20)), int(rng.integers(3, 20))
    for _ in range(int(rng.integers(1, 4))):
        for _ in range(int(rng.integers(1, 5))):
            x, y = x + int(rng.integers(-1, 2)), y + int(rng.integers(-1, 2))
            points.append((x, y))
        points.append((-1, -1))
    return points


@pytest.fixture
def stroke_dir(tmp_path):
    rng = np.random.default_rng(0)
    made = {}
    for prefix, indices in (("trainimg", [0, 1, 2, 50_000]), ("testimg", [0, 1])):
        for i in indices:
            digit = int(rng.integers(0, 10))
            made[prefix, i] = (_write_stroke_files(tmp_path, prefix, i, _random_points(rng),
                                                   digit), digit)
    return tmp_path, made


def test_fixture_writes_de_jongs_layout(tmp_path):
    """The writer above reproduces the lines of the repository's fig/trainimg-2-inputdata.txt (a
    4): start point from (0, 0), unit moves, ``0 0 1 0`` ending a stroke, ``0 0 1 1`` last."""
    points = [(5, 9), (5, 10), (-1, -1), (6, 1), (-1, -1)]
    _write_stroke_files(tmp_path, "trainimg", 2, points, 4)
    assert (tmp_path / "trainimg-2-inputdata.txt").read_text() == (
        "5 9 0 0\n0 1 0 0\n0 0 1 0\n1 -9 0 0\n0 0 1 1\n")
    target = (tmp_path / "trainimg-2-targetdata.txt").read_text().splitlines()
    assert len(target) == 5 and all(line.startswith("0 0 0 0 1 0 0 0 0 0 ") for line in target)
    assert target[3] == "0 0 0 0 1 0 0 0 0 0 1 -9 0 0"
    steps, digit = seq.read_stroke_file(tmp_path, "trainimg", 2)
    assert digit == 4 and steps.shape == (5, 4) and steps.dtype == np.float32


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
    inputs = (directory / "trainimg-1-inputdata.txt").read_text()
    (directory / "trainimg-1-targetdata.txt").write_text("0 0 1 1 0 0 0 0 0 0 1 1 0 0\n")
    with pytest.raises(ValueError, match="one-hot"):
        seq.load_stroke_sequences(directory, "train")
    # a class that changes between lines, and steps that are not the input's
    (directory / "trainimg-1-targetdata.txt").write_text(
        "".join(f"{'1 ' if k == 0 else '0 1 '}{'0 ' * (9 - (k > 0))}{line}\n"
                for k, line in enumerate(inputs.splitlines())))
    with pytest.raises(ValueError, match="one-hot"):
        seq.load_stroke_sequences(directory, "train")
    (directory / "trainimg-1-targetdata.txt").write_text(
        "".join(f"1 {'0 ' * 9}9 9 0 0\n" for _ in inputs.splitlines()))
    with pytest.raises(ValueError, match="repeat the inputdata"):
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
