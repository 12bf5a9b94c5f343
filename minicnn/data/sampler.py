"""Samplers, as ``torch.utils.data``'s: which indices an epoch visits, and in which order.

A sampler is any iterable of int indices with a ``len`` (a :class:`~minicnn.data.DataLoader` takes
torch's samplers too); a batch sampler yields lists of indices.  The random ones draw from the
``numpy.random.Generator`` they were given, or else from minicnn's generator (:func:`minicnn.manual_seed`):
each ``iter()`` takes one number from it and seeds the epoch's own generator with it, as torch's
samplers take a seed from torch's generator.
"""
import numbers

import numpy as np

from .. import rng

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler", "SubsetRandomSampler"]


def epoch_generator(generator):
    """``generator`` itself, or a fresh one seeded by one draw from minicnn's generator."""
    if generator is not None:
        return generator
    return np.random.default_rng(int(rng.get_rng().integers(2**63)))


def check_generator(owner, generator):
    if generator is not None and not isinstance(generator, np.random.Generator):
        raise TypeError(f"{owner} generator: expected a numpy.random.Generator or None, "
                        f"got {type(generator).__name__}")


def _positive_int(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner} {name}: expected a positive int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{owner} {name}: expected a positive int, got {value}")
    return int(value)


class Sampler:
    """Base class: subclasses define ``__iter__`` (the indices) and ``__len__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} has no __iter__")


class SequentialSampler(Sampler):
    """``0, 1, …, len(data_source) - 1``."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of ``range(len(data_source))``, new on every ``iter()``.

    Parameters
    ----------
    data_source : sized
    replacement : bool
        Draw ``num_samples`` indices with replacement (else a permutation; ``num_samples`` beyond the
        length continues with further permutations, as torch).
    num_samples : int, optional (default ``len(data_source)``)
    generator : numpy.random.Generator, optional (default: minicnn's, see the module text)
    """

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        if not isinstance(replacement, (bool, np.bool_)):
            raise TypeError(f"RandomSampler replacement: expected a bool, got {type(replacement).__name__}")
        if num_samples is not None:
            _positive_int("RandomSampler", "num_samples", num_samples)
        check_generator("RandomSampler", generator)
        self.data_source, self.replacement, self._num_samples = data_source, bool(replacement), num_samples
        self.generator = generator

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else int(self._num_samples)

    def __iter__(self):
        n, gen = len(self.data_source), epoch_generator(self.generator)
        if self.replacement:
            return iter(gen.integers(0, n, size=self.num_samples).tolist())
        if self.num_samples == n:  # the common case, one permutation (what the loader drew before samplers)
            return iter(gen.permutation(n).tolist())
        rounds = [gen.permutation(n) for _ in range(-(-self.num_samples // n))] if n else []
        return iter(np.concatenate(rounds)[:self.num_samples].tolist() if rounds else [])

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices``, in a random order new on every ``iter()``."""

    def __init__(self, indices, generator=None):
        check_generator("SubsetRandomSampler", generator)
        self.indices, self.generator = indices, generator

    def __iter__(self):
        order = epoch_generator(self.generator).permutation(len(self.indices))
        return (self.indices[i] for i in order.tolist())

    def __len__(self):
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.batch_size = _positive_int("BatchSampler", "batch_size", batch_size)
        if not isinstance(drop_last, (bool, np.bool_)):
            raise TypeError(f"BatchSampler drop_last: expected a bool, got {type(drop_last).__name__}")
        self.sampler, self.drop_last = sampler, bool(drop_last)

    def __iter__(self):
        batch = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
