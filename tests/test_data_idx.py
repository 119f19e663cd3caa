"""jaxdis.data.idx: the IDX reader and the file inspector of `jaxdis data info`."""

import gzip

import numpy as np
import pytest

from jaxdis import data

from conftest import write_idx


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_returns_what_was_written_for_every_dtype(tmp_path, dtype, gz):
    array = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array, gz=gz)
    read = data.read_idx(tmp_path / "a.idx")
    assert read.shape == array.shape and read.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(read, array)
    read[0, 0, 0] = 1  # a fresh, writable array


def test_read_idx_rejects_a_truncated_file_naming_it(tmp_path):
    raw = write_idx(tmp_path / "full", np.zeros((10, 28, 28), np.uint8))
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(raw[:-100])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated IDX data.*7840"):
        data.read_idx(path)
    path.write_bytes(raw[:10])  # cut inside the header's dimensions
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte: truncated IDX header"):
        data.read_idx(path)


def test_read_idx_rejects_a_truncated_gzip_naming_it(tmp_path):
    write_idx(tmp_path / "x.gz", np.zeros((100, 28, 28), np.uint8), gz=True)
    compressed = (tmp_path / "x.gz").read_bytes()
    (tmp_path / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz: corrupt or truncated gzip"):
        data.read_idx(tmp_path / "cut.gz")


def test_read_idx_rejects_a_foreign_file(tmp_path):
    foreign = tmp_path / "picture.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=r"picture\.png: not an IDX file: magic number starts "
                                         r"with 8950, expected 0000"):
        data.read_idx(foreign)
    unknown_code = tmp_path / "code"
    unknown_code.write_bytes(bytes([0, 0, 0x07, 1]) + (3).to_bytes(4, "big") + bytes(3))
    with pytest.raises(ValueError, match=r"code: unknown IDX dtype code 0x07"):
        data.read_idx(unknown_code)
    (tmp_path / "tiny").write_bytes(b"\x00\x00")
    with pytest.raises(ValueError, match=r"tiny: not an IDX file"):
        data.read_idx(tmp_path / "tiny")


def test_read_idx_rejects_trailing_bytes(tmp_path):
    raw = write_idx(tmp_path / "ok", np.zeros((5,), np.uint8))
    (tmp_path / "long").write_bytes(raw + b"\x00\x00")
    with pytest.raises(ValueError, match=r"long: 2 unexpected trailing bytes"):
        data.read_idx(tmp_path / "long")


def test_read_idx_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "absent")


def test_inspect_idx_tells_valid_truncated_corrupt_and_foreign_files(tmp_path):
    raw = write_idx(tmp_path / "valid", np.zeros((20, 28, 28), np.uint8))
    write_idx(tmp_path / "valid.gz", np.zeros((20, 28, 28), np.uint8), gz=True)
    (tmp_path / "short").write_bytes(raw[:-28])
    (tmp_path / "short-header").write_bytes(raw[:9])
    compressed = gzip.compress(raw)
    (tmp_path / "cut.gz").write_bytes(compressed[: len(compressed) // 2])
    damaged = bytearray(compressed)
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / "damaged.gz").write_bytes(bytes(damaged))
    (tmp_path / "picture.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (tmp_path / "long").write_bytes(raw + b"\x00")

    def status(name):
        return data.inspect_idx(tmp_path / name)

    assert status("valid") == {"status": "valid", "detail": "20 x 28 x 28 uint8",
                               "dtype": "uint8", "shape": (20, 28, 28)}
    assert status("valid.gz")["status"] == "valid"
    assert status("short")["status"] == "truncated"
    assert status("short")["detail"] == "20 x 28 x 28 uint8 needs 15680 data bytes, it has 15652"
    assert status("short-header")["status"] == "truncated"
    assert status("cut.gz")["status"] == "truncated" and "cut short" in status("cut.gz")["detail"]
    assert status("damaged.gz")["status"] in ("corrupt", "truncated")
    assert status("picture.png") == {"status": "foreign", "dtype": None, "shape": None,
                                     "detail": "not an IDX file (it starts with 89504e47)"}
    assert status("long")["status"] == "foreign" and "1 bytes after" in status("long")["detail"]
