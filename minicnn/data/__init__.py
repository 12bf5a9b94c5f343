"""Datasets on disk, in memory, and in batches.

* :mod:`~minicnn.data.datasets`: one :class:`DatasetSpec` per dataset in :data:`DATASETS`
  (``"mnist"``, ``"fashion-mnist"``); :func:`fetch`, :func:`load_dataset`, and the
  torchvision-shaped :class:`MNIST` and :class:`FashionMNIST`.
* :mod:`~minicnn.data.files`: pinned SHA-256 checks, the IDX parser, atomic installs.
* :mod:`~minicnn.data.sources`: the npm and Debian packages the files come from.
* :mod:`~minicnn.data.dataset`: :class:`Dataset`, :class:`TensorDataset`, :class:`Subset`,
  :func:`random_split`; :mod:`~minicnn.data.sampler` the samplers; :mod:`~minicnn.data.collate`
  :func:`default_collate`; :mod:`~minicnn.data.loader` :class:`DataLoader` (all of them are also
  :mod:`minicnn.utils.data`, torch's path).
* :mod:`~minicnn.data.transforms`: ``Compose``, ``ToTensor``, ``Normalize``, ``RandomCrop``,
  ``RandomHorizontalFlip``, ``RandomAffine``, each over a whole batch.

Every problem with a data file raises :class:`DataError` (also known as
:class:`MNISTError`) with one line that names the file, says what was expected
and what was found; bad arguments raise ValueError or TypeError.
"""

from . import transforms
from .datasets import (DATASETS, DatasetSpec, FashionMNIST, MNIST, VisionDataset, fetch, get_spec,
                       load_dataset, load_pixels, raw_dir, resolve_root)
from .files import DataError, read_idx, verify_file
from .collate import default_collate
from .dataset import Dataset, Subset, TensorDataset, random_split
from .loader import DataLoader
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

MNISTError = DataError
"""The name of :class:`DataError` from when MNIST was the only dataset."""


def fetch_mnist(root=None, *, quiet=False):
    """``fetch("mnist", root, quiet=quiet)``: the MNIST files, verified, under ``root/MNIST/raw``."""
    return fetch("mnist", root, quiet=quiet)


def load_mnist(root=None, train=True, *, fetch=True):
    """``load_dataset("mnist", root, train, fetch=fetch)``: float32 (N, 1, 28, 28) in [-1, 1], int64 labels."""
    return load_dataset("mnist", root, train, fetch=fetch)


__all__ = ["BatchSampler", "DATASETS", "DataError", "DataLoader", "Dataset", "DatasetSpec", "FashionMNIST", "MNIST",
           "MNISTError", "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "VisionDataset", "default_collate", "fetch", "fetch_mnist", "get_spec", "load_dataset",
           "load_mnist", "load_pixels", "random_split", "raw_dir", "read_idx", "resolve_root", "transforms",
           "verify_file"]
