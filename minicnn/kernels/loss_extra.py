"""Mean squared error, negative log-likelihood and binary cross-entropy on logits.

Each ``*_forward`` returns ``(loss, cache)`` with ``loss`` an ndarray in the
input's dtype (0-d for ``reduction="mean"``/``"sum"``, the input's shape for
``"none"``); each ``*_backward(dloss, cache)`` returns the gradients of the
input and of the target (None for class-index targets).

BCE on logits uses the stable form (torch's): with ``m = max(-x, 0)``,
``log(1 + exp(-x)) = m + log(exp(-m) + exp(-x - m))``, so no ``exp`` overflows
and no ``log(sigmoid)`` of a rounded-to-zero sigmoid appears::

    loss = (1 - t) * x + l * (log(1 + exp(-|x|)) + max(-x, 0)),   l = 1 + (pos_weight - 1) * t
    d loss / dx = (1 - t) - l * sigmoid(-x)       d loss / dt = -x + (pos_weight - 1) * softplus(-x)
"""
import numpy as np

from ._check import check_float_array, check_grad, check_same_dtype

REDUCTIONS = ("mean", "sum", "none")


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


def mse_forward(x, target, reduction="mean"):
    """``(x - target)**2``, reduced.  Shapes: x and target the same; cache ``(x - target, reduction)``."""
    _check_pair("mse_loss", x, target)
    _check_reduction("mse_loss", reduction)
    diff = x - target
    return _reduce(diff * diff, reduction), (diff, reduction)


def mse_backward(dloss, cache):
    """``dx = 2 (x - target) dloss / n`` (n = size for "mean", 1 otherwise); ``dtarget = -dx``."""
    diff, reduction = cache
    dloss = _upstream("mse_loss", dloss, diff.shape, reduction, diff.dtype)
    scale = 2 * dloss / diff.dtype.type(diff.size) if reduction == "mean" else 2 * dloss
    dx = diff * scale
    return dx, -dx


def mse_forward_naive(x, target, reduction="mean"):
    """Element by element: ``sum_i (x_i - t_i)**2``; same contract as :func:`mse_forward`."""
    _check_pair("mse_loss", x, target)
    _check_reduction("mse_loss", reduction)
    squares = np.empty_like(x)
    for i in np.ndindex(x.shape):
        squares[i] = (x[i] - target[i]) ** 2
    return _reduce(squares, reduction), (x - target, reduction)


def mse_backward_naive(dloss, cache):
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


def nll_forward(logp, target, weight=None, ignore_index=-100, reduction="mean"):
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


def nll_backward(dloss, cache):
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


def nll_forward_naive(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """One sample at a time; same contract as :func:`nll_forward`."""
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


def nll_backward_naive(dloss, cache):
    labels, safe, w_taken, denominator, shape, target_shape, reduction = cache
    dtype = w_taken.dtype
    scale = _nll_scale(dloss, w_taken, denominator, target_shape, reduction, dtype)
    classes = shape[0] if len(shape) == 1 else shape[1]
    rows = np.zeros((len(labels), classes), dtype=dtype)
    for m, y in enumerate(safe):
        rows[m, y] = scale[m]
    return _unrows(rows, shape), None


# --------------------------------------------------------------------------- BCE with logits
def _check_bce(x, t, weight, pos_weight, reduction):
    _check_pair("binary_cross_entropy_with_logits", x, t)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    for name, a in (("weight", weight), ("pos_weight", pos_weight)):
        if a is not None:
            check_float_array(f"binary_cross_entropy_with_logits {name}", a)
            check_same_dtype("binary_cross_entropy_with_logits", x, a)
            try:
                if np.broadcast_shapes(a.shape, x.shape) != x.shape:
                    raise ValueError
            except ValueError:
                raise ValueError(f"binary_cross_entropy_with_logits: expected {name} broadcastable to the input "
                                 f"{x.shape}, got {a.shape}") from None


def bce_logits_forward(x, target, weight=None, pos_weight=None, reduction="mean"):
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


def bce_logits_backward(dloss, cache):
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


def bce_logits_forward_naive(x, target, weight=None, pos_weight=None, reduction="mean"):
    """The textbook ``-[p_w t log s(x) + (1 - t) log(1 - s(x))]`` with ``log s(x) = -softplus(-x)`` and
    ``log(1 - s(x)) = -softplus(x)`` (so still finite at |x| = 1e4); same contract as :func:`bce_logits_forward`."""
    _check_bce(x, target, weight, pos_weight, reduction)
    zero = x.dtype.type(0)
    log_s, log_1ms = -np.logaddexp(zero, -x), -np.logaddexp(zero, x)
    pw = 1 if pos_weight is None else pos_weight
    loss = -(pw * target * log_s + (1 - target) * log_1ms)
    w = 1 if weight is None else weight
    loss = (loss * w).astype(x.dtype, copy=False)
    return _reduce(loss, reduction), (x, target, w, pos_weight, -log_s, reduction)


def bce_logits_backward_naive(dloss, cache):
    """``d/dx [-p t log s - (1 - t) log(1 - s)] = -p t (1 - s) + (1 - t) s``; ``d/dt = -p log s + log(1 - s)``."""
    x, t, w, pos_weight, softplus_neg, reduction = cache
    dloss = _upstream("binary_cross_entropy_with_logits", dloss, x.shape, reduction, x.dtype)
    n = x.size if reduction == "mean" else 1
    s, pw = _sigmoid(x), (1 if pos_weight is None else pos_weight)
    log_s, log_1ms = -softplus_neg, -np.logaddexp(x.dtype.type(0), x)
    dx = (w * (-pw * t * (1 - s) + (1 - t) * s) * dloss / n).astype(x.dtype, copy=False)
    dt = (w * (-pw * log_s + log_1ms) * dloss / n).astype(x.dtype, copy=False)
    return dx, dt
