"""torchvision's ``transforms``, for the ones minicnn has (:mod:`minicnn.data.transforms`: each works on
one image (C, H, W) or a batch, with torchvision's arithmetic)."""
from ..data.transforms import (CenterCrop, Compose, Lambda, Normalize, RandomAffine, RandomCrop,
                               RandomHorizontalFlip, Resize, ToTensor, Transform)
from ._missing import missing

__all__ = ["CenterCrop", "Compose", "Lambda", "Normalize", "RandomAffine", "RandomCrop", "RandomHorizontalFlip",
           "Resize", "ToTensor", "Transform"]


def __getattr__(name):
    raise missing("minicnn.vision.transforms", name, __all__)
