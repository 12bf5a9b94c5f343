"""A training run around the tutorial's loop: settings, run folder, checkpoints, resume, NaN stop.

:mod:`minicnn.train` holds the loop itself (``train_step``, ``train_one_epoch``); this module
is what ``minicnn train`` adds around it, the same for both backends (:class:`Backend`):

* :class:`TrainConfig`, the settings, checked once (:meth:`TrainConfig.validate`), and
  :func:`load_datasets` / :func:`train_loader`, the data they name.
* :func:`run` trains a backend for ``cfg.epochs`` epochs (:func:`train_epoch` each), prints the
  tutorial's lines ``Epoch [e/E], Loss: x.xxxx`` and ``Test Accuracy: xx.xx%`` and writes the run
  folder: ``checkpoint.npz`` (:class:`Run`), ``metrics.json`` and ``predictions.png``
  (:func:`write_run`).
* ``checkpoint.npz`` is a training checkpoint, rewritten atomically at the start, every
  ``checkpoint_every`` steps and at each epoch's end: the model, the optimiser and scheduler
  state, the epoch, step and losses so far (:class:`Progress`), the data loader's order and
  generator, the init generator and the settings.  ``run(..., resume=checkpoint)`` continues from
  it (with the settings of :func:`resume_config`), and a run killed at any instant and resumed
  ends with the same weights, bit for bit, as one never interrupted (same backend, same thread
  count).
* Every step checks the loss and each gradient for NaN/Inf *before* the update
  (:func:`check_finite`) and stops with :class:`NonFiniteError` naming the step, the parameter
  whose gradient went bad first and the last good checkpoint, which the bad step never touched.
"""
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from . import data, figures, optim
from .checkpoint import CheckpointError, remove_temp_files, save_checkpoint, write_json
from .models import MODELS

DTYPES = {"float32": np.float32, "float64": np.float64}

