"""``torchvision`` for the programs minicnn runs: ``import minicnn.vision as torchvision``.

* :mod:`.datasets` — ``MNIST`` and ``FashionMNIST``, torchvision's classes and arguments;
* :mod:`.transforms` — ``Compose``, ``ToTensor``, ``Normalize``, ``RandomCrop``, ``RandomHorizontalFlip``,
  ``RandomAffine``, ``Lambda``, with torchvision's arithmetic;
* :mod:`.models` — minicnn's own models (``simplecnn``, ``lenet5`` …) by name; torchvision's architectures
  convert from torch with :func:`minicnn.from_torch`;
* :mod:`.utils` — ``make_grid`` and ``save_image``, torchvision's.

A name torchvision has and minicnn does not (``datasets.CIFAR10``, ``models.resnet18``) raises an
AttributeError that says what minicnn has instead, rather than a bare missing attribute.
"""
from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
