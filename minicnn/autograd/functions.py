"""torch's top-level tensor functions: ``minicnn.max(x, 1)``, ``minicnn.flatten(x, 1)``, ``minicnn.where`` …

Each is the Tensor method of the same name (:mod:`minicnn.autograd.tensor`), whose backward is an op of
:mod:`minicnn.autograd.ops` (or, for ``relu``, ``sigmoid`` and ``tanh``, a kernel pair of
:mod:`minicnn.functional`).  ``input`` may be a Tensor or an ndarray (wrapped without a copy, as the
layers do); ``max``/``min`` with a dim return the named pair ``(values, indices)``.
"""
import numpy as np

from .ops import Where, cat, stack  # noqa: F401  (cat and stack are torch's top-level functions too)
from .tensor import Tensor, as_tensor



def _t(op, x):
    return as_tensor(x, f"{op} input")


def flatten(input, start_dim=0, end_dim=-1):
    return _t("flatten", input).flatten(start_dim, end_dim)


def max(input, dim=None, keepdim=False):
    """The maximum of all entries; with ``dim``, ``(values, indices)``; with a tensor, :func:`maximum`."""
    return _t("max", input).max(dim, keepdim)


def min(input, dim=None, keepdim=False):
    """The minimum of all entries; with ``dim``, ``(values, indices)``; with a tensor, :func:`minimum`."""
    return _t("min", input).min(dim, keepdim)


def amax(input, dim=(), keepdim=False):
    """The maximum over one or several dims (all by default); ties share the gradient, as torch's."""
    return _t("amax", input).amax(dim, keepdim)


def amin(input, dim=(), keepdim=False):
    """The minimum over one or several dims (all by default); ties share the gradient, as torch's."""
    return _t("amin", input).amin(dim, keepdim)


def maximum(input, other):
    return _t("maximum", input).maximum(other)


def minimum(input, other):
    return _t("minimum", input).minimum(other)


def argmax(input, dim=None, keepdim=False):
    return _t("argmax", input).argmax(dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _t("argmin", input).argmin(dim, keepdim)


def sum(input, dim=None, keepdim=False, *, dtype=None):
    return _t("sum", input).sum(dim, keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    return _t("mean", input).mean(dim, keepdim, dtype=dtype)


def var(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    return _t("var", input).var(dim, unbiased, keepdim, correction=correction)


def std(input, dim=None, unbiased=True, keepdim=False, *, correction=None):
    return _t("std", input).std(dim, unbiased, keepdim, correction=correction)


def exp(input):
    return _t("exp", input).exp()


def log(input):
    return _t("log", input).log()


def sqrt(input):
    return _t("sqrt", input).sqrt()


def add(input, other, *, alpha=1):
    return _t("add", input).add(other, alpha=alpha)


def sub(input, other, *, alpha=1):
    return _t("sub", input).sub(other, alpha=alpha)


def mul(input, other):
    return _t("mul", input).mul(other)


def div(input, other, *, rounding_mode=None):
    return _t("div", input).div(other, rounding_mode=rounding_mode)


def neg(input):
    return _t("neg", input).neg()


def abs(input):
    return _t("abs", input).abs()


def pow(input, exponent):
    return _t("pow", input).pow(exponent)


def sigmoid(input):
    return _t("sigmoid", input).sigmoid()


def tanh(input):
    return _t("tanh", input).tanh()


def relu(input):
    return _t("relu", input).relu()


def clamp(input, min=None, max=None):
    return _t("clamp", input).clamp(min, max)


clip = clamp


def matmul(input, other):
    return _t("matmul", input).matmul(other)


mm = matmul


def squeeze(input, dim=None):
    return _t("squeeze", input).squeeze(dim)


def unsqueeze(input, dim):
    return _t("unsqueeze", input).unsqueeze(dim)


def reshape(input, shape):
    return _t("reshape", input).reshape(shape)


def transpose(input, dim0, dim1):
    return _t("transpose", input).transpose(dim0, dim1)


def split(tensor, split_size_or_sections, dim=0):
    return _t("split", tensor).split(split_size_or_sections, dim)


def chunk(input, chunks, dim=0):
    return _t("chunk", input).chunk(chunks, dim)


def permute(input, dims):
    return _t("permute", input).permute(dims)


def t(input):
    return _t("t", input).t()


def clone(input):
    return _t("clone", input).clone()


def numel(input):
    return _t("numel", input).numel()


def eq(input, other):
    return _t("eq", input).eq(other)


def ne(input, other):
    return _t("ne", input).ne(other)


def lt(input, other):
    return _t("lt", input).lt(other)


def le(input, other):
    return _t("le", input).le(other)


def gt(input, other):
    return _t("gt", input).gt(other)


def ge(input, other):
    return _t("ge", input).ge(other)


def equal(input, other):
    return _t("equal", input).equal(other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` everywhere, as ``torch.allclose``."""
    other = other.array if isinstance(other, Tensor) else other
    return bool(np.allclose(_t("allclose", input).array, other, rtol=rtol, atol=atol, equal_nan=equal_nan))


def where(condition, input=None, other=None):
    """``input`` where ``condition`` (a bool tensor) holds, else ``other`` (tensors or numbers, broadcast),
    recorded; with the condition alone, the indices where it holds, one int64 tensor per dim."""
    condition = _t("where condition", condition)
    if condition.dtype != np.bool_:
        raise TypeError(f"where: expected condition as a bool tensor, got {condition.dtype}")
    if input is None and other is None:
        return tuple(Tensor.wrap(i) for i in np.nonzero(condition.array))
    for name, value in (("input", input), ("other", other)):
        if isinstance(value, bool) or not isinstance(value, (Tensor, np.ndarray, int, float, np.number)):
            raise TypeError(f"where: expected {name} as a Tensor or number, got {type(value).__name__}")
    return Where.apply(condition.array, input, other)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(input):
    return _t("is_floating_point", input).is_floating_point()
