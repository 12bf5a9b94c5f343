"""A training run in a worker thread beside the server: start, pause, resume, stop, watch.

The worker runs :func:`minicnn.train.train_step` (the tutorial's five lines) over shuffled MNIST
batches.  Between steps it honours pause and stop, and every ``every`` steps it takes a
*snapshot* for the page: the first conv layer's filters and their gradients, every parameter's
weight and gradient norm, and the activations of one fixed test digit.  When it ends (all epochs
done, or stopped) it writes a normal run folder: ``checkpoint.npz`` with the model record and
``metrics.json``.

The page never waits on it: :meth:`TrainingRun.status` and :meth:`TrainingRun.snapshot` only
read what the worker last published, under a lock.  numba kernels and numpy's GEMM release the
GIL, so the server's threads keep answering while a step computes.
"""
import dataclasses
import re
import threading
import time
from pathlib import Path

import numpy as np

from .. import data, nn, optim
from ..checkpoint import save_checkpoint, write_json
from ..autograd import no_grad
from ..models import build_model
from ..rng import manual_seed
from ..train import TrainConfig, accuracy, train_step
from .arrays import LabError, encode
from .stages import stages

SMOOTHING = 0.9      #: the smoothed loss is an exponential moving average, debiased as TensorBoard's
EVAL_IMAGES = 1000   #: test accuracy during training is on the first this-many test images

# what the page may set, with the defaults; ``None`` for momentum means 0.9 for sgd, 0 otherwise
DEFAULTS = {"model": "simplecnn", "optimizer": "sgd", "lr": 0.01, "momentum": None, "batch_size": 64,
            "epochs": 1, "limit": None, "seed": 0, "every": 10, "test_limit": None}


# the page's name of each setting (its form label), and of TrainConfig's command-line flags
LABELS = {"model": "model", "optimizer": "optimiser", "lr": "learning rate", "momentum": "momentum",
          "batch_size": "batch size", "epochs": "epochs", "limit": "training images", "seed": "seed",
          "every": "update every", "test_limit": "test images"}
FLAGS = {f"--{key.replace('_', '-')}": label for key, label in LABELS.items()}


def _labelled(message):
    """A TrainConfig message with each ``--flag`` replaced by the page's label for it ("learning rate")."""
    return re.sub(r"--[a-z-]+", lambda m: FLAGS.get(m.group(0), m.group(0)), message)


def parse_config(given):
    """The page's training settings, checked: a dict of :data:`DEFAULTS`' keys. LabError 400 if bad."""
    if not isinstance(given, dict):
        raise LabError(400, f"train: expected a JSON object of settings, got {type(given).__name__}")
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise LabError(400, f"train: unknown settings {unknown}; expected some of {sorted(DEFAULTS)}")
    cfg = {**DEFAULTS, **{k: v for k, v in given.items() if v is not None}}
    for key in ("batch_size", "epochs", "seed", "every", "limit", "test_limit"):
        if cfg[key] is not None and (not isinstance(cfg[key], int) or isinstance(cfg[key], bool)):
            raise LabError(400, f"train: {LABELS[key]}: expected an integer, got {cfg[key]!r}")
    for key in ("lr", "momentum"):
        if cfg[key] is not None and (not isinstance(cfg[key], (int, float)) or isinstance(cfg[key], bool)):
            raise LabError(400, f"train: {LABELS[key]}: expected a number, got {cfg[key]!r}")
    for key in ("model", "optimizer"):
        if not isinstance(cfg[key], str):
            raise LabError(400, f"train: {LABELS[key]}: expected a name, got {cfg[key]!r}")
    if cfg["momentum"] is None:
        cfg["momentum"] = 0.9 if cfg["optimizer"] == "sgd" else 0.0
    if cfg["every"] < 1 or (cfg["test_limit"] is not None and cfg["test_limit"] < 1):
        raise LabError(400, f"train: {LABELS['every']} and {LABELS['test_limit']}: expected >= 1")
    try:
        TrainConfig(model=cfg["model"], epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                    optimizer=cfg["optimizer"], lr=float(cfg["lr"]), momentum=float(cfg["momentum"]),
                    seed=cfg["seed"], limit=cfg["limit"]).validate()
    except ValueError as exc:
        raise LabError(400, f"train: {_labelled(str(exc))}") from None
    return cfg


