"""The tutorial's training loop, on minicnn's layers: the same lines as PyTorch's.

    for epoch in range(epochs):
        for images, labels in train_loader:
            outputs = model(images)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item()

``examples/train_minicnn.py`` is this loop written out line by line, beside the tutorial's
own program.  Here it is :func:`train_step` and :func:`train_one_epoch`; :func:`train` runs it
as ``minicnn train`` does, with the run folder, checkpoints, resume and NaN stop of
:mod:`minicnn.runs` around it.
"""
import numpy as np

from . import nn, optim, threads
from .faults import crash_point
from .models import build_model
from .rng import get_rng_state, manual_seed, set_rng_state
from .runs import (DTYPES, SCHEDULES, Backend, NonFiniteError, TrainConfig, accuracy_line, check_finite,
                   load_datasets, optimizer_kwargs, progress_bar, resume_config, run)

__all__ = ["train_step", "train_one_epoch", "logits", "predict", "accuracy", "MinicnnBackend", "minicnn_backend",
           "train",
           # minicnn.runs' names that were always imported from here too
           "DTYPES", "SCHEDULES", "Backend", "NonFiniteError", "TrainConfig", "accuracy_line", "check_finite",
           "load_datasets", "optimizer_kwargs", "progress_bar", "resume_config", "run"]


def train_step(model, images, labels, criterion, optimizer, check=True):
    """One optimisation step, the tutorial's five lines; returns the batch loss as a float.

    With ``check``, a NaN/Inf loss or gradient raises :class:`~minicnn.runs.NonFiniteError` before
    ``optimizer.step()``, so the parameters and the optimiser's state keep their last good values.
    """
    outputs = model(images)
    loss = criterion(outputs, labels)
    optimizer.zero_grad()
    loss.backward()
    value = loss.item()
    if check:
        check_finite(value, ((name, p.grad) for name, p in reversed(list(model.named_parameters()))))
    crash_point("step")
    optimizer.step()
    return value


def train_one_epoch(model, loader, criterion, optimizer, desc="train", progress=False, losses=None):
    """One pass over ``loader``; returns the mean of the batch losses (the tutorial's number).

    ``losses``, a list, receives each batch's loss in order (metrics.json's per-step curve).
    """
    model.train()
    losses = [] if losses is None else losses
    for images, labels in progress_bar(loader, len(loader), desc, progress):
        losses.append(train_step(model, images, labels, criterion, optimizer))
    return sum(losses[-len(loader):]) / len(loader)


def logits(model, images, batch_size=256):
    """The model's outputs (N, classes) as an ndarray, in batches of ``batch_size``, under ``no_grad()`` in eval mode."""
    model.eval()
    with nn.no_grad():
        outs = [model(images[i:i + batch_size]).array for i in range(0, len(images), batch_size)]
    return np.concatenate(outs) if outs else np.empty((0, 0), dtype=images.dtype)


def predict(model, images, batch_size=256):
    """Predicted class (N,) int64 for images (N, C, H, W): the argmax of :func:`logits`."""
    return logits(model, images, batch_size).argmax(axis=1) if len(images) else np.empty(0, dtype=np.int64)


def accuracy(model, images, labels, batch_size=256):
    """Percentage of ``labels`` that the model predicts."""
    return 100.0 * float(np.mean(predict(model, images, batch_size) == labels))


class MinicnnBackend:
    """A model, loss, optimiser and scheduler (or None) of minicnn's, as :func:`minicnn.runs.run` drives
    them: a :class:`~minicnn.runs.Backend`."""
    name = "minicnn"

    def __init__(self, model, criterion, optimizer, scheduler=None):
        self.model, self.criterion, self.optimizer, self.scheduler = model, criterion, optimizer, scheduler

    def train_step(self, images, labels):
        self.model.train()
        return train_step(self.model, images, labels, self.criterion, self.optimizer)

    def end_epoch(self):
        if self.scheduler is not None:
            self.scheduler.step()

    def predict(self, images):
        return predict(self.model, images)

    def state_dict(self):
        return self.model.state_dict()

    def threads(self):
        return threads.describe()

    def training_state(self):
        return {"optimizer": self.optimizer.state_dict(),
                "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
                "rng": {"minicnn": get_rng_state()}}

    def load_state(self, state_dict, training):
        self.model.load_state_dict(state_dict)
        self.optimizer.load_state_dict(training["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(training["scheduler"])
        set_rng_state(training["rng"]["minicnn"])


def minicnn_backend(cfg: TrainConfig) -> Backend:
    """``cfg.model``, CrossEntropyLoss, ``cfg.optimizer`` and ``cfg.scheduler`` from minicnn, seeded with ``cfg.seed``."""
    threads.configure()
    manual_seed(cfg.seed)
    model = build_model(cfg.model, **cfg.model_kwargs).to(DTYPES[cfg.dtype])
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.OPTIMIZERS[cfg.optimizer](model.parameters(), **optimizer_kwargs(cfg))
    schedule = SCHEDULES[cfg.scheduler](cfg.epochs)
    scheduler = optim.SCHEDULERS[schedule[0]](optimizer, **schedule[1]) if schedule else None
    return MinicnnBackend(model, criterion, optimizer, scheduler)


def train(cfg, log=print, resume=None, make_backend=minicnn_backend):
    """Train ``cfg.model`` as the tutorial does, continuing checkpoint ``resume``; returns the metrics dict.

    ``make_backend(cfg)`` builds the model, loss and optimiser: minicnn's, or
    ``reference.train.torch_backend`` for the same run in PyTorch (see :func:`minicnn.runs.run`).
    """
    cfg.validate()
    return run(cfg, make_backend, load_datasets(cfg), log, resume)
