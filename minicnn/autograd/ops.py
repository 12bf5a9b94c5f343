"""Tensor arithmetic, reductions and reshapes, each a Function with its backward written out.

Binary ops broadcast as numpy does; their backward sums the gradient back
over the broadcast axes (:func:`unbroadcast`), so ``x + bias`` with ``bias``
of shape (C, 1, 1) gives ``bias.grad`` of shape (C, 1, 1).  Their result has
torch's dtype (:func:`result_type`), not numpy's: ``int64 tensor * 1.5`` is
float32, ``float32 tensor * float64 0-d tensor`` is float32.
"""
import numpy as np

from ..dtypes import DEFAULT_FLOAT, DEFAULT_INT
from .engine import Function


def quiet():
    """Division by zero and logs of 0 give inf and NaN without a warning, as torch's do."""
    return np.errstate(divide="ignore", invalid="ignore")


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get back ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def _shape(a):
    return np.shape(a)


def _broadcast_shapes(op, *operands):
    """The operands' shapes, refused with a message naming ``op`` if they do not broadcast (torch raises
    RuntimeError there; minicnn's bad input is a ValueError).  A None operand (a missing bound) is shape ()."""
    shapes = tuple(_shape(a) for a in operands)
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: expected shapes that broadcast, got {' and '.join(map(str, shapes))}") from None
    return shapes


def promote_types(a, b):
    """torch's ``promote_types``: a float dtype wins over any integer or bool one (numpy would widen
    int32 + float32 to float64; torch gives float32); otherwise numpy's table, which is torch's there."""
    a, b = np.dtype(a), np.dtype(b)
    if (a.kind == "f") != (b.kind == "f"):
        return a if a.kind == "f" else b
    return np.promote_types(a, b)


def _combine(higher, lower):
    """torch's rule between priority tiers: a lower tier counts only if it is of a higher category."""
    if higher is None or lower is None:
        return lower if higher is None else higher
    if higher.kind == "f":
        return higher
    if higher.kind == "b" or lower.kind == "f":
        return promote_types(higher, lower)
    return higher


def result_type(*operands):
    """The dtype torch gives an op over ``operands`` (arrays, Python or numpy numbers, None to skip).

    torch ranks operands in three tiers: arrays with dimensions, then 0-d arrays (0-d tensors), then
    Python numbers (a float counts as the default float32, an int as int64).  A lower tier changes the
    result only when it is of a higher category (bool < integer < float): ``int64 tensor * 1.5`` is
    float32, ``float32 tensor * 2.0`` float32, ``float32 tensor * float64 0-d tensor`` float32.
    """
    tiers = [None, None, None]  # dimensioned arrays, 0-d arrays, numbers
    for x in operands:
        if x is None:
            continue
        if isinstance(x, np.ndarray):
            tier, dtype = (0 if x.ndim else 1), x.dtype
        elif isinstance(x, (bool, np.bool_)):
            tier, dtype = 2, np.dtype(bool)
        elif isinstance(x, (int, np.integer)):
            tier, dtype = 2, DEFAULT_INT
        elif isinstance(x, (float, np.floating)):
            tier, dtype = 2, DEFAULT_FLOAT
        else:
            raise TypeError(f"expected a Tensor, ndarray or number, got {type(x).__name__}")
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    return _combine(tiers[0], _combine(tiers[1], tiers[2]))


def _in_dtype(out, dtype):
    out = np.asarray(out)
    return out if out.dtype == dtype else out.astype(dtype)


