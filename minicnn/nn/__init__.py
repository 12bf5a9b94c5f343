"""Layers shaped like ``torch.nn``: Modules that define ``forward``; the engine does backward."""
from .. import functional
from .layers import (Conv2d, Conv2dReLUMaxPool2d, Flatten, Identity, Linear, MaxPool2d, ModuleList, ReLU,
                     Sequential)
from .activation import LeakyReLU, LogSoftmax, Sigmoid, Softmax, Tanh
from .dropout import Dropout, Dropout2d
from .loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .pooling import AdaptiveAvgPool2d, AvgPool2d
from .module import Module, Parameter, is_grad_enabled, no_grad

__all__ = ["Conv2d", "Conv2dReLUMaxPool2d", "CrossEntropyLoss", "Flatten", "Identity", "Linear", "MaxPool2d",
           "Module", "ModuleList", "Parameter", "ReLU", "Sequential", "functional", "is_grad_enabled", "no_grad",
           # the toolbox
           "AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Dropout",
           "Dropout2d", "LeakyReLU", "LocalResponseNorm", "LogSoftmax", "MSELoss", "NLLLoss", "Sigmoid", "Softmax",
           "Tanh"]
