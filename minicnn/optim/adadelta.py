"""Adadelta, exactly torch's rule (``torch/optim/adadelta.py``, single-tensor path).

For each parameter ``p`` with a gradient, with ``lr``, ``rho`` (ρ), ``eps``
(ε), ``weight_decay`` (λ) from its param group::

    g = -p.grad if maximize else p.grad
    g = g + λ·p                              if λ != 0
    v = ρ·v + (1 − ρ)·g²                     (state "square_avg": the running mean of g², starts at 0)
    Δ = √(u + ε) / √(v + ε) · g              (the step, in the units of p)
    u = ρ·u + (1 − ρ)·Δ²                     (state "acc_delta": the running mean of Δ², starts at 0)
    p = p − lr·Δ

The ratio of two root mean squares gives the step the units of the parameter,
so the rule needs no learning rate in Zeiler's paper: torch's ``lr`` (1.0 by
default) only scales it.  ε sits inside both square roots; with u = 0 at the
start, the first steps are about ``√ε / √v · g`` long and grow as ``u`` does.
"""
import numpy as np

from .optimizer import Optimizer, check_bool, check_number


class Adadelta(Optimizer):
    """``torch.optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, maximize=False)``.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict (param groups)
    lr : float >= 0
        Scales the step Δ.
    rho : float in [0, 1]
        Decay rate of the running means of g² and Δ².
    eps : float >= 0
        Added under both square roots.
    weight_decay : float >= 0
        λ: L2 penalty, added to the gradient.
    maximize : bool
        Ascend instead of descend.
    """

    state_names = ("step", "square_avg", "acc_delta")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _check_group(self, group, owner):
        group["lr"] = check_number(owner, "lr", group["lr"])
        group["rho"] = check_number(owner, "rho", group["rho"], maximum=1.0)
        group["eps"] = check_number(owner, "eps", group["eps"])
        group["weight_decay"] = check_number(owner, "weight_decay", group["weight_decay"])
        group["maximize"] = check_bool(owner, "maximize", group["maximize"])

    def _init_state(self, p):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["square_avg"] = np.zeros_like(p.array)
            state["acc_delta"] = np.zeros_like(p.array)
        return state

    def step(self, closure=None):
        """Update, in place, every parameter that has a gradient; returns ``closure()`` or None."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
            weight_decay = float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._gradient(p, group["maximize"])
                state = self._init_state(p)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.array
                square_avg, acc_delta = state["square_avg"], state["acc_delta"]
                square_avg *= rho
                square_avg += (1 - rho) * g * g
                delta = np.sqrt(acc_delta + eps) / np.sqrt(square_avg + eps) * g
                acc_delta *= rho
                acc_delta += (1 - rho) * delta * delta
                p.array -= lr * delta
        return loss