class Add(Function):
    """``a + b``: the gradient passes to both sides unchanged."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = _broadcast_shapes("add", a, b)
        return _in_dtype(a + b, result_type(a, b))

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shapes[0]), unbroadcast(g, ctx.shapes[1])


class Sub(Function):
    """``a - b``: ``+g`` to a, ``-g`` to b.  A bool operand is refused, as torch refuses it."""

    @staticmethod
    def forward(ctx, a, b):
        if any(np.asarray(v).dtype == np.bool_ for v in (a, b)):
            raise TypeError("sub: subtraction, the `-` operator, with a bool tensor is not supported; to invert a "
                            "mask use the `~` operator or logical_not()")
        ctx.shapes = _broadcast_shapes("sub", a, b)
        return _in_dtype(a - b, result_type(a, b))

    @staticmethod
    def backward(ctx, g):
        db = -unbroadcast(g, ctx.shapes[1]) if ctx.needs_input_grad[1] else None
        return unbroadcast(g, ctx.shapes[0]), db


class Mul(Function):
    """``a * b``: ``g * b`` to a, ``g * a`` to b."""

    @staticmethod
    def forward(ctx, a, b):
        _broadcast_shapes("mul", a, b)
        ctx.save_for_backward(a, b)
        return _in_dtype(a * b, result_type(a, b))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da = unbroadcast(g * b, _shape(a)) if ctx.needs_input_grad[0] else None
        db = unbroadcast(g * a, _shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """``a / b`` (true division: integers give the default float32, as torch): ``g / b`` to a,
    ``-g * a / b**2`` to b."""

    @staticmethod
    def forward(ctx, a, b):
        _broadcast_shapes("div", a, b)
        ctx.save_for_backward(a, b)
        dtype = result_type(a, b)
        with quiet():
            return _in_dtype(a / b, dtype if dtype.kind == "f" else DEFAULT_FLOAT)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        with quiet():
            da = unbroadcast(g / b, _shape(a)) if ctx.needs_input_grad[0] else None
            db = unbroadcast(-g * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class DivRounded(Function):
    """``a / b`` rounded toward zero (``'trunc'``) or down (``'floor'``, numpy's and Python's ``//``, which is
    torch's), in the operands' dtype; the gradient is 0 to both, as torch's (the result is a step function)."""

    @staticmethod
    def forward(ctx, a, b, rounding_mode):
        ctx.shapes = _broadcast_shapes("div", a, b)
        dtype = result_type(a, b)
        a, b = np.asarray(a, dtype), np.asarray(b, dtype)
        with quiet():
            if rounding_mode == "floor":
                out = np.floor_divide(a, b)
            elif dtype.kind == "f":
                out = np.trunc(a / b)
            else:  # integers: the floor quotient, one up where the signs differ and something is left over
                out = np.floor_divide(a, b) + ((np.remainder(a, b) != 0) & ((a < 0) != (b < 0)))
        return _in_dtype(out, dtype)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.zeros(shape, g.dtype) if need else None
                     for shape, need in zip(ctx.shapes, ctx.needs_input_grad[:2])) + (None,)


