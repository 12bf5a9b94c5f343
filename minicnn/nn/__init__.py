"""Layers shaped like ``torch.nn``."""
from .layers import Conv2d, Conv2dReLUMaxPool2d, Flatten, Linear, MaxPool2d, ReLU, Sequential
from .loss import CrossEntropyLoss
from .module import Module, Parameter

__all__ = ["Conv2d", "Conv2dReLUMaxPool2d", "CrossEntropyLoss", "Flatten", "Linear", "MaxPool2d", "Module", "Parameter",
           "ReLU", "Sequential"]
