"""minicnn: a convolutional network library written from scratch in NumPy and Numba.

Every backward pass is written by hand (see :mod:`minicnn.kernels`); the layers
in :mod:`minicnn.nn` are shaped like ``torch.nn``.
"""
from . import kernels, nn, optim
from .models import SimpleCNN
from .random import manual_seed

__version__ = "0.1.0"
__all__ = ["SimpleCNN", "kernels", "manual_seed", "nn", "optim"]
