"""Devices: minicnn runs on the CPU, and says so.

``minicnn.device("cpu")`` is torch's ``torch.device``; ``tensor.to(device)``, ``module.to(device)``,
``.cpu()`` accept the CPU and change nothing.  Any other device can be *named*
(``device("cuda")`` is a valid object, as in torch), but a tensor or module sent there raises one
:class:`RuntimeError`: ``minicnn runs on the CPU only; got device 'cuda'``.
"""
import numpy as np

from . import dtypes

#: the device types torch knows; any of them can be named, only "cpu" can hold a tensor
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "xla", "meta", "hip", "hpu", "mtia", "ipu", "privateuseone")


class device:
    """``torch.device``: a device type and an optional index.

    Parameters
    ----------
    type : str such as ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; or a device (copied); or an int
        (torch's shorthand for ``cuda:<index>``)
    index : int >= 0, optional

    ``repr`` and ``str`` are torch's (``device(type='cpu')``, ``'cpu'``), and so is equality: two
    devices are equal when type and index are; a device is never equal to a string (torch:
    ``torch.device("cpu") == "cpu"`` is False), so compare ``d.type == "cpu"``.
    """
    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        elif isinstance(type, (int, np.integer)) and not isinstance(type, bool):
            type, index = "cuda", int(type)
        elif not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {type.__class__.__name__}")
        elif ":" in type:
            type, _, number = type.partition(":")
            if index is not None or not number.isdigit():
                raise ValueError(f"device: expected 'type' or 'type:index', got {type}:{number}")
            index = int(number)
        if type not in DEVICE_TYPES:
            raise ValueError(f"device: expected one of {list(DEVICE_TYPES)}, got {type!r}")
        if index is not None and (not isinstance(index, (int, np.integer)) or isinstance(index, bool) or index < 0):
            raise ValueError(f"device: expected index as an int >= 0, got {index!r}")
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "index", None if index is None else int(index))

    def __setattr__(self, name, value):
        raise AttributeError("device is immutable")

    def __eq__(self, other):
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"


CPU = device("cpu")


def on_cpu(op, where):
    """:data:`CPU` for ``where`` (a device, a string naming one, or None); RuntimeError for any other device."""
    if where is None:
        return CPU
    where = device(where)
    if where.type != "cpu":
        raise RuntimeError(f"{op}: minicnn runs on the CPU only; got device '{where}'")
    return where


def to_arguments(op, args, kwargs, ndim=None):
    """``(device, dtype, copy)`` from the arguments of torch's ``.to``.

    The forms are torch's: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)``
    (its device and dtype), and the keywords ``device=``, ``dtype=``, ``non_blocking=`` (accepted: a copy
    on the CPU is synchronous anyway) and ``copy=``.  A device other than the CPU raises RuntimeError.
    """
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument {sorted(unknown)[0]!r}")
    check_memory_format(op, kwargs.get("memory_format"), ndim)
    where, dtype = kwargs.get("device"), kwargs.get("dtype")
    from .autograd.tensor import Tensor  # (tensor.py imports this module)
    positional = list(args)
    if positional and isinstance(positional[0], Tensor):
        other = positional.pop(0)  # to(other_tensor, non_blocking, copy)
        where, dtype = other.device, other.dtype
    else:
        if positional and isinstance(positional[0], (str, device, int, np.integer)) \
                and not isinstance(positional[0], bool):
            where = positional.pop(0)
        if positional:
            dtype = positional.pop(0)
    if positional:  # torch: to(device, dtype, non_blocking, copy)
        kwargs = dict(kwargs, non_blocking=positional.pop(0))
    if positional:
        kwargs = dict(kwargs, copy=positional.pop(0))
    if positional:
        raise TypeError(f"{op}: expected to(device, dtype, non_blocking, copy), got {len(args)} arguments")
    for flag in ("non_blocking", "copy"):
        if not isinstance(kwargs.get(flag, False), (bool, np.bool_)):
            raise TypeError(f"{op}: expected {flag} as a bool, got {kwargs[flag]!r}")
    return on_cpu(op, where), dtypes.as_dtype(op, dtype), bool(kwargs.get("copy", False))


class memory_format:
    """torch's ``torch.memory_format``: a layout of a tensor's elements in memory, by name.

    minicnn keeps one layout, C-ordered (N, C, H, W), torch's ``contiguous_format``.  Every method that takes
    ``memory_format=`` accepts the four of torch and computes the same values as torch: ``contiguous_format``
    and ``preserve_format`` are that layout; ``channels_last`` (4-D tensors only, as torch) and
    ``channels_last_3d`` (5-D only) are speed hints in torch that change the strides and never a value, and
    minicnn keeps its layout there (so ``is_contiguous(memory_format=channels_last)`` stays False).
    """
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"minicnn.{self.name}"


contiguous_format, preserve_format = memory_format("contiguous_format"), memory_format("preserve_format")
channels_last, channels_last_3d = memory_format("channels_last"), memory_format("channels_last_3d")


def check_memory_format(op, value, ndim=None):
    """Accept None and torch's four formats (see :class:`memory_format`); ``channels_last`` needs a 4-D tensor and
    ``channels_last_3d`` a 5-D one, as torch (where ``ndim`` is known)."""
    if value is None or value is contiguous_format or value is preserve_format:
        return
    if value is channels_last or value is channels_last_3d:
        rank = 4 if value is channels_last else 5
        if ndim is not None and ndim != rank:
            raise ValueError(f"{op}: memory_format={value.name} expects a {rank}-D tensor, got {ndim}-D")
        return
    raise TypeError(f"{op}: expected memory_format as minicnn.contiguous_format, preserve_format, channels_last or "
                    f"channels_last_3d, got {type(value).__name__}")
