"""The one table of ops: torch's functional name -> its kernels.

Every kernel module ends with a ``KERNELS`` dict of :class:`Kernel` entries,
keyed by the name of the op in ``torch.nn.functional`` (``"max_pool2d"``,
``"binary_cross_entropy_with_logits"``); :mod:`minicnn.kernels` merges them
into ``REGISTRY`` and builds both implementations (``"fast"``, ``"naive"``)
from it, and the functional op of the same name calls them.  Adding an op is
one entry here plus the kernels themselves: docs/contributing.md has the recipe.
"""
from typing import Callable, NamedTuple


class Kernel(NamedTuple):
    """One op's kernels: the fast pair and its naive twins, all four under one contract.

    ``forward(x, *params) -> (out, cache)``; ``backward(dout, cache, ...) -> gradient(s)``.
    """
    forward: Callable
    backward: Callable
    forward_naive: Callable
    backward_naive: Callable


def kernel_table(namespace, *names):
    """``{name: Kernel(...)}`` for ops whose four functions are named ``<name>_forward``, ``<name>_backward``,
    ``<name>_forward_naive``, ``<name>_backward_naive`` in ``namespace`` (a module's ``globals()``)."""
    return {name: Kernel(*(namespace[f"{name}_{way}"] for way in
                           ("forward", "backward", "forward_naive", "backward_naive"))) for name in names}
