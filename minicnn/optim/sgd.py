"""Stochastic gradient descent with momentum, exactly torch's rule (``torch/optim/sgd.py``).

For each parameter ``p`` with a gradient, with ``lr``, ``momentum`` (μ),
``dampening`` (τ), ``weight_decay`` (λ) from its param group::

    g = -p.grad if maximize else p.grad
    g = g + λ·p                       if λ != 0
    if μ != 0:
        b = g                         on the parameter's first step
        b = μ·b + (1 − τ)·g           afterwards         (state "momentum_buffer")
        g = g + μ·b  if nesterov else b
    p = p − lr·g

Not the ``v = μv − lr·g`` form some books use: there lr sits inside the
buffer, so a learning-rate schedule changes the past steps' contribution too;
torch's buffer holds gradients only.
"""
import numpy as np
from numba import njit

from .. import threads
from .optimizer import Optimizer, check_bool, check_number


@njit(cache=True, nogil=True)
def _momentum_step_kernel(p, g, buf, lr, momentum, keep):
    """``buf = buf*μ + g*(1 − τ)``, ``p -= lr*buf`` in one pass: the numpy lines of :meth:`SGD.step`, the
    same operations in the same order and dtype (bit for bit), without their temporaries."""
    for k in range(p.size):
        b = buf[k] * momentum + g[k] * keep
        buf[k] = b
        p[k] -= lr * b


def _momentum_step(p, g, buf, lr, momentum, dampening):
    """The fused step where it applies (flat, same-dtype float arrays); False where numpy must do it."""
    arrays = (p, g, buf)
    if any(not a.flags.c_contiguous or a.dtype != p.dtype or a.ndim == 0 for a in arrays) or \
            p.dtype not in (np.float32, np.float64) or np.may_share_memory(p, g) or np.may_share_memory(buf, g):
        return False
    scalar = p.dtype.type  # a Python float meets a float32 array as a float32 (NEP 50): so here
    flat = [a.reshape(-1) for a in arrays]
    threads.map_chunks(lambda sl: _momentum_step_kernel(flat[0][sl], flat[1][sl], flat[2][sl], scalar(lr),
                                                        scalar(momentum), scalar(1 - dampening)),
                       p.size, threads.MIN_CHUNK_VALUES)
    return True


class SGD(Optimizer):
    """``torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)``.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict (param groups)
    lr : float >= 0
    momentum : float >= 0
        μ; 0 keeps no state.
    dampening : float
        τ: the new gradient enters the buffer with weight ``1 − τ``.
    weight_decay : float >= 0
        λ: L2 penalty, added to the gradient.
    nesterov : bool
        Step along ``g + μ·b`` instead of ``b``; needs ``momentum > 0`` and ``dampening == 0``.
    maximize : bool
        Ascend instead of descend.

    Parameters whose ``.grad`` is None are skipped (and get no momentum buffer), as in torch.
    """

    state_names = ("momentum_buffer",)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                 nesterov=False, *, maximize=False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov, maximize=maximize))

    def _check_group(self, group, owner):
        group["lr"] = check_number(owner, "lr", group["lr"])
        group["momentum"] = check_number(owner, "momentum", group["momentum"])
        group["dampening"] = check_number(owner, "dampening", group["dampening"], minimum=-float("inf"))
        group["weight_decay"] = check_number(owner, "weight_decay", group["weight_decay"])
        group["nesterov"] = check_bool(owner, "nesterov", group["nesterov"])
        group["maximize"] = check_bool(owner, "maximize", group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"{owner}: nesterov momentum requires momentum > 0 and dampening == 0, got "
                             f"momentum={group['momentum']}, dampening={group['dampening']}")

    def step(self, closure=None):
        """Update, in place, every parameter that has a gradient; returns ``closure()`` or None."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, momentum, dampening = float(group["lr"]), float(group["momentum"]), float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._gradient(p, group["maximize"])
                if weight_decay != 0:
                    g = g + weight_decay * p.array
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        # a copy (g may be p.grad itself), and an array even where g is 0-d
                        buf = state["momentum_buffer"] = np.array(g, copy=True)
                    elif not group["nesterov"] and _momentum_step(p.array, g, buf, lr, momentum, dampening):
                        continue  # the common case, fused: the same numbers as the lines below
                    else:
                        buf *= momentum
                        buf += (1 - dampening) * g
                    g = g + momentum * buf if group["nesterov"] else buf
                p.array -= lr * g  # a Python float keeps p's dtype (NEP 50)
        return loss
