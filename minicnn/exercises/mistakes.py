"""The known mistakes of each kernel exercise, recognised by their numbers.

Each :class:`~minicnn.exercises.grading.Mistake` computes, from the case a check failed on (its inputs, the
upstream gradient and torch's results), what that mistake would have returned; when the learner's result is
that, the check names it.  They are the mistakes of ``tests/mutants.py`` (col2im assigning, a forgotten
ReLU mask, batch norm without its mean term, a transposed weight gradient, every tied maximum getting the
gradient, ...) written as the wrong numbers they give, so they apply to any learner's code.
"""
import numpy as np

from .grading import Mistake, close


# --------------------------------------------------------------------------- helpers
def _windows(h, w, info):
    """(oy, ox, rows, cols) of every window, ``rows``/``cols`` the real (unpadded) cells it covers."""
    (kh, kw), (sh, sw), (ph, pw) = info["kernel"], info["stride"], info["padding"]
    oh, ow = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    for oy in range(oh):
        rows = [r for r in range(oy * sh - ph, oy * sh - ph + kh) if 0 <= r < h]
        for ox in range(ow):
            yield oy, ox, rows, [q for q in range(ox * sw - pw, ox * sw - pw + kw) if 0 <= q < w]


def _coverage(h, w, info):
    """How many windows cover each pixel."""
    count = np.zeros((h, w), dtype=int)
    for _, _, rows, cols in _windows(h, w, info):
        count[np.ix_(rows, cols)] += 1
    return count


def _assigned_at_overlaps(probe, tensor, image_shape):
    """The learner's result equals torch's wherever one window covers a pixel and differs only where several
    do: overlapping windows' contributions assigned instead of added."""
    got, ref = np.asarray(probe.got[tensor]), np.asarray(probe.ref[tensor])
    if got.shape != ref.shape:
        return False
    count = np.broadcast_to(_coverage(*image_shape[2:], probe.params), ref.shape)
    if not (count > 1).any():
        return False
    scale = max(np.abs(ref).max(), 1e-300)
    wrong = np.abs(got - ref) > 1e-7 * scale
    return bool(wrong.any() and not wrong[count <= 1].any())


def _padded_shape(shape, info):
    (ph, pw) = info["padding"]
    return shape[:-2] + (shape[-2] + 2 * ph, shape[-1] + 2 * pw)


