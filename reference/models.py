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


def numpy_state_dict(model):
    """``model.state_dict()`` as name -> numpy array copy, the format ``minicnn.io.save_checkpoint`` writes."""
    return {name: t.detach().cpu().numpy().copy() for name, t in model.state_dict().items()}


def load_numpy_state_dict(model, state):
    """Copy a minicnn-style state dict (name -> array) into ``model``, cast to the model's dtype.

    Raises
    ------
    ValueError
        If the keys differ or a shape does not fit, naming what is wrong (as
        ``minicnn.nn.Module.load_state_dict`` does).
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise ValueError(f"load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
    tensors = {}
    for name, target in own.items():
        value = np.asarray(state[name])
        if value.shape != tuple(target.shape):
            raise ValueError(f"load_state_dict: {name} expected shape {tuple(target.shape)}, got {value.shape}")
        tensors[name] = torch.from_numpy(np.ascontiguousarray(value)).to(target.dtype)
    model.load_state_dict(tensors)
    return model
