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


def to_arguments(op, args, kwargs):
    """``(device, dtype, copy)`` from the arguments of torch's ``.to``.

    The forms are torch's: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other_tensor)``
    (its device and dtype), and the keywords ``device=``, ``dtype=``, ``non_blocking=`` (accepted: a copy
    on the CPU is synchronous anyway) and ``copy=``.  A device other than the CPU raises RuntimeError.
    """
    unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy", "memory_format"}
    if unknown:
        raise TypeError(f"{op}: unexpected keyword argument {sorted(unknown)[0]!r}")
    if kwargs.get("memory_format") is not None:
        raise ValueError(f"{op}: memory_format is not supported (minicnn's arrays are NCHW, C-ordered)")
    where, dtype = kwargs.get("device"), kwargs.get("dtype")
    from .autograd.tensor import Tensor  # (tensor.py imports this module)
    positional = list(args)
    if positional and isinstance(positional[0], Tensor):
        other = positional.pop(0)  # to(other_tensor)
        where, dtype = other.device, other.dtype
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
