"""Tensor arithmetic, reductions and reshapes, each a Function with its backward written out.

Binary ops broadcast as numpy does; their backward sums the gradient back
over the broadcast axes (:func:`unbroadcast`), so ``x + bias`` with ``bias``
of shape (C, 1, 1) gives ``bias.grad`` of shape (C, 1, 1).
"""
import numpy as np

from .engine import Function


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get back ``shape``."""
    if grad.shape == tuple(shape):
        return grad
    grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True) if stretched else grad


def _shape(a):
    return np.shape(a)


def _broadcast_shapes(op, a, b):
    """``(shape of a, shape of b)``, refused with a message naming ``op`` if they do not broadcast (torch
    raises RuntimeError there; minicnn's bad input is a ValueError)."""
    shapes = _shape(a), _shape(b)
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{op}: expected shapes that broadcast, got {shapes[0]} and {shapes[1]}") from None
    return shapes


class Add(Function):
    """``a + b``: the gradient passes to both sides unchanged."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = _broadcast_shapes("add", a, b)
        return np.asarray(a + b)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shapes[0]), unbroadcast(g, ctx.shapes[1])


class Sub(Function):
    """``a - b``: ``+g`` to a, ``-g`` to b."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = _broadcast_shapes("sub", a, b)
        return np.asarray(a - b)

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
        return np.asarray(a * b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da = unbroadcast(g * b, _shape(a)) if ctx.needs_input_grad[0] else None
        db = unbroadcast(g * a, _shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class Div(Function):
    """``a / b``: ``g / b`` to a, ``-g * a / b**2`` to b."""

    @staticmethod
    def forward(ctx, a, b):
        _broadcast_shapes("div", a, b)
        ctx.save_for_backward(a, b)
        return np.asarray(a / b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da = unbroadcast(g / b, _shape(a)) if ctx.needs_input_grad[0] else None
        db = unbroadcast(-g * a / (b * b), _shape(b)) if ctx.needs_input_grad[1] else None
        return da, db


class Pow(Function):
    """``a ** p`` for a constant exponent ``p``: ``g * p * a**(p-1)``."""

    @staticmethod
    def forward(ctx, a, p):
        if not isinstance(p, (int, float)):
            raise TypeError(f"pow: expected a constant int or float exponent, got {type(p).__name__}")
        ctx.save_for_backward(a, p)
        return np.asarray(a ** p)

    @staticmethod
    def backward(ctx, g):
        a, p = ctx.saved_tensors
        return g * p * a ** (p - 1), None


class MatMul(Function):
    """``a @ b`` for 2-D ``a`` (N, K) and ``b`` (K, M): ``g @ b.T`` to a, ``a.T @ g`` to b."""

    @staticmethod
    def forward(ctx, a, b):
        if np.ndim(a) != 2 or np.ndim(b) != 2:
            raise ValueError(f"matmul: expected two 2-D operands, got shapes {_shape(a)} and {_shape(b)}")
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g @ b.T if ctx.needs_input_grad[0] else None), (a.T @ g if ctx.needs_input_grad[1] else None)


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
        return np.log(a)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.saved_tensors[0]


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
    """Concatenation along ``dim``: each input gets its slice of the gradient back."""

    @staticmethod
    def forward(ctx, dim, *arrays):
        ctx.dim, ctx.sizes = dim, [a.shape[dim] for a in arrays]
        return np.concatenate(arrays, axis=dim)

    @staticmethod
    def backward(ctx, g):
        return (None, *np.split(g, np.cumsum(ctx.sizes)[:-1], axis=ctx.dim))


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
    """``torch.cat``: join tensors of the same shape but along ``dim``."""
    tensors = _sequence("cat", tensors, dim)
    ndim = tensors[0].ndim
    if not -ndim <= dim < ndim:
        raise ValueError(f"cat: expected dim in [{-ndim}, {ndim}), got {dim}")
    dim = int(dim) % ndim
    for i, t in enumerate(tensors):
        if t.ndim != ndim or t.shape[:dim] + t.shape[dim + 1:] != tensors[0].shape[:dim] + tensors[0].shape[dim + 1:]:
            raise ValueError(f"cat: expected shapes equal but along dim {dim}, got {tensors[0].shape} and "
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
