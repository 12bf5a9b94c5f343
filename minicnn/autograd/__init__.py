"""Reverse-mode automatic differentiation over hand-written backward passes.

* :mod:`.engine` — ``Function``, the recorded graph and ``backward()`` (read this first);
* :mod:`.tensor` — ``Tensor``;
* :mod:`.ops` — arithmetic, reductions and reshapes as Functions.

The network's ops (conv, pooling, losses …) are Functions too, in :mod:`minicnn.functional`.
"""
from .engine import Context, Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .ops import cat, stack
from .tensor import Tensor, as_tensor, tensor

__all__ = ["Context", "Function", "Tensor", "as_tensor", "cat", "enable_grad", "is_grad_enabled", "no_grad",
           "set_grad_enabled", "stack", "tensor"]
