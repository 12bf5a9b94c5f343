"""Deprecated: the layers that were here are in ``minicnn.nn`` by subject (``conv.py``, ``linear.py``,
``activation.py``, ``pooling.py``, ``container.py``); import them from ``minicnn.nn``."""
import warnings

from .activation import ReLU
from .container import ModuleList, Sequential
from .conv import Conv2d, Conv2dReLUMaxPool2d
from .linear import Flatten, Identity, Linear
from .pooling import MaxPool2d, MaxUnpool2d

warnings.warn("minicnn.nn.layers is deprecated: import the layers from minicnn.nn", DeprecationWarning, stacklevel=2)

__all__ = ["Conv2d", "Conv2dReLUMaxPool2d", "Flatten", "Identity", "Linear", "MaxPool2d", "MaxUnpool2d", "ModuleList",
           "ReLU", "Sequential"]
