"""d2l.ai's LeNet (chapter "Convolutional Neural Networks"), in its idioms without the d2l package: a
Sequential of Lazy layers, a dummy batch to initialise them, ``net.apply(init_cnn)`` with Xavier, the layer
by layer output shapes, then a few SGD steps on Fashion-MNIST-sized random batches.

A torch program: tests/test_ports.py runs it under torch, then with only its imports rewritten for minicnn.
"""
import torch
from torch import nn


def init_cnn(module):
    """Initialize weights for CNNs."""
    if type(module) == nn.Linear or type(module) == nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)


def lenet(num_classes=10):
    return nn.Sequential(
        nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.LazyLinear(120), nn.Sigmoid(),
        nn.LazyLinear(84), nn.Sigmoid(),
        nn.LazyLinear(num_classes))


def main():
    torch.manual_seed(0)
    net = lenet()
    X = torch.randn(1, 1, 28, 28)
    net(X)                     # the dummy batch: the lazy layers learn their input sizes
    net.apply(init_cnn)
    for layer in net:
        X = layer(X)
        print(layer.__class__.__name__, 'output shape:\t', X.shape)
    print(sum(p.numel() for p in net.parameters()), "parameters")

    optimizer = torch.optim.SGD(net.parameters(), lr=0.9)
    loss_fn = nn.CrossEntropyLoss()
    first = last = None
    for step in range(30):
        X, y = torch.randn(32, 1, 28, 28), torch.randint(0, 2, (32,))
        X[y == 1] += 1.0            # two classes a network can tell apart
        loss = loss_fn(net(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
        last = loss.item()
    print(f"loss fell: {last < first}")


if __name__ == "__main__":
    main()
