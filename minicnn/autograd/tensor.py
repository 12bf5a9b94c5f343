"""``Tensor``: a numpy array that remembers how it was computed, with torch's methods.

``.array`` is the ndarray itself (NCHW, float32 or float64 for anything
differentiable): what the engine hands to each op's forward, and what the
kernels compute on.  ``.data`` is torch's: the same values as a new Tensor that
shares the memory and is cut from the graph (``p.data.fill_(0)`` writes into
``p``), and ``.numpy()`` the ndarray of a tensor that needs no gradient.
``.grad`` (an ndarray) is filled by :meth:`Tensor.backward` for leaves (tensors
made with ``requires_grad=True`` and Parameters); ``.grad_fn`` is the
:class:`~minicnn.autograd.engine.Node` that produced a computed tensor.
Arithmetic, reductions and reshapes are ops of :mod:`minicnn.autograd.ops`, so
they are recorded like the network's layers.

**In place.** The ``_`` methods (``fill_``, ``zero_``, ``add_`` …), ``+=`` and
friends, and ``x[i] = v`` write into the tensor's own array, so every tensor
sharing it (``.data``, ``.detach()``, a view) sees the change, as in torch.
torch's rules: on a leaf that requires grad they raise while grad mode is on
(do it under ``no_grad()``, as an optimiser does).  Arithmetic in place on a
tensor that is part of a graph (``out += identity`` in a residual block) is
recorded, and the tensor then stands for the result; minicnn computes that
result in a new array, so a view taken *before* keeps the old values (torch's
would follow).  ``fill_``, ``zero_``, ``normal_``, ``uniform_`` and ``x[i] = v``
on a tensor that is part of a graph are refused: minicnn does not record them.
minicnn has no version counter: an array an op saved for its backward, changed
in place before ``backward()``, changes that gradient (torch raises instead).
"""
import collections

import numpy as np

from .. import device as device_
from .. import dtypes
from ..rng import get_rng
from ..kernels.checks import FLOAT_DTYPES
from . import engine
from .engine import is_grad_enabled

LEAF_IN_PLACE = "a leaf Variable that requires grad is being used in an in-place operation."


def _to_array(data, dtype):
    dtype = dtypes.as_dtype("tensor", dtype)
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, np.ndarray):
        array = np.array(data, dtype=dtype, copy=True)
    else:
        array = np.array(data, dtype=dtype)
        if dtype is None and array.dtype == np.float64:
            array = array.astype(np.float32)  # torch's default dtype for Python floats
    if array.dtype not in dtypes.DTYPES:
        raise TypeError(f"Tensor: expected numbers (a list, scalar or numeric ndarray), got dtype {array.dtype}")
    return array


