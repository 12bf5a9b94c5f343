"""The losses: cross-entropy (softmax fused in), MSE, NLL, BCE on logits and on probabilities, each beside its
naive twin.

Cross-entropy:

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

Mean squared error, negative log-likelihood and binary cross-entropy (on logits, on probabilities): each
``*_forward`` returns ``(loss, cache)`` with ``loss`` an ndarray in the
input's dtype (0-d for ``reduction="mean"``/``"sum"``, the input's shape for
``"none"``); each ``*_backward(dloss, cache)`` returns the gradients of the
input and of the target (None for class-index targets).

BCE on logits uses the stable form (torch's): with ``m = max(-x, 0)``,
``log(1 + exp(-x)) = m + log(exp(-m) + exp(-x - m))``, so no ``exp`` overflows
and no ``log(sigmoid)`` of a rounded-to-zero sigmoid appears::

    loss = (1 - t) * x + l * (log(1 + exp(-|x|)) + max(-x, 0)),   l = 1 + (pos_weight - 1) * t
    d loss / dx = (1 - t) - l * sigmoid(-x)       d loss / dt = -x + (pos_weight - 1) * softplus(-x)

BCE on probabilities ``x`` in [0, 1] is torch's ``binary_cross_entropy``, each log clamped at -100 (so
``x = 0`` or ``1`` gives a loss of at most 100, not inf), and its two gradients exactly as torch computes
them: the input's with its denominator clamped at 1e-12 (float32's 1e-12, in float64 too), the target's
from the unclamped logs (so infinite at ``x = 0`` or ``1``, as torch's)::

    loss = -w [t max(log x, -100) + (1 - t) max(log(1 - x), -100)]
    d loss / dx = w (x - t) / max(x (1 - x), 1e-12)      d loss / dt = -w log(x / (1 - x))
"""
import numpy as np

from .checks import check_float_array, check_grad, check_same_dtype
from .registry import kernel_table

REDUCTIONS = ("mean", "sum", "none")  # torch's, for every loss here


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
    if reduction not in ("mean", "sum"):
        raise ValueError(f"cross_entropy: expected reduction in ('mean', 'sum'), got {reduction!r}")
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
    if reduction not in ("mean", "sum"):
        raise ValueError(f"cross_entropy: expected reduction in ('mean', 'sum'), got {reduction!r}")
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
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: expected reduction in {REDUCTIONS}, got {reduction!r}")
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




def _reduce_per_sample(per_sample, grads, denominator, reduction, shape):
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
    loss, (dz, dtarget) = _reduce_per_sample(per_sample, [dz, dtarget], denominator, reduction, logits.shape)
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
    loss, (dz, dtarget) = _reduce_per_sample(per_sample, [dz, dtarget], denominator, reduction, logits.shape)
    dtarget = None if dtarget is None else _unrows(dtarget, logits.shape)
    return loss, (_unrows(dz, logits.shape), dtarget, reduction, logits.shape)


cross_entropy_backward_naive = cross_entropy_backward  # scaling the fused gradients: nothing to unroll


# =========================================================================== MSE, NLL, BCE with logits


