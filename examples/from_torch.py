"""Your own PyTorch model on minicnn's hand-written backward passes, its gradients beside torch's.

    python examples/from_torch.py

A small torch CNN (not a Sequential: a residual add and a functional pool in its forward) is
converted with ``minicnn.from_torch``; both compute the loss for the same batch in float64 and
backpropagate, and every parameter's gradient is printed next to torch's with their relative
difference.  Replace ``Net`` with your own model.
"""
import argparse

import numpy as np
import torch
import torch.nn.functional as tF
from torch import nn as tnn

import minicnn


class Net(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 8, 3, padding=1, bias=False)   # (a bias before batch norm cancels)
        self.bn1 = tnn.BatchNorm2d(8)
        self.conv2 = tnn.Conv2d(8, 8, 3, padding=1)
        self.fc = tnn.Linear(8 * 7 * 7, 10)

    def forward(self, x):
        x = tF.relu(self.bn1(self.conv1(x)))
        x = tF.max_pool2d(x + tF.relu(self.conv2(x)), 2)      # a residual connection
        return self.fc(torch.flatten(tF.avg_pool2d(x, 2), 1))


def main(argv=None):
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    torch.manual_seed(0)
    model = Net().double()
    converted = minicnn.from_torch(model)          # the same weights, the same state_dict keys
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 1, 28, 28)), rng.integers(0, 10, 4)

    loss_torch = tF.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    loss_torch.backward()
    loss_ours = minicnn.nn.functional.cross_entropy(converted(minicnn.tensor(x)), y)
    loss_ours.backward()
    print(f"loss: minicnn {loss_ours.item():.12f}   torch {loss_torch.item():.12f}")

    theirs = dict(model.named_parameters())
    rows = []
    for name, p in converted.named_parameters():
        ours, ref = p.grad, theirs[name].grad.numpy()
        error = float(np.abs(ours - ref).max() / np.abs(ref).max())
        rows.append((name, error))
        print(f"{name:11s} {str(tuple(p.shape)):15s} |grad| minicnn {np.linalg.norm(ours):.10f}  "
              f"torch {np.linalg.norm(ref):.10f}  relative difference {error:.1e}")
    return loss_ours.item(), loss_torch.item(), rows


if __name__ == "__main__":
    main()
