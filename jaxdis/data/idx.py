"""The IDX file format of MNIST and Fashion-MNIST, read strictly.

An IDX file (LeCun et al., http://yann.lecun.com/exdb/mnist/) is::

    bytes 0-1   zero
    byte  2     dtype code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
                0x0E float64
    byte  3     number of dimensions d
    d x 4 bytes each dimension, big-endian uint32
    the data, big-endian, in C order: exactly prod(dims) items

Files may be gzip-compressed (recognised by their content, not their name). Anything else is a
ValueError naming the file and what was wrong; nothing is padded, cut or guessed.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

import numpy as np

IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (gzipped or not) into a new NumPy array of its dtype and shape.

    Raises:
      FileNotFoundError: no such file.
      ValueError: a corrupt gzip stream, a wrong magic number, an unknown dtype code, or a data
        length that disagrees with the header (truncated or trailing bytes); the message names
        the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as error:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({error})") from None
    return _parse_idx(raw, path)


def _parse_idx(raw: bytes, path: Path) -> np.ndarray:
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file: {len(raw)} bytes, shorter than the "
                         "4-byte magic number")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number starts with {raw[:2].hex()}, expected 0000")
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02x}" for c in IDX_DTYPES)
        raise ValueError(f"{path}: unknown IDX dtype code 0x{code:02x}; valid codes: {valid}")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header_length = 4 + 4 * ndim
    if len(raw) < header_length:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header_length} bytes, "
            f"file has {len(raw)}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_length
    if actual < expected:
        raise ValueError(
            f"{path}: truncated IDX data: shape {shape} of {dtype.name} needs {expected} bytes "
            f"after the header, file has {actual}")
    if actual > expected:
        raise ValueError(
            f"{path}: {actual - expected} unexpected trailing bytes after the IDX data of "
            f"shape {shape} (expected {expected} data bytes)")
    data = np.frombuffer(raw, dtype=dtype, offset=header_length).reshape(shape)
    return data.astype(dtype.newbyteorder("="))  # native byte order, and a fresh writable copy


@functools.lru_cache(maxsize=8)
def _read_idx_cached(path: str, mtime_ns: int, size: int) -> np.ndarray:
    # Keyed on mtime and size too, so a replaced file is read again.
    array = read_idx(path)
    array.flags.writeable = False
    return array


def read_idx_cached(path: str | os.PathLike) -> np.ndarray:
    """Like :func:`read_idx`, but cached in-process; returns a read-only array."""
    path = Path(path).resolve()
    stat = path.stat()
    return _read_idx_cached(str(path), stat.st_mtime_ns, stat.st_size)
