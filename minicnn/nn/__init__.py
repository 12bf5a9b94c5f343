"""Layers shaped like ``torch.nn``: Modules that define ``forward``; the engine does backward."""
from .. import functional
from .layers import (Conv2d, Conv2dReLUMaxPool2d, Flatten, Identity, Linear, MaxPool2d, MaxUnpool2d, ModuleList,
                     ReLU, Sequential)
from .activation import LeakyReLU, LogSoftmax, Sigmoid, Softmax, Tanh
from .dropout import Dropout, Dropout2d
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .normalization import BatchNorm1d, BatchNorm2d, BatchNormReLU2d, LocalResponseNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d
from .module import Module, Parameter, is_grad_enabled, no_grad

__all__ = ["AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "BatchNormReLU2d",
           "Conv2d", "Conv2dReLUMaxPool2d", "CrossEntropyLoss", "Dropout", "Dropout2d", "Flatten", "Identity", "LeakyReLU",
           "Linear", "LocalResponseNorm", "LogSoftmax", "MSELoss", "MaxPool2d", "MaxUnpool2d", "Module", "ModuleList",
           "NLLLoss", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh", "functional",
           "is_grad_enabled", "no_grad"]
