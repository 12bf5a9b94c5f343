"""Penalties added to a loss: ``loss = criterion(out, y) + l1 * minicnn.l1_penalty(model)``.

L2 needs no function of its own: every optimiser takes ``weight_decay``
(``weight_decay = λ`` adds ``λ·w`` to each gradient, the gradient of ``λ/2·|w|²``).
"""
from .autograd import Tensor
from .nn import Module


def l1_parameters(model_or_params):
    """The tensors :func:`l1_penalty` sums over: see there."""
    if isinstance(model_or_params, Module):
        # the common convention (and the one torch users write by hand): weights, not biases nor the
        # 1-D scale/shift of normalisation layers
        return [p for name, p in model_or_params.named_parameters()
                if name.rsplit(".", 1)[-1] == "weight" and p.ndim >= 2]
    if isinstance(model_or_params, Tensor):
        return [model_or_params]
    params = list(model_or_params)
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"l1_penalty: expected a Module or an iterable of Parameters, got "
                            f"{type(p).__name__} at {i}")
    return params


def l1_penalty(model_or_params):
    """``sum |w|`` over the weights, as a 0-d Tensor on the graph (its gradient is ``sign(w)``, 0 at 0, as torch).

    Parameters
    ----------
    model_or_params : Module or iterable of Parameters (or one Tensor)
        A Module contributes its *weights* only: every parameter named ``weight``
        with at least 2 dims (conv and linear weights).  Biases and the 1-D
        ``weight``/``bias`` of BatchNorm are left out, the usual convention for L1
        and L2 penalties.  An iterable contributes every tensor given, biases included.

    Returns
    -------
    Tensor of shape (), in the parameters' dtype; usable as ``loss + l1 * l1_penalty(model)``.
    """
    params = l1_parameters(model_or_params)
    if not params:
        raise ValueError("l1_penalty: no weights to penalise")
    total = params[0].abs().sum()
    for p in params[1:]:
        total = total + p.abs().sum()
    return total


__all__ = ["l1_parameters", "l1_penalty"]
