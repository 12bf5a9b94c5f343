"""The seed tutorial's own program: PyTorch, torchvision's MNIST, transforms and DataLoader.

    python examples/tutorial_torchvision.py [--epochs 5] [--limit N] [--data-dir data] [--quick]

Read it next to ``examples/train_minicnn.py`` (the same program on minicnn).
The only changes from the tutorial: ``download=False`` on the files that
``minicnn fetch-data`` put in ``data/MNIST/raw`` (torchvision's layout), the
network imported from ``reference.models`` (it is the tutorial's class,
unchanged), and ``--limit`` for a quick run.  Expect about 98.9% after 5
epochs; the numbers differ run to run, since torch's DataLoader shuffles
from torch's global seed, not minicnn's.  ``--quick``: one epoch on 1000
images, tested on the first 1000 test images.
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Subset
from torchvision import datasets, transforms

from reference.models import SimpleCNN


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N training images only")
    parser.add_argument("--data-dir", default=os.environ.get("MINICNN_DATA") or "data",
                        help="root holding MNIST/raw (default $MINICNN_DATA or data/)")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1000 images, 1000 test images")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 1, args.limit or 1000

    # 1. data: the tutorial's preprocessing, on the files minicnn fetched
    transform = transforms.Compose([
        transforms.ToTensor(),                 # uint8 (28, 28) -> float32 (1, 28, 28) in [0, 1]
        transforms.Normalize((0.5,), (0.5,)),  # -> [-1, 1]
    ])
    train_dataset = datasets.MNIST(root=args.data_dir, train=True, transform=transform, download=False)
    test_dataset = datasets.MNIST(root=args.data_dir, train=False, transform=transform, download=False)
    if args.limit:
        train_dataset = Subset(train_dataset, range(args.limit))
    if args.quick:
        test_dataset = Subset(test_dataset, range(1000))
    train_loader = DataLoader(dataset=train_dataset, batch_size=64, shuffle=True)
    test_loader = DataLoader(dataset=test_dataset, batch_size=64, shuffle=False)

    # 2. model, 3. loss and optimizer
    model = SimpleCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    # 4. training
    model.train()
    for epoch in range(args.epochs):
        total_loss = 0
        for images, labels in train_loader:
            outputs = model(images)            # forward
            loss = criterion(outputs, labels)  # loss
            optimizer.zero_grad()              # clear the gradients
            loss.backward()                    # backward: torch's autograd (minicnn: its engine + hand-written kernels)
            optimizer.step()                   # update
            total_loss += loss.item()
        print(f"Epoch [{epoch + 1}/{args.epochs}], Loss: {total_loss / len(train_loader):.4f}")

    # 5. test
    model.eval()
    correct = 0
    total = 0
    with torch.no_grad():
        for images, labels in test_loader:
            outputs = model(images)
            _, predicted = torch.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Test Accuracy: {100 * correct / total:.2f}%")
    return 100 * correct / total


if __name__ == "__main__":
    main()
