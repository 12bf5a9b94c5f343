"""``Tensor``: a numpy array that remembers how it was computed.

``.data`` is the ndarray (NCHW, float32 or float64 for anything
differentiable); ``.grad`` is filled by :meth:`Tensor.backward` for leaves
(tensors made with ``requires_grad=True`` and Parameters); ``.grad_fn`` is
the :class:`~minicnn.autograd.engine.Node` that produced a computed tensor.
Arithmetic, reductions and reshapes are ops of :mod:`minicnn.autograd.ops`,
so they are recorded like the network's layers.
"""
import numpy as np

from ..kernels.checks import FLOAT_DTYPES
from . import engine


def _to_array(data, dtype):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray):
        return np.array(data, dtype=dtype, copy=True)
    array = np.array(data, dtype=dtype)
    if dtype is None and array.dtype == np.float64:
        array = array.astype(np.float32)  # torch's default dtype for Python floats
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Tensor: expected numbers (a list, scalar or numeric ndarray), got dtype {array.dtype}")
    return array


class Tensor:
    """An ndarray with an optional gradient, as ``torch.Tensor``.

    Parameters
    ----------
    data : array-like; copied.  Python floats become float32, as in torch; an
        ndarray keeps its dtype.
    requires_grad : bool; only float32/float64 tensors can require a gradient
    dtype : numpy dtype, optional
    """
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected op

    def __init__(self, data, requires_grad=False, dtype=None):
        self._init(_to_array(data, dtype), requires_grad)

    def _init(self, data, requires_grad):
        if requires_grad and data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Tensor: only float32/float64 tensors can require grad, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.grad_fn = None

    @classmethod
    def wrap(cls, array, requires_grad=False):
        """A Tensor around ``array`` itself (no copy): ops' outputs, and ndarrays handed to layers."""
        t = cls.__new__(cls)
        Tensor._init(t, np.asarray(array), requires_grad)
        return t

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
        if requires_grad and self.data.dtype not in FLOAT_DTYPES:
            raise TypeError(f"Tensor: only float32/float64 tensors can require grad, got dtype {self.dtype}")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self):
        """The same data, cut from the graph (no copy, as torch)."""
        return Tensor.wrap(self.data)

    # ------------------------------------------------------------------ numpy side
    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.data

    def __array__(self, dtype=None, copy=None):
        a = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return a.copy() if copy else a

    def item(self):
        if self.data.size != 1:
            raise ValueError(f"a Tensor with {self.data.size} elements cannot be converted to Scalar")
        return self.data.reshape(-1)[0].item()

    def tolist(self):
        return self.data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.data.size} values is ambiguous")
        return bool(self.data.reshape(-1)[0])

    def __index__(self):
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def device(self):
        return "cpu"

    def size(self, dim=None):
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self):
        return self.data.ndim

    def numel(self):
        return int(self.data.size)

    def __len__(self):
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __hash__(self):
        return id(self)

    def __repr__(self):
        grad = f", grad_fn={self.grad_fn!r}" if self.grad_fn is not None else (
            ", requires_grad=True" if self.requires_grad else "")
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        return f"tensor({body}, dtype={self.dtype}{grad})"

    # ------------------------------------------------------------------ dtype
    def to(self, dtype):
        """A copy in ``dtype`` (recorded: the gradient is cast back); ``"cpu"`` is accepted and changes nothing."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        return ops.Cast.apply(self, np.dtype(dtype))

    def float(self):
        return self.to(np.float32)

    def double(self):
        return self.to(np.float64)

    def long(self):
        return Tensor.wrap(self.data.astype(np.int64))

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

    def __matmul__(self, other):
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul.apply(other, self)

    def __getitem__(self, index):
        return ops.Index.apply(self, _plain_index(index))

    def sum(self, dim=None, keepdim=False):
        return ops.Sum.apply(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return ops.Mean.apply(self, dim, keepdim)

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return ops.Reshape.apply(self, tuple(int(s) for s in shape))

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        """``torch.flatten``: dims ``start_dim..end_dim`` merged into one (a recorded reshape); a 0-d
        tensor becomes 1-d.  Dims that torch refuses are refused (:func:`flatten_dims`)."""
        start, end = flatten_dims("flatten", self.shape, start_dim, end_dim)
        if self.ndim == 0:
            return self.reshape(1)
        shape = self.shape[:start] + (int(np.prod(self.shape[start:end + 1])),) + self.shape[end + 1:]
        return self.reshape(shape)

    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def abs(self):
        return ops.Abs.apply(self)

    def t(self):
        if self.ndim != 2:
            raise ValueError(f"t(): expected a 2-D tensor, got shape {self.shape}")
        return ops.Transpose.apply(self, (1, 0))

    T = property(t)

    # ------------------------------------------------------------------ not differentiable
    def argmax(self, dim=None, keepdim=False):
        if dim is None:
            return Tensor.wrap(np.asarray(self.data.argmax()))
        return Tensor.wrap(self.data.argmax(axis=dim, keepdims=keepdim))

    def _compare(self, other, op):
        return Tensor.wrap(op(self.data, other.data if isinstance(other, Tensor) else other))

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


class DimensionError(ValueError, IndexError):
    """A dim outside a tensor's dims: a ValueError (minicnn's bad-input convention) that is also the
    IndexError torch raises for it ("Dimension out of range"), so either ``except`` catches it."""


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
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index.data if isinstance(index, Tensor) else index


def tensor(data, requires_grad=False, dtype=None):
    """``torch.tensor``: a new leaf Tensor holding a copy of ``data``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def as_tensor(x, name="input"):
    """``x`` as a Tensor: a Tensor as it is, an ndarray wrapped without a copy; anything else a TypeError."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor.wrap(x)
    raise TypeError(f"{name}: expected a minicnn.Tensor or numpy.ndarray, got {type(x).__name__}")


from . import ops  # noqa: E402  (ops build Tensors; Tensor methods call ops)
