"""Map-style datasets, as ``torch.utils.data``'s: ``Dataset``, ``TensorDataset``, ``Subset``, ``random_split``.

A map-style dataset is anything with ``len(ds)`` and ``ds[i]``; :class:`~minicnn.data.DataLoader` takes any
(a list, a torchvision dataset, your own class).  minicnn's own add ``__getitems__(indices)``, which returns
the whole batch at once, already stacked, so that a batch is one ``np.take`` and its transforms run once
over the batch.  (torch's DataLoader looks for a method of that name too, but expects from it a list of
samples; minicnn's loader uses the stacked batch from minicnn's datasets only.)
"""
from __future__ import annotations

import itertools
import math
import numbers
import warnings

import numpy as np

from ..autograd import Tensor
from .sampler import check_generator, epoch_generator

__all__ = ["Dataset", "Subset", "TensorDataset", "random_split"]


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` is one sample (``(image, label)``, say).

    A subclass may also define ``__getitems__(indices) -> (images, labels, ...)``, arrays that hold the
    whole batch at ``indices`` (an int array), stacked; :class:`~minicnn.data.DataLoader` then uses it
    instead of ``ds[i]`` per sample.
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


def _index(owner, index, n):
    if isinstance(index, (Tensor, np.ndarray)) and index.ndim == 0:
        index = index.item()
    if not isinstance(index, numbers.Integral) or isinstance(index, (bool, np.bool_)):
        raise TypeError(f"{owner}: expected an int index, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{owner}: index {index} out of range for {n} samples")
    return int(index) % n


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays, as ``torch.utils.data.TensorDataset``.

    Parameters
    ----------
    *tensors : Tensor or numpy.ndarray
        Usually ``images`` (N, C, H, W) and ``labels`` (N,); kept as they are (not copied).
    transform : callable, optional
        Applied to each batch of the first array (see :mod:`minicnn.data.transforms`);
        torch's TensorDataset has no such argument, torchvision's datasets do.

    ``ds[i]`` is a tuple of Tensors, one row of each (as torch); ``ds.tensors`` the Tensors, ``ds.arrays``
    the arrays.
    """

    def __init__(self, *tensors, transform=None):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one array, got none")
        arrays = tuple(t.array if isinstance(t, Tensor) else t for t in tensors)
        for i, a in enumerate(arrays):
            if not isinstance(a, np.ndarray) or a.ndim == 0:
                raise TypeError(f"TensorDataset: expected Tensors or numpy arrays with a first (sample) axis, "
                                f"got {type(tensors[i]).__name__} as argument {i}")
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"TensorDataset: expected arrays of one length, got lengths {[len(a) for a in arrays]}")
        if transform is not None and not callable(transform):
            raise TypeError(f"TensorDataset: expected transform to be callable, got {type(transform).__name__}")
        self.arrays = arrays
        self.transform = transform

    @property
    def tensors(self):
        """The arrays as Tensors sharing their memory (torch's attribute)."""
        return tuple(Tensor.wrap(a) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        index = _index(type(self).__name__, index, len(self))
        return tuple(Tensor.wrap(a[0]) for a in self.__getitems__(np.array([index])))

    def __getitems__(self, indices: np.ndarray):
        """The batch at ``indices`` (int array), each array a fresh copy; transform applied."""
        first, *rest = (np.take(a, indices, axis=0) for a in self.arrays)
        if self.transform is not None:
            first = self.transform(first)
        return (first, *rest)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (``torch.utils.data.Subset``).

    ``dataset`` is any map-style dataset; ``subset[i]`` is ``dataset[indices[i]]``.  Over one of
    minicnn's datasets the subset keeps its stacked ``__getitems__``.
    """

    def __init__(self, dataset, indices):
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"Subset: expected a map-style dataset (with __len__ and __getitem__), "
                            f"got {type(dataset).__name__}")
        array = np.asarray(indices.array if isinstance(indices, Tensor) else indices)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise TypeError(f"Subset indices: expected a sequence of ints, got {type(indices).__name__} "
                            f"of dtype {array.dtype} and shape {array.shape}")
        n = len(dataset)
        if array.size and not (array.min() >= -n and array.max() < n):
            raise IndexError(f"Subset indices: expected indices in [-{n}, {n}) for {n} samples, got "
                             f"{array.min()}..{array.max()}")
        self.dataset, self.indices = dataset, indices
        self._array = array.astype(np.int64) % max(n, 1)
        if isinstance(dataset, Dataset) and callable(getattr(dataset, "__getitems__", None)):
            # the stacked batch, only where the dataset has one (the loader asks for it by this name)
            self.__getitems__ = self.stacked_batch

    def stacked_batch(self, positions: np.ndarray):
        """The dataset's stacked batch (its ``__getitems__``) of the samples at ``positions`` of the subset."""
        return self.dataset.__getitems__(self._array[positions])

    def __len__(self):
        return len(self._array)

    def __getitem__(self, index):
        if isinstance(index, list):  # torch's Subset takes a list of positions too
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[int(self._array[_index("Subset", index, len(self))])]


def _split_lengths(lengths, n):
    """torch's rules: fractions summing to 1 become floor(n * f) each, the remainder handed out one by one
    from the first split on; otherwise the lengths are counts that must sum to ``n``."""
    if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__iter__"):
        raise TypeError(f"random_split lengths: expected a sequence of ints or fractions, got {type(lengths).__name__}")
    lengths = list(lengths)
    for i, x in enumerate(lengths):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, numbers.Real):
            raise TypeError(f"random_split lengths: expected ints or fractions, got {type(x).__name__} at index {i}")
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split lengths: fraction at index {i} is not between 0 and 1, got {frac}")
        counts = [math.floor(n * frac) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, count in enumerate(counts):
            if count == 0:
                warnings.warn(f"random_split: split at index {i} has length 0", stacklevel=3)
        return counts
    for i, x in enumerate(lengths):
        if not isinstance(x, numbers.Integral) or x < 0:
            raise ValueError(f"random_split lengths: expected non-negative ints (or fractions summing to 1), "
                             f"got {x!r} at index {i}")
    if sum(lengths) != n:
        raise ValueError(f"random_split lengths: expected lengths summing to the dataset's {n} samples, "
                         f"got {lengths} (sum {sum(lengths)})")
    return [int(x) for x in lengths]


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` at random into non-overlapping :class:`Subset` s of the given lengths.

    Parameters
    ----------
    dataset : map-style dataset, of N samples
    lengths : sequence of int (summing to N) or of float fractions (summing to 1), torch's rules:
        each fraction gives ``floor(N * f)`` samples and the remainder goes one each to the first splits.
    generator : numpy.random.Generator, optional
        The permutation's generator; by default minicnn's (:func:`minicnn.manual_seed` fixes the split).

    Returns
    -------
    list of Subset, one per length, whose indices together are a permutation of ``0..N-1``.
    """
    check_generator("random_split", generator)
    counts = _split_lengths(lengths, len(dataset))
    order = epoch_generator(generator).permutation(sum(counts)).tolist()
    return [Subset(dataset, order[stop - count:stop]) for stop, count in zip(itertools.accumulate(counts), counts)]