def first_conv_weight(model):
    """``(name, Parameter)`` of the first 4-D weight (the first conv's filters), or None."""
    return next(((n, p) for n, p in model.named_parameters() if p.ndim == 4), None)


def layers_json(model, x):
    """The Draw view's layers for one image ``x`` (1, 1, 28, 28): the summary stages, and the probabilities."""
    model.eval()
    with no_grad():
        st = stages(model, x)
    logits = st[-1].tensor.array[0].astype(np.float64)
    p = np.exp(logits - logits.max())
    layers = [{"name": s.name, "op": s.op, "shape": list(s.tensor.shape[1:]), "filter": s.filter,
               "values": encode(s.tensor.array[0])} for s in st[1:] if s.summary]
    return layers, (p / p.sum()).tolist()


class TrainingRun:
    """One run of the worker. ``state`` is ``running``, ``paused``, ``done``, ``stopped`` or ``error``.

    Parameters
    ----------
    config : dict from :func:`parse_config`
    out : Path of the run folder it writes when it ends
    data_root : dataset root (see :func:`minicnn.data.resolve_root`)
    digit : (image (1, 1, 28, 28) float32, label) shown in each snapshot
    """

    def __init__(self, config, out, data_root, digit):
        self.config, self.out, self.data_root, self.digit = config, Path(out), data_root, digit
        self.state = "running"
        self.error = None
        self.step = self.epoch = self.total_steps = 0
        self.losses, self.smoothed, self.accuracies = [], [], []   # accuracies: {"step", "accuracy", "images"}
        self._ema = 0.0
        self.test_accuracy = None
        self._snapshot, self._version, self._weights = None, 0, None
        self._lock = threading.Lock()
        self._go, self._stop = threading.Event(), threading.Event()
        self._go.set()
        self._thread = threading.Thread(target=self._run, name="minicnn-lab-train", daemon=True)

    # ------------------------------------------------------------------ control (any thread)
    def start(self):
        self._thread.start()
        return self

    def pause(self):
        if self.state != "running":
            raise LabError(409, f"train: cannot pause a run that is {self.state}")
        self._go.clear()
        self.state = "paused"

    def resume(self):
        if self.state != "paused":
            raise LabError(409, f"train: cannot resume a run that is {self.state}")
        self.state = "running"
        self._go.set()

    def stop(self, wait=True):
        """Ask the worker to stop after its current step (it still writes the run folder)."""
        self._stop.set()
        self._go.set()
        if wait and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=60)

    @property
    def active(self):
        return self.state in ("running", "paused")

    def status(self, since=0):
        """Progress, and the per-step losses from step ``since`` on (so a page fetches only what is new)."""
        with self._lock:
            return {"state": self.state, "error": self.error, "config": self.config, "out": str(self.out),
                    "step": self.step, "epoch": self.epoch, "total_steps": self.total_steps, "since": since,
                    "losses": self.losses[since:], "smoothed": self.smoothed[since:],
                    "accuracies": list(self.accuracies), "test_accuracy": self.test_accuracy,
                    "snapshot_version": self._version}

    def snapshot(self):
        """The last snapshot (filters, gradients, norms, the fixed digit's layers), or None before the first."""
        with self._lock:
            return self._snapshot

    def weights(self):
        """``(version, state_dict, step)`` published with the last snapshot, or None."""
        with self._lock:
            return self._weights

    # ------------------------------------------------------------------ the worker
    def _run(self):
        try:
            self._train()
        except Exception as exc:   # the page shows it; the server goes on
            with self._lock:
                self.state, self.error = "error", f"{type(exc).__name__}: {exc}"

    def _train(self):
        cfg = self.config
        x_train, y_train = data.load_dataset("mnist", self.data_root, train=True)
        x_test, y_test = data.load_dataset("mnist", self.data_root, train=False)
        if cfg["limit"] is not None:
            x_train, y_train = x_train[:cfg["limit"]], y_train[:cfg["limit"]]
        if cfg["test_limit"] is not None:
            x_test, y_test = x_test[:cfg["test_limit"]], y_test[:cfg["test_limit"]]
        manual_seed(cfg["seed"])
        model = build_model(cfg["model"])
        criterion = nn.CrossEntropyLoss()
        kwargs = {"lr": cfg["lr"]} | ({"momentum": cfg["momentum"]} if cfg["optimizer"] in ("sgd", "rmsprop") else {})
        optimizer = optim.OPTIMIZERS[cfg["optimizer"]](model.parameters(), **kwargs)
        loader = data.DataLoader(x_train, y_train, batch_size=cfg["batch_size"], shuffle=True, seed=cfg["seed"])
        self.total_steps = cfg["epochs"] * len(loader)
        history, start = [], time.perf_counter()
        for epoch in range(1, cfg["epochs"] + 1):
            self.epoch, total, seen, t0 = epoch, 0.0, 0, time.perf_counter()
            for images, labels in loader:
                if not self._wait():
                    break
                model.train()
                loss = train_step(model, images, labels, criterion, optimizer)
                total, seen = total + loss, seen + 1
                self._record(loss)
                if self.step % cfg["every"] == 0 or self.step == self.total_steps:
                    self._publish(model, x_test, y_test)
            history.append({"epoch": epoch, "loss": total / max(seen, 1), "steps": seen,
                            "seconds": time.perf_counter() - t0})
            if self._stop.is_set():
                break
        self.test_accuracy = accuracy(model, x_test, y_test)
        self._publish(model, x_test, y_test, evaluate=False)
        self._save(model, history, time.perf_counter() - start)
        with self._lock:
            self.state = "stopped" if self._stop.is_set() else "done"

    def _wait(self):
        """Block while paused; False once stop was asked."""
        while not self._go.wait(0.2):
            pass
        return not self._stop.is_set()

    def _record(self, loss):
        with self._lock:
            self.step += 1
            self.losses.append(loss)
            n = len(self.losses)
            self._ema = self._ema * SMOOTHING + (1 - SMOOTHING) * loss
            self.smoothed.append(self._ema / (1 - SMOOTHING ** n))

    def _publish(self, model, x_test, y_test, evaluate=True):
        """A snapshot for the page, taken between steps so the weights and gradients belong together."""
        conv = first_conv_weight(model)
        norms = [{"name": n, "weight": float(np.linalg.norm(p.array)),
                  "grad": None if p.grad is None else float(np.linalg.norm(p.grad))}
                 for n, p in model.named_parameters()]
        acc = accuracy(model, x_test[:EVAL_IMAGES], y_test[:EVAL_IMAGES]) if evaluate else None
        image, label = self.digit
        layers, probs = layers_json(model, image)
        model.train()
        snap = {"step": self.step, "epoch": self.epoch, "norms": norms,
                "filters": None if conv is None else {"name": conv[0], "weights": encode(conv[1].array),
                                                      "grads": None if conv[1].grad is None else encode(conv[1].grad)},
                "digit": {"label": label, "probabilities": probs, "layers": layers}}
        weights = {k: v.copy() for k, v in model.state_dict().items()}  # a snapshot: training goes on
        with self._lock:
            if acc is not None:
                self.accuracies.append({"step": self.step, "accuracy": acc, "images": len(x_test[:EVAL_IMAGES])})
            self._version += 1
            self._snapshot = {**snap, "version": self._version}
            self._weights = (self._version, weights, self.step)

    def _save(self, model, history, seconds):
        cfg = self.config
        metrics = {"backend": "minicnn", "source": "minicnn lab",
                   "config": {**dataclasses.asdict(TrainConfig(model=cfg["model"], epochs=cfg["epochs"],
                                                               batch_size=cfg["batch_size"],
                                                               optimizer=cfg["optimizer"], lr=cfg["lr"],
                                                               momentum=cfg["momentum"], seed=cfg["seed"],
                                                               limit=cfg["limit"], out=str(self.out),
                                                               progress=False)),
                              "every": cfg["every"], "test_limit": cfg["test_limit"]},
                   "epochs": history, "steps": self.step, "stopped": self._stop.is_set(),
                   "losses": self.losses, "accuracies": self.accuracies, "test_accuracy": self.test_accuracy,
                   "seconds": seconds}
        save_checkpoint(self.out / "checkpoint.npz", model.state_dict(), model={"name": cfg["model"], "kwargs": {}})
        write_json(self.out / "metrics.json", metrics)
