"""Exercise 3: softmax cross-entropy, the loss of a classifier.

Read:  docs/backprop.md#softmax-cross-entropy
Check: minicnn exercises check DIR cross_entropy

``loss_n = -log softmax(z_n)[y_n]`` for logits ``z`` (N, C) and class labels ``y`` (N,); ``reduction="mean"``
averages over the batch, ``"sum"`` adds up.  Compute it with log-sum-exp (subtract each row's maximum before
``exp``): the check hands you logits in the hundreds, where a plain ``exp`` overflows.

The signatures are torch's whole ``cross_entropy`` (minicnn's ops call them so), but this exercise is the
common case: ``target`` holds class indices (an integer array of shape (N,)), ``weight`` is None, no label
equals ``ignore_index``, ``label_smoothing`` is 0, and ``reduction`` is "mean" or "sum".  That is all the
check draws; raise NotImplementedError for the rest if you like.

The contract (every kernel pair of minicnn keeps it, and the check grades it first):

- ``cross_entropy_forward(...)`` returns a tuple ``(loss, cache)``: the loss (a float, or a 0-d array), and
  whatever your backward needs.
- ``cross_entropy_backward(dloss, cache, ...)`` returns ``(dlogits, dtarget)``: dlogits of the logits'
  shape and dtype, and None for dtarget (class indices have no gradient).
- Compute in the dtype you were given (float32 stays float32); never modify an input, and never return
  one (or a view of one): return new arrays.
"""
import numpy as np


def cross_entropy_forward(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of ``softmax(logits)`` against class indices, as ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : ndarray, shape (N, C), float32 or float64
    target : integer ndarray, shape (N,), class indices in [0, C)
    weight, ignore_index, label_smoothing : torch's; here None, -100 (no label equal to it) and 0.0
    reduction : "mean" (the average over the batch) or "sum"

    Returns
    -------
    loss : float (or a 0-d ndarray)
    cache : what cross_entropy_backward needs
    """
    raise NotImplementedError("exercise 3: write cross_entropy_forward")


def cross_entropy_backward(dloss, cache, need_target_grad=False):
    """Gradient of the loss with respect to the logits, times the upstream gradient ``dloss``.

    Parameters
    ----------
    dloss : 0-d ndarray: d (whatever comes after) / d loss; 1.0 when the loss is the end of the graph
    cache : what cross_entropy_forward returned
    need_target_grad : bool; only class-probability targets have a gradient, so here: ignore it

    Returns
    -------
    dlogits : ndarray, shape (N, C), the logits' dtype
    dtarget : None
    """
    raise NotImplementedError("exercise 3: write cross_entropy_backward")
