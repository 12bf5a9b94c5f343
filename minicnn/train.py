"""The tutorial's training loop, on minicnn's layers: the same lines as PyTorch's.

    for epoch:
        for images, labels in loader:
            outputs = model(images)
            loss = criterion(outputs, labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss.item()

It prints the tutorial's lines ``Epoch [e/E], Loss: x.xxxx`` and
``Test Accuracy: xx.xx%`` and writes ``checkpoint.npz`` and ``metrics.json``.
"""
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from . import data, figures, io, nn, optim, threads
from .models import MODELS, build_model
from .random import manual_seed

DTYPES = {"float32": np.float32, "float64": np.float64}

# --scheduler NAME: the schedule's arguments for a run of ``epochs`` epochs (stepped once per epoch)
SCHEDULES = {
    "none": lambda epochs: None,
    "step": lambda epochs: ("step", {"step_size": max(1, epochs // 3), "gamma": 0.1}),
    "cosine": lambda epochs: ("cosine", {"T_max": epochs}),
}


@dataclasses.dataclass
class TrainConfig:
    """The tutorial's settings are the defaults."""
    model: str = "simplecnn"
    epochs: int = 5
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "none"
    seed: int = 0
    data_dir: str | None = None
    out: str = "runs/minicnn"
    limit: int | None = None
    dtype: str = "float32"
    progress: bool = True
    dataset: str = "mnist"
    augment: bool = False

    def validate(self):
        if self.model not in MODELS:
            raise ValueError(f"--model: expected one of {sorted(MODELS)}, got {self.model!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: expected >= 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit: expected >= 1, got {self.limit}")
        if self.seed < 0:
            raise ValueError(f"--seed: expected >= 0, got {self.seed}")
        if not (self.lr > 0 and np.isfinite(self.lr)):
            raise ValueError(f"--lr: expected a finite number > 0, got {self.lr}")
        if not (0 <= self.momentum < 1):
            raise ValueError(f"--momentum: expected 0 <= momentum < 1, got {self.momentum}")
        if self.optimizer not in optim.OPTIMIZERS:
            raise ValueError(f"--optimizer: expected one of {sorted(optim.OPTIMIZERS)}, got {self.optimizer!r}")
        if self.momentum and self.optimizer not in ("sgd", "rmsprop"):
            raise ValueError(f"--momentum: {self.optimizer} has no momentum (it has betas); pass --momentum 0")
        if not (self.weight_decay >= 0 and np.isfinite(self.weight_decay)):
            raise ValueError(f"--weight-decay: expected a finite number >= 0, got {self.weight_decay}")
        if self.scheduler not in SCHEDULES:
            raise ValueError(f"--scheduler: expected one of {sorted(SCHEDULES)}, got {self.scheduler!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"--dtype: expected one of {sorted(DTYPES)}, got {self.dtype!r}")
        if self.dataset not in data.DATASETS:
            raise ValueError(f"--dataset: expected one of {sorted(data.DATASETS)}, got {self.dataset!r}")
        return self


def optimizer_kwargs(cfg):
    """The optimiser's keyword arguments from ``cfg`` (momentum only where the rule has one); both backends."""
    kwargs = {"lr": cfg.lr, "weight_decay": cfg.weight_decay}
    if cfg.optimizer in ("sgd", "rmsprop"):
        kwargs["momentum"] = cfg.momentum
    return kwargs


def epoch_line(epoch, epochs, loss):
    return f"Epoch [{epoch}/{epochs}], Loss: {loss:.4f}"


def accuracy_line(accuracy):
    return f"Test Accuracy: {accuracy:.2f}%"


def load_datasets(cfg):
    """Train and test arrays of ``cfg.dataset`` as the tutorial preprocesses them, in ``cfg.dtype``;
    train cut to ``cfg.limit``. With ``cfg.augment`` the training images stay uint8: :func:`train_loader`
    augments and preprocesses each batch."""
    root = data.resolve_root(cfg.data_dir)
    load_train = data.load_pixels if cfg.augment else data.load_dataset
    x_train, y_train = load_train(cfg.dataset, root, train=True)
    x_test, y_test = data.load_dataset(cfg.dataset, root, train=False)
    if cfg.limit is not None:
        x_train, y_train = x_train[:cfg.limit], y_train[:cfg.limit]
    dtype = DTYPES[cfg.dtype]
    if not cfg.augment:
        x_train = x_train.astype(dtype, copy=False)
    return x_train, y_train, x_test.astype(dtype, copy=False), y_test


def train_loader(cfg, x_train, y_train):
    """Shuffled training batches seeded by ``cfg.seed``; with ``cfg.augment``, the dataset's random
    transforms, then ToTensor and Normalize, per batch (the order of the batches is the same either way)."""
    if not cfg.augment:
        return data.DataLoader(x_train, y_train, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    dtype = DTYPES[cfg.dtype]
    transform = data.transforms.Compose([data.get_spec(cfg.dataset).transform(augment=True),
                                         data.transforms.Lambda(lambda x: x.astype(dtype, copy=False))])
    return data.DataLoader(data.TensorDataset(x_train, y_train, transform=transform),
                           batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)


def progress_bar(iterable, total, desc, enabled):
    """A tqdm bar on stderr, or the bare iterable when disabled or tqdm is missing."""
    if not enabled:
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False, unit="batch")


def train_step(model, images, labels, criterion, optimizer):
    """One optimisation step, the tutorial's five lines; returns the batch loss as a float."""
    outputs = model(images)
    loss = criterion(outputs, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


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
        outs = [model(images[i:i + batch_size]).data for i in range(0, len(images), batch_size)]
    return np.concatenate(outs) if outs else np.empty((0, 0), dtype=images.dtype)


def predict(model, images, batch_size=256):
    """Predicted class (N,) int64 for images (N, C, H, W): the argmax of :func:`logits`."""
    return logits(model, images, batch_size).argmax(axis=1) if len(images) else np.empty(0, dtype=np.int64)


def accuracy(model, images, labels, batch_size=256):
    """Percentage of ``labels`` that the model predicts."""
    return 100.0 * float(np.mean(predict(model, images, batch_size) == labels))


def write_run(out, state_dict, metrics, sample=None, model=None):
    """``out/checkpoint.npz`` (with the ``model`` record ``{"name", "kwargs"}``), ``out/metrics.json`` and,
    given ``sample = (images, labels, preds)``, the tutorial's figure ``out/predictions.png``; each written
    atomically."""
    out = Path(out)
    io.save_checkpoint(out / "checkpoint.npz", state_dict, model)
    io.write_json(out / "metrics.json", metrics)
    if sample is not None:
        figures.save_predictions(out / "predictions.png", *sample)


@dataclasses.dataclass
class Backend:
    """What differs between the backends; :func:`run` is everything they share.

    ``train_one_epoch(loader, desc, losses) -> mean loss`` (appending each step's loss to the list ``losses``),
    ``predict(images) -> labels``,
    ``state_dict() -> {name: array}``, ``threads() -> description for metrics.json``.
    """
    name: str
    train_one_epoch: object
    predict: object
    state_dict: object
    threads: object


def run(cfg, make_backend, log=print):
    """The tutorial's program around a backend: data, epochs and their lines, test accuracy, run files.

    ``make_backend(cfg)`` seeds and builds the model, loss and optimiser and returns a :class:`Backend`.
    Returns the metrics dict written to ``cfg.out/metrics.json``.
    """
    cfg.validate()
    x_train, y_train, x_test, y_test = load_datasets(cfg)
    backend = make_backend(cfg)
    loader = train_loader(cfg, x_train, y_train)
    history = []
    for epoch in range(1, cfg.epochs + 1):
        start, steps = time.perf_counter(), []
        loss = backend.train_one_epoch(loader, f"Epoch {epoch}/{cfg.epochs}", steps)
        seconds = time.perf_counter() - start
        log(epoch_line(epoch, cfg.epochs, loss))
        preds = backend.predict(x_test)   # after every epoch, for the learning curve; printed after the last
        acc = 100.0 * float(np.mean(preds == y_test))
        history.append({"epoch": epoch, "loss": loss, "seconds": seconds, "test_accuracy": acc, "steps": steps})
    log(accuracy_line(acc))
    metrics = {"backend": backend.name, "config": dataclasses.asdict(cfg), "epochs": history,
               "test_accuracy": acc, "threads": backend.threads()}
    write_run(cfg.out, backend.state_dict(), metrics, sample=(x_test[:6], y_test[:6], preds[:6]),
              model={"name": cfg.model, "kwargs": {}})
    return metrics


def minicnn_backend(cfg):
    """``cfg.model``, CrossEntropyLoss, ``cfg.optimizer`` and ``cfg.scheduler`` from minicnn, seeded with ``cfg.seed``."""
    threads.configure()
    manual_seed(cfg.seed)
    model = build_model(cfg.model).to(DTYPES[cfg.dtype])
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.OPTIMIZERS[cfg.optimizer](model.parameters(), **optimizer_kwargs(cfg))
    schedule = SCHEDULES[cfg.scheduler](cfg.epochs)
    scheduler = optim.SCHEDULERS[schedule[0]](optimizer, **schedule[1]) if schedule else None

    def epoch(loader, desc, losses=None):
        loss = train_one_epoch(model, loader, criterion, optimizer, desc, cfg.progress, losses)
        if scheduler is not None:
            scheduler.step()
        return loss
    return Backend("minicnn", epoch, lambda images: predict(model, images), model.state_dict, threads.describe)


def train(cfg, log=print):
    """Train ``cfg.model`` with minicnn as the tutorial does; returns the metrics dict."""
    return run(cfg, minicnn_backend, log)
