"""Assertions for tests of minicnn code, yours included: relative error, agreement with torch, gradient checks.

"Relative error" here means one number per tensor::

    relative_error(ours, ref) = max_i |ours_i - ref_i| / max(max_i |ref_i|, floor, tiny)

the worst absolute difference measured against the reference tensor's
largest magnitude (``tiny`` = the dtype's smallest normal number, so an
all-zero reference demands an exactly-zero answer).  Measuring against the
largest entry rather than entry by entry keeps near-zero entries, where
float32 summation order alone changes the leading digits, from dominating.

A test may raise the denominator to a ``floor`` where the tensor's own size
is not the meaningful scale.  Cross-entropy is the case: as ``p -> 1`` the
loss ``-log p`` and the gradient ``p - 1`` lose relative precision in any
float implementation (torch's included), so its errors are measured in nats
and in probability units instead.

:func:`compare_with_torch` is the one helper that holds a minicnn module to
its torch counterpart (like tinygrad's ``helper_test_op``): the output's
shape, then dtype, then values, then every gradient.  It imports torch only
when called.
"""
import contextlib

import numpy as np

from .autograd import Tensor

# float64: both sides round the same exact sums differently, ~1e-15 apart; float32: ~1e-7 per op,
# and torch's CPU conv may sum in another order (blocked GEMM, oneDNN).
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}


