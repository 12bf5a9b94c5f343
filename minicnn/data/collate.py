"""``default_collate``: a list of samples -> one batch of Tensors, by ``torch.utils.data.default_collate``'s rules.

Each sample is walked as torch walks it, and the first sample's type decides:

* a Tensor, an ndarray, or anything with ``__array__`` (a torch tensor) -> the samples stacked along a new
  first axis, a Tensor (N, ...);
* a numpy scalar -> a Tensor (N,) of its dtype; a Python ``bool`` -> bool (N,), ``int`` -> int64 (N,),
  ``float`` -> float64 (N,) (torch's dtypes for Python numbers in a batch);
* ``str`` and ``bytes`` -> the samples as they are (the list, or a field's tuple, as torch);
* a mapping -> the same keys, each collated over the samples;
* a namedtuple -> the same namedtuple of collated fields; any other sequence (``(image, label)``) -> a list
  of collated fields, as torch returns (so ``for images, labels in loader`` unpacks either).
"""
import collections.abc
import numbers

import numpy as np

from ..autograd import Tensor

__all__ = ["default_collate"]


def _stack(name, arrays):
    if arrays[0].dtype.kind in "SUaO":  # torch refuses string and object arrays the same way
        raise TypeError(f"{name}: expected numeric arrays, got dtype {arrays[0].dtype}")
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"{name}: expected samples of one shape to stack, got shapes {sorted(shapes)}")
    return Tensor.wrap(np.stack(arrays))


def _numbers(batch, dtypes):
    array = np.array(batch)
    if array.dtype.kind not in dtypes or array.ndim != 1:
        raise TypeError(f"default_collate: expected a number in every sample, got "
                        f"{sorted({type(x).__name__ for x in batch})}")
    return array.astype(dtypes[array.dtype.kind])


def default_collate(batch):
    """Merge a list of samples into a batch (see the module text for the rules).

    Parameters
    ----------
    batch : sequence of samples, as a map-style dataset's ``dataset[i]`` returns them

    Returns
    -------
    Tensor, list, dict or namedtuple: the same structure as one sample, each leaf array (...) now a
    Tensor (N, ...).  Raises TypeError for a leaf it cannot batch, ValueError for samples that do not
    fit together (shapes, lengths).
    """
    if isinstance(batch, (str, bytes)) or not isinstance(batch, collections.abc.Sequence):
        raise TypeError(f"default_collate: expected a list of samples, got {type(batch).__name__}")
    if not batch:
        raise ValueError("default_collate: expected at least one sample, got an empty list")
    elem = batch[0]
    if isinstance(elem, (Tensor, np.ndarray, np.generic)) or hasattr(elem, "__array__"):  # numpy scalars too
        return _stack("default_collate", [e.array if isinstance(e, Tensor) else np.asarray(e) for e in batch])
    if isinstance(elem, numbers.Integral):  # bool and int: torch.tensor(batch) infers bool, int64 (or float32)
        return Tensor.wrap(_numbers(batch, {"b": np.bool_, "i": np.int64, "u": np.int64, "f": np.float32}))
    if isinstance(elem, numbers.Real):  # torch.tensor(batch, dtype=torch.float64)
        return Tensor.wrap(_numbers(batch, {"b": np.float64, "i": np.float64, "u": np.float64, "f": np.float64}))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if isinstance(elem, collections.abc.Sequence):
        sizes = {len(sample) for sample in batch}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: expected samples of one length, got lengths {sorted(sizes)}")
        fields = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple keeps its type
            return type(elem)(*fields)
        return fields
    raise TypeError(f"default_collate: expected samples of tensors, arrays, numbers, strings, dicts or lists, "
                    f"got {type(elem).__name__}")
