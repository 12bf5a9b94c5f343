"""Dataset files on disk: verified by SHA-256, parsed from IDX, installed atomically.

Nothing here knows which dataset it serves: :mod:`minicnn.data.datasets` says
which files, which digests and which folder.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import os
import tarfile
import zlib
from pathlib import Path

import numpy as np
from ..checkpoint import atomic_write

__all__ = ["DataError", "install_member", "read_idx", "verify_file"]

MAX_FILE_BYTES = 64 << 20
"""Larger than any file installed so far (47 MB); bounds what a bad archive can write."""

# IDX type codes (third magic byte); multi-byte types are big-endian on disk.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataError(RuntimeError):
    """A data file is missing, corrupt, or not what its dataset should hold."""


# --------------------------------------------------------------------------- verification


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    # Keyed on (size, mtime, inode) so a replaced or rewritten file is hashed again;
    # the 47 MB training images are then hashed once per process, not per call.
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_file(path: str | os.PathLike, sha256: str, how_to: str = "") -> None:
    """Check that ``path`` exists and its SHA-256 is ``sha256``.

    Parameters
    ----------
    path : str or path-like
        File to check.
    sha256 : str
        Expected hex digest (lower case).
    how_to : str
        Appended to the message when the file is missing: how to provide it.

    Raises
    ------
    DataError
        If the file is missing, unreadable, or its digest differs.
    """
    path = Path(path)
    try:
        st = path.stat()
        got = _digest(str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (expected a file with SHA-256 {sha256})"
                        + (f"; {how_to}" if how_to else "")) from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read file ({exc.strerror})") from None
    if got != sha256:
        raise DataError(
            f"{path}: SHA-256 mismatch, file truncated or corrupt: "
            f"expected {sha256}, got {got} ({st.st_size} bytes)"
        )


# --------------------------------------------------------------------------- installing


def install_member(tar: tarfile.TarFile, member_name: str, member_sha256: str, final: Path,
                   sha256: str, gunzip: bool = False) -> None:
    """Copy one regular file out of ``tar`` to ``final``, verified, atomically.

    The member is hashed as it is read (``member_sha256``, the digest as shipped)
    and, when ``gunzip``, decompressed on the way and hashed again (``sha256``,
    the digest of what lands on disk). Either mismatch raises before the rename,
    so ``final`` is never a partial or unverified file.

    Raises
    ------
    DataError
        If the member is missing, not a regular file, too large, or fails a digest.
    """
    archive = tar.name
    try:
        member = tar.getmember(member_name)
    except KeyError:
        raise DataError(f"{archive}: expected member {member_name}, not found") from None
    # Only a regular file is safe to read: a link could point anywhere on disk.
    if not member.isreg():
        raise DataError(f"{archive}: member {member_name} is not a regular file")
    if member.size > MAX_FILE_BYTES:
        raise DataError(f"{archive}: member {member_name} is {member.size} bytes, "
                        f"expected at most {MAX_FILE_BYTES}")

    def write(out):
        shipped = _Hashing(tar.extractfile(member))
        try:
            src = gzip.GzipFile(fileobj=shipped, mode="rb") if gunzip else shipped
            got = _copy_hashing(src, out, f"{archive}: {member_name}")
        except (OSError, EOFError, zlib.error) as exc:  # gzip: bad header, CRC or length, or cut short
            raise DataError(f"{archive}: {member_name} cannot be decompressed ({exc}); "
                            f"nothing written to {final}") from None
        for what, expected, actual in [("as shipped", member_sha256, shipped.hexdigest()),
                                       ("uncompressed", sha256, got)]:
            if actual != expected:
                raise DataError(f"{archive}: {member_name} has SHA-256 {actual} {what}, expected {expected} "
                                f"(truncated or corrupt download); nothing written to {final}")

    atomic_write(final, write)


class _Hashing:
    """A read-only file object that hashes every byte read through it."""

    def __init__(self, raw):
        self.raw, self.hash = raw, hashlib.sha256()

    def read(self, size=-1):
        chunk = self.raw.read(size)
        self.hash.update(chunk)
        return chunk

    def hexdigest(self):
        while self.read(1 << 20):  # gzip may stop before the end: hash what is left
            pass
        return self.hash.hexdigest()


def _copy_hashing(src, dst, name: str) -> str:
    h, written = hashlib.sha256(), 0
    while chunk := src.read(1 << 20):
        written += len(chunk)
        if written > MAX_FILE_BYTES:  # a gzip bomb stops here
            raise DataError(f"{name}: more than {MAX_FILE_BYTES} bytes once decompressed")
        h.update(chunk)
        dst.write(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- parsing


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Parse an IDX file (the MNIST container format).

    Layout: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16,
    0x0C int32, 0x0D float32, 0x0E float64), the number of dimensions, then
    one big-endian uint32 per dimension, then the data in C order.

    Parameters
    ----------
    path : str or path-like
        IDX file.

    Returns
    -------
    numpy.ndarray
        A fresh, writable, native-byte-order array of shape ``dims``,
        e.g. ``(60000, 28, 28)`` uint8 for training images.

    Raises
    ------
    DataError
        On a bad magic number, a truncated file, or trailing bytes.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from None
    dtype, dims, header = _idx_header(path, data)
    expected = header + math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "trailing bytes"
        raise DataError(
            f"{path}: {kind}: header says shape {dims} of {dtype.name}, "
            f"expected {expected} bytes, found {len(data)}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # copy: frombuffer over bytes is read-only


def _idx_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return (dtype, dims, header length) of an IDX file's bytes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise DataError(
            f"{path}: bad IDX magic, expected 00 00 <type in {sorted(_IDX_DTYPES)}> <ndim>, "
            f"found {data[:4].hex(' ') or 'an empty file'}"
        )
    ndim = data[3]
    if ndim == 0:
        raise DataError(f"{path}: bad IDX header, expected at least 1 dimension, found 0")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated IDX header, expected {header} bytes for {ndim} dims, "
                        f"found {len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return _IDX_DTYPES[data[2]], dims, header
