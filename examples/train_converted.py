"""torchvision's ResNet-18, converted with ``minicnn.from_torch``, trained on Fashion-MNIST beside torch's.

    python examples/train_converted.py [--steps 300] [--batch-size 64] [--lockstep 20] [--data-dir data]

The network is ``torchvision.models.resnet18(num_classes=10)`` with its first convolution taking one
channel (``Conv2d(1, 64, 7, stride=2, padding=3, bias=False)``, the usual change for 28x28 grey images).
Two runs start from the same weights:

1. ``--lockstep`` steps in float64 (batches of 32): torch's model with ``torch.optim.SGD`` and the converted
   one with ``minicnn.optim.SGD`` (momentum 0.9, weight decay 5e-4) on the same batches; after them the
   largest relative difference of any parameter or running statistic is printed. The two compute the same
   thing and only the order of float64 roundings differs: about 2e-14 after one step, and training itself
   amplifies it step by step (to about 2e-11 after 20 steps at lr 0.05, 5e-14 at lr 0.01).
2. ``--steps`` steps in float32 of the same pair on shuffled Fashion-MNIST batches, the loss of both printed
   every 50 steps, then the accuracy of both on the first 2000 test images. In float32 the trajectories
   drift apart by rounding (torch's oneDNN convolutions round differently from minicnn's) while both
   losses fall alike.

Fashion-MNIST is fetched into ``--data-dir`` from Debian's package on first use (``minicnn fetch-data
--dataset fashion-mnist``).
"""
import argparse
import copy
import os
import time

import numpy as np
import torch
import torch.nn.functional as tF
import torchvision

import minicnn
from minicnn.data import fetch, load_dataset


def resnet18_for_28x28(seed=0):
    """torchvision's ResNet-18 for 1x28x28 inputs and 10 classes, its weights drawn from ``seed``."""
    torch.manual_seed(seed)
    model = torchvision.models.resnet18(weights=None, num_classes=10)
    model.conv1 = torch.nn.Conv2d(1, 64, 7, stride=2, padding=3, bias=False)
    return model


def sgd_pair(model, converted, lr):
    settings = dict(lr=lr, momentum=0.9, weight_decay=5e-4)
    return torch.optim.SGD(model.parameters(), **settings), minicnn.optim.SGD(converted.parameters(), **settings)


def step_both(model, converted, theirs, ours, x, y):
    """One training step of each on the same batch; returns the two losses."""
    theirs.zero_grad()
    loss_t = tF.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
    loss_t.backward()
    theirs.step()
    ours.zero_grad()
    loss_m = minicnn.nn.functional.cross_entropy(converted(minicnn.tensor(x)), y)
    loss_m.backward()
    ours.step()
    return loss_m.item(), loss_t.item()


def worst_difference(model, converted):
    """The largest ``max|ours - torch| / max|torch|`` over every entry of the two state_dicts."""
    theirs = model.state_dict()
    worst = 0.0
    for name, value in converted.state_dict().items():
        ref = theirs[name].numpy()
        worst = max(worst, float(np.abs(np.asarray(value, np.float64) - ref).max() / max(np.abs(ref).max(), 1e-300)))
    return worst


def lockstep(images, labels, steps, batch_size, lr):
    model = resnet18_for_28x28().double().train()
    converted = minicnn.from_torch(model)
    theirs, ours = sgd_pair(model, converted, lr)
    order = np.random.default_rng(1).permutation(len(images))
    for k in range(steps):
        idx = order[k * batch_size:(k + 1) * batch_size]
        step_both(model, converted, theirs, ours, images[idx].astype(np.float64), labels[idx])
    return worst_difference(model, converted)


def accuracy(predict, images, labels, batch_size=500):
    hits = 0
    for i in range(0, len(images), batch_size):
        hits += int((predict(images[i:i + batch_size]).argmax(1) == labels[i:i + batch_size]).sum())
    return hits / len(images)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="float32 training steps (default 300)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lockstep", type=int, default=20, help="float64 lockstep steps first (default 20)")
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--data-dir", default=os.environ.get("MINICNN_DATA") or "data")
    args = parser.parse_args(argv)
    fetch("fashion-mnist", args.data_dir, quiet=True)
    images, labels = load_dataset("fashion-mnist", args.data_dir, train=True)
    test_images, test_labels = load_dataset("fashion-mnist", args.data_dir, train=False)
    test_images, test_labels = test_images[:2000], test_labels[:2000]

    result = {"lockstep_steps": args.lockstep}
    if args.lockstep:
        result["lockstep_worst"] = lockstep(images, labels, args.lockstep, 32, args.lr)
        print(f"float64, {args.lockstep} SGD steps from the same weights: largest relative difference of any "
              f"parameter or running statistic {result['lockstep_worst']:.1e}")

    model = resnet18_for_28x28().train()
    converted = minicnn.from_torch(copy.deepcopy(model))
    theirs, ours = sgd_pair(model, converted, args.lr)
    order = np.random.default_rng(0).permutation(len(images))
    losses, started = [], time.perf_counter()
    for k in range(args.steps):
        idx = order[(k * args.batch_size) % len(images):][:args.batch_size]
        losses.append(step_both(model, converted, theirs, ours, images[idx], labels[idx]))
        if (k + 1) % 50 == 0 or k + 1 == args.steps:
            window = np.mean(losses[-50:], axis=0)
            print(f"step {k + 1:4d}  mean loss of the last {min(50, len(losses))}: minicnn {window[0]:.4f}  "
                  f"torch {window[1]:.4f}   ({time.perf_counter() - started:.0f} s)")
    model.eval()
    converted.eval()
    with torch.no_grad():
        acc_t = accuracy(lambda x: model(torch.from_numpy(x)).numpy(), test_images, test_labels)
    with minicnn.no_grad():
        acc_m = accuracy(lambda x: converted(minicnn.tensor(x)).numpy(), test_images, test_labels)
    print(f"test accuracy on {len(test_images)} images: minicnn {acc_m:.1%}  torch {acc_t:.1%}")
    result.update(losses=losses, accuracy=(acc_m, acc_t))
    return result


if __name__ == "__main__":
    main()
