"""The tutorial's result: one epoch on all 60 000 training images reaches >= 98 % test accuracy."""
import time

import numpy as np
import pytest

from minicnn import SimpleCNN, data, manual_seed, nn, optim, threads
from minicnn.train import accuracy, train_one_epoch


@pytest.mark.slow
def test_one_epoch_of_the_tutorial_reaches_98_percent(mnist_root):
    threads.configure()
    x_train, y_train = data.load_mnist(mnist_root, train=True, fetch=False)
    x_test, y_test = data.load_mnist(mnist_root, train=False, fetch=False)
    assert x_train.shape == (60000, 1, 28, 28) and x_train.dtype == np.float32

    manual_seed(0)
    model = SimpleCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)
    assert len(loader) == 938

    start = time.perf_counter()
    loss = train_one_epoch(model, loader, criterion, optimizer)
    seconds = time.perf_counter() - start
    acc = accuracy(model, x_test, y_test)
    print(f"one epoch: mean loss {loss:.4f}, test accuracy {acc:.2f}%, {seconds:.1f} s of training")

    assert all(p.data.dtype == np.float32 for p in model.parameters())
    assert 0 < loss < 0.3  # the mean over the epoch, from 2.30 at the first batch
    assert acc >= 98.0


def test_the_progress_bar_is_shown_only_on_a_terminal(monkeypatch):
    """A log file or a pipe gets no tqdm bar (it would get a line per refresh: 711 lines for one `make train`)."""
    import io
    import sys

    from minicnn.runs import progress_bar

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    items = [1, 2, 3]
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_bar(items, 3, "epoch", True) is items
    monkeypatch.setattr(sys, "stderr", Terminal())
    bar = progress_bar(items, 3, "epoch", True)
    assert bar is not items and list(bar) == items
    assert progress_bar(items, 3, "epoch", False) is items
