"""``minicnn.nn.functional``: torch's path to the functional ops (``import torch.nn.functional as F``).

The same objects as :mod:`minicnn.functional`, under the same names (a re-export, not a copy): every
public name there that is not a module, so ``minicnn.nn.functional.relu is minicnn.functional.relu``.
"""
import types

from .. import functional as _functional

__all__ = sorted(name for name, value in vars(_functional).items()
                 if not name.startswith("_") and not isinstance(value, types.ModuleType))
globals().update({name: getattr(_functional, name) for name in __all__})
