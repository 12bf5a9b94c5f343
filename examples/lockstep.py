"""Watch minicnn and PyTorch train the same network in lockstep.

    python examples/lockstep.py [--steps 200] [--dtype float64|float32] [--torch-vs-torch] [--quick]

Both start from the same weights (minicnn's initialisation, copied into the
torch SimpleCNN), take the same MNIST batches (``minicnn.data.DataLoader``,
seed 0) and the same SGD(lr 0.01, momentum 0.9) steps.  The script prints
how far apart their losses and weights are as training goes on.

In float64 they stay ~1e-16 apart: the same arithmetic, rounded the same way
up to summation order.  In float32 the summation order changes the last bit
now and then; once a ReLU or a max-pool window decides differently, the two
runs drift apart visibly.  ``--torch-vs-torch`` shows that torch drifts just
as far from *itself* when only its convolution algorithm changes (oneDNN on
vs off), so the drift is float32, not minicnn.  ``--quick``: 10 steps.
"""
import argparse

import numpy as np
import torch

import minicnn
from minicnn import data, nn, optim
from minicnn.train import train_step as minicnn_train_step
from reference.models import SimpleCNN, load_numpy_state_dict, numpy_state_dict
from reference.train import train_step as torch_train_step

TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


def minicnn_side(initial, dtype):
    """A minicnn SimpleCNN holding ``initial``; returns ``step(x, y) -> loss`` and ``weights() -> state_dict``."""
    model = minicnn.SimpleCNN().to(np.dtype(dtype))
    model.load_state_dict(initial)
    criterion, optimizer = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return (lambda x, y: minicnn_train_step(model, x, y, criterion, optimizer)), model.state_dict


def torch_side(initial, dtype, onednn=True):
    """The tutorial's torch SimpleCNN holding ``initial``; same contract as :func:`minicnn_side`."""
    model = load_numpy_state_dict(SimpleCNN().to(TORCH_DTYPES[dtype]), initial)
    criterion, optimizer = torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step(x, y):
        with torch.backends.mkldnn.flags(enabled=onednn):  # switches the CPU convolution algorithm, nothing else
            return torch_train_step(model, x, y, criterion, optimizer)
    return step, lambda: numpy_state_dict(model)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--torch-vs-torch", action="store_true",
                        help="compare torch with oneDNN convolutions against torch without, instead of minicnn")
    parser.add_argument("--quick", action="store_true", help="10 steps")
    args = parser.parse_args(argv)
    minicnn.threads.configure()
    if args.quick:
        args.steps = 10
    torch.set_num_threads(1)  # the loop alternates two thread pools on the same cores; one torch thread is faster
    minicnn.manual_seed(0)
    initial = minicnn.SimpleCNN().to(np.dtype(args.dtype)).state_dict()
    if args.torch_vs_torch:
        label, (step_ours, weights_ours) = "torch without oneDNN", torch_side(initial, args.dtype, onednn=False)
    else:
        label, (step_ours, weights_ours) = "minicnn", minicnn_side(initial, args.dtype)
    step_theirs, weights_theirs = torch_side(initial, args.dtype)

    x_train, y_train = data.load_mnist(train=True)
    loader = data.DataLoader(x_train.astype(args.dtype), y_train, batch_size=64, shuffle=True, seed=0)
    print(f"{label} vs torch, {args.dtype}, SGD(lr 0.01, momentum 0.9), batches of 64")
    print(f"{'step':>5}  {'loss':>8}  {'|loss diff|':>11}  {'max |weight diff|':>17}  worst tensor")
    worst_loss = 0.0
    for step, (x, y) in zip(range(1, args.steps + 1), loader):
        loss, loss_t = step_ours(x, y), step_theirs(x, y)
        worst_loss = max(worst_loss, abs(loss - loss_t))
        if step in (1, 10, 25, 50, 100, 150) or step == args.steps:
            w, w_t = weights_ours(), weights_theirs()
            diffs = {k: float(np.abs(w[k] - w_t[k]).max()) for k in w}
            worst = max(diffs, key=diffs.get)
            print(f"{step:>5}  {loss_t:8.4f}  {abs(loss - loss_t):11.2e}  {diffs[worst]:17.2e}  {worst}")
    print(f"largest loss difference over {args.steps} steps: {worst_loss:.2e}")
    return worst_loss


if __name__ == "__main__":
    main()