# --scheduler NAME: the schedule's arguments for a run of ``epochs`` epochs (stepped once per epoch)
SCHEDULES = {
    "none": lambda epochs: None,
    "step": lambda epochs: ("step", {"step_size": max(1, epochs // 3), "gamma": 0.1}),
    "cosine": lambda epochs: ("cosine", {"T_max": epochs}),
}


# --------------------------------------------------------------------------- settings and data
@dataclasses.dataclass
class TrainConfig:
    """The tutorial's settings are the defaults."""
    model: str = "simplecnn"
    model_kwargs: dict = dataclasses.field(default_factory=dict)  # the model's constructor arguments
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
    checkpoint_every: int | None = None  # steps between checkpoints (None: at each epoch's end only)

    def validate(self):
        if self.model not in MODELS:
            raise ValueError(f"--model: expected one of {sorted(MODELS)}, got {self.model!r}")
        if not isinstance(self.model_kwargs, dict) or not all(isinstance(k, str) for k in self.model_kwargs):
            raise TypeError(f"--model-arg: expected a dict of name -> value, got {self.model_kwargs!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')}: expected >= 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit: expected >= 1, got {self.limit}")
        if self.checkpoint_every is not None and self.checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every: expected >= 1 steps, got {self.checkpoint_every}")
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


# --------------------------------------------------------------------------- resume
# What Run.record writes besides the backend's training_state (the format is io's)
TRAINING_RECORD = ("backend", "settings", "epoch", "step", "finished", "history", "epoch_loss", "epoch_seconds",
                   "loader", "threads", "optimizer", "scheduler", "rng")

# Settings that only say where and how a run goes, not what it computes: a resumed run may change them.
RUN_ONLY_SETTINGS = ("out", "data_dir", "progress", "checkpoint_every")

# the command-line flag of each setting whose flag is not its name with dashes
FLAGS = {"model_kwargs": "--model-arg"}


def _default(name):
    """TrainConfig's default for setting ``name`` (a checkpoint from before the setting existed has it)."""
    field = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    return field.default_factory() if field.default is dataclasses.MISSING else field.default


def resume_config(training, out, given):
    """The :class:`TrainConfig` to continue a run with: the saved one, in folder ``out``.

    Parameters
    ----------
    training : dict, the ``training`` record of the run's checkpoint (``Checkpoint.training``)
    out : str, the run's folder
    given : dict, setting -> value the user asked for now (the flags given on the command line)

    Raises ValueError naming the first flag whose value contradicts the saved setting: a
    resumed run computes what the interrupted one would have, or nothing.
    """
    missing = [k for k in TRAINING_RECORD if k not in training]
    if missing or not isinstance(training["settings"], dict):
        raise ValueError(f"--resume {out}: the checkpoint's training state lacks {missing or ['settings']}")
    saved = dict(training["settings"])
    names = [f.name for f in dataclasses.fields(TrainConfig)]
    unknown = sorted(set(saved) - set(names))
    if unknown:
        raise ValueError(f"--resume {out}: the checkpoint's settings {unknown} are unknown to this minicnn")
    for name in names:  # in the config's order, so the same flags always give the same message
        if name in RUN_ONLY_SETTINGS or name not in given:
            continue
        value = given[name]
        if value != saved.get(name, _default(name)):
            flag = FLAGS.get(name, "--" + name.replace("_", "-"))
            raise ValueError(f"{flag} {value}: contradicts the run in {out}, which has {flag} "
                             f"{saved.get(name)} (--resume continues with the saved settings; drop {flag})")
    saved.update({k: v for k, v in given.items() if k in RUN_ONLY_SETTINGS})
    saved["out"] = str(out)
    return TrainConfig(**saved).validate()


# --------------------------------------------------------------------------- progress and the NaN stop
def epoch_line(epoch, epochs, loss):
    return f"Epoch [{epoch}/{epochs}], Loss: {loss:.4f}"


def accuracy_line(accuracy):
    return f"Test Accuracy: {accuracy:.2f}%"


def progress_bar(iterable, total, desc, enabled):
    """A tqdm bar on stderr, or the bare iterable when disabled, when stderr is not a terminal (a log file
    or a pipe would get a line per refresh) or when tqdm is missing."""
    if not enabled or not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        return iterable
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, leave=False, unit="batch")


class NonFiniteError(FloatingPointError):
    """A NaN or Inf in the loss or a gradient: the step stopped before the update."""


def _finite(array):
    # The array's own-dtype sum is finite for every finite array short of overflow, and costs no
    # temporary; the exact (and allocating) test runs only when the sum says something is wrong.
    return math.isfinite(array.sum()) or bool(np.isfinite(array).all())


def check_finite(loss, named_grads):
    """Raise :class:`NonFiniteError` if ``loss`` or a gradient holds NaN or Inf.

    Parameters
    ----------
    loss : float
    named_grads : iterable of (name, ndarray or None), in the order backward reaches them (the last
        layer first), so the first bad name is the gradient that went bad first.

    Cost: one ``sum`` per gradient on the good path (see ``benchmarks/bench_finite_check.py``).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # a sum overflowing is what the exact test is for
        bad = [name for name, grad in named_grads if grad is not None and not _finite(grad)]
    if math.isfinite(loss) and not bad:
        return
    what = [f"the loss is {loss}"] if not math.isfinite(loss) else []
    if bad:
        more = f" (then {len(bad) - 1} more: {', '.join(bad[1:4])}{' …' if len(bad) > 4 else ''})" \
            if len(bad) > 1 else ""
        what.append(f"the gradient of {bad[0]} went NaN/Inf first{more}")
    raise NonFiniteError("; ".join(what))


# --------------------------------------------------------------------------- the run
class Backend(Protocol):
    """What differs between the backends; :func:`run` is everything they share.

    ``minicnn.train.minicnn_backend(cfg)`` and ``reference.train.torch_backend(cfg)`` build one:
    the model, loss, optimiser and schedule, seeded, behind these methods.
    """
    name: str  # "minicnn" or "torch": the ``backend`` of metrics.json and of the checkpoint

    def train_step(self, images, labels) -> float:
        """One update on a batch (N, C, H, W), (N,), as the DataLoader yields it (minicnn Tensors;
        ``np.asarray`` gives their arrays without a copy); returns its loss. Raises :class:`NonFiniteError`
        before the update if the loss or a gradient is NaN/Inf."""

    def end_epoch(self) -> None:
        """The scheduler's step (nothing without one)."""

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted class (N,) int64 of images (N, C, H, W), in eval mode."""

    def state_dict(self) -> dict[str, np.ndarray]:
        """The model's weights, ``name -> array``, as minicnn's ``state_dict()`` names them."""

    def threads(self) -> dict[str, Any]:
        """The thread counts (keys ending ``_threads``) and versions, for metrics.json and the checkpoint."""

    def training_state(self) -> dict[str, Any]:
        """``{"optimizer", "scheduler", "rng"}``: the rest of the state a resumed run needs, as a tree
        of dicts, lists, numbers and arrays (for :mod:`minicnn.serialize`)."""

    def load_state(self, state_dict: dict[str, np.ndarray], training: dict[str, Any]) -> None:
        """Restore the weights and what :meth:`training_state` returned (the checkpoint's ``training``)."""


@dataclasses.dataclass
class Progress:
    """How far a run has come: what a checkpoint records besides the backend's and the loader's state."""
    epoch: int = 0           # completed epochs
    step: int = 0            # completed steps, over all epochs
    history: list = dataclasses.field(default_factory=list)  # {"epoch", "loss", "seconds"} per completed epoch
    epoch_loss: float = 0.0  # sum of the current epoch's batch losses so far
    epoch_seconds: float = 0.0
    finished: bool = False
    epoch_steps: list = dataclasses.field(default_factory=list)  # the current epoch's batch losses so far


class Run:
    """One training run's folder: its checkpoint, written and read with everything needed to resume."""

    def __init__(self, cfg, backend, loader):
        self.cfg, self.backend, self.loader = cfg, backend, loader
        self.out = Path(cfg.out)
        self.checkpoint = self.out / "checkpoint.npz"
        self.progress = Progress()
        self.saved_step = None  # the step of the last checkpoint written

    def record(self):
        """The checkpoint's training tree (``save_checkpoint(training=...)``)."""
        p = self.progress
        return {"backend": self.backend.name, "settings": dataclasses.asdict(self.cfg),
                "epoch": p.epoch, "step": p.step, "finished": p.finished, "history": p.history,
                "epoch_loss": p.epoch_loss, "epoch_seconds": p.epoch_seconds, "epoch_steps": p.epoch_steps,
                "loader": self.loader.state_dict(), "threads": self.backend.threads(),
                **self.backend.training_state()}

    def save(self):
        save_checkpoint(self.checkpoint, self.backend.state_dict(),
                           {"name": self.cfg.model, "kwargs": dict(self.cfg.model_kwargs)}, self.record())
        self.saved_step = self.progress.step

    def restore(self, ckpt, warn):
        """Continue from ``ckpt`` (``load_checkpoint`` of this run's checkpoint, with training state)."""
        t = ckpt.training
        if t["backend"] != self.backend.name:
            raise ValueError(f"--backend {self.backend.name}: the run in {self.out} trains with "
                             f"--backend {t['backend']}")
        try:
            self.backend.load_state(ckpt.state_dict, t)
            self.loader.load_state_dict(t["loader"])
        except (ValueError, TypeError, KeyError) as exc:
            raise CheckpointError(f"checkpoint {self.checkpoint}: does not fit model {self.cfg.model} "
                                     f"({' '.join(str(exc).split())})") from None
        self.progress = Progress(t["epoch"], t["step"], list(t["history"]), t["epoch_loss"], t["epoch_seconds"],
                                 t["finished"], list(t["epoch_steps"]))
        self.saved_step = t["step"]
        counts = lambda d: {k: v for k, v in d.items() if k.endswith("_threads")}  # noqa: E731
        if counts(t["threads"]) != counts(self.backend.threads()):
            warn(f"minicnn: warning: the run was started with {counts(t['threads'])} and resumes with "
                 f"{counts(self.backend.threads())}: the weights can differ in the last bits from an "
                 f"uninterrupted run")

    def last_good(self):
        if self.saved_step is None:
            return "no checkpoint was written"
        return f"the last good checkpoint is {self.checkpoint} (step {self.saved_step}), unchanged"


def _remove_temp_files(out):
    """Temp files that a killed run left beside its outputs (safe: one run writes a folder at a time)."""
    for name in ("checkpoint.npz", "metrics.json", "predictions.png"):
        remove_temp_files(Path(out) / name)


def train_epoch(job, epoch, log, evaluate):
    """One epoch of ``job`` (the rest of it, when resumed mid-epoch); checkpoints every
    ``checkpoint_every`` steps and at its end, then logs its line.

    ``evaluate() -> (test accuracy, predictions)`` runs after the epoch; its accuracy and the epoch's
    per-step losses go into the epoch's history entry (metrics.json's curves). Returns the predictions."""
    cfg, backend, p = job.cfg, job.backend, job.progress
    batches = len(job.loader)
    done = p.step - (epoch - 1) * batches  # steps of this epoch already taken (by a run that was resumed)
    start = time.perf_counter() - p.epoch_seconds
    for images, labels in progress_bar(iter(job.loader), batches - done, f"Epoch {epoch}/{cfg.epochs}",
                                       cfg.progress):
        try:
            loss = backend.train_step(images, labels)
        except NonFiniteError as exc:
            raise NonFiniteError(f"step {p.step + 1} (epoch {epoch}, batch {p.step - (epoch - 1) * batches + 1}"
                                 f"/{batches}): {exc}; training stopped before the update, "
                                 f"{job.last_good()}") from None
        p.step += 1
        p.epoch_loss += loss
        p.epoch_steps.append(loss)
        p.epoch_seconds = time.perf_counter() - start
        if cfg.checkpoint_every and p.step % cfg.checkpoint_every == 0 and p.step < epoch * batches:
            job.save()
    backend.end_epoch()
    seconds = time.perf_counter() - start
    accuracy, preds = evaluate()
    p.history.append({"epoch": epoch, "loss": p.epoch_loss / batches, "seconds": seconds,
                      "test_accuracy": accuracy, "steps": p.epoch_steps})
    p.epoch, p.epoch_loss, p.epoch_seconds, p.epoch_steps = epoch, 0.0, 0.0, []
    p.finished = epoch == cfg.epochs
    job.save()
    log(epoch_line(epoch, cfg.epochs, p.history[-1]["loss"]))
    return preds


def write_run(out, metrics, sample=None):
    """``out/metrics.json`` and, given ``sample = (images, labels, preds)``, the tutorial's figure
    ``out/predictions.png``; each written atomically (the checkpoint is :class:`Run`'s)."""
    out = Path(out)
    write_json(out / "metrics.json", metrics)
    if sample is not None:
        figures.save_predictions(out / "predictions.png", *sample)


def run(cfg: TrainConfig, make_backend: Callable[[TrainConfig], Backend], datasets, log=print, resume=None,
        warn=None):
    """The tutorial's program around a backend: epochs and their lines, test accuracy, run files.

    Parameters
    ----------
    cfg : TrainConfig, validated
    make_backend : callable, ``make_backend(cfg)`` seeds and builds the model, loss and optimiser and
        returns a :class:`Backend`
    datasets : (x_train, y_train, x_test, y_test), :func:`load_datasets` of ``cfg``
    log : callable, prints the tutorial's lines
    resume : Checkpoint or None, the run's checkpoint (``load_checkpoint(cfg.out/checkpoint.npz)``,
        with its training state) to continue from, with ``cfg`` from :func:`resume_config`
    warn : callable or None, prints notes (default: to stderr)

    Returns the metrics dict written to ``cfg.out/metrics.json``.
    """
    warn = warn or (lambda line: print(line, file=sys.stderr))
    x_train, y_train, x_test, y_test = datasets
    backend = make_backend(cfg)
    loader = train_loader(cfg, x_train, y_train)
    job = Run(cfg, backend, loader)
    _remove_temp_files(cfg.out)
    if resume is not None:
        job.restore(resume, warn)
    else:
        job.save()  # step 0: a run is resumable from its first instant

    def evaluate():  # after every epoch, for the learning curve; printed after the last
        preds = backend.predict(x_test)
        return 100.0 * float(np.mean(preds == y_test)), preds
    preds = None
    for epoch in range(job.progress.epoch + 1, cfg.epochs + 1):
        preds = train_epoch(job, epoch, log, evaluate)
    if preds is None:  # a finished run, resumed: its weights are the final ones
        preds = evaluate()[1]
    acc = job.progress.history[-1]["test_accuracy"]
    log(accuracy_line(acc))
    metrics = {"backend": backend.name, "config": dataclasses.asdict(cfg), "epochs": job.progress.history,
               "test_accuracy": acc, "threads": backend.threads()}
    spec = data.get_spec(cfg.dataset)
    classes = None if all(name == str(k) for k, name in enumerate(spec.classes)) else spec.classes
    write_run(cfg.out, metrics, sample=(x_test[:6], y_test[:6], preds[:6], 6, classes))
    return metrics
