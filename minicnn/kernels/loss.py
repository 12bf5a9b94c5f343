"""Softmax + cross-entropy, fused.

``loss_n = logsumexp(z_n) - z_n[y_n]``, computed with the max subtracted so
that ``exp`` never overflows (finite at logits of ±1e4), and no ``+eps`` fudge.
The gradient of the mean is ``(softmax(z) - onehot(y)) / N``.

:func:`softmax_cross_entropy` is that common case.  :func:`cross_entropy_forward`
/ :func:`cross_entropy_backward` are torch's whole ``cross_entropy``: class
weights ``w``, ``ignore_index``, label smoothing ``eps``, class-probability
targets, extra dims ``(N, C, d1, ...)`` and ``reduction='none'``.  Every case
is one formula: each sample ``n`` has a weighted target distribution ``a_n``
over the C classes, and

    loss_n = -sum_c a_nc * log softmax(z_n)_c,    d loss_n / d z_n = (sum_c a_nc) * softmax(z_n) - a_n

* class index ``y``:  ``a_nc = (1 - eps) * w[y] * [c == y] + eps / C * w[c]``, and ``a_n = 0`` where
  ``y == ignore_index``; ``'mean'`` divides by ``sum_n w[y_n]`` over the samples not ignored
  (torch's weighted mean; without weights, their count);
* class probabilities ``t``:  ``a_nc = w[c] * ((1 - eps) * t_nc + eps / C)``; ``'mean'`` divides by the
  number of samples, and the target has a gradient too: ``-(1 - eps) * w[c] * log softmax(z_n)_c``.
"""
import numpy as np

from ._check import check_float_array, check_grad

REDUCTIONS = ("mean", "sum")
CE_REDUCTIONS = ("mean", "sum", "none")


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


# --------------------------------------------------------------------------- the whole torch signature
def _check_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing):
    """Every check of :func:`cross_entropy_forward`; returns True for class-probability targets."""
    check_float_array("cross_entropy input", logits)
    if logits.ndim < 2 or logits.shape[1] == 0:
        raise ValueError(f"cross_entropy: expected input of shape (N, C) or (N, C, d1, ...) with C >= 1, "
                         f"got {logits.shape}")
    n_classes = logits.shape[1]
    if reduction not in CE_REDUCTIONS:
        raise ValueError(f"cross_entropy: expected reduction in {CE_REDUCTIONS}, got {reduction!r}")
    if not isinstance(label_smoothing, (int, float, np.floating, np.integer)) or isinstance(label_smoothing, bool) \
            or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: expected label_smoothing in [0.0, 1.0], got {label_smoothing!r}")
    if weight is not None:
        check_float_array("cross_entropy weight", weight, 1)
        if weight.shape != (n_classes,) or weight.dtype != logits.dtype:
            raise ValueError(f"cross_entropy: expected weight of shape ({n_classes},) and dtype {logits.dtype}, "
                             f"got {weight.shape} {weight.dtype}")
    if not isinstance(ignore_index, (int, np.integer)) or isinstance(ignore_index, bool):
        raise TypeError(f"cross_entropy: expected ignore_index as an int, got {ignore_index!r}")
    if not isinstance(target, np.ndarray):
        raise TypeError(f"cross_entropy: expected target as an ndarray, got {type(target).__name__}")
    if target.dtype.kind == "f":
        if target.shape != logits.shape or target.dtype != logits.dtype:
            raise ValueError(f"cross_entropy: expected class-probability target of the input's shape "
                             f"{logits.shape} and dtype {logits.dtype}, got {target.shape} {target.dtype}")
        return True
    if not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"cross_entropy: expected integer class indices or float probabilities as target, "
                        f"got dtype {target.dtype}")
    expected = logits.shape[:1] + logits.shape[2:]
    if target.shape != expected:
        raise ValueError(f"cross_entropy: expected class-index target of shape {expected}, got {target.shape}")
    valid = target[target != ignore_index]
    if valid.size and (valid.min() < 0 or valid.max() >= n_classes):
        raise ValueError(f"cross_entropy: expected class indices in [0, {n_classes}) or ignore_index="
                         f"{ignore_index}, got values in [{valid.min()}, {valid.max()}]")
    return False


def _rows(a):
    """(N, C, d1, ...) -> (N*d1*..., C): one row per sample and position, classes last."""
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unrows(rows, shape):
    """The inverse of :func:`_rows` for an array of ``shape`` (N, C, d1, ...)."""
    return np.moveaxis(rows.reshape(shape[:1] + shape[2:] + shape[1:2]), -1, 1)


def _reduce(per_sample, grads, denominator, reduction, shape):
    """Apply ``reduction`` to the per-sample losses (and the same scale to the gradients)."""
    if reduction == "none":
        return per_sample.reshape(shape[:1] + shape[2:]), grads
    if reduction == "sum":
        return float(per_sample.sum()), grads
    with np.errstate(invalid="ignore", divide="ignore"):   # every sample ignored: nan, as torch
        return float(per_sample.sum() / denominator), [None if g is None else g / denominator for g in grads]


