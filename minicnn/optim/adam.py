"""Adam and AdamW, exactly torch's rules (``torch/optim/adam.py``, single-tensor path).

For each parameter ``p`` with a gradient, with ``lr``, ``betas = (β1, β2)``,
``eps`` (ε), ``weight_decay`` (λ) from its param group, and ``t`` the
parameter's step count (state ``"step"``, 1 on the first step)::

    g = -p.grad if maximize else p.grad
    Adam:   g = g + λ·p                          (L2 penalty in the gradient)
    AdamW:  p = p·(1 − lr·λ)                     (decoupled weight decay)
    m = m + (1 − β1)·(g − m)                     (= β1·m + (1 − β1)·g; state "exp_avg")
    v = β2·v + (1 − β2)·g²                       (state "exp_avg_sq")
    amsgrad:  v̂ = max(v̂, v)  and v̂ replaces v below   (state "max_exp_avg_sq")
    step_size = lr / (1 − β1^t)
    p = p − step_size · m / (√v / √(1 − β2^t) + ε)

``m`` and ``v`` start at zero; the two bias corrections undo that start's
pull towards zero.  Note where ε sits: added to the bias-corrected √v, as torch does.
"""
import numpy as np

from .optimizer import Optimizer, check_bool, check_number


class Adam(Optimizer):
    """``torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False)``.

    Parameters
    ----------
    params : iterable of Parameter, or iterable of dict (param groups)
    lr : float >= 0
    betas : (float, float), each in [0, 1)
        Decay rates of the running mean of the gradient and of its square.
    eps : float >= 0
        Added to the denominator.
    weight_decay : float >= 0
        λ: an L2 penalty added to the gradient (or, with ``decoupled_weight_decay``, AdamW's decay).
    amsgrad : bool
        Divide by the largest ``v`` seen so far instead of the current one.
    maximize : bool
        Ascend instead of descend.
    decoupled_weight_decay : bool
        True gives AdamW (torch's keyword of the same name).
    """

    state_names = ("step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, maximize=False, decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay))

    def _check_group(self, group, owner):
        group["lr"] = check_number(owner, "lr", group["lr"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{owner}: expected betas as a pair of numbers, got {betas!r}")
        group["betas"] = tuple(check_number(owner, f"betas[{i}]", b, below=1.0) for i, b in enumerate(betas))
        group["eps"] = check_number(owner, "eps", group["eps"])
        group["weight_decay"] = check_number(owner, "weight_decay", group["weight_decay"])
        for name in ("amsgrad", "maximize", "decoupled_weight_decay"):
            group[name] = check_bool(owner, name, group[name])

    def _init_state(self, p, amsgrad):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            state["exp_avg"] = np.zeros_like(p.array)
            state["exp_avg_sq"] = np.zeros_like(p.array)
            if amsgrad:
                state["max_exp_avg_sq"] = np.zeros_like(p.array)
        return state

    def step(self, closure=None):
        """Update, in place, every parameter that has a gradient; returns ``closure()`` or None."""
        loss = None if closure is None else closure()
        for group in self.param_groups:
            lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
            beta1, beta2 = (float(b) for b in group["betas"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = self._gradient(p, group["maximize"])
                state = self._init_state(p, group["amsgrad"])
                state["step"] += 1
                t = state["step"]
                if weight_decay != 0:
                    if group["decoupled_weight_decay"]:
                        p.array *= 1 - lr * weight_decay
                    else:
                        g = g + weight_decay * p.array
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg += (1 - beta1) * (g - exp_avg)  # torch's lerp_(g, 1 - β1)
                exp_avg_sq *= beta2
                exp_avg_sq += (1 - beta2) * g * g
                if group["amsgrad"]:
                    np.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
                    exp_avg_sq = state["max_exp_avg_sq"]
                step_size = lr / (1 - beta1 ** t)
                denom = np.sqrt(exp_avg_sq) / (1 - beta2 ** t) ** 0.5 + eps
                p.array -= step_size * exp_avg / denom
        return loss


class AdamW(Adam):
    """``torch.optim.AdamW``: Adam with decoupled weight decay, ``p = p·(1 − lr·λ)`` before the step.

    Same parameters as :class:`Adam`, but ``weight_decay`` defaults to 1e-2 and
    always decays the weights rather than entering the gradient.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _check_group(self, group, owner):
        group["decoupled_weight_decay"] = True  # as torch's AdamW.__setstate__: a loaded group stays AdamW
        super()._check_group(group, owner)
