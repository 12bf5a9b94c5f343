"""``DataLoader``, shaped like ``torch.utils.data.DataLoader``: batches of any map-style dataset, as Tensors.

Each ``iter()`` is one epoch: the sampler gives the epoch's order (``0..N-1``, or a random permutation
with ``shuffle=True``, or your sampler's), the order is cut into batches, and each batch is fetched and
collated in this process:

* from one of minicnn's datasets (``__getitems__``, see :mod:`minicnn.data.dataset`), the whole batch at
  once, each array wrapped as a Tensor (no copy);
* from any other dataset (or with a ``collate_fn``), ``dataset[i]`` for each index, then
  ``collate_fn(samples)`` (:func:`~minicnn.data.collate.default_collate` unless given).

**Randomness.** With ``generator=`` (a ``numpy.random.Generator``) or minicnn's ``seed=``, the order and the
random transforms draw from the loader's own generator.  Otherwise, as torch, from minicnn's generator:
each ``iter()`` takes one number from it (the seed of that epoch's random transforms) and a shuffling
sampler a second (its order), so :func:`minicnn.manual_seed` fixes the batches and two loaders built
after it shuffle differently.

**Workers.** ``num_workers``, ``pin_memory``, ``persistent_workers``, ``prefetch_factor``,
``worker_init_fn``, ``timeout``, ``multiprocessing_context`` and ``in_order`` are accepted, checked as
torch checks them, and change nothing: no worker process is started (so ``worker_init_fn`` is never
called, as torch with ``num_workers=0``) and there is no pinned memory off the CPU; the batches are the
ones ``num_workers=0`` gives.
"""
from __future__ import annotations

import inspect
import numbers

import numpy as np

from ..autograd import Tensor
from .collate import default_collate
from .dataset import Dataset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler, check_generator, epoch_generator
from .transforms import ToTensor, use_generator

__all__ = ["DataLoader", "Dataset", "TensorDataset"]