class Pow(Function):
    """``a ** p``, the exponent a number or an array (broadcast with ``a``), as torch's ``pow``.

    Backward: ``g * p * a**(p-1)`` to ``a`` (0 where ``p == 0``, so ``0 ** 0`` has no NaN gradient) and
    ``g * a**p * log(a)`` to ``p`` (0 where ``a == 0`` and ``p >= 0``, where ``a**p`` does not move with
    ``p`` on the real side; torch's ``pow_backward_self`` and ``pow_backward_exponent``)."""

    @staticmethod
    def forward(ctx, a, p):
        if isinstance(p, (bool, np.bool_)) or not isinstance(p, (int, float, np.integer, np.floating, np.ndarray)):
            raise TypeError(f"pow: expected an int, float or Tensor exponent, got {type(p).__name__}")
        ctx.shapes = _broadcast_shapes("pow", a, p)
        dtype = result_type(a, p)
        with quiet():
            out = _in_dtype(np.power(np.asarray(a, dtype), np.asarray(p, dtype)), dtype)
        ctx.save_for_backward(a, p, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, p, out = ctx.saved_tensors
        da = dp = None
        with quiet():
            if ctx.needs_input_grad[0]:
                da = unbroadcast(np.where(np.equal(p, 0), 0, g * p * np.power(a, np.subtract(p, 1, dtype=out.dtype))),
                                 ctx.shapes[0])
            if ctx.needs_input_grad[1]:
                dp = unbroadcast(np.where((np.equal(a, 0)) & (np.greater_equal(p, 0)), 0, g * out * np.log(a)),
                                 ctx.shapes[1])
        return da, dp


class MatMul(Function):
    """``torch.matmul``: ``a @ b`` with numpy's (and torch's) rules for 1-D operands (a vector is a row on
    the left, a column on the right, and that dimension is dropped) and broadcast batch dimensions.

    Backward, for the 2-D case (N, K) @ (K, M): ``g @ b.T`` to a, ``a.T @ g`` to b; a 1-D operand is
    made 2-D first and its gradient reshaped back, and batch dimensions that broadcasting added or
    stretched are summed (:func:`unbroadcast`).
    """

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: expected operands of at least 1 dimension, got shapes {a.shape} and {b.shape}")
        inner = b.shape[-2] if b.ndim > 1 else b.shape[0]
        try:
            np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            inner = None
        if a.shape[-1] != inner:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied")
        if a.dtype != b.dtype:
            raise TypeError(f"matmul: expected both operands of one dtype, got {a.dtype} and {b.dtype}")
        ctx.save_for_backward(a, b)
        return np.asarray(a @ b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a2 = a[None, :] if a.ndim == 1 else a   # (1, K)
        b2 = b[:, None] if b.ndim == 1 else b   # (K, 1)
        g = g[..., None] if b.ndim == 1 else g  # the dimensions the forward dropped, back
        g = g[..., None, :] if a.ndim == 1 else g
        da = unbroadcast(g @ np.swapaxes(b2, -1, -2), a2.shape).reshape(a.shape) if ctx.needs_input_grad[0] else None
        db = unbroadcast(np.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(b.shape) if ctx.needs_input_grad[1] else None
        return da, db


class Exp(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        return g * ctx.saved_tensors[0]


class Log(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        with quiet():
            return np.log(a)

    @staticmethod
    def backward(ctx, g):
        with quiet():
            return g / ctx.saved_tensors[0]


class Sqrt(Function):
    """``sqrt(a)``: ``g / (2 sqrt(a))``."""

    @staticmethod
    def forward(ctx, a):
        with quiet():
            out = np.sqrt(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        with quiet():
            return g / (2 * ctx.saved_tensors[0])


class ClampTensor(Function):
    """``min(max(a, low), high)`` with tensor bounds (either may be None), broadcast, as torch's ``clamp.Tensor``.

    Backward, torch's rule: where ``low < high`` the gradient goes to ``a`` inside the bounds, to the bound
    ``a`` is clamped to outside, and half to each at a tie; where ``low > high`` the output is ``high`` and all
    of it goes there; where ``low == high`` it goes to ``a`` if ``a`` equals them, else to the bound ``a`` is
    clamped to.  A missing bound is an infinite one."""

    @staticmethod
    def forward(ctx, a, low, high):
        dtype = result_type(a, low, high)
        ctx.shapes = _broadcast_shapes("clamp", a, low, high)
        ctx.save_for_backward(a, low, high)
        out = a if low is None else np.maximum(a, low)
        out = out if high is None else np.minimum(out, high)
        return _in_dtype(out, dtype)

    @staticmethod
    def backward(ctx, g):
        a, low, high = ctx.saved_tensors
        lo = -np.inf if low is None else low
        hi = np.inf if high is None else high
        ordered, equal = np.less(lo, hi), np.equal(lo, hi)
        da = np.where(ordered, 1.0 * ((a > lo) & (a < hi)) + 0.5 * (a == lo) + 0.5 * (a == hi),
                      1.0 * (equal & (a == lo)))
        dlo = np.where(ordered, 1.0 * (a < lo) + 0.5 * (a == lo), 1.0 * (equal & (a < lo)))
        dhi = np.where(ordered, 1.0 * (a > hi) + 0.5 * (a == hi), 1.0 * (~equal | (a > hi)))
        return tuple(None if v is None or not need else unbroadcast(_in_dtype(g * d, g.dtype), shape)
                     for v, need, d, shape in zip((a, low, high), ctx.needs_input_grad, (da, dlo, dhi), ctx.shapes))


class Clamp(Function):
    """``min(max(a, low), high)`` (either bound may be None): the gradient passes where
    ``low < a < high``; at a bound it is 0, as torch's (the output does not follow ``a`` there on
    one side)."""

    @staticmethod
    def forward(ctx, a, low, high):
        ctx.save_for_backward(a)
        ctx.low, ctx.high = low, high
        out = a if low is None else np.maximum(a, low)
        out = out if high is None else np.minimum(out, high)
        return _in_dtype(out, result_type(a, low, high))

    @staticmethod
    def backward(ctx, g):
        a = ctx.saved_tensors[0]
        inside = np.ones(a.shape, bool)
        if ctx.low is not None:
            inside &= a > ctx.low
        if ctx.high is not None:
            inside &= a < ctx.high
        return np.where(inside, g, 0), None, None


class Maximum(Function):
    """``maximum(a, b)`` elementwise (``minimum`` with ``pick=np.minimum``): the gradient goes to the
    larger (smaller) input, and is halved between the two where they are equal, as torch's."""

    @staticmethod
    def forward(ctx, a, b, pick):
        ctx.shapes = _broadcast_shapes(pick.__name__, a, b)
        out = _in_dtype(pick(a, b), result_type(a, b))
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        tie = a == b
        share = np.where(tie, g / 2, g)
        da = unbroadcast(np.where(tie | (a == out), share, 0), ctx.shapes[0]) if ctx.needs_input_grad[0] else None
        db = unbroadcast(np.where(tie | (b == out), share, 0), ctx.shapes[1]) if ctx.needs_input_grad[1] else None
        return da, db, None


class Where(Function):
    """``where(condition, a, b)``: ``g`` where the condition holds to a, elsewhere to b."""

    @staticmethod
    def forward(ctx, condition, a, b):
        shapes = np.shape(a), np.shape(b)
        try:
            np.broadcast_shapes(condition.shape, *shapes)
        except ValueError:
            raise ValueError(f"where: expected shapes that broadcast, got condition {condition.shape}, "
                             f"input {shapes[0]} and other {shapes[1]}") from None
        ctx.condition, ctx.shapes = condition, shapes
        return _in_dtype(np.where(condition, a, b), result_type(a, b))

    @staticmethod
    def backward(ctx, g):
        da = unbroadcast(np.where(ctx.condition, g, 0), ctx.shapes[0]) if ctx.needs_input_grad[1] else None
        db = unbroadcast(np.where(ctx.condition, 0, g), ctx.shapes[1]) if ctx.needs_input_grad[2] else None
        return None, da, db


class Clone(Function):
    """A copy (``clone``, ``contiguous``): the gradient passes unchanged."""

    @staticmethod
    def forward(ctx, a):
        return np.array(a, copy=True, order="C")

    @staticmethod
    def backward(ctx, g):
        return g


class Abs(Function):
    """``|a|``: ``g * sign(a)`` (0 at a == 0, as torch)."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.saved_tensors[0])


class Cast(Function):
    """A copy in another dtype; the gradient is cast back to the input's."""

    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype), None


def _axes(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    for d in dims:
        if not isinstance(d, (int, np.integer)) or not -ndim <= d < max(ndim, 1):
            raise ValueError(f"sum/mean: expected dim in [{-ndim}, {ndim}), got {dim!r}")
    return tuple(int(d) % max(ndim, 1) for d in dims)


class Sum(Function):
    """Sum over ``dim`` (all by default): the gradient is copied back along the summed axes."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.axes, ctx.shape = _axes(dim, a.ndim), a.shape
        return np.asarray(a.sum(axis=ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        g = np.expand_dims(g, ctx.axes) if g.ndim != len(ctx.shape) else g
        return np.broadcast_to(g, ctx.shape).copy(), None, None


class Mean(Function):
    """Mean over ``dim``: as :class:`Sum`, divided by the number of entries averaged."""

    @staticmethod
    def forward(ctx, a, dim, keepdim):
        ctx.axes, ctx.shape = _axes(dim, a.ndim), a.shape
        return np.asarray(a.mean(axis=ctx.axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        count = int(np.prod([ctx.shape[i] for i in ctx.axes]))
        return Sum.backward(ctx, g / count)


class Extreme(Function):
    """The maximum (``pick=np.max``) or minimum over ``axes`` (all by default: a 0-d array; ``amax``/``amin``
    and ``max``/``min`` without a dim): the gradient of each reduced slice is shared evenly among the entries
    that equal its extreme, as torch's (NaN counts as equal to a NaN result)."""

    @staticmethod
    def forward(ctx, a, pick, axes, keepdim):
        out = np.asarray(pick(a, axis=axes, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.axes = axes
        return out if keepdim else np.asarray(np.squeeze(out, axis=axes))

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        hit = (a == out) | (np.isnan(a) & np.isnan(out))
        share = np.reshape(g, out.shape) / np.count_nonzero(hit, axis=ctx.axes, keepdims=True)
        return np.where(hit, share, 0).astype(g.dtype, copy=False), None, None, None


class TakeAlong(Function):
    """``a`` at ``indices`` along ``dim`` (both keep the reduced dim, of size 1): the values of
    ``max``/``min`` with a dim.  The gradient goes back to those positions only, one per reduced row,
    as torch's."""

    @staticmethod
    def forward(ctx, a, dim, indices):
        ctx.shape, ctx.dim, ctx.indices = a.shape, dim, indices
        return np.take_along_axis(a, indices, axis=dim)

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.shape, g.dtype)
        np.put_along_axis(grad, ctx.indices, g, axis=ctx.dim)
        return grad, None, None


class Var(Function):
    """The variance over ``dim`` with ``correction`` (1: unbiased, torch's default; 0: the mean square
    deviation): ``sum((a - mean)**2) / (n - correction)``; backward ``g * 2 (a - mean) / (n - correction)``.
    ``n <= correction`` gives NaN/inf, as torch."""

    @staticmethod
    def forward(ctx, a, dim, correction, keepdim):
        axes = _axes(dim, a.ndim)
        n = int(np.prod([a.shape[i] for i in axes]))
        deviation = a - a.mean(axis=axes, keepdims=True)
        ctx.axes, ctx.keepdim, ctx.deviation = axes, keepdim, deviation
        ctx.divisor = np.asarray(max(n - correction, 0), a.dtype)
        with quiet():
            return np.asarray((deviation * deviation).sum(axis=axes, keepdims=keepdim) / ctx.divisor)

    @staticmethod
    def backward(ctx, g):
        g = g if ctx.keepdim else np.expand_dims(g, ctx.axes)
        with quiet():
            return g * 2 * ctx.deviation / ctx.divisor, None, None, None


class Std(Function):
    """``sqrt(var)``: backward is :class:`Var`'s with ``g / (2 std)``, and 0 where std is 0 (torch's
    choice: all entries equal)."""

    @staticmethod
    def forward(ctx, a, dim, correction, keepdim):
        out = np.sqrt(Var.forward(ctx, a, dim, correction, keepdim))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        out = ctx.saved_tensors[0]
        with quiet():
            return Var.backward(ctx, np.where(out == 0, 0, g / (2 * out)))


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape), None


class Transpose(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.axes)), None


class Expand(Function):
    """``a`` broadcast to ``shape`` (a read-only view, as torch's expand is a view): the gradient is
    summed back over the broadcast axes (:func:`unbroadcast`)."""

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape), None


class Repeat(Function):
    """``a`` tiled ``repeats`` times along each dimension (``torch.Tensor.repeat``, numpy's ``tile``):
    each input entry gets the sum of the gradients of its copies."""

    @staticmethod
    def forward(ctx, a, repeats):
        ctx.shape, ctx.repeats = a.shape, repeats
        return np.tile(a, repeats)

    @staticmethod
    def backward(ctx, g):
        padded = (1,) * (len(ctx.repeats) - len(ctx.shape)) + tuple(ctx.shape)
        split = tuple(n for pair in zip(ctx.repeats, padded) for n in pair)  # (r0, s0, r1, s1, ...)
        return g.reshape(split).sum(axis=tuple(range(0, len(split), 2))).reshape(ctx.shape), None


class Index(Function):
    """``a[index]``: the gradient is added back into the indexed positions (repeats add up)."""

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx, g):
        grad = np.zeros(ctx.shape, dtype=ctx.dtype)
        np.add.at(grad, ctx.index, g)
        return grad, None


class Cat(Function):
    """Concatenation along ``dim``: each input gets its slice of the gradient back (a skipped 1-D empty
    input, see :func:`cat`, its empty gradient)."""

    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.skipped = [_legacy_empty(a) and any(not _legacy_empty(b) for b in arrays) for a in arrays]
        joined = [a for a, skip in zip(arrays, ctx.skipped) if not skip]
        ctx.dim, ctx.sizes = dim, [a.shape[dim] for a in joined]
        return np.concatenate(joined, axis=dim)

    @staticmethod
    def backward(ctx, g):
        pieces = iter(np.split(g, np.cumsum(ctx.sizes)[:-1], axis=ctx.dim))
        return (None, *(np.zeros(0, g.dtype) if skip else next(pieces) for skip in ctx.skipped))


def _legacy_empty(a):
    """A 1-D empty tensor, which ``torch.cat`` skips beside tensors of any shape (its legacy rule)."""
    return a.shape == (0,)


class Stack(Function):
    """Stacking along a new axis ``dim``: each input gets its slice of the gradient back."""

    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim = dim
        return np.stack(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *(np.take(g, i, axis=ctx.dim) for i in range(g.shape[ctx.dim])))


def _sequence(name, tensors, dim):
    from .tensor import as_tensor
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise TypeError(f"{name}: expected a non-empty list of tensors, got {type(tensors).__name__}")
    tensors = [as_tensor(t, f"{name} element {i}") for i, t in enumerate(tensors)]
    if not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: expected dim as an int, got {type(dim).__name__}")
    return tensors


def cat(tensors, dim=0):
    """``torch.cat``: join tensors of the same shape but along ``dim``.  As torch, a 1-D empty tensor (shape
    ``(0,)``) is skipped beside tensors of other shapes (its legacy rule); only empty ones give ``(0,)``."""
    tensors = _sequence("cat", tensors, dim)
    shaped = [(i, t) for i, t in enumerate(tensors) if t.shape != (0,)]
    if not shaped:
        return Cat.apply(0, *tensors)
    first = shaped[0][1]
    ndim = first.ndim
    if not -ndim <= dim < ndim:
        raise ValueError(f"cat: expected dim in [{-ndim}, {ndim}), got {dim}")
    dim = int(dim) % ndim
    for i, t in shaped:
        if t.ndim != ndim or t.shape[:dim] + t.shape[dim + 1:] != first.shape[:dim] + first.shape[dim + 1:]:
            raise ValueError(f"cat: expected shapes equal but along dim {dim}, got {first.shape} and "
                             f"{t.shape} (element {i})")
    return Cat.apply(dim, *tensors)


def stack(tensors, dim=0):
    """``torch.stack``: join tensors of one shape along a new axis ``dim``."""
    tensors = _sequence("stack", tensors, dim)
    ndim = tensors[0].ndim + 1
    if not -ndim <= dim < ndim:
        raise ValueError(f"stack: expected dim in [{-ndim}, {ndim}), got {dim}")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: expected tensors of one shape, got {tensors[0].shape} and {t.shape} "
                             f"(element {i})")
    return Stack.apply(int(dim) % ndim, *tensors)
