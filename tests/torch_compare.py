"""The one helper that holds a minicnn layer to ``torch.nn.functional``.

Like tinygrad's ``helper_test_op`` it checks, in this order and stopping at
the first disagreement: the output's shape, then its dtype, then the forward
values, then every gradient (the input's and each parameter's, each again
shape, dtype, values).  Every agreement test goes through :func:`compare`.

"Relative error" here means one number per tensor::

    relative_error(ours, ref) = max_i |ours_i - ref_i| / max(max_i |ref_i|, tiny)

the worst absolute difference measured against the reference tensor's
largest magnitude (``tiny`` = the dtype's smallest normal number, so an
all-zero reference demands an exactly-zero answer).  Measuring against the
largest entry rather than entry by entry keeps near-zero entries, where
float32 summation order alone changes the leading digits, from dominating.

A test may raise the denominator to a ``floor`` where the tensor's own size
is not the meaningful scale.  Cross-entropy is the case: as ``p -> 1`` the
loss ``-log p`` and the gradient ``p - 1`` lose relative precision in any
float implementation (torch's included: float32 losses of 5e-4 differ by
2e-4 relative between the two), so its errors are measured in nats and in
probability units instead.
"""
import numpy as np
import torch

# float64: both sides round the same exact sums differently, ~1e-15 apart; float32: ~1e-7 per op,
# and torch's CPU conv may sum in another order (blocked GEMM, mkldnn).
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-4}
TORCH_DTYPE = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def relative_error(ours, ref, floor=0.0):
    """``max|ours - ref| / max(max|ref|, floor, tiny)``, computed in float64 (see the module docstring)."""
    ours, ref = np.asarray(ours), np.asarray(ref)
    tiny = np.finfo(ref.dtype if ref.dtype.kind == "f" else np.float64).tiny
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64)).max(initial=0.0)
    return float(diff / max(np.abs(ref.astype(np.float64)).max(initial=0.0), floor, tiny))


def _check_tensor(what, ours, ref, rtol, floor=0.0):
    """Shape, then dtype, then values of one tensor; returns its relative error."""
    ref = ref.detach().numpy()
    assert ours is not None, f"{what}: minicnn returned None"
    assert ours.shape == ref.shape, f"{what}: shape {ours.shape}, torch {ref.shape}"
    assert ours.dtype == ref.dtype, f"{what}: dtype {ours.dtype}, torch {ref.dtype}"
    err = relative_error(ours, ref, floor)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:g}"
    return err


def compare(module, torch_fn, x, rng, rtol=None, floor=None):
    """Run ``module`` and ``torch_fn`` on ``x``; assert they agree; return the relative errors.

    Parameters
    ----------
    module : minicnn.nn.Module (or any object with ``forward``, ``backward``, ``named_parameters``)
        In the dtype of ``x``.  Its parameters are copied into torch tensors.
    torch_fn : callable ``(x, **params) -> torch.Tensor``
        The same computation in ``torch.nn.functional``; ``params`` are keyed by
        the last part of each parameter name (``weight``, ``bias``).
    x : ndarray, float32 or float64
    rng : numpy.random.Generator, draws the upstream gradient (standard normal, the output's shape)
    rtol : float, default ``RTOL[x.dtype]``
    floor : dict, optional
        Denominator floors by tensor name (``"forward"``, ``"input"``, a
        parameter name); see the module docstring.  Default: none.

    Returns
    -------
    dict ``{"forward": e, "input": e, "weight": e, ...}`` of relative errors.
    """
    rtol = RTOL[x.dtype] if rtol is None else rtol
    floor = floor or {}
    x_before = x.copy()
    x_t = torch.from_numpy(x.copy()).requires_grad_(True)
    params = {name: p for name, p in module.named_parameters()}
    params_t = {name: torch.from_numpy(p.data.copy()).requires_grad_(True) for name, p in params.items()}

    out = module(x)
    out_t = torch_fn(x_t, **{name.rsplit(".", 1)[-1]: t for name, t in params_t.items()})
    errors = {"forward": _check_tensor("forward", out, out_t, rtol, floor.get("forward", 0.0))}

    grad_out = rng.standard_normal(out.shape).astype(x.dtype)
    grad_before = grad_out.copy()
    if hasattr(module, "zero_grad"):
        module.zero_grad()
    dx = module.backward(grad_out)
    out_t.backward(torch.from_numpy(grad_out.copy()))
    errors["input"] = _check_tensor("d input", dx, x_t.grad, rtol, floor.get("input", 0.0))
    for name, p in params.items():
        errors[name] = _check_tensor(f"d {name}", p.grad, params_t[name].grad, rtol, floor.get(name, 0.0))

    # minicnn must neither modify its input nor the upstream gradient (STYLE.md, Numerics)
    np.testing.assert_array_equal(x, x_before, err_msg="forward/backward modified the input")
    np.testing.assert_array_equal(grad_out, grad_before, err_msg="backward modified the upstream gradient")
    return errors
