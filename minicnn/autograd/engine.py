"""The reverse-mode engine: record each op on the way forward, walk the record backwards once.

Every differentiable op is a :class:`Function` with a hand-written pair::

    forward(ctx, *inputs)  -> output array      (calls a kernel, keeps its cache in ctx)
    backward(ctx, grad_out) -> one gradient per input (None where an input needs none)

``Function.apply`` runs ``forward`` on the inputs' arrays and, when any input
requires a gradient, records a :class:`Node` on the output: the Function, its
``ctx``, and one *edge* per input: the input's own Node, the input itself if it
is a leaf (a Parameter, or a tensor made with ``requires_grad=True``), or None.

``backward(loss)`` is the chain rule applied to that record (as micrograd's
``engine.py`` does for scalars, here for arrays):

1. order the nodes topologically from the loss (depth-first search), so a node
   is processed only after every node that uses its output;
2. walk that order once, calling each node's ``backward`` with the sum of the
   gradients that reached its output (an output used twice receives two);
3. add what arrives at a leaf into its ``.grad`` (gradients accumulate until
   ``zero_grad()``, as in torch);
4. free each node's ``ctx`` after use, unless ``retain_graph=True`` (so the
   caches do not outlive the step; a second backward through a freed node
   raises ``RuntimeError``).
"""
import contextlib
import threading

import numpy as np

_grad_mode = threading.local()
_observers = threading.local()

FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they "
         "have already been freed). Specify retain_graph=True if you need to backward through the graph a "
         "second time.")


def is_grad_enabled():
    """False inside :func:`no_grad` (on this thread)."""
    return getattr(_grad_mode, "enabled", True)


@contextlib.contextmanager
def set_grad_enabled(mode):
    """Record ops (``True``) or not (``False``) inside the block, as ``torch.set_grad_enabled``."""
    previous = is_grad_enabled()
    _grad_mode.enabled = bool(mode)
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def no_grad():
    """Like ``torch.no_grad()``: nothing is recorded and no op keeps a cache for backward."""
    return set_grad_enabled(False)


def enable_grad():
    """Like ``torch.enable_grad()``: record again inside a ``no_grad`` block."""
    return set_grad_enabled(True)


@contextlib.contextmanager
def observe_ops(callback):
    """Inside the block, every op this thread runs calls ``callback(function, args, output)`` after it ran.

    ``function`` is the Function class, ``args`` what ``apply`` was given (Tensors among them), ``output``
    the Tensor it returned.  It observes and changes nothing: the lab uses it to show every op's output
    (torch's analogue is a ``TorchFunctionMode``).  Blocks nest; other threads are not observed.
    """
    stack = _observers.__dict__.setdefault("stack", [])
    stack.append(callback)
    try:
        yield
    finally:
        stack.pop()


class Context:
    """What a Function's forward leaves for its backward.

    Attributes
    ----------
    needs_input_grad : tuple of bool, one per forward input (skip gradients nobody needs)
    saved_tensors : tuple, set by :meth:`save_for_backward`
    Anything else a forward assigns (``ctx.cache = ...``) is kept likewise and freed with the ctx.
    """

    def __init__(self, needs_input_grad):
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays):
        self.saved_tensors = arrays


class Node:
    """One recorded call of a Function: the ``grad_fn`` of the tensor it produced.

    ``edges[i]`` says where input i's gradient goes: a Node (a computed input),
    a leaf Tensor, or None (no gradient needed).  ``shape``/``dtype`` are the
    output's, so every gradient arriving here can be checked against them.
    """
    __slots__ = ("function", "ctx", "edges", "shape", "dtype", "retained")

    def __init__(self, function, ctx, edges, shape, dtype):
        self.function, self.ctx, self.edges = function, ctx, edges
        self.shape, self.dtype = shape, dtype
        self.retained = None  # the output tensor, when it asked for retain_grad()

    def name(self):
        return f"{self.function.__name__.removesuffix('Function')}Backward"

    def __repr__(self):
        return f"<{self.name()}>"


