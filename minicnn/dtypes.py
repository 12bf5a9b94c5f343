"""torch's dtype names, as numpy dtypes: ``minicnn.float32``, ``minicnn.long`` ...

A Tensor's ``.dtype`` is a ``numpy.dtype``, so ``x.dtype == minicnn.float32`` holds for a float32 tensor
and ``np.zeros(3, dtype=minicnn.float32)`` works.  The aliases are torch's: ``float`` is float32 and
``double`` float64, ``long`` int64 and ``int`` int32.
"""
import builtins

import numpy as np

float32, float64, float16 = np.dtype("float32"), np.dtype("float64"), np.dtype("float16")
int64, int32, int16, int8, uint8 = (np.dtype(n) for n in ("int64", "int32", "int16", "int8", "uint8"))
bool_ = np.dtype("bool")

#: the dtypes a Tensor may hold (float16 is a storage dtype only: no layer computes in it)
DTYPES = (bool_, uint8, int8, int16, int32, int64, float16, float32, float64)

#: what Python numbers become, as torch's defaults (``torch.get_default_dtype()`` for floats)
DEFAULT_FLOAT, DEFAULT_INT = float32, int64

#: ``Tensor.type()``'s names, torch's
TYPE_NAMES = {float32: "torch.FloatTensor", float64: "torch.DoubleTensor", float16: "torch.HalfTensor",
              int64: "torch.LongTensor", int32: "torch.IntTensor", int16: "torch.ShortTensor",
              int8: "torch.CharTensor", uint8: "torch.ByteTensor", bool_: "torch.BoolTensor"}


def as_dtype(op, dtype):
    """``dtype`` as one of :data:`DTYPES`, or None for None.

    Accepts the names of this module, numpy dtypes and scalar types, and Python's ``float`` (float64),
    ``int`` (int64) and ``bool``, as torch does.  A string is refused: it is a device (``"cpu"``) or a
    typo, never a dtype in torch.
    """
    if dtype is None:
        return None
    if isinstance(dtype, builtins.str):
        raise TypeError(f"{op}: expected a dtype such as minicnn.float32, got the string {dtype!r}")
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: expected a dtype such as minicnn.float32, got {type(dtype).__name__} "
                        f"{dtype!r}") from None
    if resolved not in DTYPES:
        raise TypeError(f"{op}: expected one of the dtypes {[d.name for d in DTYPES]}, got {resolved}")
    return resolved


def is_floating_point(dtype):
    """True for float16, float32 and float64, as ``torch.is_floating_point``."""
    return np.dtype(dtype).kind == "f"


# torch's aliases (they shadow Python's builtins only as attributes: minicnn.float, minicnn.int ...)
float, double, half = float32, float64, float16
long, int, short = int64, int32, int16
bool = bool_
