"""``Dataset``, ``TensorDataset`` and ``DataLoader``, shaped like ``torch.utils.data``, yielding numpy arrays."""

from __future__ import annotations

import numbers

import numpy as np

from .transforms import ToTensor, use_generator

__all__ = ["DataLoader", "Dataset", "TensorDataset"]


class Dataset:
    """A map-style dataset: ``len(ds)`` samples, ``ds[i]`` is one ``(image, label)``.

    A subclass may also define ``__getitems__(indices) -> (images, labels)``
    that returns the whole batch at once, already stacked; :class:`DataLoader`
    uses it when present (torch's DataLoader looks for the same method).
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index):
        raise NotImplementedError


class TensorDataset(Dataset):
    """Samples are the rows of equally long arrays, as ``torch.utils.data.TensorDataset``.

    Parameters
    ----------
    *arrays : numpy.ndarray
        Usually ``images`` (N, C, H, W) and ``labels`` (N,).
    transform : callable, optional
        Applied to each batch of the first array (see :mod:`minicnn.data.transforms`);
        torch's TensorDataset has no such argument, torchvision's datasets do.
    """

    def __init__(self, *arrays, transform=None):
        if not arrays:
            raise ValueError("TensorDataset: expected at least one array, got none")
        for i, a in enumerate(arrays):
            if not isinstance(a, np.ndarray) or a.ndim == 0:
                raise TypeError(f"TensorDataset: expected numpy arrays with a first (sample) axis, "
                                f"got {type(a).__name__} as argument {i}")
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(f"TensorDataset: expected arrays of one length, got lengths {[len(a) for a in arrays]}")
        if transform is not None and not callable(transform):
            raise TypeError(f"TensorDataset: expected transform to be callable, got {type(transform).__name__}")
        self.arrays = arrays
        self.transform = transform

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"TensorDataset: expected an int index, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"TensorDataset: index {index} out of range for {len(self)} samples")
        index = index % len(self)
        images, *rest = self.__getitems__(np.array([index]))
        return (images[0], *(r[0] for r in rest))

    def __getitems__(self, indices: np.ndarray):
        """The batch at ``indices`` (int array), each array a fresh copy; transform applied."""
        first, *rest = (np.take(a, indices, axis=0) for a in self.arrays)
        if self.transform is not None:
            first = self.transform(first)
        return (first, *rest)


class DataLoader:
    """Yield mini-batches of a dataset, as ``torch.utils.data.DataLoader`` does (one process, numpy out).

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=0)``, or, as before
    there were datasets, ``DataLoader(images, labels, batch_size, ...)`` with arrays: float images
    are batched as they are, uint8 images are converted as ``ToTensor`` does (``u8 / 255`` in float32).

    Parameters
    ----------
    dataset : Dataset or numpy.ndarray
        A :class:`Dataset`, or images (N, C, H, W), floating or uint8, with ``labels``.
    labels : numpy.ndarray, integer, shape (N,), only with an images array
    batch_size : int
        Samples per batch.
    shuffle : bool
        If True every epoch visits the samples in a new random order.
    drop_last : bool
        If True a last batch smaller than ``batch_size`` is left out.
    seed : int or None
        Seed of the loader's ``numpy.random.Generator`` (ignored if ``generator`` is given).
        Unlike torch the default is fixed (0): the same loader gives the same batches.
    generator : numpy.random.Generator, optional
        The generator to draw every epoch's order from.

    Notes
    -----
    The order is drawn from the generator; random transforms draw from a second generator
    spawned from it, so turning augmentation on does not change the order of the batches.
    Batches are fresh C-contiguous copies (labels int64 for the array form), so a consumer
    that modifies a batch cannot modify the dataset.
    """

    def __init__(self, dataset, labels=None, batch_size=1, shuffle=False, drop_last=False,
                 seed: int | None = 0, generator: np.random.Generator | None = None):
        if labels is not None and isinstance(dataset, Dataset):
            raise TypeError(f"DataLoader labels: expected only with an images array, got {labels!r} with a "
                            f"{type(dataset).__name__} (pass batch_size= by keyword)")
        if isinstance(dataset, np.ndarray) or labels is not None:
            _check_arrays(dataset, labels)
            if dataset.dtype == np.uint8:
                dataset = TensorDataset(dataset, labels.astype(np.int64, copy=False), transform=ToTensor())
            else:
                dataset = TensorDataset(dataset, labels.astype(np.int64, copy=False))
        elif not isinstance(dataset, Dataset):
            raise TypeError(f"DataLoader dataset: expected a minicnn.data.Dataset or an images array, "
                            f"got {type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader batch_size: expected a positive int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"DataLoader batch_size: expected a positive int, got {batch_size}")
        if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"DataLoader seed: expected an int or None, got {type(seed).__name__}")
        if seed is not None and seed < 0:  # (numpy's SeedSequence would refuse it in its own words)
            raise ValueError(f"DataLoader seed: expected a non-negative int, got {seed}")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader generator: expected a numpy.random.Generator, "
                            f"got {type(generator).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator if generator is not None else np.random.default_rng(seed)
        self._transform_generator = self.generator.spawn(1)[0]  # draws nothing from self.generator
        self._order = None      # the latest iteration's order, and how many of its batches were handed out
        self._position = 0
        self._resume = None     # (order, position) from load_state_dict, for the next iter()

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def order(self) -> np.ndarray:
        """Draw the next epoch's sample order.

        Returns
        -------
        numpy.ndarray, int64, shape (N,)
            A permutation of ``0..N-1`` (new on every call) if shuffling,
            else ``0..N-1`` in order.
        """
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def __iter__(self):
        # The order is drawn here, not on the first next(), so iter() calls
        # consume the generator in the order they are made.
        if self._resume is not None:
            (self._order, self._position), self._resume = self._resume, None
        else:
            self._order, self._position = self.order(), 0
        return self._batches(self._order, self._position)

    def _batches(self, order: np.ndarray, position: int):
        stop = len(self) * self.batch_size if self.drop_last else len(order)
        for start in range(position * self.batch_size, stop, self.batch_size):
            with use_generator(self._transform_generator):  # not across the yield: the caller's code
                batch = self._fetch(order[start:start + self.batch_size])  # must not see it
            self._position += 1  # counted when handed out: a checkpoint after the step skips this batch
            yield batch

    def state_dict(self) -> dict:
        """Where the loader stands, for a checkpoint: enough to hand out exactly the batches that follow.

        Returns
        -------
        dict: ``"rng"`` and ``"transform_rng"`` (the order's and the random transforms' generator
        states), ``"order"`` (int64 (N,), the latest iteration's order, or None before the first),
        ``"position"`` (int, how many of its batches were handed out).
        """
        order = None if self._order is None else self._order.copy()
        return {"rng": self.generator.bit_generator.state,
                "transform_rng": self._transform_generator.bit_generator.state,
                "order": order, "position": self._position}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`: the next ``iter()`` resumes that epoch after its last
        handed-out batch (or, when it was complete, draws the next epoch's order).

        Raises TypeError/ValueError naming the part that does not fit this dataset.
        """
        keys = {"rng", "transform_rng", "order", "position"}
        if not isinstance(state, dict) or set(state) != keys:
            raise TypeError(f"DataLoader.load_state_dict: expected a dict with {', '.join(sorted(keys))}, got "
                            f"{sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__}")
        order, position = state["order"], state["position"]
        n = len(self.dataset)
        if order is not None:
            if not isinstance(order, np.ndarray) or order.dtype.kind not in "iu" or order.shape != (n,):
                raise ValueError(f"DataLoader.load_state_dict: order expected an int array of shape ({n},), got "
                                 f"{getattr(order, 'dtype', type(order).__name__)} {getattr(order, 'shape', '')}")
            if not np.array_equal(np.sort(order), np.arange(n)):
                raise ValueError(f"DataLoader.load_state_dict: order is not a permutation of 0..{n - 1}")
        batches = 0 if order is None else len(self)
        if isinstance(position, bool) or not isinstance(position, int) or not 0 <= position <= batches:
            raise ValueError(f"DataLoader.load_state_dict: position expected an int in [0, {batches}], "
                             f"got {position!r}")
        generators = []
        for key in ("rng", "transform_rng"):
            rng = np.random.default_rng()
            try:
                rng.bit_generator.state = state[key]
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"DataLoader.load_state_dict: {key} is not a generator state ({exc!r})") from None
            generators.append(rng)
        self.generator, self._transform_generator = generators
        self._order, self._position = (None, 0) if order is None else (order.astype(np.int64), position)
        self._resume = None if order is None or position >= batches else (self._order, position)

    def _fetch(self, indices: np.ndarray):
        getitems = getattr(self.dataset, "__getitems__", None)
        if getitems is not None:
            return tuple(getitems(indices))
        samples = [self.dataset[int(i)] for i in indices]  # the generic, per-sample path
        return tuple(np.stack([np.asarray(s[k]) for s in samples]) for k in range(len(samples[0])))


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