class DataLoader:
    """Mini-batches of a dataset, as ``torch.utils.data.DataLoader`` (in one process; Tensors out).

    ``DataLoader(dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
    collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
    multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
    pin_memory_device="", in_order=True, seed=None)``: torch's signature, plus minicnn's ``seed``.  The
    form from before datasets, ``DataLoader(images, labels, batch_size=..., ...)`` with arrays, still
    works: float images are batched as they are, uint8 images converted as ``ToTensor`` does.

    Parameters
    ----------
    dataset : map-style dataset (``len`` and ``[i]``), or images (N, C, H, W) with ``labels`` (N,)
    batch_size : int
        Samples per batch (``None``, torch's "no automatic batching", is refused).
    shuffle : bool
        A new random order every epoch (a :class:`~minicnn.data.sampler.RandomSampler`).
    sampler, batch_sampler : iterable of indices / of lists of indices, optional (torch's rules on what
        they exclude: ``shuffle``, and for ``batch_sampler`` also ``batch_size``, ``sampler``, ``drop_last``)
    collate_fn : callable, optional
        ``collate_fn(list of samples) -> batch``.
    drop_last : bool
        Leave out a last batch smaller than ``batch_size``.
    generator : numpy.random.Generator, optional
        The generator of the order and of the random transforms (see the module text).
    seed : int, optional (minicnn's)
        ``generator = numpy.random.default_rng(seed)``; pass one of ``seed`` and ``generator``.
    num_workers, pin_memory, timeout, worker_init_fn, multiprocessing_context, prefetch_factor,
    persistent_workers, pin_memory_device, in_order :
        Accepted and checked; computed in this process (see the module text).

    Notes
    -----
    Random transforms draw from a generator of their own (spawned from the loader's, or seeded per epoch),
    so turning augmentation on does not change the order of the batches.  Batches are fresh copies, so a
    consumer that modifies a batch cannot modify the dataset.  :meth:`state_dict` records where the loader
    stands, for a checkpoint.
    """

    def __init__(self, dataset, *args, **kwargs):
        # The second positional argument is torch's batch_size, or, in the form from before datasets
        # (images, labels, batch_size=...), the labels.
        if args and (isinstance(args[0], np.ndarray) or (isinstance(dataset, np.ndarray) and not (
                args[0] is None or isinstance(args[0], numbers.Integral)))):
            if "labels" in kwargs:
                raise TypeError("DataLoader: got labels twice, as the second argument and as labels=")
            kwargs["labels"], args = args[0], args[1:]
        self._configure(dataset, *args, **kwargs)

    def _configure(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                   collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                   multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                   persistent_workers=False, pin_memory_device="", in_order=True, labels=None, seed=None):
        dataset = _as_dataset(dataset, labels)
        shuffle = _flag("shuffle", False if shuffle is None else shuffle)
        drop_last = _flag("drop_last", drop_last)
        if batch_size is None:
            raise TypeError("DataLoader batch_size: None (no automatic batching) is not supported; pass an int")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"DataLoader batch_size: expected a positive int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader batch_size: expected a positive int, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler is mutually exclusive with shuffle=True")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler is mutually exclusive with batch_size, shuffle, sampler "
                             "and drop_last")
        for name, it in (("sampler", sampler), ("batch_sampler", batch_sampler)):
            if it is not None and not hasattr(it, "__iter__"):
                raise TypeError(f"DataLoader {name}: expected an iterable of indices, got {type(it).__name__}")
        for name, fn in (("collate_fn", collate_fn), ("worker_init_fn", worker_init_fn)):
            if fn is not None and not callable(fn):
                raise TypeError(f"DataLoader {name}: expected a callable or None, got {type(fn).__name__}")
        _check_workers(num_workers, timeout, multiprocessing_context, prefetch_factor, persistent_workers)
        _flag("pin_memory", pin_memory)
        _flag("in_order", in_order)
        if pin_memory_device not in ("", "cpu"):
            raise ValueError(f"DataLoader pin_memory_device: minicnn runs on the CPU only, got {pin_memory_device!r}")
        check_generator("DataLoader", generator)
        if seed is not None:
            if generator is not None:
                raise TypeError("DataLoader: pass seed or generator, not both")
            if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
                raise TypeError(f"DataLoader seed: expected an int or None, got {type(seed).__name__}")
            if seed < 0:  # (numpy's SeedSequence would refuse it in its own words)
                raise ValueError(f"DataLoader seed: expected a non-negative int, got {seed}")
            generator = np.random.default_rng(seed)

        self.dataset = dataset
        self.batch_size = None if batch_sampler is not None else int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.generator = generator  # None: draw from minicnn's generator, per epoch
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.num_workers, self.pin_memory, self.timeout = int(num_workers), bool(pin_memory), timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, bool(persistent_workers)
        self._default_sampler = sampler is None and batch_sampler is None
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self._own_batch_sampler = batch_sampler
        self.batch_sampler = (batch_sampler if batch_sampler is not None
                              else BatchSampler(sampler, batch_size, drop_last))
        # minicnn's stacked batches, where the dataset has them and the samples are not handed to a collate_fn
        self._stacked = (collate_fn is None and isinstance(dataset, Dataset)
                         and callable(getattr(dataset, "__getitems__", None)))
        # drawing nothing from self.generator; None until the first epoch when there is no generator
        self._transform_generator = None if generator is None else generator.spawn(1)[0]
        self._order = None      # the latest iteration's order, and how many of its batches were handed out
        self._position = 0
        self._resume = None     # (order, position) from load_state_dict, for the next iter()

    def __len__(self) -> int:
        if self._own_batch_sampler is not None:
            return len(self._own_batch_sampler)
        return self._batch_count(len(self.sampler))

    def _batch_count(self, n):
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self) -> np.ndarray:
        """Draw the next epoch's sample order from the sampler.

        Returns
        -------
        numpy.ndarray, int64, shape (M,)
            With the default samplers a permutation of ``0..N-1`` (new on every call) if shuffling,
            else ``0..N-1`` in order; else the sampler's indices.
        """
        return _indices("sampler", list(self.sampler), len(self.dataset))

    def _epoch(self):
        """The next epoch's batches (a list of index arrays) and its order, drawn now."""
        if self.generator is None:
            self._transform_generator = epoch_generator(None)
        if self._own_batch_sampler is not None:
            batches = [_indices("batch_sampler", list(b), len(self.dataset)) for b in self._own_batch_sampler]
            return batches, (np.concatenate(batches) if batches else np.empty(0, np.int64))
        order = self.order()
        return self._cut(order), order

    def _cut(self, order):
        return [order[i * self.batch_size:(i + 1) * self.batch_size] for i in range(self._batch_count(len(order)))]

    def __iter__(self):
        # The order is drawn here, not on the first next(), so iter() calls
        # consume the generators in the order they are made.
        if self._resume is not None:
            (self._order, self._position), self._resume = self._resume, None
            batches = self._cut(self._order)
        else:
            batches, self._order = self._epoch()
            self._position = 0
        return self._batches(batches, self._position)

    def _batches(self, batches, position):
        for indices in batches[position:]:
            with use_generator(self._transform_generator):  # not across the yield: the caller's code
                batch = self._fetch(indices)                  # must not see it
            self._position += 1  # counted when handed out: a checkpoint after the step skips this batch
            yield batch

    def _fetch(self, indices: np.ndarray):
        if self._stacked:
            return [_batch_tensor(self.dataset, a) for a in self.dataset.__getitems__(indices)]
        getitems = None if isinstance(self.dataset, Dataset) else getattr(self.dataset, "__getitems__", None)
        if callable(getitems):  # torch's contract for it: a list of samples
            return self.collate_fn(getitems(indices.tolist()))
        return self.collate_fn([self.dataset[i] for i in indices.tolist()])

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Where the loader stands, for a checkpoint: enough to hand out exactly the batches that follow.

        Returns
        -------
        dict: ``"rng"`` (the loader's generator state, or None when it draws from minicnn's generator,
        whose state :func:`minicnn.get_rng_state` gives), ``"transform_rng"`` (the random transforms'
        generator state, None before the first epoch without a generator), ``"order"`` (int64 (M,), the
        latest iteration's order, or None before the first), ``"position"`` (int, how many of its batches
        were handed out).  Not available with a ``batch_sampler`` (its batches are not one order cut
        into equal parts).
        """
        if self._own_batch_sampler is not None:
            raise TypeError("DataLoader.state_dict: not available with a batch_sampler")
        order = None if self._order is None else self._order.copy()
        return {"rng": None if self.generator is None else self.generator.bit_generator.state,
                "transform_rng": None if self._transform_generator is None else
                self._transform_generator.bit_generator.state,
                "order": order, "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`: the next ``iter()`` resumes that epoch after its last
        handed-out batch (or, when it was complete, draws the next epoch's order).  The generators'
        states are set in place.

        Raises TypeError/ValueError naming the part that does not fit this loader.
        """
        keys = {"rng", "transform_rng", "order", "position"}
        if not isinstance(state, dict) or set(state) != keys:
            raise TypeError(f"DataLoader.load_state_dict: expected a dict with {', '.join(sorted(keys))}, got "
                            f"{sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__}")
        if self._own_batch_sampler is not None:
            raise TypeError("DataLoader.load_state_dict: not available with a batch_sampler")
        order, position = state["order"], state["position"]
        if order is not None:
            order = self._check_order(order)
        batches = 0 if order is None else self._batch_count(len(order))
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= batches:
            raise ValueError(f"DataLoader.load_state_dict: position expected an int in [0, {batches}], "
                             f"got {position!r}")
        if (state["rng"] is None) != (self.generator is None):
            raise ValueError("DataLoader.load_state_dict: rng is " + (
                "None (a loader drawing from minicnn's generator), but this one has its own generator"
                if state["rng"] is None else "a generator state, but this loader draws from minicnn's generator"))
        if state["transform_rng"] is None and (order is not None or self.generator is not None):
            raise ValueError("DataLoader.load_state_dict: transform_rng is None, expected a generator state")
        generators = [_restored(key, state[key]) for key in ("rng", "transform_rng")]
        if self.generator is not None:
            self.generator.bit_generator.state = generators[0].bit_generator.state
        self._transform_generator = generators[1]
        self._order, self._position = (None, 0) if order is None else (order, position)
        self._resume = None if order is None or position >= batches else (self._order, position)

    def _check_order(self, order):
        n = len(self.dataset)
        if not isinstance(order, np.ndarray) or order.dtype.kind not in "iu" or order.ndim != 1:
            raise ValueError(f"DataLoader.load_state_dict: order expected a 1-D int array, got "
                             f"{getattr(order, 'dtype', type(order).__name__)} {getattr(order, 'shape', '')}")
        if self._default_sampler:
            if order.shape != (n,):
                raise ValueError(f"DataLoader.load_state_dict: order expected an int array of shape ({n},), "
                                 f"got {order.dtype} {order.shape}")
            if not np.array_equal(np.sort(order), np.arange(n)):
                raise ValueError(f"DataLoader.load_state_dict: order is not a permutation of 0..{n - 1}")
        elif order.size and not (order.min() >= 0 and order.max() < n):
            raise ValueError(f"DataLoader.load_state_dict: order expected indices in [0, {n}), got "
                             f"{order.min()}..{order.max()}")
        return order.astype(np.int64)


