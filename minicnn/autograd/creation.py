"""torch's tensor factories: ``rand``, ``randn``, ``zeros``, ``arange`` … with torch's dtype rules.

Random ones draw from minicnn's seeded generator (:func:`minicnn.manual_seed`), so a seed fixes them
as it fixes the layers' initial weights (the numbers are numpy's, not torch's).  The dtype rules are
torch's: a float result is float32 unless ``dtype=`` says otherwise; ``arange``/``full`` of Python ints
are int64; ``*_like`` keep the input's dtype.  Sizes come as ints or one tuple (``zeros(2, 3)``,
``zeros((2, 3))``).  ``device=`` takes the CPU only (another device raises RuntimeError), and
``requires_grad=True`` makes a leaf.
"""
import math

import numpy as np

from .. import device as device_
from .. import dtypes
from ..rng import generator_or_default
from .tensor import Tensor, parse_sizes


def _leaf(op, array, device, requires_grad):
    device_.on_cpu(op, device)
    return Tensor.wrap(array, requires_grad=requires_grad)


def _float_dtype(op, dtype):
    dtype = dtypes.as_dtype(op, dtype) or dtypes.DEFAULT_FLOAT
    if dtype not in (dtypes.float32, dtypes.float64):
        raise TypeError(f"{op}: expected a float32 or float64 dtype, got {dtype}")
    return dtype


def _like(op, input):
    if not isinstance(input, (Tensor, np.ndarray)):
        raise TypeError(f"{op}: expected a minicnn.Tensor or numpy.ndarray, got {type(input).__name__}")
    return input.shape, input.dtype


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), of shape ``size``; float32 unless ``dtype``; drawn from ``generator`` if given."""
    dtype = _float_dtype("rand", dtype)
    rng = generator_or_default("rand", generator)
    return _leaf("rand", rng.random(parse_sizes("rand", size), dtype=dtype), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal, of shape ``size``; float32 unless ``dtype``; drawn from ``generator`` if given."""
    dtype = _float_dtype("randn", dtype)
    rng = generator_or_default("randn", generator)
    return _leaf("randn", rng.standard_normal(parse_sizes("randn", size), dtype=dtype), device, requires_grad)