class Function:
    """Base class of every op.  Subclasses define two static methods:

    ``forward(ctx, *args) -> ndarray`` — ``args`` are the inputs' arrays (a Tensor
    argument arrives as its ``.array``; other arguments as they are);
    ``backward(ctx, grad_out) -> tuple`` — one gradient (ndarray or None) per forward argument.
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad_out):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        from .tensor import Tensor
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = any(needs) and is_grad_enabled()
        ctx = Context(needs if record else (False,) * len(args))
        out = cls.forward(ctx, *(a.array if isinstance(a, Tensor) else a for a in args))
        result = Tensor.wrap(out, requires_grad=record)
        if record:
            edges = tuple((a.grad_fn or a) if need else None for a, need in zip(args, needs))
            result.grad_fn = Node(cls, ctx, edges, out.shape, out.dtype)
        for callback in getattr(_observers, "stack", ()):
            callback(cls, args, result)
        return result


def topological_order(root):
    """Nodes reachable from ``root``, each before every node its output feeds (root first).

    Depth-first search with an explicit stack (deep networks would exceed
    Python's recursion limit), then reversed post-order.
    """
    post, seen, stack = [], {root}, [(root, iter(root.edges))]
    while stack:
        node, edges = stack[-1]
        for edge in edges:
            if isinstance(edge, Node) and edge not in seen:
                seen.add(edge)
                stack.append((edge, iter(edge.edges)))
                break
        else:
            stack.pop()
            post.append(node)
    return post[::-1]


def _fit(grad, shape, dtype, node, what):
    """The gradient a Function returned, checked against the shape of what it is for, in its dtype."""
    grad = np.asarray(grad)
    if grad.shape != shape:
        raise RuntimeError(f"{node.name()}: returned a gradient of shape {grad.shape} for {what} of shape {shape}")
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _accumulate(tensor, grad, owned):
    """Add ``grad`` into ``tensor.grad``; keep ``grad`` itself only when nothing else holds it (``owned``)."""
    if tensor.grad is None:
        tensor.grad = grad if owned else grad.copy()
    else:
        tensor.grad += grad


def backward(tensor, gradient=None, retain_graph=False):
    """Back-propagate from ``tensor``: what ``tensor.backward()`` calls.

    Parameters
    ----------
    tensor : Tensor that requires grad
    gradient : ndarray or Tensor of ``tensor``'s shape: d(something)/d tensor.
        None means ones, allowed only for a one-element tensor (a loss).
    retain_graph : bool, default False; keep every node's cache for another backward
    """
    from .tensor import Tensor
    if not tensor.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if tensor.array.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got shape {tensor.shape}")
        gradient = np.ones_like(tensor.array)
    gradient = gradient.array if isinstance(gradient, Tensor) else gradient
    if not isinstance(gradient, np.ndarray) or gradient.dtype.kind != "f":
        raise TypeError(f"backward: expected gradient as a float ndarray or Tensor, got "
                        f"{getattr(gradient, 'dtype', type(gradient).__name__)}")
    if gradient.shape != tensor.shape:
        raise ValueError(f"backward: expected gradient of shape {tensor.shape}, got {gradient.shape}")
    gradient = gradient.astype(tensor.dtype, copy=False)
    if tensor.grad_fn is None:
        _accumulate(tensor, gradient, owned=False)
        return
    pending = {tensor.grad_fn: gradient}
    for node in topological_order(tensor.grad_fn):
        grad_out = pending.pop(node, None)
        if grad_out is None:   # nothing flowed into it (every path to it was None)
            continue
        if node.ctx is None:
            raise RuntimeError(FREED)
        if node.retained is not None:
            _accumulate(node.retained, grad_out, owned=False)
        grads = node.function.backward(node.ctx, grad_out)
        grads = grads if isinstance(grads, tuple) else (grads,)
        if len(grads) != len(node.edges):
            raise RuntimeError(f"{node.name()}: backward returned {len(grads)} gradients for "
                               f"{len(node.edges)} forward inputs")
        if not retain_graph:
            node.ctx = None
        kept = [grad_out]  # arrays a leaf may not own: the incoming gradient and what leaves already hold
        for edge, grad in zip(node.edges, grads):
            if edge is None or grad is None:
                continue
            if isinstance(edge, Node):
                grad = _fit(grad, edge.shape, edge.dtype, node, "an input")
                pending[edge] = grad if edge not in pending else pending[edge] + grad
            else:
                grad = _fit(grad, edge.shape, edge.dtype, node, "an input")
                owned = not any(np.may_share_memory(grad, k) for k in kept)
                _accumulate(edge, grad, owned)
                kept.append(grad)