def _check_reduction(name, reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: expected reduction in {REDUCTIONS}, got {reduction!r}")


def _reduce(elementwise, reduction, count=None):
    if reduction == "none":
        return elementwise
    total = elementwise.sum(dtype=np.float64)
    value = total / (elementwise.size if count is None else count) if reduction == "mean" else total
    return np.asarray(value, dtype=elementwise.dtype)


def _upstream(name, dloss, cache_shape, reduction, dtype):
    """The upstream gradient broadcast to the elementwise loss's shape (a scalar for mean/sum)."""
    check_grad(f"{name} backward", dloss, () if reduction != "none" else cache_shape, dtype)
    return dloss


# --------------------------------------------------------------------------- MSE
def _check_pair(name, x, t):
    check_float_array(f"{name} input", x)
    check_float_array(f"{name} target", t)
    check_same_dtype(name, x, t)
    if x.shape != t.shape:
        raise ValueError(f"{name}: expected target of the input's shape {x.shape}, got {t.shape}")


def mse_loss_forward(x, target, reduction="mean"):
    """``(x - target)**2``, reduced.  Shapes: x and target the same; cache ``(x - target, reduction)``."""
    _check_pair("mse_loss", x, target)
    _check_reduction("mse_loss", reduction)
    diff = x - target
    return _reduce(diff * diff, reduction), (diff, reduction)


def mse_loss_backward(dloss, cache):
    """``dx = 2 (x - target) dloss / n`` (n = size for "mean", 1 otherwise); ``dtarget = -dx``."""
    diff, reduction = cache
    dloss = _upstream("mse_loss", dloss, diff.shape, reduction, diff.dtype)
    scale = 2 * dloss / diff.dtype.type(diff.size) if reduction == "mean" else 2 * dloss
    dx = diff * scale
    return dx, -dx


def mse_loss_forward_naive(x, target, reduction="mean"):
    """Element by element: ``sum_i (x_i - t_i)**2``; same contract as :func:`mse_loss_forward`."""
    _check_pair("mse_loss", x, target)
    _check_reduction("mse_loss", reduction)
    squares = np.empty_like(x)
    for i in np.ndindex(x.shape):
        squares[i] = (x[i] - target[i]) ** 2
    return _reduce(squares, reduction), (x - target, reduction)


def mse_loss_backward_naive(dloss, cache):
    diff, reduction = cache
    dloss = _upstream("mse_loss", dloss, diff.shape, reduction, diff.dtype)
    n = diff.size if reduction == "mean" else 1
    dx = np.empty_like(diff)
    for i in np.ndindex(diff.shape):
        dx[i] = 2 * diff[i] * (dloss if reduction != "none" else dloss[i]) / n
    return dx, -dx


# --------------------------------------------------------------------------- NLL
def _check_nll(logp, target, weight, ignore_index, reduction):
    check_float_array("nll_loss input", logp)
    _check_reduction("nll_loss", reduction)
    if logp.ndim < 1:
        raise ValueError(f"nll_loss input: expected (N, C), (C,) or (N, C, d1, ...), got shape {logp.shape}")
    if not isinstance(target, np.ndarray) or not np.issubdtype(target.dtype, np.integer):
        raise TypeError(f"nll_loss target: expected an integer ndarray of class indices, got "
                        f"{getattr(target, 'dtype', type(target).__name__)}")
    if logp.ndim == 1:  # unbatched (C,) with a 0-d target
        expected = ()
    else:
        expected = (logp.shape[0],) + logp.shape[2:]
    if target.shape != expected:
        raise ValueError(f"nll_loss: expected target of shape {expected} for input {logp.shape}, got {target.shape}")
    classes = logp.shape[0] if logp.ndim == 1 else logp.shape[1]
    if classes < 1:
        raise ValueError(f"nll_loss: expected at least one class, got input of shape {logp.shape}")
    if weight is not None:
        check_float_array("nll_loss weight", weight, 1)
        check_same_dtype("nll_loss", logp, weight)
        if weight.shape != (classes,):
            raise ValueError(f"nll_loss: expected weight of shape ({classes},), got {weight.shape}")
    valid = target != ignore_index
    if valid.any() and (target[valid].min() < 0 or target[valid].max() >= classes):
        raise ValueError(f"nll_loss: expected target in [0, {classes}) or ignore_index={ignore_index}, got values "
                         f"in [{target[valid].min()}, {target[valid].max()}]")
    rows = np.moveaxis(logp[None] if logp.ndim == 1 else logp, 1, -1).reshape(-1, classes)  # (M, C)
    return rows, target.reshape(-1), valid.reshape(-1), classes


def nll_loss_forward(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """``-weight[y] * logp[y]`` per sample, reduced ("mean" divides by the sum of the weights taken).

    Shapes: logp (N, C) or (C,) or (N, C, d1, ...); target (N,) / () / (N, d1, ...) integer.
    cache: ``(rows, labels, w_taken, denominator, logp.shape, reduction)``.
    """
    rows, labels, valid, _ = _check_nll(logp, target, weight, ignore_index, reduction)
    safe = np.where(valid, labels, 0)
    w_taken = (np.ones(len(labels), logp.dtype) if weight is None else weight[safe]) * valid
    per_sample = -w_taken * rows[np.arange(len(labels)), safe]
    denominator = w_taken.sum(dtype=np.float64)
    if reduction == "none":
        loss = per_sample.reshape(target.shape)
    elif reduction == "sum":
        loss = np.asarray(per_sample.sum(dtype=np.float64), dtype=logp.dtype)
    else:  # torch: 0/0 = nan when every target is ignored
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.asarray(per_sample.sum(dtype=np.float64) / denominator, dtype=logp.dtype)
    return loss, (labels, safe, w_taken, denominator, logp.shape, target.shape, reduction)


def _nll_scale(dloss, w_taken, denominator, target_shape, reduction, dtype):
    check_grad("nll_loss backward", dloss, () if reduction != "none" else target_shape, dtype)
    if reduction == "none":
        return -w_taken * dloss.reshape(-1)
    if reduction == "sum":
        return -w_taken * dloss
    return (-w_taken * dloss / denominator).astype(dtype)


def nll_loss_backward(dloss, cache):
    """``d/d logp[n, y_n] = -weight[y_n] * dloss`` (over the weight sum for "mean"); zero elsewhere."""
    labels, safe, w_taken, denominator, shape, target_shape, reduction = cache
    dtype = w_taken.dtype
    scale = _nll_scale(dloss, w_taken, denominator, target_shape, reduction, dtype)
    classes = shape[0] if len(shape) == 1 else shape[1]
    rows = np.zeros((len(labels), classes), dtype=dtype)
    rows[np.arange(len(labels)), safe] = scale
    return _unrows(rows, shape), None


def _unrows(rows, shape):
    """(M, C) rows back to the input's layout (the inverse of moving the class axis last)."""
    if len(shape) == 1:
        return rows.reshape(shape)
    moved = (shape[0],) + shape[2:] + (shape[1],)
    return np.moveaxis(rows.reshape(moved), -1, 1)


def nll_loss_forward_naive(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """One sample at a time; same contract as :func:`nll_loss_forward`."""
    rows, labels, valid, _ = _check_nll(logp, target, weight, ignore_index, reduction)
    per_sample = np.zeros(len(labels), logp.dtype)
    w_taken = np.zeros(len(labels), logp.dtype)
    safe = np.where(valid, labels, 0)
    for m, (row, y, ok) in enumerate(zip(rows, labels, valid)):
        if ok:
            w_taken[m] = 1 if weight is None else weight[y]
            per_sample[m] = -w_taken[m] * row[y]
    denominator = float(sum(float(w) for w in w_taken))
    if reduction == "none":
        loss = per_sample.reshape(target.shape)
    else:
        total = sum(float(v) for v in per_sample)
        with np.errstate(invalid="ignore", divide="ignore"):
            loss = np.asarray(total if reduction == "sum" else np.float64(total) / denominator, dtype=logp.dtype)
    return loss, (labels, safe, w_taken, denominator, logp.shape, target.shape, reduction)


def nll_loss_backward_naive(dloss, cache):
    labels, safe, w_taken, denominator, shape, target_shape, reduction = cache
    dtype = w_taken.dtype
    scale = _nll_scale(dloss, w_taken, denominator, target_shape, reduction, dtype)
    classes = shape[0] if len(shape) == 1 else shape[1]
    rows = np.zeros((len(labels), classes), dtype=dtype)
    for m, y in enumerate(safe):
        rows[m, y] = scale[m]
    return _unrows(rows, shape), None


# --------------------------------------------------------------------------- BCE with logits
def _check_broadcast_weight(op, name, a, x):
    """``a`` (None, or a float array of x's dtype) must broadcast to x's shape without growing it."""
    if a is None:
        return
    check_float_array(f"{op} {name}", a)
    check_same_dtype(op, x, a)
    try:
        if np.broadcast_shapes(a.shape, x.shape) != x.shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"{op}: expected {name} broadcastable to the input {x.shape}, got {a.shape}") from None


def _check_bce(x, t, weight, pos_weight, reduction):
    _check_pair("binary_cross_entropy_with_logits", x, t)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        _check_broadcast_weight("binary_cross_entropy_with_logits", name, a, x)


def binary_cross_entropy_with_logits_forward(x, target, weight=None, pos_weight=None, reduction="mean"):
    """Binary cross-entropy of ``sigmoid(x)`` against ``target`` in [0, 1], the stable form (module docstring).

    Shapes: x and target the same; weight and pos_weight broadcast to x (pos_weight usually (C,)).
    """
    _check_bce(x, target, weight, pos_weight, reduction)
    softplus_neg = np.logaddexp(x.dtype.type(0), -x)          # log(1 + exp(-x)), stable
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * target
    loss = (1 - target) * x + lw * softplus_neg
    w = 1 if weight is None else weight
    loss = (loss * w).astype(x.dtype, copy=False)
    return _reduce(loss, reduction), (x, target, w, pos_weight, softplus_neg, reduction)


def binary_cross_entropy_with_logits_backward(dloss, cache):
    """``dx = w * ((1 - t) - l * sigmoid(-x)) * dloss``, ``dt = w * (-x + (pos_weight - 1) softplus(-x)) * dloss``."""
    x, t, w, pos_weight, softplus_neg, reduction = cache
    dloss = _upstream("binary_cross_entropy_with_logits", dloss, x.shape, reduction, x.dtype)
    scale = dloss / x.dtype.type(x.size) if reduction == "mean" else dloss
    sig_neg = _sigmoid(-x)
    lw = 1 if pos_weight is None else 1 + (pos_weight - 1) * t
    dx = (w * ((1 - t) - lw * sig_neg) * scale).astype(x.dtype, copy=False)
    dt = -x if pos_weight is None else -x + (pos_weight - 1) * softplus_neg
    dt = (w * dt * scale).astype(x.dtype, copy=False)
    return dx, dt


def _sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def binary_cross_entropy_with_logits_forward_naive(x, target, weight=None, pos_weight=None, reduction="mean"):
    """The textbook ``-[p_w t log s(x) + (1 - t) log(1 - s(x))]`` with ``log s(x) = -softplus(-x)`` and
    ``log(1 - s(x)) = -softplus(x)`` (so still finite at |x| = 1e4); same contract as :func:`binary_cross_entropy_with_logits_forward`."""
    _check_bce(x, target, weight, pos_weight, reduction)
    zero = x.dtype.type(0)
    log_s, log_1ms = -np.logaddexp(zero, -x), -np.logaddexp(zero, x)
    pw = 1 if pos_weight is None else pos_weight
    loss = -(pw * target * log_s + (1 - target) * log_1ms)
    w = 1 if weight is None else weight
    loss = (loss * w).astype(x.dtype, copy=False)
    return _reduce(loss, reduction), (x, target, w, pos_weight, -log_s, reduction)


def binary_cross_entropy_with_logits_backward_naive(dloss, cache):
    """``d/dx [-p t log s - (1 - t) log(1 - s)] = -p t (1 - s) + (1 - t) s``; ``d/dt = -p log s + log(1 - s)``."""
    x, t, w, pos_weight, softplus_neg, reduction = cache
    dloss = _upstream("binary_cross_entropy_with_logits", dloss, x.shape, reduction, x.dtype)
    n = x.size if reduction == "mean" else 1
    s, pw = _sigmoid(x), (1 if pos_weight is None else pos_weight)
    log_s, log_1ms = -softplus_neg, -np.logaddexp(x.dtype.type(0), x)
    dx = (w * (-pw * t * (1 - s) + (1 - t) * s) * dloss / n).astype(x.dtype, copy=False)
    dt = (w * (-pw * log_s + log_1ms) * dloss / n).astype(x.dtype, copy=False)
    return dx, dt


# --------------------------------------------------------------------------- BCE on probabilities
LOG_CLAMP = -100          # torch clamps each log of the loss at -100 (a probability of 0 costs 100, not inf)
# and the input gradient's denominator x (1 - x) at 1e-12 as a float32 (9.99999996e-13), in float64 too, as torch
GRAD_EPSILON = float(np.float32(1e-12))


def _check_binary_cross_entropy(x, t, weight, reduction):
    _check_pair("binary_cross_entropy", x, t)
    _check_reduction("binary_cross_entropy", reduction)
    _check_broadcast_weight("binary_cross_entropy", "weight", weight, x)
    for name, a in (("input", x), ("target", t)):   # NaN is outside too, as in torch
        outside = ~((a >= 0) & (a <= 1))
        if outside.any():
            raise ValueError(f"binary_cross_entropy: expected every element of {name} between 0 and 1 "
                             f"(probabilities), got {float(a[outside].flat[0])}")


def binary_cross_entropy_forward(x, target, weight=None, reduction="mean"):
    """Binary cross-entropy of probabilities ``x`` against ``target``, as ``torch.nn.functional.binary_cross_entropy``.

    Parameters
    ----------
    x, target : ndarrays of one shape (any, 0-d included) and dtype, every element in [0, 1]
    weight : ndarray broadcastable to x's shape, optional (a rescaling of each element's loss)
    reduction : "mean" (over every element), "sum" or "none"

    Returns
    -------
    loss : ndarray in x's dtype, 0-d ("mean", "sum") or x's shape ("none"): torch's
        ``w [(t - 1) max(log(1 - x), -100) - t max(log x, -100)]``
    cache : (x, target, weight or None, reduction)
    """
    _check_binary_cross_entropy(x, target, weight, reduction)
    with np.errstate(divide="ignore"):   # log(0) = -inf, clamped
        log_x, log_1mx = np.maximum(np.log(x), LOG_CLAMP), np.maximum(np.log1p(-x), LOG_CLAMP)
    loss = (target - 1) * log_1mx - target * log_x
    if weight is not None:
        loss = loss * weight
    return _reduce(np.asarray(loss, dtype=x.dtype), reduction), (x, target, weight, reduction)


def binary_cross_entropy_backward(dloss, cache):
    """``dx = dloss w (x - t) / max(x (1 - x), 1e-12) / n``, ``dt = -dloss w log(x / (1 - x)) / n`` (n = the
    element count for "mean", else 1), in torch's order of operations."""
    x, t, weight, reduction = cache
    dloss = _upstream("binary_cross_entropy", dloss, x.shape, reduction, x.dtype)
    eps = x.dtype.type(GRAD_EPSILON)
    dx = dloss * (x - t) / np.maximum((1 - x) * x, eps)
    with np.errstate(divide="ignore", invalid="ignore"):   # x = 0 or 1: an infinite target gradient, as torch's
        dt = -np.log(x / (1 - x)) * dloss
        if weight is not None:
            dx, dt = dx * weight, dt * weight
    if reduction == "mean" and x.size:
        dx, dt = dx / x.dtype.type(x.size), dt / x.dtype.type(x.size)
    return np.asarray(dx, dtype=x.dtype), np.asarray(dt, dtype=x.dtype)


def binary_cross_entropy_forward_naive(x, target, weight=None, reduction="mean"):
    """The textbook ``-w [t log x + (1 - t) log(1 - x)]``, one element at a time, each log clamped at -100 as
    torch's (``log1p(-x)`` is ``log(1 - x)`` without the rounding of ``1 - x``); same contract as
    :func:`binary_cross_entropy_forward`."""
    _check_binary_cross_entropy(x, target, weight, reduction)
    w = np.ones_like(x) if weight is None else np.broadcast_to(weight, x.shape)
    loss = np.empty_like(x)
    with np.errstate(divide="ignore"):
        for i in np.ndindex(x.shape):
            log_x = max(np.log(x[i]), x.dtype.type(LOG_CLAMP))
            log_1mx = max(np.log1p(-x[i]), x.dtype.type(LOG_CLAMP))
            loss[i] = -w[i] * (target[i] * log_x + (1 - target[i]) * log_1mx)
    return _reduce(loss, reduction), (x, target, weight, reduction)


def binary_cross_entropy_backward_naive(dloss, cache):
    """``d/dx [-t log x - (1 - t) log(1 - x)] = -t / x + (1 - t) / (1 - x) = (x - t) / (x (1 - x))`` (its
    denominator clamped at 1e-12, as torch's) and ``d/dt = -log x + log(1 - x)``, one element at a time."""
    x, t, weight, reduction = cache
    dloss = _upstream("binary_cross_entropy", dloss, x.shape, reduction, x.dtype)
    n = x.size if reduction == "mean" else 1
    w = np.ones_like(x) if weight is None else np.broadcast_to(weight, x.shape)
    dx, dt = np.empty_like(x), np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in np.ndindex(x.shape):
            g = (dloss if reduction != "none" else dloss[i]) * w[i] / n
            dx[i] = g * (x[i] - t[i]) / max(x[i] * (1 - x[i]), x.dtype.type(GRAD_EPSILON))
            dt[i] = g * (-np.log(x[i]) + np.log1p(-x[i]))
    return dx, dt


# this file's ops, by torch's names (kernels/registry.py)
KERNELS = kernel_table(globals(), "cross_entropy", "mse_loss", "nll_loss", "binary_cross_entropy_with_logits",
                       "binary_cross_entropy")
