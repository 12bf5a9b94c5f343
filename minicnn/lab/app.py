"""``LabApp``: the lab's JSON API as Python methods; the HTTP server only routes to them.

Every method takes and returns JSON-ready values (arrays as :func:`~minicnn.lab.arrays.encode`
objects) and raises :class:`~minicnn.lab.arrays.LabError` with a 4xx status for a request it
refuses.  From Python::

    from minicnn.lab import LabApp, decode
    app = LabApp("runs/minicnn/checkpoint.npz")
    answer = app.predict(pixels)             # pixels: (H, W) list in [0, 1], or a PNG data URL
    answer["class"], answer["probabilities"], decode(answer["input"])   # the 28x28 the network saw

=========================  ========================================  ==============================
HTTP                       method                                    answers
=========================  ========================================  ==============================
GET  /api/info             :meth:`LabApp.info`                       models, optimisers, checkpoint
POST /api/predict          :meth:`LabApp.predict` ``{"image"}``      class, probabilities, layers
GET  /api/filter           :meth:`LabApp.filter` ``?name=&index=``   one filter's weights
GET  /api/digit            :meth:`LabApp.digit` ``?index=``          a test digit, as the page's image
POST /api/train/start      :meth:`LabApp.train_start` ``{settings}`` status (409 if one is running)
POST /api/train/pause      :meth:`LabApp.train_pause`                status
POST /api/train/resume     :meth:`LabApp.train_resume`               status
POST /api/train/stop       :meth:`LabApp.train_stop`                 status (after the folder is written)
GET  /api/train/status     :meth:`LabApp.train_status` ``?since=``   state, losses, accuracy
GET  /api/train/snapshot   :meth:`LabApp.train_snapshot`             filters, gradients, norms, digit
POST /api/backprop         :meth:`LabApp.backprop`                   forward and backward steps
=========================  ========================================  ==============================
"""
import copy
import datetime
import threading
from pathlib import Path

import numpy as np

from .. import data, kernels, optim
from ..checkpoint import CheckpointError, load_checkpoint
from ..digits import to_mnist
from ..models import MODELS, build_model
from .arrays import LabError, encode, parse_image
from .backprop import backprop_steps
from .stages import HOOKS_LOCK
from ..exercises.workbook import require
from .trainer import DEFAULTS, TrainingRun, layers_json, parse_config
from .yours import compare, error_result, learner_kernels


def normalise(digit):
    """A (28, 28) digit in [0, 1] (ink 1) as the network's input (1, 1, 28, 28): MNIST's ``(x - 0.5) / 0.5``."""
    return ((digit.astype(np.float32) - 0.5) / 0.5).reshape(1, 1, 28, 28)