class Tensor:
    """An ndarray with an optional gradient, as ``torch.Tensor``.

    Parameters
    ----------
    data : array-like; copied.  Python floats become float32, as in torch; an
        ndarray keeps its dtype.
    requires_grad : bool; only float32/float64 tensors can require a gradient
    dtype : dtype, optional (``minicnn.float32`` … or a numpy dtype)
    """
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op

    def __init__(self, data, requires_grad=False, dtype=None):
        self._init(_to_array(data, dtype), requires_grad)

    def _init(self, array, requires_grad):
        if requires_grad and array.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Tensor: only float32/float64 tensors can require grad, got dtype {array.dtype}")
        self.array = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None

    @classmethod
    def wrap(cls, array, requires_grad=False):
        """A Tensor around ``array`` itself (no copy): ops' outputs, and ndarrays handed to layers."""
        t = cls.__new__(cls)
        Tensor._init(t, np.asarray(array), requires_grad)
        return t

    @property
    def data(self):
        """torch's ``.data``: a Tensor sharing this one's array, cut from the graph (no gradient)."""
        return Tensor.wrap(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other`` makes ``t`` hold ``other``'s array (a Tensor's, or an ndarray itself)."""
        array = value.array if isinstance(value, Tensor) else value
        if not isinstance(array, np.ndarray):
            raise TypeError(f"Tensor.data: expected a Tensor or ndarray, got {type(value).__name__}")
        if self.requires_grad and array.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Tensor.data: a tensor that requires grad needs float32/float64 data, got {array.dtype}")
        self.array = array

    # ------------------------------------------------------------------ autograd
    @property
    def is_leaf(self):
        return self.grad_fn is None

    def backward(self, gradient=None, retain_graph=False):
        """Accumulate d self / d leaf into every leaf's ``.grad`` (see :func:`minicnn.autograd.engine.backward`)."""
        engine.backward(self, gradient, retain_graph)

    def retain_grad(self):
        """Keep ``.grad`` on this computed tensor too (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            self.grad_fn.retained = self
        return self

    def requires_grad_(self, requires_grad=True):
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError("you can only change requires_grad flags of leaf variables")
        if requires_grad and self.array.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Tensor: only float32/float64 tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same data, cut from the graph (no copy, as torch)."""
        return Tensor.wrap(self.array)

    # ------------------------------------------------------------------ numpy and Python side
    def numpy(self, force=False):
        """The ndarray itself (no copy), as torch's; refused while the tensor requires grad."""
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.array

    def __array__(self, dtype=None, copy=None):
        a = self.array if dtype is None else self.array.astype(dtype, copy=False)
        return a.copy() if copy else a

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"a Tensor with {self.array.size} elements cannot be converted to Scalar")
        return self.array.reshape(-1)[0].item()

    def tolist(self):
        return self.array.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.array.size} values is ambiguous")
        return bool(self.array.reshape(-1)[0])

    def __index__(self):
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def ndim(self):
        return self.array.ndim

    def size(self, dim=None):
        return self.array.shape if dim is None else self.array.shape[normalize_dim("size", dim, self.ndim)]

    def dim(self):
        return self.array.ndim

    def numel(self):
        return int(self.array.size)

    nelement = numel

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def is_contiguous(self, memory_format=None):
        """True when the array is C-ordered (always, for minicnn's own results); ``memory_format`` as torch's."""
        device_.check_memory_format("Tensor.is_contiguous", memory_format)
        if memory_format is device_.channels_last or memory_format is device_.channels_last_3d:
            # torch's test of the strides, channels first, then the spatial dims from the last, then N (dims of
            # size 1 skipped): minicnn's C-ordered arrays pass it only where C or H*W is 1
            order = (1, 3, 2, 0) if memory_format is device_.channels_last else (1, 4, 3, 2, 0)
            if self.ndim != len(order):
                return False
            expected = 1
            for d in order:
                if self.shape[d] != 1:
                    if self.array.strides[d] != expected * self.array.itemsize:
                        return False
                    expected *= self.shape[d]
            return True
        return bool(self.array.flags.c_contiguous)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.array)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        grad = f", grad_fn={self.grad_fn!r}" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        body = np.array2string(self.array, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    # ------------------------------------------------------------------ device and dtype
    @property
    def device(self):
        return device_.CPU

    @property
    def is_cuda(self):
        return False

    # torch's other accelerators' flags, which programs test beside is_cuda
    is_xpu = is_mps = is_meta = is_cuda

    def cpu(self):
        return self

    def cuda(self, device=None, non_blocking=False):
        """Refused: minicnn runs on the CPU only (RuntimeError)."""
        device_.on_cpu("Tensor.cuda", device_.device("cuda" if device is None else device))

    def to(self, *args, **kwargs):
        """torch's ``to``: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``, with
        ``non_blocking=`` and ``copy=``.  The same tensor when nothing changes (as torch); a dtype change
        is a recorded cast (the gradient is cast back); a device other than the CPU raises RuntimeError."""
        return self._to("Tensor.to", args, kwargs)

    def _to(self, op, args, kwargs):
        _, dtype, copy = device_.to_arguments(op, args, kwargs, self.ndim)
        if dtype is None or dtype == self.dtype:
            return self.clone() if copy else self
        return self._cast(dtype, op)

    def _cast(self, dtype, op="Tensor.to"):
        if dtype in FLOAT_DTYPES:
            return ops.Cast.apply(self, dtype)
        if dtype.kind == "f" and self.requires_grad and is_grad_enabled():
            raise TypeError(f"{op}: minicnn computes gradients in float32 and float64 only, got {dtype} for a "
                            f"tensor that requires grad (cast under no_grad(), or detach() it first)")
        return Tensor.wrap(self.array.astype(dtype))  # integers and bools carry no gradient

    def type(self, dtype=None, non_blocking=False):
        """No argument: torch's type name (``'torch.FloatTensor'``); else ``to(dtype)`` (a dtype, or such a name)."""
        if dtype is None:
            return dtypes.TYPE_NAMES[self.dtype]
        if isinstance(dtype, str):
            names = {name: d for d, name in dtypes.TYPE_NAMES.items()}
            if dtype not in names:
                raise ValueError(f"Tensor.type: expected one of {sorted(names)}, got {dtype!r}")
            dtype = names[dtype]
        return self.to(dtypes.as_dtype("Tensor.type", dtype))

    def float(self, memory_format=None):
        return self._to("Tensor.float", (dtypes.float32,), {"memory_format": memory_format})

    def double(self, memory_format=None):
        return self._to("Tensor.double", (dtypes.float64,), {"memory_format": memory_format})

    def half(self, memory_format=None):
        return self._to("Tensor.half", (dtypes.float16,), {"memory_format": memory_format})

    def long(self, memory_format=None):
        return self._to("Tensor.long", (dtypes.int64,), {"memory_format": memory_format})

    def int(self, memory_format=None):
        return self._to("Tensor.int", (dtypes.int32,), {"memory_format": memory_format})

    def bool(self, memory_format=None):
        return self._to("Tensor.bool", (dtypes.bool_,), {"memory_format": memory_format})

    def byte(self, memory_format=None):
        return self._to("Tensor.byte", (dtypes.uint8,), {"memory_format": memory_format})

    # ------------------------------------------------------------------ arithmetic (recorded)
    def __add__(self, other):
        return ops.Add.apply(self, other)

    def __radd__(self, other):
        return ops.Add.apply(other, self)

    def __sub__(self, other):
        return ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return ops.Sub.apply(other, self)

    def __mul__(self, other):
        return ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return ops.Div.apply(other, self)

    def __neg__(self):
        return ops.Mul.apply(self, -1)

    def __pow__(self, exponent):
        return ops.Pow.apply(self, exponent)

    def __rpow__(self, base):
        return ops.Pow.apply(_operand("pow", base), self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul.apply(other, self)

    def add(self, other, alpha=1):
        return self + (other if alpha == 1 else other * alpha)

    def sub(self, other, alpha=1):
        return self - (other if alpha == 1 else other * alpha)

    def mul(self, other):
        return self * other

    def div(self, other, *, rounding_mode=None):
        """``self / other``; ``rounding_mode='trunc'`` or ``'floor'`` rounds the quotient (in the operands' dtype,
        with no gradient), as torch's ``div``."""
        if rounding_mode is None:
            return self / other
        if rounding_mode not in ("trunc", "floor"):
            raise ValueError(f"div: expected rounding_mode to be one of None, 'trunc', or 'floor', got "
                             f"{rounding_mode!r}")
        return ops.DivRounded.apply(self, _operand("div", other), rounding_mode)

    def neg(self):
        return -self

    def pow(self, exponent):
        return ops.Pow.apply(self, exponent)

    def matmul(self, other):
        return ops.MatMul.apply(self, other)

    mm = matmul

    def __getitem__(self, index):
        return ops.Index.apply(self, _plain_index(index))

    # ------------------------------------------------------------------ elementwise (recorded)
    def exp(self):
        return ops.Exp.apply(_floating(self))

    def log(self):
        return ops.Log.apply(_floating(self))

    def sqrt(self):
        return ops.Sqrt.apply(_floating(self))

    def abs(self):
        return ops.Abs.apply(self)

    def clamp(self, min=None, max=None):
        """``min(max(x, min), max)``; either bound may be None, not both; both numbers or both tensors (which
        broadcast, and get gradients), as torch's ``clamp`` (see ``ops.Clamp`` and ``ops.ClampTensor``)."""
        bounds = [b for b in (min, max) if b is not None]
        if not bounds:
            raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
        if all(isinstance(b, (Tensor, np.ndarray)) for b in bounds):
            return ops.ClampTensor.apply(self, min, max)
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, (int, float, np.number))):
                raise TypeError(f"clamp: expected min and max as numbers or as Tensors (not mixed), or None; got "
                                f"{name} as {type(bound).__name__}")
        return ops.Clamp.apply(self, min, max)

    clip = clamp

    def maximum(self, other):
        return ops.Maximum.apply(self, _operand("maximum", other), np.maximum)

    def minimum(self, other):
        return ops.Maximum.apply(self, _operand("minimum", other), np.minimum)

    def relu(self):
        from .. import functional as F
        return F.relu(self)

    def sigmoid(self):
        from .. import functional as F
        return F.sigmoid(_floating(self))

    def tanh(self):
        from .. import functional as F
        return F.tanh(_floating(self))

    def softmax(self, dim, dtype=None):
        from .. import functional as F
        return F.softmax(self, dim, dtype=dtype)

    def log_softmax(self, dim, dtype=None):
        from .. import functional as F
        return F.log_softmax(self, dim, dtype=dtype)

    def clone(self, memory_format=None):
        """A copy, recorded: the gradient passes through to this tensor."""
        device_.check_memory_format("Tensor.clone", memory_format, self.ndim)
        return ops.Clone.apply(self)

    def contiguous(self, memory_format=None):
        device_.check_memory_format("Tensor.contiguous", memory_format, self.ndim)
        return self if self.is_contiguous() else self.clone()

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, dtype=None):
        source = self if dtype is None else self.to(dtypes.as_dtype("sum", dtype))
        return ops.Sum.apply(source, _dims("sum", dim, self.ndim), keepdim)

    def mean(self, dim=None, keepdim=False, dtype=None):
        source = self if dtype is None else self.to(dtypes.as_dtype("mean", dtype))
        _need_float("mean", source)
        return ops.Mean.apply(source, _dims("mean", dim, self.ndim), keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """The variance over ``dim`` (all by default), unbiased (``n - 1``) by default as torch;
        ``unbiased=False`` or ``correction=0`` divides by ``n``."""
        dim, correction = _correction("var", dim, unbiased, correction)
        _need_float("var", self)
        return ops.Var.apply(self, _dims("var", dim, self.ndim), correction, keepdim)

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None):
        """``sqrt(var(...))``, the same arguments as :meth:`var`."""
        dim, correction = _correction("std", dim, unbiased, correction)
        _need_float("std", self)
        return ops.Std.apply(self, _dims("std", dim, self.ndim), correction, keepdim)

    def max(self, dim=None, keepdim=False):
        """torch's ``max``: of all entries (a 0-d tensor; the gradient is shared among tied maxima); with
        ``dim``, the named pair ``(values, indices)`` of each row (the gradient goes to the index given,
        the first maximum); with a tensor, the elementwise :meth:`maximum`."""
        return self._extreme("max", dim, keepdim)

    def min(self, dim=None, keepdim=False):
        """As :meth:`max`, for the minimum."""
        return self._extreme("min", dim, keepdim)

    def _extreme(self, op, dim, keepdim):
        if isinstance(dim, (Tensor, np.ndarray)):
            return self.maximum(dim) if op == "max" else self.minimum(dim)
        if self.numel() == 0:
            raise ValueError(f"{op}: expected a non-empty tensor, got shape {self.shape}")
        if dim is None:
            if keepdim:
                raise TypeError(f"{op}: keepdim needs a dim")
            return ops.Extreme.apply(self, np.max if op == "max" else np.min, None, False)
        dim = normalize_dim(op, dim, self.ndim)
        source = self.reshape(1) if self.ndim == 0 else self
        pick = np.argmax if op == "max" else np.argmin
        indices = np.expand_dims(pick(source.array, axis=dim), dim)
        values = ops.TakeAlong.apply(source, dim, indices)
        if not keepdim or self.ndim == 0:
            values, indices = values.reshape(values.shape[:dim] + values.shape[dim + 1:]), indices.squeeze(dim)
        return (MAX if op == "max" else MIN)(values, Tensor.wrap(indices))

    def amax(self, dim=(), keepdim=False):
        """The maximum over ``dim`` (one dim or several; ``()``, the default, is every dim), as torch's
        ``amax``: the gradient of each slice is shared evenly among its tied maxima (``max`` with a dim gives
        it all to the first)."""
        return self._amax("amax", np.max, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        """As :meth:`amax`, for the minimum."""
        return self._amax("amin", np.min, dim, keepdim)

    def _amax(self, op, pick, dim, keepdim):
        dims = _dims(op, None if isinstance(dim, (tuple, list)) and len(dim) == 0 else dim, self.ndim)
        axes = tuple(range(self.ndim)) if dims is None else dims
        if any(self.shape[d] == 0 for d in axes) or (self.ndim == 0 and self.numel() == 0):
            raise ValueError(f"{op}: expected a non-empty dim to reduce, got shape {self.shape} and dim {dim!r}")
        return ops.Extreme.apply(self, pick, axes, bool(keepdim))

    def argmax(self, dim=None, keepdim=False):
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return self._arg(np.argmin, dim, keepdim)

    def _arg(self, pick, dim, keepdim):
        if dim is None:
            index = np.asarray(pick(self.array))
            return Tensor.wrap(index.reshape((1,) * self.ndim) if keepdim else index)
        return Tensor.wrap(pick(self.array, axis=normalize_dim(pick.__name__, dim, self.ndim), keepdims=keepdim))

    def all(self, dim=None, keepdim=False):
        return Tensor.wrap(np.asarray(self.array.all(axis=_dims("all", dim, self.ndim), keepdims=keepdim)))

    def any(self, dim=None, keepdim=False):
        return Tensor.wrap(np.asarray(self.array.any(axis=_dims("any", dim, self.ndim), keepdims=keepdim)))

    # ------------------------------------------------------------------ shapes (recorded)
    def reshape(self, *shape):
        return ops.Reshape.apply(self, parse_sizes("reshape", shape, allow_minus_one=True))

    view = reshape

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def flatten(self, start_dim=0, end_dim=-1):
        """``torch.flatten``: dims ``start_dim..end_dim`` merged into one (a recorded reshape); a 0-d
        tensor becomes 1-d.  Dims that torch refuses are refused (:func:`flatten_dims`)."""
        start, end = flatten_dims("flatten", self.shape, start_dim, end_dim)
        if self.ndim == 0:
            return self.reshape(1)
        shape = self.shape[:start] + (int(np.prod(self.shape[start:end + 1])),) + self.shape[end + 1:]
        return self.reshape(shape)

    def squeeze(self, dim=None):
        """Drop the size-1 dims (all, or those of ``dim``: an int or tuple; a dim of another size stays, as torch)."""
        dims = range(self.ndim) if dim is None else _dims("squeeze", dim, self.ndim)
        drop = {d for d in dims if self.ndim and self.shape[d] == 1}
        return self.reshape(tuple(n for d, n in enumerate(self.shape) if d not in drop))

    def unsqueeze(self, dim):
        """A size-1 dim inserted at ``dim``, in ``[-ndim - 1, ndim]``."""
        dim = normalize_dim("unsqueeze", dim, self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def permute(self, *dims):
        dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        axes = tuple(normalize_dim("permute", d, self.ndim) for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: expected a permutation of the {self.ndim} dims, got {tuple(dims)}")
        return ops.Transpose.apply(self, axes)

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        d0, d1 = normalize_dim("transpose", dim0, self.ndim), normalize_dim("transpose", dim1, self.ndim)
        if self.ndim:  # (a 0-d tensor's one dim, 0 or -1, is no axis: it is its own transpose)
            axes[d0], axes[d1] = axes[d1], axes[d0]
        return ops.Transpose.apply(self, tuple(axes))

    def split(self, split_size_or_sections, dim=0):
        """torch's ``split``: pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the
        sizes in a list (which must add up to the dim's size); a tuple of Tensors, each a slice (its
        backward puts the gradient back in its place)."""
        dim = normalize_dim("split", dim, self.ndim)
        size = self.shape[dim]
        if isinstance(split_size_or_sections, (list, tuple)):
            sizes = list(split_size_or_sections)
            if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 for n in sizes) or \
                    sum(sizes) != size:
                raise ValueError(f"split: expected non-negative int sizes adding up to {size} (dim {dim}), got {sizes}")
        else:
            n = split_size_or_sections
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0 or (n == 0 and size):
                raise ValueError(f"split: expected split_size as an int >= 1, got {n!r}")
            sizes = [min(n, size - start) for start in range(0, size, n)] if size else [0]
        pieces, start = [], 0
        for n in sizes:
            pieces.append(self[(slice(None),) * dim + (slice(start, start + n),)])
            start += n
        return tuple(pieces)

    def chunk(self, chunks, dim=0):
        """torch's ``chunk``: ``chunks`` pieces of ``ceil(size / chunks)`` along ``dim`` (fewer where the
        size runs out), a tuple of slices."""
        if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
            raise ValueError(f"chunk: expected chunks as an int >= 1, got {chunks!r}")
        size = self.shape[normalize_dim("chunk", dim, self.ndim)]
        return self.split(max(1, -(-size // chunks)), dim)

    def t(self):
        """The transpose of a 2-D tensor; a 0-D or 1-D tensor as it is (torch's ``t``)."""
        if self.ndim > 2:
            raise ValueError(f"t(): expected a tensor of at most 2 dims, got shape {self.shape}")
        return ops.Transpose.apply(self, tuple(range(self.ndim))[::-1])

    @property
    def T(self):
        """All dims reversed (the transpose for 2-D)."""
        return ops.Transpose.apply(self, tuple(range(self.ndim))[::-1])

    def expand(self, *sizes):
        """A read-only broadcast view of size ``sizes``: -1 keeps a dim; a dim can grow only from 1;
        new dims go in front (torch's ``expand``)."""
        sizes = parse_sizes("expand", sizes, allow_minus_one=True)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: expected at least {self.ndim} sizes for shape {self.shape}, got {sizes}")
        shape = []
        for i, n in enumerate(sizes):
            old = self.shape[i - lead] if i >= lead else None
            if n == -1 and old is None:
                raise ValueError(f"expand: -1 is not allowed in a new leading dim, got {sizes}")
            n = old if n == -1 else n
            if old is not None and old not in (1, n):
                raise ValueError(f"expand: the size {old} of dim {i - lead} (shape {self.shape}) must match {n} "
                                 f"or be 1")
            shape.append(n)
        return ops.Expand.apply(self, tuple(shape))

    def expand_as(self, other):
        return self.expand(tuple(other.shape))

    def repeat(self, *sizes):
        """Tiled ``sizes[i]`` times along each dim (at least ``ndim`` sizes; extra ones add leading dims)."""
        sizes = parse_sizes("repeat", sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: expected at least {self.ndim} sizes for shape {self.shape}, got {sizes}")
        return ops.Repeat.apply(self, sizes)

    # ------------------------------------------------------------------ comparisons (bool tensors)
    def _compare(self, other, op):
        return Tensor.wrap(np.asarray(op(self.array, other.array if isinstance(other, Tensor) else other)))

    def __eq__(self, other):
        return self._compare(other, np.equal)

    def __ne__(self, other):
        return self._compare(other, np.not_equal)

    def __lt__(self, other):
        return self._compare(other, np.less)

    def __le__(self, other):
        return self._compare(other, np.less_equal)

    def __gt__(self, other):
        return self._compare(other, np.greater)

    def __ge__(self, other):
        return self._compare(other, np.greater_equal)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def _logical(self, other, op, name):
        for t in (self, other):
            if isinstance(t, float) or isinstance(t, (Tensor, np.ndarray)) and t.dtype.kind not in "biu":
                raise TypeError(f"{name}: expected bool or integer tensors, got {getattr(t, 'dtype', 'a float')}")
        return self._compare(other, op)

    def __and__(self, other):
        return self._logical(other, np.bitwise_and, "and")

    def __or__(self, other):
        return self._logical(other, np.bitwise_or, "or")

    def __xor__(self, other):
        return self._logical(other, np.bitwise_xor, "xor")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        """``~mask``: logical not of a bool tensor (bitwise not of an integer one), as torch."""
        return self._logical(None, lambda a, _: np.invert(a), "invert")

    def logical_not(self):
        return Tensor.wrap(np.logical_not(self.array))

    def __abs__(self):
        return self.abs()

    def equal(self, other):
        """True when ``other`` has this shape and these values (``torch.equal``)."""
        other = other.array if isinstance(other, Tensor) else np.asarray(other)
        return self.shape == other.shape and bool(np.array_equal(self.array, other))

    # ------------------------------------------------------------------ in place (see the module docstring)
    def _may_write(self, op, recorded):
        """torch's rule for an in-place op, and minicnn's for the ones it does not record."""
        if self.requires_grad and is_grad_enabled():
            if self.grad_fn is None:
                raise RuntimeError(f"{op}: {LEAF_IN_PLACE}")
            if not recorded:
                raise RuntimeError(f"{op}: minicnn does not record {op} on a tensor that is part of a graph; "
                                   f"compute a new tensor instead (minicnn.full_like, minicnn.where)")

    def _in_place(self, op, compute):
        """Arithmetic in place: ``compute()`` (the new value, out of place) becomes this tensor's value,
        written into its array, or, when recorded, standing in for it (the module docstring says why)."""
        self._may_write(op, recorded=True)
        result = compute()
        if result.shape != self.shape:
            raise ValueError(f"{op}: output with shape {self.shape} doesn't match the broadcast shape {result.shape}")
        if result.dtype != self.dtype:
            if not np.can_cast(result.dtype, self.dtype, "same_kind"):
                raise TypeError(f"{op}: result type {result.dtype} can't be cast to the desired output type "
                                f"{self.dtype}")
            result = result._cast(self.dtype)
        if result.requires_grad:
            self.array, self.grad_fn, self.requires_grad = result.array, result.grad_fn, True
        else:
            self.array[...] = result.array
        return self

    def _write(self, op, write):
        """A write that is not recorded: ``write(array)`` on this tensor's array (numpy casts as torch does)."""
        self._may_write(op, recorded=False)
        write(self.array)
        return self

    def __iadd__(self, other):
        return self._in_place("add_", lambda: self + other)

    def __isub__(self, other):
        return self._in_place("sub_", lambda: self - other)

    def __imul__(self, other):
        return self._in_place("mul_", lambda: self * other)

    def __itruediv__(self, other):
        return self._in_place("div_", lambda: self / other)

    def add_(self, other, alpha=1):
        return self._in_place("add_", lambda: self.add(other, alpha))

    def sub_(self, other, alpha=1):
        return self._in_place("sub_", lambda: self.sub(other, alpha))

    def mul_(self, other):
        return self._in_place("mul_", lambda: self * other)

    def div_(self, other):
        return self._in_place("div_", lambda: self / other)

    def pow_(self, exponent):
        return self._in_place("pow_", lambda: self ** exponent)

    def clamp_(self, min=None, max=None):
        return self._in_place("clamp_", lambda: self.clamp(min, max))

    clip_ = clamp_

    def copy_(self, src):
        """This tensor's values replaced by ``src``'s (broadcast to this shape, cast to this dtype)."""
        src = src.array if isinstance(src, Tensor) else np.asarray(src)

        def write(array):
            array[...] = np.broadcast_to(src, array.shape)
        return self._write("copy_", write)

    def fill_(self, value):
        value = value.item() if isinstance(value, Tensor) else value
        return self._write("fill_", lambda array: array.fill(value))

    def zero_(self):
        return self._write("zero_", lambda array: array.fill(0))

    def normal_(self, mean=0.0, std=1.0):
        """Entries drawn from N(mean, std²) by minicnn's seeded generator (:func:`minicnn.manual_seed`)."""
        _need_float("normal_", self)

        def write(array):
            array[...] = get_rng().normal(mean, std, array.shape)
        return self._write("normal_", write)

    def uniform_(self, low=0.0, high=1.0):
        """Entries drawn from U(low, high) by minicnn's seeded generator (:func:`minicnn.manual_seed`)."""
        _need_float("uniform_", self)

        def write(array):
            array[...] = get_rng().uniform(low, high, array.shape)
        return self._write("uniform_", write)

    def __setitem__(self, index, value):
        """``x[index] = value`` into this tensor's array (numbers, ndarrays, or tensors that need no gradient)."""
        if isinstance(value, Tensor) and value.requires_grad and is_grad_enabled():
            raise RuntimeError("x[index] = value: minicnn does not record assigning a tensor that requires grad; "
                               "build the result with minicnn.cat or minicnn.where instead")
        value = value.array if isinstance(value, Tensor) else value

        def write(array):
            array[_plain_index(index)] = value
        self._write("x[index] = value", write)


MAX = collections.namedtuple("max", ["values", "indices"])
MIN = collections.namedtuple("min", ["values", "indices"])
MAX.__doc__ = "``max(x, dim)``'s result, as ``torch.return_types.max``: ``(values, indices)``."
MIN.__doc__ = "``min(x, dim)``'s result, as ``torch.return_types.min``: ``(values, indices)``."


class DimensionError(ValueError, IndexError):
    """A dim outside a tensor's dims: a ValueError (minicnn's bad-input convention) that is also the
    IndexError torch raises for it ("Dimension out of range"), so either ``except`` catches it."""


def normalize_dim(op, dim, ndim):
    """``dim`` as a non-negative dim of an ``ndim``-D tensor (a 0-d tensor takes -1 and 0, as torch)."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: expected dim as an int, got {type(dim).__name__} {dim!r}")
    nd = max(ndim, 1)
    if not -nd <= dim < nd:
        raise DimensionError(f"{op}: Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                             f"but got {dim})")
    return int(dim) % nd


def _dims(op, dim, ndim):
    """None (all dims), or a dim or tuple of dims as a tuple of non-negative dims (0-d: ``()``)."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    dims = tuple(normalize_dim(op, d, ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise ValueError(f"{op}: dim {dim!r} names a dim twice")
    return dims if ndim else ()


def parse_sizes(op, sizes, allow_minus_one=False):
    """``f(2, 3)`` or ``f((2, 3))`` as a tuple of ints >= 0 (and -1 where that means "infer" or "keep")."""
    if not sizes:
        raise TypeError(f"{op}: expected sizes (ints, or one tuple of ints), got none")
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else tuple(sizes)
    for n in sizes:
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or \
                n < (-1 if allow_minus_one else 0):
            raise ValueError(f"{op}: expected sizes as ints >= {-1 if allow_minus_one else 0}, got {sizes!r}")
    return tuple(int(n) for n in sizes)


def _correction(op, dim, unbiased, correction):
    """torch's two spellings: ``unbiased`` (True: n - 1) or ``correction``; ``var(False)`` is ``unbiased=False``."""
    if isinstance(dim, (bool, np.bool_)):
        dim, unbiased = None, bool(dim)
    if correction is None:
        return dim, 1 if unbiased else 0
    if not isinstance(correction, (int, np.integer, float, np.floating)):  # (any number, as torch: the divisor
        raise TypeError(f"{op}: expected correction as a number, got {type(correction).__name__}")  # is max(0, n - c))
    return dim, float(correction) if isinstance(correction, (float, np.floating)) else int(correction)


def _need_float(op, t):
    if t.dtype.kind != "f":
        raise TypeError(f"{op}(): could not infer output dtype. Input dtype must be either a floating point or "
                        f"complex dtype. Got: {t.dtype}")


def _floating(t):
    """An integer or bool tensor as float32 (torch's result dtype for exp, log, sqrt, sigmoid, tanh)."""
    return t if t.dtype.kind == "f" else t._cast(dtypes.DEFAULT_FLOAT)


def _operand(op, other):
    if isinstance(other, (Tensor, np.ndarray, int, float, np.number)):
        return other
    raise TypeError(f"{op}: expected a Tensor, ndarray or number, got {type(other).__name__}")


def flatten_dims(op, shape, start_dim, end_dim):
    """``(start, end)`` as non-negative dims of ``shape`` for ``op`` (flatten, Flatten), or refused as torch:
    TypeError for a non-int, :class:`DimensionError` (ValueError and IndexError) for a dim outside
    ``[-ndim, ndim - 1]`` (a 0-d tensor counts as 1-d), ValueError where torch raises RuntimeError:
    start_dim after end_dim."""
    nd = max(len(shape), 1)
    dims = []
    for name, dim in (("start_dim", start_dim), ("end_dim", end_dim)):
        if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{op}: expected {name} as an int, got {type(dim).__name__} {dim!r}")
        if not -nd <= dim < nd:
            out_of_range = f"{name}={dim} is out of range (expected to be in range of [{-nd}, {nd - 1}])"
            if dim >= 0:
                raise DimensionError(f"{op}: expected at least a {dim + 1}-D input, got shape {tuple(shape)}: "
                                     f"{out_of_range}")
            raise DimensionError(f"{op}: {out_of_range} for an input of shape {tuple(shape)}")
        dims.append(int(dim) % nd)
    if dims[0] > dims[1]:
        raise ValueError(f"{op}: start_dim cannot come after end_dim (got start_dim={start_dim}, end_dim={end_dim} "
                         f"for an input of shape {tuple(shape)})")
    return tuple(dims)


def _plain_index(index):
    """An index with Tensors replaced by their arrays (integer or boolean tensors index like arrays)."""
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    return index.array if isinstance(index, Tensor) else index


def tensor(data, *, dtype=None, device=None, requires_grad=False):
    """``torch.tensor``: a new leaf Tensor holding a copy of ``data`` (Python floats become float32)."""
    device_.on_cpu("tensor", device)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x, name="input"):
    """``x`` as a Tensor: a Tensor as it is, an ndarray wrapped without a copy; anything else a TypeError.

    (What the ops call on their inputs; torch's ``as_tensor(data, dtype, device)`` is
    :func:`minicnn.autograd.creation.as_tensor`.)"""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor.wrap(x)
    raise TypeError(f"{name}: expected a minicnn.Tensor or numpy.ndarray, got {type(x).__name__}")


from . import ops  # noqa: E402  (ops build Tensors; Tensor methods call ops)
