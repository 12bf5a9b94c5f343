"""minicnn: a convolutional network library written from scratch in NumPy and Numba.

Every backward pass is written by hand (see :mod:`minicnn.kernels`); the ops in
:mod:`minicnn.functional` record themselves on a graph (:mod:`minicnn.autograd`)
so that ``loss.backward()`` trains any model built from the layers in
:mod:`minicnn.nn`, which are shaped like ``torch.nn``.
"""
from . import functional, kernels, nn, optim
from .autograd import Tensor, cat, enable_grad, is_grad_enabled, no_grad, set_grad_enabled, stack, tensor
from .models import MODELS, SimpleCNN, build_model
from .rng import manual_seed
from .regularization import l1_penalty

__version__ = "0.1.0"
__all__ = ["MODELS", "SimpleCNN", "Tensor", "build_model", "cat", "enable_grad", "functional",
           "is_grad_enabled", "kernels", "l1_penalty", "manual_seed", "nn", "no_grad", "optim", "set_grad_enabled",
           "stack", "tensor"]