def relative_error(ours, ref, floor=0.0):
    """``max|ours - ref| / max(max|ref|, floor, tiny)``, computed in float64 (see the module docstring)."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    tiny = np.finfo(ref.dtype if ref.dtype.kind == "f" else np.float64).tiny
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0)
    return float(diff / max(np.abs(ref.astype(np.float64)).max(initial=0.0), floor, tiny))


def assert_close(what, ours, ref, rtol, floor=0.0):
    """Shape, then dtype, then values of one array against a reference; returns the relative error."""
    ours, ref = (None if ours is None else np.asarray(ours)), np.asarray(ref)
    assert ours is not None, f"{what}: minicnn returned None"
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape}, reference {ref.shape}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype}, reference {ref.dtype}"
    err = relative_error(ours, ref, floor)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:g}"
    return err


def compare_with_torch(module, torch_fn, x, rng, rtol=None, floor=None):
    """Run ``module`` and ``torch_fn`` on ``x``; assert they agree; return the relative errors.

    Parameters
    ----------
    module : callable on a Tensor, with ``named_parameters()`` (a minicnn Module), in the dtype of ``x``.
        Its parameters are copied into torch tensors.
    torch_fn : callable ``(x, **params) -> torch.Tensor``
        The same computation in torch; ``params`` are keyed by the last part of
        each parameter name (``weight``, ``bias``).
    x : ndarray, float32 or float64
    rng : numpy.random.Generator, draws the upstream gradient (standard normal, the output's shape); it must
        be independent of the generator ``x`` came from (one seeded alike would make ``dout == x`` for a
        shape-preserving op, and a backward that returns its forward output would pass): refused if it
        draws exactly ``x``
    rtol : float, default ``RTOL[x.dtype]``
    floor : dict, optional; denominator floors by tensor name (``"forward"``, ``"input"``, a parameter name)

    Returns
    -------
    dict ``{"forward": e, "input": e, "weight": e, ...}`` of relative errors.
    """
    import torch
    rtol = RTOL[x.dtype] if rtol is None else rtol
    floor = floor or {}
    x_before = x.copy()
    x_ours = Tensor.wrap(x, requires_grad=True)
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    params = dict(module.named_parameters())
    params_t = {name: torch.from_numpy(p.array.copy()).requires_grad_(True) for name, p in params.items()}

    out = module(x_ours)
    out_t = torch_fn(x_t, **{name.rsplit(".", 1)[-1]: t for name, t in params_t.items()})
    errors = {"forward": assert_close("forward", out, out_t.detach().numpy(), rtol, floor.get("forward", 0.0))}

    grad_out = rng.standard_normal(out.shape).astype(x.dtype)
    if grad_out.size and grad_out.shape == x.shape and np.array_equal(grad_out, x):
        # e.g. rng = default_rng(seed) after x = default_rng(seed).standard_normal(...): for ReLU, dout == x
        # lets a backward that returns its forward output pass.  Draw them from independent streams.
        raise ValueError("compare_with_torch: the upstream gradient rng drew exactly the input x; give it a "
                         "generator independent of the one x came from (another stream: default_rng([seed, k]) "
                         "with a k that x's generator does not use)")
    grad_before = grad_out.copy()
    module.zero_grad()
    out.backward(grad_out)
    out_t.backward(torch.from_numpy(grad_out.copy()))
    errors["input"] = assert_close("d input", x_ours.grad, x_t.grad.numpy(), rtol, floor.get("input", 0.0))
    for name, p in params.items():
        errors[name] = assert_close(f"d {name}", p.grad, params_t[name].grad.numpy(), rtol, floor.get(name, 0.0))

    # minicnn must neither modify its input nor the upstream gradient (docs/contributing.md, the style guide)
    np.testing.assert_array_equal(x, x_before, err_msg="forward/backward modified the input")
    np.testing.assert_array_equal(grad_out, grad_before, err_msg="backward modified the upstream gradient")
    return errors


def assert_gradcheck(module, x, seed=0, samples=30, threshold=None):
    """Float64 central differences of every parameter and the input of ``module`` at ``x``
    (see :func:`minicnn.gradcheck.check_module`); AssertionError naming each tensor over ``threshold``.

    Returns the rows of :func:`minicnn.gradcheck.check_module`.
    """
    from .gradcheck import THRESHOLD, check_module
    threshold = THRESHOLD if threshold is None else threshold
    rows = check_module(module, x, np.random.default_rng(seed), samples)
    bad = [f"{r['param']}: {r['error']:.2e}" for r in rows if not r["error"] <= threshold]
    assert not bad, f"gradient check over {threshold:g}: " + ", ".join(bad)
    return rows


def from_torch_sample(value, leaves):
    """A torch sample argument (an OpInfo ``SampleInput``'s input, args or kwargs) as a user of minicnn writes
    it: a Tensor leaf where torch differentiates (appended to ``leaves`` as ``(torch_tensor, minicnn_leaf)``), a
    Tensor copy of any other tensor, a torch dtype as minicnn's dtype of the same name, a torch memory format
    as minicnn's (the import rule ``torch.float64`` -> ``minicnn.float64``), tuples and lists element by
    element, anything else as it is."""
    import torch
    if isinstance(value, torch.Tensor):
        array = value.detach().numpy().copy()
        if value.requires_grad:
            leaf = Tensor(array, requires_grad=True)
            leaves.append((value, leaf))
            return leaf
        return Tensor(array)
    if isinstance(value, torch.dtype):
        from . import dtypes
        return getattr(dtypes, str(value).removeprefix("torch."))
    if isinstance(value, torch.memory_format):
        from .device import channels_last, channels_last_3d, contiguous_format, preserve_format
        return {"contiguous_format": contiguous_format, "preserve_format": preserve_format,
                "channels_last": channels_last, "channels_last_3d": channels_last_3d}[str(value)[len("torch."):]]
    if isinstance(value, (tuple, list)) and not isinstance(value, torch.Size):
        return type(value)(from_torch_sample(v, leaves) for v in value)
    if isinstance(value, torch.Size):
        return tuple(value)
    return value


@contextlib.contextmanager
def torch_threads(count=1):
    """Torch's intra-op pool at ``count`` threads inside the block, restored after.

    A loop that alternates torch and minicnn's own thread pool on a few shared cores runs many times
    slower with torch on every core (its OpenMP workers spin-wait between ops); agreement does not
    depend on it.
    """
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
