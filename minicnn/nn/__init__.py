"""Layers shaped like ``torch.nn``."""
from .layers import Conv2d, Conv2dReLUMaxPool2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from .loss import CrossEntropyLoss
from .module import Module, Parameter, is_grad_enabled, no_grad

__all__ = ["Conv2d", "Conv2dReLUMaxPool2d", "CrossEntropyLoss", "Flatten", "Linear", "MaxPool2d", "Module", "Parameter",
           "ReLU", "Sequential", "is_grad_enabled", "no_grad"]
