"""Exercise 13: the engine's two jobs, a topological order and accumulating into ``.grad``.

Read:  docs/backprop.md#why-a-topological-order
       docs/backprop.md#the-backward-loop
       docs/backprop.md#why-gradients-to-a-reused-node-add-up
       docs/backprop.md#leaves-accumulation-and-who-owns-the-array
Check: minicnn exercises check DIR engine

``loss.backward()`` walks the recorded graph once, from the loss, handing each node the sum of the
gradients that reached its output.  That is only right if every node comes after every node that uses
its output: a topological order.  What reaches a leaf (a parameter) is added into its ``.grad``, which
keeps accumulating until ``zero_grad()``.  The check runs a backward loop on your two functions, on graphs
with shared subexpressions, fan-out and a 3000-node chain, and compares the gradients with torch's.

A graph's nodes are ``minicnn.autograd.engine.Node`` objects: ``loss.grad_fn`` is the root, and a node's
``edges`` is a tuple with one entry per input of its op: that input's Node (a computed input), a Tensor (a
leaf), or None (no gradient needed).  Only Nodes go into the order.
"""
import numpy as np


def topological_order(root):
    """Every Node reachable from ``root`` through ``edges``, each before every Node its output feeds.

    Parameters
    ----------
    root : minicnn.autograd.engine.Node, the loss's grad_fn

    Returns
    -------
    list of Node: root first, each reachable Node exactly once
    """
    raise NotImplementedError("exercise 13: write topological_order")


def accumulate(tensor, grad, owned):
    """Add ``grad`` into ``tensor.grad``, as a leaf accumulates gradients until ``zero_grad()``.

    Parameters
    ----------
    tensor : minicnn.Tensor, a leaf; its ``.grad`` is None or an ndarray of its shape and dtype
    grad : ndarray of the tensor's shape and dtype (not to be modified)
    owned : bool; True when nothing else holds ``grad`` (you may keep that very array), False when the
        engine still uses it (then ``.grad`` must be a copy, or later additions would change it)

    Returns
    -------
    None; ``tensor.grad`` holds the sum
    """
    raise NotImplementedError("exercise 13: write accumulate")