DataLoader.__init__.__signature__ = inspect.signature(DataLoader._configure)  # what help() and editors show


def _restored(key, state):
    if state is None:
        return None
    rng = np.random.default_rng()
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"DataLoader.load_state_dict: {key} is not a generator state ({exc!r})") from None
    return rng


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"DataLoader {name}: expected a bool, got {type(value).__name__}")
    return bool(value)


def _check_workers(num_workers, timeout, multiprocessing_context, prefetch_factor, persistent_workers):
    """torch's checks of the worker arguments (the workers themselves are not started)."""
    if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral):
        raise TypeError(f"DataLoader num_workers: expected an int >= 0, got {type(num_workers).__name__}")
    if num_workers < 0:
        raise ValueError(f"DataLoader num_workers: expected an int >= 0, got {num_workers}")
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or timeout < 0:
        raise ValueError(f"DataLoader timeout: expected a number >= 0, got {timeout!r}")
    _flag("persistent_workers", persistent_workers)
    if num_workers == 0:
        for name, value in (("prefetch_factor", prefetch_factor), ("multiprocessing_context", multiprocessing_context)):
            if value is not None:
                raise ValueError(f"DataLoader {name}: only with num_workers > 0 (as torch), got {value!r}")
        if persistent_workers:
            raise ValueError("DataLoader persistent_workers: needs num_workers > 0 (as torch)")
    elif prefetch_factor is not None and (isinstance(prefetch_factor, bool) or not isinstance(
            prefetch_factor, numbers.Integral) or prefetch_factor < 1):
        raise ValueError(f"DataLoader prefetch_factor: expected a positive int or None, got {prefetch_factor!r}")


