"""What the NaN/Inf check costs a SimpleCNN training step (batch 64, float32).

Times ``minicnn.train.train_step`` with ``check=True`` and ``check=False``, alternating, and
prints the medians and the difference; also the check alone (``check_finite`` on the loss and
the 8 gradients).  ``python -m benchmarks.bench_finite_check [--steps N]``.
"""
import argparse
import statistics
import time

import numpy as np

from minicnn import SimpleCNN, manual_seed, nn, optim, threads
from minicnn.train import check_finite, train_step


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    threads.configure()
    manual_seed(0)
    model, criterion = SimpleCNN(fused=True), nn.CrossEntropyLoss()  # as minicnn train
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    images = rng.random((64, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, 64)
    for _ in range(5):  # compile and warm up
        train_step(model, images, labels, criterion, optimizer)
    times = {True: [], False: []}
    for i in range(2 * args.steps):
        check = i % 2 == 0
        start = time.perf_counter()
        train_step(model, images, labels, criterion, optimizer, check=check)
        times[check].append(time.perf_counter() - start)
    named = [(n, p.grad) for n, p in reversed(list(model.named_parameters()))]
    alone = []
    for _ in range(200):
        start = time.perf_counter()
        check_finite(1.0, named)
        alone.append(time.perf_counter() - start)
    on, off, chk = (statistics.median(times[True]), statistics.median(times[False]), statistics.median(alone))
    print(f"step with check {on * 1e3:.2f} ms, without {off * 1e3:.2f} ms (medians of {args.steps}, "
          f"{threads.num_threads()} threads); the check alone {chk * 1e6:.0f} us = {100 * chk / off:.2f} % of a step")


if __name__ == "__main__":
    main()
