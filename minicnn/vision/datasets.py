"""torchvision's ``datasets``, for the ones minicnn has: ``MNIST(root, train=True, transform=None,
download=True)`` and ``FashionMNIST`` (:class:`minicnn.data.VisionDataset`: items ``(image Tensor, int)``)."""
from ..data import FashionMNIST, MNIST, VisionDataset
from ._missing import missing

__all__ = ["FashionMNIST", "MNIST", "VisionDataset"]


def __getattr__(name):
    raise missing("minicnn.vision.datasets", name, __all__[:2], "docs/api.md#data says how to add a dataset")
