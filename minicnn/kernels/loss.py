"""Softmax + cross-entropy, fused.

``loss_n = logsumexp(z_n) - z_n[y_n]``, computed with the max subtracted so
that ``exp`` never overflows (finite at logits of ±1e4), and no ``+eps`` fudge.
The gradient of the mean is ``(softmax(z) - onehot(y)) / N``.
"""
import numpy as np

from ._check import check_float_array

REDUCTIONS = ("mean", "sum")


def check_labels(name, labels, n_rows, n_classes):
    """Raise unless ``labels`` is an integer (N,) array with values in ``[0, n_classes)``."""
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"{name}: expected labels as a numpy.ndarray, got {type(labels).__name__}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{name}: expected integer labels, got dtype {labels.dtype}")
    if labels.shape != (n_rows,):
        raise ValueError(f"{name}: expected labels of shape ({n_rows},), got {labels.shape}")
    if n_rows and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"{name}: expected labels in [0, {n_classes}), got values in "
                         f"[{labels.min()}, {labels.max()}]")


def softmax_cross_entropy(logits, labels, reduction="mean"):
    """Cross-entropy of ``softmax(logits)`` against class indices, and its gradient.

    Parameters
    ----------
    logits : ndarray, shape (N, C), float32 or float64
    labels : ndarray, shape (N,), integer in [0, C)
    reduction : "mean" (torch's default) or "sum"

    Returns
    -------
    loss : float
    dlogits : ndarray, shape (N, C), dtype of ``logits``: d loss / d logits
    """
    check_float_array("cross_entropy logits", logits, 2)
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"cross_entropy: expected a non-empty (N, C) logits array, got {logits.shape}")
    check_labels("cross_entropy", labels, logits.shape[0], logits.shape[1])
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: expected reduction in {REDUCTIONS}, got {reduction!r}")
    rows = np.arange(logits.shape[0])
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1)
    per_sample = np.log(sum_exp) - shifted[rows, labels]
    dlogits = exp / sum_exp[:, None]
    dlogits[rows, labels] -= 1
    if reduction == "mean":
        dlogits /= logits.shape[0]
        return float(per_sample.mean()), dlogits
    return float(per_sample.sum()), dlogits


def softmax_cross_entropy_naive(logits, labels, reduction="mean"):
    """The definition, one sample at a time: ``loss_n = -log(softmax(z_n)[y_n])`` and
    ``d loss_n / d z_n = softmax(z_n) - onehot(y_n)`` (still shifted by the max: ``exp`` of a large
    logit would overflow).  Same contract as :func:`softmax_cross_entropy`."""
    check_float_array("cross_entropy logits", logits, 2)
    check_labels("cross_entropy", labels, logits.shape[0], logits.shape[1])
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: expected reduction in {REDUCTIONS}, got {reduction!r}")
    total, dlogits = 0.0, np.empty_like(logits)
    for n, (z, y) in enumerate(zip(logits, labels)):
        e = np.exp(z - z.max())
        p = e / e.sum()
        total += -np.log(p[y])
        dlogits[n] = p
        dlogits[n, y] -= 1
    if reduction == "mean":
        return float(total / len(logits)), dlogits / len(logits)
    return float(total), dlogits
