"""Models, looked up by name.

``MODELS`` maps a name to its class; the CLI, ``train.run`` and checkpoints use
the name (and the constructor's keyword arguments) to rebuild a network.  A new
model is a module in this folder and one entry here (and its torch mirror in
``reference/models.py`` under the same name).
"""
from .simplecnn import SimpleCNN

MODELS = {"simplecnn": SimpleCNN}


def build_model(name, **kwargs):
    """``MODELS[name](**kwargs)``, with a ValueError naming the choices for an unknown name."""
    if name not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {name!r}")
    try:
        return MODELS[name](**kwargs)
    except TypeError as exc:
        raise TypeError(f"model {name}: {exc}") from None


__all__ = ["MODELS", "SimpleCNN", "build_model"]
