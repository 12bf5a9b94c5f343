"""Stochastic gradient descent with momentum, exactly torch's rule.

With ``g = p.grad + weight_decay * p``::

    v = g                 on the first step
    v = momentum * v + g  afterwards
    p = p - lr * v

(Not the ``v = μv − lr·g`` form some books use: it trains differently once lr changes.)
"""
import numpy as np

from .nn.module import Parameter


def _non_negative(name, value):
    if not isinstance(value, (int, float, np.integer, np.floating)) or isinstance(value, bool):
        raise TypeError(f"SGD: expected {name} as a number, got {type(value).__name__}")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"SGD: expected a finite {name} >= 0, got {value}")
    return float(value)


class SGD:
    """``torch.optim.SGD(params, lr, momentum=0, weight_decay=0)``.

    Parameters
    ----------
    params : iterable of Parameter (e.g. ``model.parameters()``)
    lr : float >= 0
    momentum : float >= 0
    weight_decay : float >= 0

    Parameters whose ``.grad`` is None are skipped, as in torch.
    """

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD: expected a non-empty list of parameters, got an empty one")
        for i, p in enumerate(self.params):
            if not isinstance(p, Parameter):
                raise TypeError(f"SGD: expected Parameter objects, got {type(p).__name__} at position {i}")
        self.lr = _non_negative("lr", lr)
        self.momentum = _non_negative("momentum", momentum)
        self.weight_decay = _non_negative("weight_decay", weight_decay)
        self.velocity = [None] * len(self.params)

    def zero_grad(self, set_to_none=True):
        for p in self.params:
            p.grad = None if set_to_none or p.grad is None else np.zeros_like(p.data)

    def step(self):
        """Update every parameter that has a gradient, in place."""
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                v = self.velocity[i]
                if v is None or v.shape != g.shape or v.dtype != g.dtype:
                    v = self.velocity[i] = np.array(g, copy=True)
                else:
                    v *= self.momentum
                    v += g
                g = v
            p.data -= self.lr * g  # a Python float keeps p's dtype (NEP 50)

    def state_dict(self):
        return {"lr": self.lr, "momentum": self.momentum, "weight_decay": self.weight_decay,
                "velocity": [None if v is None else v.copy() for v in self.velocity]}
