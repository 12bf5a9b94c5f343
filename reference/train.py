"""The tutorial's training loop in PyTorch, fed by minicnn's data module.

Everything that is not the network is minicnn's: the config and its checks,
the preprocessed arrays, the seeded ``DataLoader`` (so both backends see the
same batches in the same order for the same seed), the printed lines, and the
checkpoint/metrics writer.  Only the model, loss and optimizer are torch's.
"""
import os

import numpy as np
import torch

from minicnn.train import SCHEDULES, Backend, optimizer_kwargs, progress_bar, run

from . import models
from .models import numpy_state_dict

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
# the same names as minicnn.optim.OPTIMIZERS and SCHEDULERS
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
              "rmsprop": torch.optim.RMSprop}
SCHEDULERS = {"step": torch.optim.lr_scheduler.StepLR, "multistep": torch.optim.lr_scheduler.MultiStepLR,
              "cosine": torch.optim.lr_scheduler.CosineAnnealingLR}


def configure_threads():
    """Give torch every core (``MINICNN_NUM_THREADS`` overrides), as minicnn gives them to its own pool."""
    torch.set_num_threads(int(os.environ.get("MINICNN_NUM_THREADS", os.cpu_count() or 1)))


def describe_threads():
    """Torch's thread count and version, for the ``threads`` field of metrics.json."""
    return {"torch_threads": torch.get_num_threads(), "torch_version": torch.__version__}


def build_model(seed, dtype="float32", name="simplecnn"):
    """``torch.manual_seed(seed)`` then model ``name``, cast to ``dtype`` (no global default dtype)."""
    torch.manual_seed(seed)
    return models.build_model(name).to(TORCH_DTYPES[dtype])


def train_step(model, images, labels, criterion, optimizer):
    """One optimisation step on numpy batches, the tutorial's five lines; returns the batch loss."""
    outputs = model(torch.from_numpy(images))
    loss = criterion(outputs, torch.from_numpy(labels))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def train_one_epoch(model, loader, criterion, optimizer, desc="train", progress=False, losses=None):
    """One pass over minicnn's ``loader``; returns the mean batch loss (the tutorial's number).

    ``losses``, a list, receives each batch's loss in order (metrics.json's per-step curve).
    """
    model.train()
    losses = [] if losses is None else losses
    for images, labels in progress_bar(loader, len(loader), desc, progress):
        losses.append(train_step(model, images, labels, criterion, optimizer))
    return sum(losses[-len(loader):]) / len(loader)


@torch.no_grad()
def logits(model, images, batch_size=256):
    """Logits (N, 10) as a numpy array, for images (N, 1, 28, 28) in the model's dtype."""
    model.eval()
    outs = [model(torch.from_numpy(images[i:i + batch_size])).numpy() for i in range(0, len(images), batch_size)]
    return np.concatenate(outs) if outs else np.empty((0, 10), dtype=images.dtype)


def predict(model, images, batch_size=256):
    """Predicted class (N,) int64: the argmax of :func:`logits`."""
    return logits(model, images, batch_size).argmax(axis=1)


def accuracy(model, images, labels, batch_size=256):
    """Percentage of ``labels`` that the model predicts."""
    return 100.0 * float(np.mean(predict(model, images, batch_size) == labels))


def torch_backend(cfg):
    """``cfg.model``, loss, optimiser and schedule in torch, seeded with ``torch.manual_seed(cfg.seed)``."""
    configure_threads()
    model = build_model(cfg.seed, cfg.dtype, cfg.model)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), **optimizer_kwargs(cfg))
    schedule = SCHEDULES[cfg.scheduler](cfg.epochs)
    scheduler = SCHEDULERS[schedule[0]](optimizer, **schedule[1]) if schedule else None

    def epoch(loader, desc, losses=None):
        loss = train_one_epoch(model, loader, criterion, optimizer, desc, cfg.progress, losses)
        if scheduler is not None:
            scheduler.step()
        return loss
    return Backend("torch", epoch,
                   lambda images: predict(model, images),
                   lambda: numpy_state_dict(model), describe_threads)


def train(cfg, log=print):
    """Train the torch SimpleCNN on minicnn's batches; prints and writes what ``minicnn.train.train`` does
    (checkpoint.npz, metrics.json with ``"backend": "torch"``, predictions.png)."""
    return run(cfg, torch_backend, log)