def randint(*args, low=None, high=None, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    """Integers uniform on [low, high), of shape ``size``, int64 unless ``dtype``: torch's
    ``randint(high, size)`` and ``randint(low, high, size)``."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        size, args = args[-1], args[:-1]
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        low, high = (low, args[0]) if high is None else (args[0], high)
    elif args:
        raise TypeError(f"randint: expected (high, size) or (low, high, size), got {len(args)} positional arguments")
    low = 0 if low is None else low
    if not isinstance(size, (tuple, list)) or high is None:
        raise TypeError(f"randint: expected (high, size) or (low, high, size) with size a tuple, got high={high!r}, "
                        f"size={size!r}")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"randint: expected {name} as an int, got {type(value).__name__}")
    if not low < high:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    dtype = dtypes.as_dtype("randint", dtype) or dtypes.int64
    shape = parse_sizes("randint", (tuple(size),))
    rng = generator_or_default("randint", generator)
    return _leaf("randint", rng.integers(low, high, shape).astype(dtype), device, requires_grad)


def rand_like(input, dtype=None, device=None, requires_grad=False):
    shape, own = _like("rand_like", input)
    return rand(shape, dtype=own if dtype is None else dtype, device=device, requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    shape, own = _like("randn_like", input)
    return randn(shape, dtype=own if dtype is None else dtype, device=device, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    """Zeros of shape ``size``; float32 unless ``dtype``."""
    dtype = dtypes.as_dtype("zeros", dtype) or dtypes.DEFAULT_FLOAT
    return _leaf("zeros", np.zeros(parse_sizes("zeros", size), dtype), device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    """Ones of shape ``size``; float32 unless ``dtype``."""
    dtype = dtypes.as_dtype("ones", dtype) or dtypes.DEFAULT_FLOAT
    return _leaf("ones", np.ones(parse_sizes("ones", size), dtype), device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    """Of shape ``size``, values unspecified as torch's: minicnn gives zeros (so no run depends on stale memory)."""
    dtype = dtypes.as_dtype("empty", dtype) or dtypes.DEFAULT_FLOAT
    return _leaf("empty", np.zeros(parse_sizes("empty", size), dtype), device, requires_grad)


def _fill_dtype(op, fill_value, dtype):
    """torch's dtype for ``full``: bool for a bool, int64 for an int, float32 for a float."""
    if dtype is not None:
        return dtypes.as_dtype(op, dtype)
    if isinstance(fill_value, (bool, np.bool_)):
        return dtypes.bool_
    if isinstance(fill_value, (int, np.integer)):
        return dtypes.int64
    if isinstance(fill_value, (float, np.floating)):
        return dtypes.DEFAULT_FLOAT
    raise TypeError(f"{op}: expected fill_value as a number, got {type(fill_value).__name__}")


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere in shape ``size``; the dtype follows the value as torch (see :func:`_fill_dtype`)."""
    dtype = _fill_dtype("full", fill_value, dtype)
    shape = parse_sizes("full", (tuple(size) if isinstance(size, (tuple, list)) else (size,),))
    return _leaf("full", np.full(shape, fill_value, dtype), device, requires_grad)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    shape, own = _like("zeros_like", input)
    return zeros(shape, dtype=own if dtype is None else dtype, device=device, requires_grad=requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    shape, own = _like("ones_like", input)
    return ones(shape, dtype=own if dtype is None else dtype, device=device, requires_grad=requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    shape, own = _like("full_like", input)
    _fill_dtype("full_like", fill_value, dtype)  # refuses a fill_value that is not a number
    return full(shape, fill_value, dtype=own if dtype is None else dtype, device=device, requires_grad=requires_grad)


def _number(op, name, value):
    """An int or float (a bool is the int it is, a one-element Tensor its value, as in torch)."""
    if isinstance(value, Tensor) and value.numel() == 1:
        value = value.item()
    if not isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        raise TypeError(f"{op}: expected {name} as an int or float, got {type(value).__name__}")
    return int(value) if isinstance(value, (bool, np.bool_)) else value


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """``start, start + step, …`` below ``end`` (``arange(n)`` is 0 … n - 1): ``ceil((end - start) / step)``
    values, each ``start + i * step`` computed in float64; int64 when all three are ints, else float32."""
    start, end = (0, start) if end is None else (start, end)
    numbers = start, end, step = [_number("arange", name, v) for name, v in (("start", start), ("end", end),
                                                                             ("step", step))]
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and larger bound inconsistent with step sign (start={start}, "
                         f"end={end}, step={step})")
    floating = any(isinstance(v, (float, np.floating)) for v in numbers)
    dtype = dtypes.as_dtype("arange", dtype) or (dtypes.DEFAULT_FLOAT if floating else dtypes.int64)
    count = math.ceil((end - start) / step)
    if floating:
        values = np.float64(start) + np.arange(count, dtype=np.float64) * np.float64(step)
    else:
        values = start + np.arange(count, dtype=np.int64) * step
    return _leaf("arange", values.astype(dtype), device, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, float32 unless ``dtype``; torch's
    formula, computed in the output dtype: ``start + i * step`` for the first half, ``end - (steps - 1 - i) *
    step`` for the second, so both ends are exact."""
    _number("linspace", "start", start)
    _number("linspace", "end", end)
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: expected steps as an int >= 0, got {steps!r}")
    dtype = dtypes.as_dtype("linspace", dtype) or dtypes.DEFAULT_FLOAT
    work = dtype if dtype.kind == "f" else np.dtype(np.float64)
    first, last = work.type(start), work.type(end)
    step = (last - first) / work.type(max(steps - 1, 1))
    i = np.arange(steps)
    values = np.where(i < steps // 2, first + step * i.astype(work), last - step * (steps - 1 - i).astype(work))
    values = values.astype(work)
    if steps == 1:
        values[...] = first
    return _leaf("linspace", values.astype(dtype), device, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The ``n``×``m`` identity (``m = n`` by default); float32 unless ``dtype``."""
    for name, value in (("n", n), ("m", n if m is None else m)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"eye: expected {name} as an int >= 0, got {value!r}")
    dtype = dtypes.as_dtype("eye", dtype) or dtypes.DEFAULT_FLOAT
    return _leaf("eye", np.eye(n, m, dtype=dtype), device, requires_grad)


def from_numpy(array):
    """A Tensor sharing ``array``'s memory and dtype (float64 stays float64), as ``torch.from_numpy``."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype not in dtypes.DTYPES:
        raise TypeError(f"from_numpy: expected one of the dtypes {[d.name for d in dtypes.DTYPES]}, got {array.dtype}")
    return Tensor.wrap(array)


def as_tensor(data, dtype=None, device=None):
    """torch's ``as_tensor``: a Tensor as it is, an ndarray shared when its dtype is kept (as
    :func:`from_numpy`), anything else copied as :func:`minicnn.tensor` does; cast when ``dtype`` differs."""
    device_.on_cpu("as_tensor", device)
    dtype = dtypes.as_dtype("as_tensor", dtype)
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray):
        return from_numpy(data if dtype is None or dtype == data.dtype else data.astype(dtype))
    return Tensor(data, dtype=dtype)
