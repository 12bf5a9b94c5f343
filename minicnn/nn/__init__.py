"""Layers shaped like ``torch.nn``: Modules that define ``forward``; the engine does backward.

One file per subject, as torch's ``nn/modules/``: ``activation.py``, ``pooling.py``, ``conv.py``,
``linear.py`` (with Flatten, Unflatten, Identity), ``normalization.py``, ``padding.py``,
``pixelshuffle.py``, ``upsampling.py``, ``dropout.py``, ``loss.py``,
``container.py``, ``parallel.py`` (``DataParallel`` on the CPU); ``module.py`` is the base class,
``hooks.py`` its hooks, ``init.py`` the initialisation.
"""
from .. import functional
from . import init, parallel
from .activation import (ELU, GELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, PReLU, ReLU, ReLU6, SiLU,
                         Sigmoid, Softmax, Softplus, Tanh)
from .container import ModuleDict, ModuleList, Sequential
from .conv import Conv2d, Conv2dReLUMaxPool2d, ConvTranspose2d
from .dropout import Dropout, Dropout2d
from .lazy import LazyBatchNorm2d, LazyConv2d, LazyLinear, UninitializedParameter
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter, is_grad_enabled, no_grad
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNormReLU2d, GroupNorm, InstanceNorm2d, LayerNorm,
                            LocalResponseNorm)
from .padding import (CircularPad2d, CircularPad3d, ConstantPad2d, ConstantPad3d, ReflectionPad2d, ReflectionPad3d,
                      ReplicationPad2d, ReplicationPad3d, ZeroPad2d, ZeroPad3d)
from .parallel import DataParallel
from .pixelshuffle import PixelShuffle, PixelUnshuffle
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d, MaxUnpool2d
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "AvgPool2d", "BCELoss", "BCEWithLogitsLoss", "BatchNorm1d",
           "BatchNorm2d", "BatchNormReLU2d", "CircularPad2d", "CircularPad3d", "ConstantPad2d", "ConstantPad3d",
           "Conv2d", "Conv2dReLUMaxPool2d", "ConvTranspose2d", "CrossEntropyLoss", "DataParallel", "Dropout",
           "Dropout2d", "ELU", "Flatten", "GELU", "GroupNorm", "Hardsigmoid", "Hardswish", "Hardtanh", "Identity",
           "InstanceNorm2d", "LayerNorm", "LazyBatchNorm2d", "LazyConv2d", "LazyLinear", "LeakyReLU", "Linear",
           "LocalResponseNorm", "LogSoftmax", "MSELoss", "MaxPool2d", "MaxUnpool2d", "Module", "ModuleDict",
           "ModuleList", "NLLLoss", "PReLU", "Parameter", "PixelShuffle", "PixelUnshuffle", "ReLU", "ReLU6",
           "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad2d", "ReplicationPad3d", "Sequential", "SiLU",
           "Sigmoid", "Softmax", "Softplus", "Tanh", "Unflatten", "UninitializedParameter", "Upsample",
           "UpsamplingBilinear2d", "UpsamplingNearest2d", "ZeroPad2d", "ZeroPad3d", "functional", "init",
           "is_grad_enabled", "no_grad", "parallel"]
