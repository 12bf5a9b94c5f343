"""Models by name, as ``torchvision.models``: minicnn's own (``simplecnn()``, ``lenet5()``,
``resnet_mini()``, ``simplecnn_bn()``; :data:`minicnn.MODELS`).  torchvision's architectures
(``resnet18`` …) are converted from torch instead: ``minicnn.from_torch(torchvision.models.resnet18())``."""
from functools import partial

from ..models import MODELS, build_model
from ._missing import missing

_BUILDERS = {name.replace("-", "_"): partial(build_model, name) for name in MODELS}
globals().update(_BUILDERS)
__all__ = sorted(_BUILDERS)


def __getattr__(name):
    raise missing("minicnn.vision.models", name, __all__,
                  f"convert torchvision's: minicnn.from_torch(torchvision.models.{name}(weights=None))")
