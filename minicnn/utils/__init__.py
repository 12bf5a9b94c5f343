"""torch's ``torch.utils`` path: :mod:`minicnn.utils.data` (``from minicnn.utils.data import DataLoader``)."""
from . import data

__all__ = ["data"]