def _as_dataset(dataset, labels):
    """The dataset to load from: ``dataset`` itself, or a TensorDataset of the (images, labels) arrays."""
    if labels is not None:
        _check_arrays(dataset, labels)
        labels = labels.astype(np.int64, copy=False)
        return TensorDataset(dataset, labels, transform=ToTensor() if dataset.dtype == np.uint8 else None)
    if any(c.__name__ == "IterableDataset" for c in type(dataset).__mro__) or (
            hasattr(dataset, "__iter__") and not hasattr(dataset, "__getitem__")):
        raise TypeError(f"DataLoader dataset: expected a map-style dataset (with __len__ and __getitem__), got "
                        f"the iterable-style {type(dataset).__name__}, which minicnn's DataLoader does not take")
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise TypeError(f"DataLoader dataset: expected a map-style dataset (with __len__ and __getitem__) or an "
                        f"images array with labels, got {type(dataset).__name__}")
    return dataset


def _indices(name, items, n):
    """A sampler's indices as an int64 array, checked against the dataset's length ``n``."""
    array = np.asarray(items)
    if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
        raise TypeError(f"DataLoader {name}: expected int indices, got {array.dtype} of shape {array.shape}")
    if array.size and not (array.min() >= 0 and array.max() < n):
        raise IndexError(f"DataLoader {name}: expected indices in [0, {n}), got {array.min()}..{array.max()}")
    return array.astype(np.int64, copy=False)


def _batch_tensor(dataset, array):
    if isinstance(array, Tensor):
        return array
    if not isinstance(array, np.ndarray):
        raise TypeError(f"DataLoader: {type(dataset).__name__}.__getitems__ expected to return arrays, "
                        f"got {type(array).__name__}")
    return Tensor.wrap(array)


def _check_arrays(images, labels) -> None:
    if not isinstance(images, np.ndarray):
        raise TypeError(f"DataLoader images: expected a numpy.ndarray of shape (N, C, H, W), "
                        f"got {type(images).__name__}")
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"DataLoader labels: expected a numpy.ndarray of shape (N,), got {type(labels).__name__}")
    if images.ndim != 4:
        raise ValueError(f"DataLoader images: expected 4 dimensions (N, C, H, W), got shape {images.shape}")
    if not (np.issubdtype(images.dtype, np.floating) or images.dtype == np.uint8):
        raise TypeError(f"DataLoader images: expected a floating dtype or uint8, got {images.dtype}")
    if labels.ndim != 1:
        raise ValueError(f"DataLoader labels: expected 1 dimension (N,), got shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"DataLoader labels: expected an integer dtype, got {labels.dtype}")
    if len(labels) != len(images):
        raise ValueError(f"DataLoader labels: expected {len(images)} labels to match images, got {len(labels)}")
