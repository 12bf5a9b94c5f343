"""The tutorial's training loop in PyTorch, fed by minicnn's data module.

Everything that is not the network is minicnn's (``minicnn.runs``): the config
and its checks, the preprocessed arrays, the seeded ``DataLoader`` (so both
backends see the same batches in the same order for the same seed), the printed
lines, and the checkpoint/metrics writer.  Only the model, loss and optimizer
are torch's, behind :class:`TorchBackend`.
"""
import os

import numpy as np
import torch

from minicnn import train as minicnn_train
from minicnn.faults import crash_point
from minicnn.runs import SCHEDULES, Backend, TrainConfig, check_finite, optimizer_kwargs, progress_bar

from . import models
from .models import load_numpy_state_dict, numpy_state_dict

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64}
# the same names as minicnn.optim.OPTIMIZERS and SCHEDULERS
OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
              "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta}
SCHEDULERS = {"step": torch.optim.lr_scheduler.StepLR, "multistep": torch.optim.lr_scheduler.MultiStepLR,
              "cosine": torch.optim.lr_scheduler.CosineAnnealingLR}


def configure_threads():
    """Give torch every core (``MINICNN_NUM_THREADS`` overrides), as minicnn gives them to its own pool."""
    torch.set_num_threads(int(os.environ.get("MINICNN_NUM_THREADS", os.cpu_count() or 1)))


def describe_threads():
    """Torch's thread count and version, for the ``threads`` field of metrics.json."""
    return {"torch_threads": torch.get_num_threads(), "torch_version": torch.__version__}


def build_model(seed, dtype="float32", name="simplecnn", **kwargs):
    """``torch.manual_seed(seed)`` then model ``name(**kwargs)``, cast to ``dtype`` (no global default dtype)."""
    torch.manual_seed(seed)
    return models.build_model(name, **kwargs).to(TORCH_DTYPES[dtype])


def train_step(model, images, labels, criterion, optimizer, check=True):
    """One optimisation step on minicnn's batches (Tensors or arrays; torch shares their memory), the
    tutorial's five lines; returns the batch loss.

    With ``check``, a NaN/Inf loss or gradient raises ``minicnn.runs.NonFiniteError`` before the update.
    """
    outputs = model(torch.from_numpy(np.asarray(images)))
    loss = criterion(outputs, torch.from_numpy(np.asarray(labels)))
    optimizer.zero_grad()
    loss.backward()
    value = loss.item()
    if check:
        check_finite(value, ((name, None if p.grad is None else p.grad.numpy())
                             for name, p in reversed(list(model.named_parameters()))))
    crash_point("step")
    optimizer.step()
    return value


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


def _to_numpy(tree):
    """A torch ``state_dict`` tree with every tensor as a numpy copy (for minicnn.serialize)."""
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu().numpy().copy()
    if isinstance(tree, dict):
        return {k: _to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_numpy(v) for v in tree)
    return tree


def _to_torch(tree):
    """The inverse of :func:`_to_numpy`: every array back to a tensor."""
    if isinstance(tree, np.ndarray):
        return torch.from_numpy(tree.copy())
    if isinstance(tree, dict):
        return {k: _to_torch(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_to_torch(v) for v in tree)
    return tree


class TorchBackend:
    """A torch model, loss, optimiser and scheduler (or None), as :func:`minicnn.runs.run` drives them:
    a :class:`minicnn.runs.Backend`, with numpy arrays in and out."""
    name = "torch"

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
        return numpy_state_dict(self.model)

    def threads(self):
        return describe_threads()

    def training_state(self):
        return {"optimizer": _to_numpy(self.optimizer.state_dict()),
                "scheduler": None if self.scheduler is None else _to_numpy(self.scheduler.state_dict()),
                "rng": {"torch": torch.get_rng_state().numpy().copy()}}

    def load_state(self, state_dict, training):
        load_numpy_state_dict(self.model, state_dict)
        self.optimizer.load_state_dict(_to_torch(training["optimizer"]))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(training["scheduler"])
        torch.set_rng_state(torch.from_numpy(np.asarray(training["rng"]["torch"], dtype=np.uint8).copy()))


def torch_backend(cfg: TrainConfig) -> Backend:
    """``cfg.model``, loss, optimiser and schedule in torch, seeded with ``torch.manual_seed(cfg.seed)``."""
    configure_threads()
    model = build_model(cfg.seed, cfg.dtype, cfg.model, **cfg.model_kwargs)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = OPTIMIZERS[cfg.optimizer](model.parameters(), **optimizer_kwargs(cfg))
    schedule = SCHEDULES[cfg.scheduler](cfg.epochs)
    scheduler = SCHEDULERS[schedule[0]](optimizer, **schedule[1]) if schedule else None
    return TorchBackend(model, criterion, optimizer, scheduler)


def train(cfg, log=print, resume=None):
    """Train the torch model on minicnn's batches: ``minicnn.train.train`` with :func:`torch_backend`, so it
    prints and writes what minicnn's run does (checkpoint.npz, metrics.json with ``"backend": "torch"``,
    predictions.png); ``resume`` as there."""
    return minicnn_train.train(cfg, log, resume, make_backend=torch_backend)
