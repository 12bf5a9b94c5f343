"""RMSprop, exactly torch's rule (``torch/optim/rmsprop.py``, single-tensor path).

For each parameter ``p`` with a gradient, with ``lr``, ``alpha`` (α), ``eps``
(ε), ``weight_decay`` (λ), ``momentum`` (μ) from its param group::

    g = -p.grad if maximize else p.grad
    g = g + λ·p                              if λ != 0
    v = α·v + (1 − α)·g²                     (state "square_avg", starts at 0)
    centered:  ḡ = ḡ + (1 − α)·(g − ḡ)        (state "grad_avg": the running mean of g)
               d = √(v − ḡ²) + ε             (a running standard deviation)
    otherwise: d = √v + ε
    μ > 0:     b = μ·b + g / d               (state "momentum_buffer", starts at 0)
               p = p − lr·b
    otherwise: p = p − lr·g / d

Unlike Adam there is no bias correction: the first steps divide by a small
``√v`` and are larger.  ε is added outside the square root, as in torch.
"""
import numpy as np

from .optimizer import Optimizer, check_bool, check_number


class RMSprop(Optimizer):
    """``torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
    centered=False, maximize=False)``.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict (param groups)
    lr : float >= 0
    alpha : float >= 0
        Decay rate of the running mean of the squared gradient.
    eps : float >= 0
        Added to the denominator.
    weight_decay : float >= 0
        λ: L2 penalty, added to the gradient.
    momentum : float >= 0
    centered : bool
        Divide by an estimate of the gradient's standard deviation instead of its root mean square.
    maximize : bool
        Ascend instead of descend.
    """

    state_names = ("step", "square_avg", "momentum_buffer", "grad_avg")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, maximize=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize))

    def _check_group(self, group, owner):
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            group[name] = check_number(owner, name, group[name])
        for name in ("centered", "maximize"):
            group[name] = check_bool(owner, name, group[name])

    def _init_state(self, p, group):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p.array)
            if group["momentum"] > 0:
                state["momentum_buffer"] = np.zeros_like(p.array)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(p.array)
        return state

    def step(self, closure=None):
        """Update, in place, every parameter that has a gradient; returns ``closure()`` or None."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
            weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._gradient(p, group["maximize"])
                state = self._init_state(p, group)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.array
                square_avg = state["square_avg"]
                square_avg *= alpha
                square_avg += (1 - alpha) * g * g
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg += (1 - alpha) * (g - grad_avg)  # torch's lerp_(g, 1 - α)
                    avg = np.sqrt(square_avg - grad_avg * grad_avg)
                else:
                    avg = np.sqrt(square_avg)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf *= momentum
                    buf += g / avg
                    p.array -= lr * buf
                else:
                    p.array -= lr * g / avg
        return loss
