"""minicnn: a convolutional network library written from scratch in NumPy and Numba.

Every backward pass is written by hand (see :mod:`minicnn.kernels`); the ops in
:mod:`minicnn.functional` record themselves on a graph (:mod:`minicnn.autograd`)
so that ``loss.backward()`` trains any model built from the layers in
:mod:`minicnn.nn`, which are shaped like ``torch.nn``.

``import minicnn as torch`` gives torch's tensor library as far as CNN code uses it (the dtypes, the
device API, the factories, the top-level functions); docs/porting.md is the import map and what is
refused.
"""
import types as _types

from . import accelerator, backends, cuda, data, functional, kernels, nn, optim, utils
from .autograd import Tensor, cat, enable_grad, is_grad_enabled, no_grad, set_grad_enabled, stack, tensor
from .autograd.creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace,
                                ones, ones_like, rand, rand_like, randint, randn, randn_like, zeros, zeros_like)
from .autograd.functions import (abs, add, allclose, amax, amin, argmax, argmin, chunk, clamp, clip, clone, div, eq,
                                 equal, exp, flatten, ge, gt, is_floating_point, is_tensor, le, log, lt, matmul, max,
                                 maximum, mean, min, minimum, mm, mul, ne, neg, numel, permute, pow, relu, reshape,
                                 sigmoid, split, sqrt, squeeze, std, sub, sum, t, tanh, transpose, unsqueeze, var,
                                 where)
from .autograd.tensor import MAX as _MAX, MIN as _MIN
from .convert import from_torch, load_state_dict_from_torch, save_converted
from .device import channels_last, channels_last_3d, contiguous_format, device, memory_format, preserve_format
from .dtypes import (bool, double, float, float16, float32, float64, half, int, int8, int16, int32, int64, long,
                     short, uint8)
from .models import MODELS, SimpleCNN, build_model
from .nn import functional as _nn_functional  # noqa: F401  (makes minicnn.nn.functional the torch path)
from .regularization import l1_penalty
from .rng import Generator, get_rng_state, manual_seed, set_rng_state
from .serialize import load, save

return_types = _types.SimpleNamespace(max=_MAX, min=_MIN)
"""torch's ``torch.return_types``: the named pairs ``max(x, dim)`` and ``min(x, dim)`` return."""

__version__ = "0.1.0"
__all__ = ["Generator", "abs", "accelerator", "add", "allclose", "amax", "amin", "arange", "argmax", "argmin",
           "as_tensor", "backends", "bool", "build_model", "cat", "channels_last", "channels_last_3d", "chunk",
           "clamp", "clip", "clone", "contiguous_format", "cuda", "data", "device", "div", "double", "empty",
           "empty_like", "enable_grad", "eq", "equal", "exp", "eye", "flatten", "float", "float16", "float32",
           "float64", "from_numpy", "from_torch", "full", "full_like", "functional", "ge", "get_rng_state", "gt",
           "half", "int", "int16", "int32", "int64", "int8", "is_floating_point", "is_grad_enabled", "is_tensor",
           "kernels", "l1_penalty", "le", "linspace", "load", "load_state_dict_from_torch", "log", "long", "lt",
           "manual_seed", "matmul", "max", "maximum", "mean", "memory_format", "min", "minimum", "mm", "MODELS", "mul",
           "ne", "neg", "nn", "no_grad", "numel", "ones", "ones_like", "optim", "permute", "pow", "preserve_format",
           "rand", "rand_like", "randint", "randn", "randn_like", "relu", "reshape", "return_types", "save",
           "save_converted", "set_grad_enabled", "set_rng_state", "short", "sigmoid", "SimpleCNN", "split", "sqrt",
           "squeeze", "stack", "std", "sub", "sum", "t", "tanh", "tensor", "Tensor", "transpose", "uint8", "unsqueeze",
           "utils", "var", "where", "zeros", "zeros_like"]