def _route(probe, pick, assign=False):
    """Max pool's dx, each window's gradient sent to the positions ``pick(window values)`` chooses."""
    x, dout = probe.arrays["x"].astype(np.float64), probe.dout
    n, c, h, w = x.shape
    dx = np.zeros(x.shape)
    for oy, ox, rows, cols in _windows(h, w, probe.params):
        win = x[:, :, rows][:, :, :, cols].reshape(n, c, -1)
        for i in range(n):
            for j in range(c):
                for q in pick(win[i, j]):
                    r, s = rows[q // len(cols)], cols[q % len(cols)]
                    dx[i, j, r, s] = dout[i, j, oy, ox] + (0 if assign else dx[i, j, r, s])
    return dx


def _first(v):
    return [int(np.argmax(v))]


def _last(v):
    return [len(v) - 1 - int(np.argmax(v[::-1]))]


def _every(v):
    return list(np.flatnonzero(v == v.max()))


def _zero_padded_max(probe):
    x = probe.arrays["x"].astype(np.float64)
    (ph, pw) = probe.params["padding"]
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    (kh, kw), (sh, sw) = probe.params["kernel"], probe.params["stride"]
    out = np.asarray(probe.ref["out"], dtype=np.float64).copy()
    for oy in range(out.shape[2]):
        for ox in range(out.shape[3]):
            out[:, :, oy, ox] = xp[:, :, oy * sh:oy * sh + kh, ox * sw:ox * sw + kw].max(axis=(2, 3))
    return out


def generic(tensors, shape_preserving=False):
    """What any backward can get wrong: a zero, negated or doubled gradient, dout passed back unchanged."""
    found = []
    for name in tensors:
        found += [Mistake(name, f"d{name} is 0 everywhere: the gradient was dropped",
                          lambda p, n=name: np.zeros_like(p.ref[n])),
                  Mistake(name, f"d{name} has the opposite sign of torch's",
                          lambda p, n=name: -np.asarray(p.ref[n])),
                  Mistake(name, f"d{name} is twice torch's", lambda p, n=name: 2 * np.asarray(p.ref[n]))]
    if shape_preserving:
        found.append(Mistake(tensors[0], "dx is dout unchanged: multiply it by this op's own slope",
                             lambda p: p.dout))
    return found


# --------------------------------------------------------------------------- the exercises
def linear():
    n = lambda p: p.arrays["x"].shape[0]   # noqa: E731
    return [
        Mistake("weight", "dweight transposed: dweight = dout.T @ x, of the weight's shape (out_features, "
                          "in_features)", lambda p: np.asarray(p.ref["weight"]).T),
        Mistake("weight", "dweight divided by the batch size: the weight gradient is the sum over the batch",
                lambda p: np.asarray(p.ref["weight"]) / n(p)),
        Mistake("bias", "dbias is the mean of dout over the batch: it is the sum (every sample adds the bias)",
                lambda p: np.asarray(p.ref["bias"]) / n(p)),
        Mistake("bias", "dbias summed over the features (axis 1): sum over the batch (axis 0)",
                lambda p: p.dout.sum(axis=1)),
        Mistake("x", "dx = dout @ weight.T: with torch's weight layout (out, in), dx = dout @ weight",
                lambda p: p.dout @ p.arrays["weight"].T),
        Mistake("out", "the bias is not added", lambda p: p.ref["out"] - p.arrays["bias"]),
        Mistake("out", "out = x @ weight: torch's weight is (out_features, in_features), so out = x @ weight.T "
                       "+ bias", lambda p: p.arrays["x"] @ p.arrays["weight"] + (p.arrays["bias"]
                                                                                  if p.arrays["bias"] is not None
                                                                                  else 0)),
    ] + generic(["x", "weight", "bias"])


def relu():
    x = lambda p: p.arrays["x"]   # noqa: E731
    zero = lambda p: np.zeros_like(p.dout)   # noqa: E731
    return [
        Mistake("x", "ReLU backward passes the gradient where x == 0: torch (and minicnn) give 0 at the kink, so "
                     "the mask is x > 0, not x >= 0", lambda p: np.where(x(p) >= 0, p.dout, zero(p))),
        Mistake("x", "relu_backward returns the forward output max(x, 0), not a gradient",
                lambda p: np.maximum(x(p), 0)),
        Mistake("x", "relu_backward returns dout unchanged: the mask [x > 0] is missing", lambda p: p.dout),
        Mistake("x", "the mask is inverted: the gradient passes where x > 0 and stops where x <= 0",
                lambda p: np.where(x(p) <= 0, p.dout, zero(p))),
        Mistake("x", "dx is the mask [x > 0] alone: multiply it by dout", lambda p: (x(p) > 0).astype(np.float64)),
        Mistake("x", "dx = dout * max(x, 0): multiply by the mask [x > 0], not by the output",
                lambda p: p.dout * np.maximum(x(p), 0)),
        Mistake("out", "relu_forward returns x unchanged: max(x, 0) zeroes the negatives", lambda p: x(p)),
    ] + generic(["x"])


def _softmax(z, axis=1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def cross_entropy():
    def parts(p):
        z = p.arrays["logits"].astype(np.float64)
        labels, mean = p.params["labels"], p.params["reduction"] == "mean"
        onehot = np.eye(z.shape[1])[labels]
        return z, onehot, float(p.dout), len(labels), mean

    def not_averaged(p):
        z, onehot, g, n, mean = parts(p)
        return g * (_softmax(z) - onehot) if mean and n > 1 else None

    def averaged_sum(p):
        z, onehot, g, n, mean = parts(p)
        return g * (_softmax(z) - onehot) / n if not mean and n > 1 else None

    def no_onehot(p):
        z, onehot, g, n, mean = parts(p)
        return g * _softmax(z) / (n if mean else 1)

    def wrong_axis(p):
        z, onehot, g, n, mean = parts(p)
        return g * (_softmax(z, axis=0) - onehot) / (n if mean else 1)

    def overflowed(p, tensor):
        return not np.isfinite(p.got[tensor]).all() and np.isfinite(p.ref[tensor]).all()

    def per_sample(p):
        return np.shape(p.got["out"]) == (len(p.params["labels"]),)
    overflow = ("the loss overflowed (inf or nan): subtract each row's maximum from the logits before exp "
                "(log-sum-exp); the check draws logits in the hundreds")
    return [
        Mistake("logits", overflow, test=lambda p: overflowed(p, "logits")),
        Mistake("out", overflow, test=lambda p: overflowed(p, "out")),
        Mistake("out", "the loss per sample: reduce it to one number (the mean, or the sum)", test=per_sample),
        Mistake("logits", "dlogits not divided by N: the mean's gradient is (softmax - onehot) / N", not_averaged),
        Mistake("logits", "divided by N under reduction='sum': only 'mean' divides by the batch size", averaged_sum),
        Mistake("logits", "onehot(y) not subtracted: dlogits = (softmax(z) - onehot(y)) / N", no_onehot),
        Mistake("logits", "the upstream gradient dloss is ignored: multiply by it (it is 1 only when the loss is "
                          "the last node of the graph)", lambda p: np.asarray(p.ref["logits"]) / float(p.dout)),
        Mistake("logits", "softmax over the wrong axis: normalise each row (over the classes, axis 1)", wrong_axis),
        Mistake("out", "the loss is the sum over the batch: reduction='mean' divides it by N",
                lambda p: p.ref["out"] * len(p.params["labels"]) if p.params["reduction"] == "mean" else None),
        Mistake("out", "reduction='sum' divided by N: only 'mean' averages",
                lambda p: p.ref["out"] / len(p.params["labels"]) if p.params["reduction"] == "sum" else None),
        Mistake("out", "the loss's sign: it is -log softmax(z)[y], never negative", lambda p: -p.ref["out"]),
    ] + generic(["logits"])


def max_pool2d():
    return [
        Mistake("x", "gradient flows through both (every) tied maxima of a window: torch (and minicnn) send it "
                     "to the first maximum only, in row-major order", lambda p: _route(p, _every)),
        Mistake("x", "the gradient goes to the last of a window's tied maxima: torch picks the first in "
                     "row-major order (keep the winner unless a later value is strictly larger)",
                lambda p: _route(p, _last)),
        Mistake("x", "a pixel that wins several overlapping windows must get the sum of their gradients: add "
                     "(+=, or np.add.at), don't assign (dx[idx] += dout with repeated indices keeps one)",
                lambda p: _route(p, _first, assign=True)),
        Mistake("x", "dx has the padded input's shape: cut the padding off",
                test=lambda p: np.shape(p.got["x"]) == _padded_shape(p.arrays["x"].shape, p.params)
                and p.params["padding"] != (0, 0)),
        Mistake("out", "padding counted as 0: padded cells are -inf, so a window over the edge of negative values "
                       "keeps its largest real value", _zero_padded_max),
    ] + generic(["x"])


def im2col():
    def same_values_elsewhere(p):
        got, ref = np.asarray(p.got["out"]), np.asarray(p.ref["out"])
        return got.shape == ref.shape and close(np.sort(got, axis=None), np.sort(ref, axis=None))
    return [
        Mistake("x", "col2im must add (+=) each column entry into its pixel, not assign: yours differs from "
                     "torch's only at pixels that several windows cover",
                test=lambda p: _assigned_at_overlaps(p, "x", p.arrays["x"].shape)),
        Mistake("x", "col2im returned the padded image: cut the padding off",
                test=lambda p: np.shape(p.got["x"]) == _padded_shape(p.arrays["x"].shape, p.params)
                and p.params["padding"] != (0, 0)),
        Mistake("out", "cols transposed: rows are (c, i, j), columns (n, y, x): shape (C*KH*KW, N*OH*OW)",
                lambda p: np.asarray(p.ref["out"]).T),
        Mistake("out", "your columns hold the right values in another order: row (c*KH + i)*KW + j, column "
                       "n*OH*OW + y*OW + x", test=same_values_elsewhere),
    ] + generic(["x"])


def _torch_conv(p, weight=None, transpose=False):
    import torch
    x, w = p.arrays["x"], p.arrays["weight"] if weight is None else weight
    (sh, sw), (ph, pw) = p.params["stride"], p.params["padding"]
    if transpose:   # dx of a conv with weight w: conv_transpose2d(dout, w), cut to x's size
        out = torch.nn.functional.conv_transpose2d(torch.from_numpy(np.ascontiguousarray(p.dout)),
                                                   torch.from_numpy(np.ascontiguousarray(w)), stride=(sh, sw),
                                                   padding=(ph, pw))
        dx = np.zeros(x.shape)
        h, wd = min(out.shape[2], x.shape[2]), min(out.shape[3], x.shape[3])
        dx[:, :, :h, :wd] = out.numpy()[:, :, :h, :wd]
        return dx
    b = p.arrays.get("bias")
    return torch.nn.functional.conv2d(torch.from_numpy(x.astype(np.float64)), torch.from_numpy(w.astype(np.float64)),
                                      None if b is None else torch.from_numpy(b.astype(np.float64)), (sh, sw),
                                      (ph, pw)).numpy()


def conv2d():
    def bias_term(p):
        b = p.arrays.get("bias")
        return None if b is None else p.ref["out"] - b[None, :, None, None]

    def out_pixels(p):
        return p.dout.shape[0] * p.dout.shape[2] * p.dout.shape[3]
    return [
        Mistake("out", "the kernel is flipped: torch's conv2d is a cross-correlation, out[y, x] = sum "
                       "w[i, j] * x_padded[y*S + i, x*S + j], no flip",
                lambda p: _torch_conv(p, p.arrays["weight"][:, :, ::-1, ::-1].copy())),
        Mistake("out", "the bias is not added", bias_term),
        Mistake("weight", "dweight rotated 180 degrees: it is the correlation of the (padded) input with dout, "
                          "no flip", lambda p: np.asarray(p.ref["weight"])[:, :, ::-1, ::-1]),
        Mistake("weight", "dweight's in and out channels swapped: its shape is (O, C, KH, KW), the weight's",
                lambda p: np.asarray(p.ref["weight"]).transpose(1, 0, 2, 3)),
        Mistake("bias", "dbias is the mean of dout: it is the sum over the batch and every output pixel",
                lambda p: np.asarray(p.ref["bias"]) / out_pixels(p)),
        Mistake("x", "dx must add where windows overlap (col2im adds): yours differs from torch's only at pixels "
                     "that several windows cover", test=lambda p: _assigned_at_overlaps(p, "x", p.arrays["x"].shape)),
        Mistake("x", "dx correlates dout with the kernel as it is: the input gradient is a full correlation with "
                     "the kernel flipped 180 degrees (or col2im of weight.T @ dout)",
                lambda p: _torch_conv(p, p.arrays["weight"][:, :, ::-1, ::-1].copy(), transpose=True)),
    ] + generic(["x", "weight", "bias"])


def _avg_pool(p, include_pad, divide=True):
    """Average pooling's forward and backward with either divisor rule (or none)."""
    x = p.arrays["x"].astype(np.float64)
    (kh, kw) = p.params["kernel"]
    out = np.zeros(np.shape(p.ref["out"]))
    dx = np.zeros(x.shape)
    for oy, ox, rows, cols in _windows(x.shape[2], x.shape[3], p.params):
        divisor = (kh * kw if include_pad else len(rows) * len(cols)) if divide else 1
        out[:, :, oy, ox] = x[:, :, rows][:, :, :, cols].sum(axis=(2, 3)) / divisor
        if p.dout is not None:
            dx[np.ix_(range(x.shape[0]), range(x.shape[1]), rows, cols)] += \
                (p.dout[:, :, oy, ox] / divisor)[:, :, None, None]
    return out, dx


def avg_pool2d():
    def other_rule(p, k):
        return _avg_pool(p, not p.params["count_include_pad"])[k]
    rule = ("count_include_pad: True (the default) divides every window by KH*KW, padded zeros included; "
            "False by the number of real cells in it")
    return [
        Mistake("x", "the window's divisor forgotten: each cell of a window gets dout / divisor",
                lambda p: _avg_pool(p, p.params["count_include_pad"], divide=False)[1]),
        Mistake("x", "overlapping windows' shares must add up (+=), not be assigned: yours differs from torch's "
                     "only at pixels that several windows cover",
                test=lambda p: _assigned_at_overlaps(p, "x", p.arrays["x"].shape)),
        Mistake("x", rule, lambda p: other_rule(p, 1)),
        Mistake("out", rule, lambda p: other_rule(p, 0)),
        Mistake("out", "the window's sum, not its mean: divide by the divisor",
                lambda p: _avg_pool(p, p.params["count_include_pad"], divide=False)[0]),
    ] + generic(["x"])


def _bn_parts(p, training=None, unbiased=False, eps_outside=False, axes=None):
    x = p.arrays["x"].astype(np.float64)
    training = p.params["training"] if training is None else training
    axes = (0,) + tuple(range(2, x.ndim)) if axes is None else axes
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    if training:
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=1 if unbiased else 0)
    else:
        mean = p.params["running_mean"].astype(np.float64).reshape(shape)
        var = p.params["running_var"].astype(np.float64).reshape(shape)
    eps = p.params["eps"]
    invstd = 1 / (np.sqrt(var) + eps) if eps_outside else 1 / np.sqrt(var + eps)
    weight = p.arrays.get("weight")
    weight = np.ones(shape) if weight is None else weight.astype(np.float64).reshape(shape)
    bias = p.arrays.get("bias")
    bias = np.zeros(shape) if bias is None else bias.astype(np.float64).reshape(shape)
    return x, (x - mean) * invstd, invstd, weight, bias, axes


def _bn_out(p, **kwargs):
    _, xhat, _, weight, bias, _ = _bn_parts(p, **kwargs)
    return xhat * weight + bias


def _bn_terms(p, training=None):
    """dx's two batch terms, ``a * mean(g)`` and ``a * xhat * mean(g * xhat)`` (a = weight * invstd)."""
    _, xhat, invstd, weight, _, axes = _bn_parts(p, training=training)
    g, a = p.dout, weight * invstd
    return a * g, a * g.mean(axis=axes, keepdims=True), a * xhat * (g * xhat).mean(axis=axes, keepdims=True)


def batch_norm():
    def in_training(f):
        return lambda p: f(p) if p.params["training"] else None

    def in_eval(f):
        return lambda p: f(p) if not p.params["training"] else None

    def eval_with_terms(p):
        direct, mean_term, var_term = _bn_terms(p, training=False)
        return direct - mean_term - var_term
    return [
        Mistake("x", "missing the mean term of batch norm's backward: the batch mean depends on every x, which adds "
                     "-weight * invstd * mean(dout) to dx", in_training(lambda p: p.ref["x"] + _bn_terms(p)[1])),
        Mistake("x", "missing the variance term of batch norm's backward: the batch variance depends on every x, "
                     "which adds -weight * invstd * xhat * mean(dout * xhat) to dx",
                in_training(lambda p: p.ref["x"] + _bn_terms(p)[2])),
        Mistake("x", "dx = dout * weight * invstd, eval mode's gradient: in training the batch's mean and variance "
                     "depend on x (two more terms)", in_training(lambda p: _bn_terms(p)[0])),
        Mistake("x", "eval mode differentiated as if the batch's statistics had normalised: in eval the running "
                     "estimates are constants, and dx = dout * weight * invstd",
                in_eval(eval_with_terms)),
        Mistake("weight", "dweight = sum(dout): it is sum(dout * xhat), the normalised input",
                lambda p: p.ref.get("bias")),
        Mistake("weight", "dweight = sum(dout * x): use the normalised input xhat, not x",
                lambda p: (p.dout * p.arrays["x"]).sum(axis=_bn_parts(p)[5])),
        Mistake("out", "the variance divided by M - 1: batch norm normalises with the biased variance (divided by "
                       "M); only the running estimate is unbiased", in_training(lambda p: _bn_out(p, unbiased=True))),
        Mistake("out", "eps outside the square root: divide by sqrt(var + eps)",
                lambda p: _bn_out(p, eps_outside=True)),
        Mistake("out", "eval mode normalised with the batch's statistics: use running_mean and running_var",
                in_eval(lambda p: _bn_out(p, training=True))),
        Mistake("out", "training normalised with the running estimates: use the batch's mean and variance",
                in_training(lambda p: _bn_out(p, training=False))),
        Mistake("out", "statistics over the batch only: each channel's are over N, H and W (every axis but 1)",
                in_training(lambda p: _bn_out(p, axes=(0,)) if p.arrays["x"].ndim > 2 else None)),
    ] + generic(["x", "weight", "bias"])


def dropout():
    def scale(p):
        return 1 / (1 - p.params["p"]) if p.params["p"] < 1 else None

    def keep(p):
        return np.broadcast_to(p.params["keep"], p.arrays["x"].shape)

    def zero_division(p, tensor):
        return p.params["p"] == 1 and not np.isfinite(p.got[tensor]).all()
    return [
        Mistake("x", "p = 1 drops everything: the gradient is 0, not 0 / 0", test=lambda p: zero_division(p, "x")),
        Mistake("out", "p = 1 drops everything: the output is 0, not 0 / 0", test=lambda p: zero_division(p, "out")),
        Mistake("x", "the mask without its 1 / (1 - p) scale: the kept elements were scaled in the forward, so "
                     "their gradients are too", lambda p: p.dout * keep(p)),
        Mistake("x", "scaled by 1 / p: the kept elements are scaled by 1 / (1 - p)",
                lambda p: p.dout * keep(p) / p.params["p"] if p.params["p"] > 0 else None),
        Mistake("x", "the mask forgotten: a dropped element's gradient is 0",
                lambda p: p.dout * scale(p) if scale(p) else None),
        Mistake("out", "the forward not rescaled: inverted dropout divides the kept elements by 1 - p",
                lambda p: p.arrays["x"] * keep(p)),
        Mistake("out", "keep inverted: keep[i] True means element i is kept",
                lambda p: p.arrays["x"] * ~keep(p) * scale(p) if scale(p) else None),
    ] + generic(["x"], shape_preserving=True)


MISTAKES = {"linear": linear, "relu": relu, "cross_entropy": cross_entropy, "max_pool2d": max_pool2d,
            "im2col": im2col, "conv2d": conv2d, "avg_pool2d": avg_pool2d, "batch_norm": batch_norm,
            "dropout": dropout}
