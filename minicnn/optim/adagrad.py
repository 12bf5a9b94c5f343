"""Adagrad, exactly torch's rule (``torch/optim/adagrad.py``, single-tensor path, dense gradients).

For each parameter ``p`` with a gradient, with ``lr``, ``lr_decay`` (δ),
``eps`` (ε), ``weight_decay`` (λ) from its param group, and ``t`` the
parameter's step count (state ``"step"``, 1 on the first step)::

    g = -p.grad if maximize else p.grad
    g = g + λ·p                              if λ != 0
    lr_t = lr / (1 + (t − 1)·δ)              (the decayed learning rate)
    s = s + g²                               (state "sum": every squared gradient so far)
    p = p − lr_t · g / (√s + ε)

``s`` starts at ``initial_accumulator_value`` in every entry.  It only grows,
so each entry's step shrinks like 1/√t under a steady gradient: entries with
rare, small gradients keep larger steps than busy ones.  ε is added outside
the square root, as in torch.

As torch does, the state of every parameter given to the constructor exists
from the start (``step`` 0, ``sum`` filled), and the accumulator starts at the
constructor's ``initial_accumulator_value`` even where a param group names
its own (torch reads ``self.defaults`` there).
"""
import numpy as np

from .optimizer import Optimizer, check_bool, check_number


class Adagrad(Optimizer):
    """``torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, maximize=False)``.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict (param groups)
    lr : float >= 0
    lr_decay : float >= 0
        δ: the step count's learning rate is ``lr / (1 + (t − 1)·δ)``.
    weight_decay : float >= 0
        λ: L2 penalty, added to the gradient.
    initial_accumulator_value : float >= 0
        The starting value of every entry of the sum of squared gradients.
    eps : float >= 0
        Added to the denominator.
    maximize : bool
        Ascend instead of descend.
    """

    state_names = ("step", "sum")

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10, *, maximize=False):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _check_group(self, group, owner):
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[name] = check_number(owner, name, group[name])
        group["maximize"] = check_bool(owner, "maximize", group["maximize"])

    def _init_state(self, p):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["sum"] = np.full_like(p.array, self.defaults["initial_accumulator_value"])
        return state

    def step(self, closure=None):
        """Update, in place, every parameter that has a gradient; returns ``closure()`` or None."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
            weight_decay = float(group["weight_decay"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._gradient(p, group["maximize"])
                state = self._init_state(p)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p.array
                lr_t = lr / (1 + (state["step"] - 1) * lr_decay)
                state_sum = state["sum"]
                state_sum += g * g
                p.array -= lr_t * g / (np.sqrt(state_sum) + eps)
        return loss