def cross_entropy_forward(logits, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy of ``softmax(logits)`` over dim 1, as ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : ndarray, shape (N, C) or (N, C, d1, ...), float32 or float64
    target : integer ndarray (N,) / (N, d1, ...) of class indices in [0, C) or ``ignore_index``,
        or float ndarray of the logits' shape: class probabilities
    weight : ndarray (C,) of the logits' dtype, or None (all ones)
    ignore_index : int; samples with this class index count for nothing (index targets only)
    reduction : "mean", "sum" or "none"
    label_smoothing : float in [0, 1]

    Returns
    -------
    loss : float ("mean", "sum"), or ndarray (N, d1, ...) ("none")
    cache : for :func:`cross_entropy_backward`; the gradients are computed here, fused, and scaled there
    """
    probs = _check_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing)
    if (not probs and logits.ndim == 2 and weight is None and label_smoothing == 0 and reduction != "none"
            and not (target == ignore_index).any()):
        loss, dlogits = softmax_cross_entropy(logits, target, reduction)  # the common case, as before
        return loss, (dlogits, None, reduction, logits.shape)
    n_classes, eps = logits.shape[1], float(label_smoothing)
    z = _rows(logits)
    shifted = z - z.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    w = np.ones(n_classes, dtype=logits.dtype) if weight is None else weight
    dtarget = None
    if probs:
        a = ((1 - eps) * _rows(target) + eps / n_classes) * w
        denominator = len(z)
        dtarget = -(1 - eps) * w * logp
    else:
        y = target.reshape(-1)
        keep = y != ignore_index
        y_kept = np.where(keep, y, 0)
        a = np.zeros_like(z)
        a[np.arange(len(z)), y_kept] = (1 - eps) * w[y_kept]
        if eps:
            a += eps / n_classes * w
        a *= keep[:, None]
        denominator = (w[y_kept] * keep).sum()
    per_sample = -(a * logp).sum(axis=1)
    dz = a.sum(axis=1, keepdims=True) * np.exp(logp) - a
    loss, (dz, dtarget) = _reduce(per_sample, [dz, dtarget], denominator, reduction, logits.shape)
    dtarget = None if dtarget is None else _unrows(dtarget, logits.shape)
    return loss, (_unrows(dz, logits.shape), dtarget, reduction, logits.shape)


def cross_entropy_backward(dloss, cache, need_target_grad=False):
    """Gradients of :func:`cross_entropy_forward`.

    Parameters
    ----------
    dloss : ndarray, shape () ("mean", "sum") or (N, d1, ...) ("none"), not modified
    cache : from :func:`cross_entropy_forward`
    need_target_grad : bool; True for the gradient with respect to class-probability targets

    Returns
    -------
    dlogits : ndarray of the logits' shape
    dtarget : ndarray of the target's shape, or None (index targets, or not asked for)
    """
    dlogits, dtarget, reduction, shape = cache
    check_grad("cross_entropy backward", dloss, shape[:1] + shape[2:] if reduction == "none" else (),
               dlogits.dtype)
    g = np.expand_dims(dloss, 1) if reduction == "none" else dloss
    return dlogits * g, (dtarget * g if need_target_grad and dtarget is not None else None)


def cross_entropy_forward_naive(logits, target, weight=None, ignore_index=-100, reduction="mean",
                                label_smoothing=0.0):
    """The definition, one sample at a time, as torch composes it: ``(1 - eps) * nll + eps / C * smooth``
    with ``nll = -w[y] log p_y`` and ``smooth = -sum_c w[c] log p_c`` (index targets), or
    ``-sum_c w[c] t'_c log p_c`` with ``t' = (1 - eps) t + eps / C`` (probabilities).  Same contract as
    :func:`cross_entropy_forward`."""
    probs = _check_cross_entropy(logits, target, weight, ignore_index, reduction, label_smoothing)
    n_classes, eps = logits.shape[1], float(label_smoothing)
    z = _rows(logits)
    t = _rows(target) if probs else target.reshape(-1)
    w = np.ones(n_classes, dtype=logits.dtype) if weight is None else weight
    per_sample, dz = np.zeros(len(z), dtype=logits.dtype), np.zeros_like(z)
    dtarget = np.zeros_like(z) if probs else None
    denominator = 0.0
    for m in range(len(z)):
        shifted = z[m] - z[m].max()
        logp = shifted - np.log(np.exp(shifted).sum())
        p = np.exp(logp)
        if probs:
            smoothed = (1 - eps) * t[m] + eps / n_classes
            per_sample[m] = -(w * smoothed * logp).sum()
            dz[m] = (w * smoothed).sum() * p - w * smoothed
            dtarget[m] = -(1 - eps) * w * logp
            denominator += 1
        elif t[m] != ignore_index:
            y = t[m]
            onehot = np.eye(n_classes, dtype=logits.dtype)[y]
            nll, smooth = -w[y] * logp[y], -(w * logp).sum()
            per_sample[m] = (1 - eps) * nll + eps / n_classes * smooth
            dz[m] = (1 - eps) * w[y] * (p - onehot) + eps / n_classes * (w.sum() * p - w)
            denominator += w[y]
    loss, (dz, dtarget) = _reduce(per_sample, [dz, dtarget], denominator, reduction, logits.shape)
    dtarget = None if dtarget is None else _unrows(dtarget, logits.shape)
    return loss, (_unrows(dz, logits.shape), dtarget, reduction, logits.shape)


cross_entropy_backward_naive = cross_entropy_backward  # scaling the fused gradients: nothing to unroll
