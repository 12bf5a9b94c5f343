"""Exercise 11: one step of SGD with momentum, exactly torch's rule.

Read:  docs/exercises.md#the-optimiser-steps
Check: minicnn exercises check DIR sgd

For one parameter ``p`` with gradient ``g``, learning rate ``lr``, momentum ``mu``, dampening ``tau`` and
weight decay ``lambda``, torch's ``SGD.step()`` does::

    g = g + lambda * p                   if lambda != 0
    if mu != 0:
        b = g                            on the first step (no buffer yet)
        b = mu * b + (1 - tau) * g       afterwards
        g = g + mu * b  if nesterov else b
    p = p - lr * g

The buffer holds gradients only, not ``lr``: the textbook ``v = mu*v - lr*g`` trains differently once the
learning rate changes, and the check changes it between steps.

Write it as a pure function: return the new parameter and buffer as new arrays, in the parameter's
dtype, and modify nothing you are given.
"""
import numpy as np


def sgd_step(param, grad, momentum_buffer, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    """One step of ``torch.optim.SGD`` for one parameter.

    Parameters
    ----------
    param : ndarray, any shape, float32 or float64: the parameter before the step
    grad : ndarray, param's shape and dtype
    momentum_buffer : ndarray of param's shape and dtype, or None before the first step
    lr : float > 0
    momentum, dampening, weight_decay : float >= 0
    nesterov : bool (only with momentum > 0 and dampening 0)

    Returns
    -------
    param : ndarray, the parameter after the step, param's shape and dtype
    momentum_buffer : ndarray, the buffer after the step (param's shape and dtype); None when momentum is 0
    """
    raise NotImplementedError("exercise 11: write sgd_step")
