"""Layers shaped like ``torch.nn``: Modules that define ``forward``; the engine does backward."""
from .. import functional
from .layers import (Conv2d, Conv2dReLUMaxPool2d, Flatten, Identity, Linear, MaxPool2d, MaxUnpool2d, ModuleList,
                     ReLU, Sequential)
from .loss import CrossEntropyLoss
from .module import Module, Parameter, is_grad_enabled, no_grad

__all__ = ["Conv2d", "Conv2dReLUMaxPool2d", "CrossEntropyLoss", "Flatten", "Identity", "Linear", "MaxPool2d",
           "MaxUnpool2d", "Module", "ModuleList", "Parameter", "ReLU", "Sequential", "functional",
           "is_grad_enabled", "no_grad"]
