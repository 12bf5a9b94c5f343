"""Finite-difference gradient checks: the hand-written backward passes against numbers.

For a module ``f`` and a fixed random upstream gradient ``g``, the scalar
``L(θ) = sum(f(x; θ) * g)`` has ``dL/dθ`` equal to what ``backward(g)``
returns.  The numeric estimate is the central difference, in float64::

    dL/dθ_i ≈ (L(θ + h e_i) - L(θ - h e_i)) / (2h)

Its error is O(h²) plus round-off O(ε/h), about 1e-10 for h = 1e-6; float32
differences would be noise.  The error we report for a tensor is

    max_i |analytic_i - numeric_i| / max(max_i |analytic_i|, max_i |numeric_i|)

i.e. relative to the tensor's largest gradient, so entries that are nearly
zero do not blow up the ratio.
"""
import numpy as np

THRESHOLD = 1e-6


def relative_error(analytic, numeric):
    """Max abs difference, relative to the larger of the two arrays' largest magnitude."""
    analytic, numeric = np.asarray(analytic, np.float64), np.asarray(numeric, np.float64)
    scale = max(np.abs(analytic).max(initial=0.0), np.abs(numeric).max(initial=0.0), 1e-300)
    return float(np.abs(analytic - numeric).max(initial=0.0) / scale)


def numeric_gradient(f, array, indices, h=1e-6):
    """Central differences of the scalar ``f()`` w.r.t. ``array.flat[indices]``.

    ``array`` is perturbed in place and restored exactly afterwards; ``f``
    must read it (e.g. a parameter's ``.data`` or the input being checked).
    """
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError("numeric_gradient: expected a writeable C-contiguous array to perturb in place")
    flat = array.reshape(-1)  # a view, so writes reach what f() reads
    grads = np.empty(len(indices), dtype=np.float64)
    for k, i in enumerate(indices):
        old = flat[i]
        flat[i] = old + h
        plus = f()
        flat[i] = old - h
        minus = f()
        flat[i] = old
        grads[k] = (plus - minus) / (2 * h)
    return grads


def _sample(size, count, rng):
    return np.arange(size) if size <= count else rng.choice(size, count, replace=False)


def check_module(module, x, rng, samples=30, h=1e-6, need_input_grad=True):
    """Check every parameter gradient and the input gradient of ``module`` at ``x``.

    Parameters
    ----------
    module : minicnn.nn.Module, in float64
    x : ndarray, float64 input
    rng : numpy.random.Generator, picks the upstream gradient and the sampled entries
    samples : int, entries checked per tensor (all when the tensor is smaller)

    Returns
    -------
    list of dicts ``{"param", "error", "analytic", "numeric", "index"}``, one per tensor
    """
    x = np.array(x, dtype=np.float64, copy=True)
    out = module(x)
    upstream = rng.standard_normal(out.shape)
    module.zero_grad()
    dx = module.backward(upstream)

    def loss():
        return float(np.sum(module(x) * upstream))

    rows = []
    targets = [(name, p.data, p.grad) for name, p in module.named_parameters()]
    if need_input_grad:
        targets.append(("input", x, dx))
    for name, array, analytic in targets:
        idx = _sample(array.size, samples, rng)
        numeric = numeric_gradient(loss, array, idx, h)
        picked = analytic.reshape(-1)[idx]
        rows.append({"param": name, "error": relative_error(picked, numeric),
                     "analytic": picked, "numeric": numeric, "index": idx})
    return rows


def check_cross_entropy(logits, labels, rng, samples=30, h=1e-6):
    """Check ``CrossEntropyLoss`` d loss / d logits; returns one row as :func:`check_module`."""
    from .nn import CrossEntropyLoss
    logits = np.array(logits, dtype=np.float64, copy=True)
    crit = CrossEntropyLoss()
    crit(logits, labels)
    analytic = crit.backward()
    idx = _sample(logits.size, samples, rng)
    numeric = numeric_gradient(lambda: crit(logits, labels), logits, idx, h)
    picked = analytic.reshape(-1)[idx]
    return [{"param": "logits", "error": relative_error(picked, numeric),
             "analytic": picked, "numeric": numeric, "index": idx}]
