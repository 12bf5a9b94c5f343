"""Models, looked up by name.

``MODELS`` maps a name to its class; the CLI, ``train.run`` and checkpoints use
the name (and the constructor's keyword arguments) to rebuild a network.  A new
model is a module in this folder and one entry here (and its torch mirror in
``reference/models.py`` under the same name).
"""
from .lenet5 import LeNet5
from .resnet_mini import BasicBlock, ResNetMini
from .simplecnn import SimpleCNN
from .simplecnn_bn import SimpleCNNBN

MODELS = {"simplecnn": SimpleCNN.fused_by_default, "simplecnn-bn": SimpleCNNBN, "lenet5": LeNet5, "resnet-mini": ResNetMini}


def build_model(name, **kwargs):
    """``MODELS[name](**kwargs)``, with a ValueError naming the choices for an unknown name; ``"converted"``
    (the name a ``from_torch`` model's checkpoint records, with ``structure=`` its module tree) rebuilds that
    model (:mod:`minicnn.structure`)."""
    from .. import structure
    if name == structure.NAME:
        return structure.rebuild(**kwargs)
    if name not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {name!r}")
    try:
        return MODELS[name](**kwargs)
    except TypeError as exc:
        raise TypeError(f"model {name}: {exc}") from None


__all__ = ["MODELS", "BasicBlock", "LeNet5", "ResNetMini", "SimpleCNN", "SimpleCNNBN", "build_model"]
