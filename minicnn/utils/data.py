"""``torch.utils.data`` under its torch path: the datasets, samplers, ``default_collate`` and ``DataLoader``
of :mod:`minicnn.data`, the same objects (one copy of each class).

``import minicnn.utils.data as data`` (or ``from minicnn.utils.data import DataLoader, TensorDataset``)
is what ``torch.utils.data`` is to a torch program; the DataLoader yields minicnn Tensors and computes in
one process (docs/api.md, "Data").
"""
from ..data.collate import default_collate
from ..data.dataset import Dataset, Subset, TensorDataset, random_split
from ..data.loader import DataLoader
from ..data.sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler

__all__ = ["BatchSampler", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset",
           "SubsetRandomSampler", "TensorDataset", "default_collate", "random_split"]