class LabApp:
    """The lab's state: the model the Draw view uses, the training run, the MNIST test digits.

    Parameters
    ----------
    checkpoint : path of a checkpoint, or None (then the page offers to train)
    data_root : dataset root (default ``$MINICNN_DATA`` or ``data/``); needed to train and for test digits
    runs_dir : where each training run's folder goes (``runs_dir/lab-YYYYmmdd-HHMMSS``)
    kernels : a ``minicnn exercises`` workbook folder, or None; with one, every backprop is run on the
        learner's kernels too and shown beside minicnn's (:mod:`minicnn.lab.yours`)
    """

    def __init__(self, checkpoint=None, data_root=None, runs_dir="runs", kernels=None):
        self.data_root = data.resolve_root(data_root)
        self.runs_dir = Path(runs_dir)
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.kernels = None if kernels is None else str(require(kernels, "lab --kernels"))
        self._model, self._model_name = None, None
        if checkpoint is not None:
            ckpt = load_checkpoint(checkpoint, require_model=True)
            self._model_name = ckpt.model["name"]
            try:
                self._model = build_model(ckpt.model["name"], **ckpt.model["kwargs"])
                self._model.load_state_dict(ckpt.state_dict)
            except (ValueError, TypeError) as exc:
                raise CheckpointError(f"checkpoint {checkpoint}: does not fit model {self._model_name} "
                                         f"({exc})") from None
            self._model.eval()
        self._run = None
        self._run_model = None   # (run, version, model) built from the run's last published weights
        self._lock = threading.Lock()
        self._test = None

    # ------------------------------------------------------------------ models and data
    def info(self):
        """What the page needs to set itself up: the choices, the defaults, and which model Draw uses
        (``run``: the folder of the training run whose latest weights it uses, else ``checkpoint``)."""
        run = self._run
        from_run = run is not None and run.weights() is not None
        return {"models": sorted(MODELS), "optimizers": sorted(optim.OPTIMIZERS), "defaults": DEFAULTS,
                "checkpoint": self.checkpoint, "model": run.config["model"] if from_run else self._model_name,
                "has_model": self._current() is not None, "training": None if run is None else run.state,
                "run": str(run.out) if from_run else None, "weights": self.weights(),
                "kernels": self.kernels}

    def _current(self):
        """The model for Draw and Backprop: the newest training run's weights, else the checkpoint's."""
        run = self._run
        published = None if run is None else run.weights()
        if published is None:
            return self._model
        with self._lock:
            cached = self._run_model
            if cached is None or cached[0] is not run or cached[1] != published[0]:
                model = build_model(run.config["model"])
                model.load_state_dict(published[1])
                cached = self._run_model = (run, published[0], model.eval())
        return cached[2]

    def weights(self):
        """Which weights Draw and Backprop use now, in words: the checkpoint's, or a training run's at a step."""
        run = self._run
        published = None if run is None else run.weights()
        if published is not None:
            return f"{run.config['model']} trained in this lab (run {run.state}), its weights at step {published[2]}"
        return None if self._model is None else f"{self._model_name} from {self.checkpoint}"

    def _model_or_409(self):
        model = self._current()
        if model is None:
            raise LabError(409, "no model yet: start the lab with a checkpoint (minicnn lab CKPT) or train one "
                                "in the Train tab")
        return model

    def _test_set(self):
        if self._test is None:
            try:
                self._test = data.load_pixels("mnist", self.data_root, train=False, fetch=False)
            except data.DataError as exc:
                raise LabError(404, f"MNIST test set not available: {exc}") from None
        return self._test

    def _fixed_digit(self):
        """The digit every training snapshot shows: the first test image (a 7), as the network's input."""
        pixels, labels = self._test_set()
        return normalise(pixels[0, 0] / 255.0), int(labels[0])

    def digit(self, index=0):
        """Test digit ``index`` as ``{"label", "pixels"}``: (28, 28) grey values in [0, 1], ink 0 on white 1
        (how the page draws), so ``predict(digit(i)["pixels"])`` goes through the drawing's path."""
        pixels, labels = self._test_set()
        index = _int(index, "index")
        if not 0 <= index < len(labels):
            raise LabError(400, f"index: expected 0 <= index < {len(labels)}, got {index}")
        return {"index": index, "label": int(labels[index]), "pixels": (1.0 - pixels[index, 0] / 255.0).tolist()}

    # ------------------------------------------------------------------ Draw
    def prepare(self, image):
        """The drawing as the (28, 28) digit the network sees (:func:`minicnn.digits.to_mnist`). 422 if blank."""
        return self._prepare(image)[0]

    def _prepare(self, image):
        """``(digit, warning)``: the warning (or None) says when the ink is too small to be a digit."""
        grey = parse_image(image)
        try:
            digit = to_mnist(grey)
        except ValueError:   # to_mnist: "no ink found"
            raise LabError(422, "the drawing is blank: draw a digit first (no stroke stands out from the "
                                "paper)") from None
        return digit, _little_ink(grey)

    def predict(self, image, layers=True):
        """Classify a drawing.

        Parameters
        ----------
        image : a PNG data URL or an (H, W) list of grey values in [0, 1]; dark ink on light paper or
            light on dark; any size up to 2048x2048
        layers : bool; with the feature maps of every layer (the Draw view) or only the answer

        Returns
        -------
        dict: ``class`` (int), ``probabilities`` (10 floats), ``input`` (the 28x28 the network saw,
        encoded), ``warning`` (None, or why the answer means little: a dot is scaled up to a digit's
        size), ``weights`` (:meth:`weights`), and with ``layers``: ``layers``, one ``{"name", "op", "shape", "filter", "values"}``
        per layer (values: that layer's output for this image, (C, H, W) or (F,)).
        """
        model = self._model_or_409()
        digit, warning = self._prepare(image)
        stages_json, probs = layers_json(model, normalise(digit))
        out = {"class": int(np.argmax(probs)), "probabilities": probs, "input": encode(digit), "warning": warning,
               "weights": self.weights()}
        if layers:
            out["layers"] = stages_json
        return out

    def filter(self, name, index):
        """Filter ``index`` of the conv weight ``name`` (e.g. ``conv2.weight``): (in_channels, kh, kw), and its bias."""
        model = self._model_or_409()
        params = dict(model.named_parameters())
        if name not in params or params[name].ndim != 4:
            convs = [n for n, p in params.items() if p.ndim == 4]
            raise LabError(400, f"name: expected a conv weight, one of {convs}, got {name!r}")
        weight, index = params[name].array, _int(index, "index")
        if not 0 <= index < weight.shape[0]:
            raise LabError(400, f"index: expected 0 <= index < {weight.shape[0]}, got {index}")
        bias = params.get(name.removesuffix("weight") + "bias")
        return {"name": name, "index": index, "weights": encode(weight[index]),
                "bias": None if bias is None else float(bias.array[index])}

    # ------------------------------------------------------------------ Train
    def train_start(self, settings=None):
        """Start a training run in a worker thread (settings: see ``trainer.DEFAULTS``). 409 if one is active."""
        config = parse_config(settings or {})
        with self._lock:
            if self._run is not None and self._run.active:
                raise LabError(409, f"train: a run is already {self._run.state}; pause, resume or stop it first")
            digit = self._fixed_digit()
            self._run = TrainingRun(config, self._new_run_dir(), self.data_root, digit).start()
        return self.train_status()

    def _new_run_dir(self):
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        path, n = self.runs_dir / f"lab-{stamp}", 1
        while path.exists():
            n += 1
            path = self.runs_dir / f"lab-{stamp}-{n}"
        return path

    def _run_or_409(self):
        if self._run is None:
            raise LabError(409, "train: no run yet; start one")
        return self._run

    def train_pause(self):
        self._run_or_409().pause()
        return self.train_status()

    def train_resume(self):
        self._run_or_409().resume()
        return self.train_status()

    def train_stop(self):
        """Stop after the current step; returns once the run folder is written."""
        run = self._run_or_409()
        if not run.active:
            raise LabError(409, f"train: the run is already {run.state}")
        run.stop()
        return self.train_status()

    def train_status(self, since=0):
        """``state`` (``idle`` before any run), step, losses from step ``since`` on, test accuracies."""
        if self._run is None:
            return {"state": "idle", "step": 0, "losses": [], "smoothed": [], "accuracies": [], "since": 0,
                    "snapshot_version": 0}
        return self._run.status(_int(since, "since"))

    def train_snapshot(self):
        """The last snapshot: ``filters`` (first conv's weights and gradients), ``norms``, ``digit``."""
        snap = None if self._run is None else self._run.snapshot()
        if snap is None:
            raise LabError(404, "train: no snapshot yet")
        return snap

    # ------------------------------------------------------------------ Backprop
    def backprop(self, image=None, digit=None, label=None):
        """The forward and backward steps for one drawing (``image``) or test digit (``digit`` index).

        ``label`` is the class the loss is computed against (default: the test digit's label, or the
        model's prediction for a drawing).  With ``kernels``, ``yours`` holds the same steps computed on the
        learner's kernels, compared with these (:func:`minicnn.lab.yours.compare`), or the error one raised.
        """
        if (image is None) == (digit is None):
            raise LabError(400, "backprop: expected exactly one of image or digit")
        model = self._model_or_409()
        if image is not None:
            x = normalise(self.prepare(image))
        else:
            index = self.digit(digit)["index"]
            pixels, labels = self._test_set()
            x = normalise(pixels[index, 0] / 255.0)
            label = int(labels[index]) if label is None else label
        with HOOKS_LOCK:                 # the Draw view may be recording on this model now
            private = copy.deepcopy(model)   # its own .grad: concurrent requests (and the Draw model) never mix
        if label is None:
            label = int(np.argmax(layers_json(private, x)[1]))
        label = _int(label, "label")
        if not 0 <= label < 10:
            raise LabError(400, f"label: expected 0 <= label < 10, got {label}")
        theirs = None if self.kernels is None else learner_kernels(self.kernels)
        twin = None if theirs is None else copy.deepcopy(private)
        result = {**backprop_steps(private, x, label), "weights": self.weights()}
        if theirs is not None:
            try:
                with kernels.use(theirs):
                    yours = backprop_steps(twin, x, label)
            except Exception as exc:   # the learner's kernel raised: shown on the page, the server goes on
                result["yours"] = error_result(exc)
            else:
                result["yours"] = compare(result["steps"], yours["steps"])
            result["yours"]["kernels"] = sorted(theirs)
            result["yours"]["folder"] = self.kernels
        return result

    # ------------------------------------------------------------------ lifetime
    def close(self):
        """Stop a training run (its folder is still written)."""
        if self._run is not None and self._run.active:
            self._run.stop()


LITTLE_INK = 0.15   #: ink spanning less than this share of the picture's side is "a dot", not a digit


def _little_ink(grey):
    """A warning when the ink of ``grey`` (H, W) spans under :data:`LITTLE_INK` of the picture, else None."""
    contrast = np.abs(grey - np.median(grey))
    rows, cols = np.nonzero(contrast > 0.5 * contrast.max())
    span = max(rows.max() - rows.min() + 1, cols.max() - cols.min() + 1) / min(grey.shape)
    if span >= LITTLE_INK:
        return None
    return (f"very little ink ({100 * span:.0f}% of the pad's width): the network scales any mark up to a "
            f"digit's size and always names one of 0-9, so this answer means little; draw a whole digit")


def _int(value, name):
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise LabError(400, f"{name}: expected an integer, got {value!r}") from None
