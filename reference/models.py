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
    try:
        return MODELS[name](**kwargs)
    except TypeError as exc:  # an argument this model does not take (e.g. minicnn's SimpleCNN(fused=...))
        raise TypeError(f"model {name} (torch reference): {exc}") from None


def numpy_state_dict(model):
    """``model.state_dict()`` as name -> numpy array copy, the format ``minicnn.checkpoint.save_checkpoint`` writes."""
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


# --------------------------------------------------------------------------- LeNet-5, ResNet-mini, SimpleCNN-BN
# The same networks as minicnn/models/simplecnn_bn.py, lenet5.py and resnet_mini.py, in plain torch.nn,
# with the same attribute names (so the same state_dict keys) and constructor arguments.


class SimpleCNNBN(nn.Module):
    """SimpleCNN with BatchNorm2d after each (bias-free) conv and Dropout(dropout) before fc2."""

    def __init__(self, dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)


class LeNet5(nn.Module):
    """LeNet-5 on 28x28: conv 6@5x5 pad 2, avg pool 2, conv 16@5x5, avg pool 2, fc 120, 84, 10; Tanh."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.tanh(self.fc1(x.flatten(1)))
        x = torch.tanh(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    """torchvision's BasicBlock: two 3x3 conv + BN, identity or 1x1-conv + BN shortcut."""

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNetMini(nn.Module):
    """Stem conv + BN, three stages of two BasicBlocks (widths 16/32/64), global average pool, fc."""

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        w = tuple(int(v) for v in widths)
        self.conv1 = nn.Conv2d(1, w[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.layer1 = nn.Sequential(BasicBlock(w[0], w[0]), BasicBlock(w[0], w[0]))
        self.layer2 = nn.Sequential(BasicBlock(w[0], w[1], stride=2), BasicBlock(w[1], w[1]))
        self.layer3 = nn.Sequential(BasicBlock(w[1], w[2], stride=2), BasicBlock(w[2], w[2]))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(w[2], 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))


MODELS.update({"simplecnn-bn": SimpleCNNBN, "lenet5": LeNet5, "resnet-mini": ResNetMini})
