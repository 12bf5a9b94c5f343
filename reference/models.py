"""The seed tutorial's SimpleCNN in PyTorch, unchanged, and conversion to minicnn's checkpoints.

The network is the tutorial's code line for line, so its ``state_dict`` keys
(``conv1.weight`` … ``fc2.bias``) and shapes are the ones
``minicnn.models.SimpleCNN`` uses; a checkpoint is a dict of those names to
numpy arrays, and either backend loads what the other wrote.
"""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class SimpleCNN(nn.Module):
    """The tutorial's network.  Shapes: input (N, 1, 28, 28) -> logits (N, 10)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(x, 2)
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = x.view(-1, 64 * 7 * 7)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


MODELS = {"simplecnn": SimpleCNN}  # the same names as minicnn.models.MODELS


def build_model(name, **kwargs):
    """``MODELS[name](**kwargs)``; a ValueError naming the choices for an unknown name."""
    if name not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {name!r}")
    return MODELS[name](**kwargs)


def numpy_state_dict(model):
    """``model.state_dict()`` as name -> numpy array copy, the format ``minicnn.io.save_checkpoint`` writes."""
    return {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}


def load_numpy_state_dict(model, state):
    """Copy a minicnn-style state dict (name -> array) into ``model``, cast to the model's dtype.

    Raises
    ------
    ValueError
        If the keys differ or a shape does not fit: torch's own message, which
        lists them all (as ``minicnn.nn.Module.load_state_dict`` does).
    """
    own = model.state_dict()
    tensors = {name: torch.from_numpy(np.ascontiguousarray(value)) for name, value in state.items()}
    for name, value in tensors.items():  # cast to the model's dtypes (torch's load_state_dict copies into them)
        if name in own and value.shape == own[name].shape:
            tensors[name] = value.to(own[name].dtype)
    try:
        model.load_state_dict(tensors)
    except RuntimeError as exc:  # torch lists missing/unexpected keys and size mismatches
        raise ValueError(" ".join(str(exc).split())) from None
    return model
