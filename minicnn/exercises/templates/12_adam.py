"""Exercise 12: one step of Adam, exactly torch's rule.

Read:  docs/exercises.md#the-optimiser-steps
Check: minicnn exercises check DIR adam

For one parameter ``p`` with gradient ``g`` at step ``t`` (1 on the first step), ``betas = (b1, b2)``::

    g = g + weight_decay * p                     if weight_decay != 0
    m = b1 * m + (1 - b1) * g                    (exp_avg; zeros before the first step)
    v = b2 * v + (1 - b2) * g * g                (exp_avg_sq; zeros before the first step)
    p = p - lr / (1 - b1**t) * m / (sqrt(v) / sqrt(1 - b2**t) + eps)

The two bias corrections undo the pull of the zero start towards zero; note where eps sits (added to the
corrected square root, as torch adds it).

Write it as a pure function: return new arrays, in the parameter's dtype, and modify nothing you are given.
"""
import numpy as np


def adam_step(param, grad, exp_avg, exp_avg_sq, step, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
    """One step of ``torch.optim.Adam`` for one parameter.

    Parameters
    ----------
    param : ndarray, any shape, float32 or float64: the parameter before the step
    grad : ndarray, param's shape and dtype
    exp_avg, exp_avg_sq : ndarray, param's shape and dtype: m and v before the step (zeros at first)
    step : int >= 1, this step's number t
    lr : float > 0
    betas : (float, float), each in [0, 1)
    eps : float >= 0
    weight_decay : float >= 0 (an L2 penalty added to the gradient)

    Returns
    -------
    param, exp_avg, exp_avg_sq : ndarray, each param's shape and dtype, after the step
    """
    raise NotImplementedError("exercise 12: write adam_step")
