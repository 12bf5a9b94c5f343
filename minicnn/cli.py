"""``minicnn`` command line: train (and resume), evaluate, predict, fetch-data, gradcheck, lab, exercises.

Errors print one line ``minicnn: error: …`` and exit non-zero, without a traceback.
"""
import argparse
import sys
import warnings

import numpy as np

EXIT_ERROR = 1
EXIT_USAGE = 2
BACKENDS = ("minicnn", "torch")


class BackendError(RuntimeError):
    """The requested backend cannot run (PyTorch missing)."""


class GradcheckFailed(Exception):
    """At least one gradient check exceeded the threshold (the table says which)."""


class ExerciseFailed(Exception):
    """An exercise's check failed (the report printed above says where and why)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


class _ModelArg(argparse.Action):
    """``--model-arg NAME=VALUE`` collected into one dict (VALUE parsed as JSON where it parses)."""

    def __call__(self, parser, namespace, value, option_string=None):
        import json
        name, sep, text = value.partition("=")
        if not sep or not name.isidentifier():
            raise argparse.ArgumentError(self, f"expected NAME=VALUE with NAME a Python identifier, got {value!r}")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        kwargs = dict(getattr(namespace, self.dest, None) or {})
        kwargs[name] = parsed
        setattr(namespace, self.dest, kwargs)


def _add_train(sub):
    from .models import MODELS
    from .optim import OPTIMIZERS
    from .runs import SCHEDULES, TrainConfig
    d = TrainConfig()
    p = sub.add_parser("train", help="train a model (SimpleCNN by default) on MNIST (or --dataset) with the "
                                     "tutorial's settings")
    p.add_argument("--model", choices=sorted(MODELS), default=d.model)
    p.add_argument("--model-arg", dest="model_kwargs", action=_ModelArg, default={}, metavar="NAME=VALUE",
                   help="a constructor argument of the model, repeatable; VALUE as JSON where it parses "
                        "(false, 0.5, [8, 16]), else a string: --model-arg fused=false")
    _add_dataset(p)
    p.add_argument("--augment", action="store_true", help="the dataset's random shifts/crops/flips on each batch")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=d.optimizer)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=None,
                   help=f"sgd and rmsprop only (default {d.momentum} for sgd, 0 for rmsprop)")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay, help="L2 penalty, torch's coupled form "
                   "(adamw: decoupled)")
    p.add_argument("--scheduler", choices=sorted(SCHEDULES), default=d.scheduler,
                   help="learning-rate schedule, stepped each epoch: step (x0.1 every epochs/3) or cosine")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--data-dir", default=None, help="dataset root (default $MINICNN_DATA or data/)")
    p.add_argument("--out", default=None, help="where checkpoint.npz and metrics.json go (default runs/BACKEND)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N training images")
    p.add_argument("--dtype", choices=["float32", "float64"], default=d.dtype)
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")
    p.add_argument("--backend", choices=BACKENDS, default="minicnn",
                   help="minicnn (hand-written backward) or torch (the PyTorch reference, same batches)")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="also write OUT/checkpoint.npz every N steps (default: at each epoch's end)")
    p.add_argument("--resume", default=None, metavar="DIR",
                   help="continue the run in DIR from its checkpoint, with its saved settings")
    p.add_argument("--kernels", default=None, metavar="DIR",
                   help="train on your own kernels, from the `minicnn exercises` workbook in DIR (SimpleCNN's "
                        "separate layers; every exercise it runs on must pass; default --out runs/kernels)")


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="print the test accuracy of a checkpoint")
    p.add_argument("checkpoint")
    _add_dataset(p, default=None, help="which test set (default: the one the checkpoint was trained on, else mnist)")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--backend", choices=BACKENDS, default="minicnn", help="which backend runs the model")
    _add_checkpoint_model(p)


def _add_predict(sub):
    p = sub.add_parser("predict", help="classify your own digit pictures (any size, colour or not, any ink)")
    p.add_argument("checkpoint")
    p.add_argument("images", nargs="+", help="PNG/JPEG files, each holding one digit")
    p.add_argument("--top", type=int, default=3, help="classes printed per picture, most probable first")
    p.add_argument("--show", metavar="OUT.png", default=None,
                   help="save each picture beside the 28x28 image the network saw")
    _add_checkpoint_model(p)


def _add_checkpoint_model(p):
    from .models import MODELS
    p.add_argument("--model", choices=sorted(MODELS), default=None,
                   help="the model a plain state_dict (a checkpoint without a model record) belongs to")


def _add_fetch(sub):
    p = sub.add_parser("fetch-data", help="fetch and verify a dataset's files (MNIST unless --dataset)")
    p.add_argument("--data-dir", default=None)
    _add_dataset(p)


def _add_dataset(p, default="mnist", help="which dataset (default mnist)"):
    from .data import DATASETS
    p.add_argument("--dataset", choices=sorted(DATASETS), default=default, help=help)


def _add_gradcheck(sub):
    from .gradcheck import THRESHOLD
    p = sub.add_parser("gradcheck", help="float64 finite-difference checks of every layer and SimpleCNN")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs, weights and samples")
    p.add_argument("--samples", type=int, default=30, help="entries checked per tensor")
    p.add_argument("--verbose", action="store_true", help="show analytic vs numeric values for a few entries")
    p.epilog = f"Exit status 1 if any relative error exceeds {THRESHOLD:g}."


def _add_lab(sub):
    p = sub.add_parser("lab", help="a local web page: draw a digit, train live, step through backprop")
    p.add_argument("checkpoint", nargs="?", default=None, help="a checkpoint to draw with (default: none, "
                                                               "the page offers to train)")
    p.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--data-dir", default=None, help="dataset root (default $MINICNN_DATA or data/)")
    p.add_argument("--runs", default="runs", help="where each training run's folder goes (default runs/)")
    p.add_argument("--screenshots", metavar="DIR", default=None,
                   help="instead of serving: drive headless Chromium through every view and save PNGs in DIR")
    p.add_argument("--kernels", metavar="DIR", default=None,
                   help="your `minicnn exercises` workbook: Backprop runs on your kernels too, beside minicnn's, "
                        "and marks the first step where they differ (files re-read at every run)")


def cmd_lab(args):
    from . import threads
    from .lab import LabApp
    threads.configure()
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port: expected 0..65535, got {args.port}")
    app = LabApp(args.checkpoint, args.data_dir, args.runs, kernels=args.kernels)
    if args.screenshots is not None:
        from .lab.browser import take_screenshots
        for path in take_screenshots(app, args.screenshots):
            print(path)
        return
    from .lab.server import serve
    serve(app, args.port, announce=lambda line: print(line, flush=True))


def _add_exercises(sub):
    p = sub.add_parser("exercises", help="write each backward pass yourself: a workbook, graded on your machine "
                                         "against torch (docs/exercises.md)")
    p.add_argument("action", choices=["init", "check", "status"],
                   help="init DIR: write the workbook; check DIR [NAME]: grade one exercise, or every one you "
                        "started; status DIR: the progress table")
    p.add_argument("folder", metavar="DIR", help="the workbook's folder")
    p.add_argument("name", nargs="?", default=None, metavar="NAME",
                   help="check only: the exercise, by name or number (linear, 2, 07_conv2d_backward, ...)")
    p.add_argument("--force", action="store_true", help="init only: overwrite an existing workbook (your work in it)")
    p.add_argument("--train", action="store_true",
                   help="check only: then train SimpleCNN for one epoch on your kernels and on minicnn's, and show "
                        "both test accuracies (minutes)")
    p.add_argument("--data-dir", default=None, help="dataset root for --train (default $MINICNN_DATA or data/)")


def cmd_exercises(args):
    import os

    from . import exercises
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = exercises.hypothesis_home()
    if args.name is not None and args.action != "check":
        raise ValueError(f"exercises {args.action}: takes no NAME, got {args.name!r} (only check does)")
    for flag, action in (("force", "init"), ("train", "check")):
        if getattr(args, flag) and args.action != action:
            raise ValueError(f"exercises {args.action}: --{flag} is for `minicnn exercises {action}` only")
    if args.data_dir is not None and not args.train:
        raise ValueError("exercises: --data-dir is for `minicnn exercises check DIR --train` only")
    try:
        if args.action == "init":
            exercises.init_command(args.folder, args.force)
        elif args.action == "check":
            exercises.check_command(args.folder, args.name, train=args.train, data_dir=args.data_dir,
                                    out=lambda line: print(line, flush=True))
        else:
            exercises.status_command(args.folder)
    except exercises.ExercisesFailed as exc:
        raise ExerciseFailed(str(exc)) from None
    except ImportError as exc:   # torch or hypothesis missing: the checks need both
        raise BackendError(str(exc)) from None


def build_parser():
    parser = _Parser(prog="minicnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_evaluate(sub)
    _add_predict(sub)
    _add_fetch(sub)
    _add_gradcheck(sub)
    _add_lab(sub)
    _add_exercises(sub)
    parser.commands = dict(sub.choices)  # for given_options
    return parser


def given_options(argv, args):
    """The dests of the options ``argv`` sets explicitly (not left at their defaults), for ``args.command``."""
    probe = build_parser()
    for action in probe.commands[args.command]._actions:  # not set_defaults: it would parse SUPPRESS as a value
        action.default = argparse.SUPPRESS
    return set(vars(probe.parse_args(argv))) - {"command"}


def _import_reference(module):
    """Import ``reference.<module>`` (and so torch) only when ``--backend torch`` asks for it."""
    import importlib
    try:
        return importlib.import_module(f"reference.{module}")
    except ImportError as exc:
        raise BackendError(f"--backend torch: needs PyTorch (pip install 'minicnn[torch]'): {exc}") from None


def cmd_train(args):
    from .runs import TrainConfig
    from .train import train as train_minicnn
    if args.kernels is not None:
        _check_kernels_flags(args)
    if args.resume is not None:
        return _resume(args)
    out = args.out if args.out is not None else "runs/kernels" if args.kernels else f"runs/{args.backend}"
    momentum = args.momentum if args.momentum is not None else (TrainConfig.momentum if args.optimizer == "sgd" else 0.0)
    cfg = TrainConfig(model=args.model, model_kwargs=args.model_kwargs, epochs=args.epochs, batch_size=args.batch_size, optimizer=args.optimizer,
                      lr=args.lr, momentum=momentum, weight_decay=args.weight_decay, scheduler=args.scheduler,
                      seed=args.seed, data_dir=args.data_dir, out=out, limit=args.limit,
                      dtype=args.dtype, progress=not args.no_progress, dataset=args.dataset,
                      augment=args.augment, checkpoint_every=args.checkpoint_every)
    cfg.validate()  # before importing torch, so bad flags fail fast on either backend
    _check_model_kwargs(cfg, args.backend)
    _warn_if_unfinished(out)
    train = train_minicnn if args.backend == "minicnn" else _import_reference("train").train
    if args.kernels is None:
        train(cfg)
        return
    import os

    from . import kernels
    from .exercises import hypothesis_home, kernels_for_training
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = hypothesis_home()
    try:
        overrides = kernels_for_training(args.kernels)
    except ImportError as exc:   # grading an exercise needs torch and hypothesis
        raise BackendError(str(exc)) from None
    ops = sorted({name.rsplit("_", 1)[0] for name in overrides})
    sys.stderr.write(f"minicnn: note: training on your kernels from {args.kernels} ({', '.join(ops)}); minicnn's "
                     f"for the rest\n")
    with kernels.use(overrides):
        train(cfg)


def _check_kernels_flags(args):
    """``train --kernels DIR``: the learner's kernels run in minicnn's ops, in SimpleCNN's separate layers."""
    if args.backend != "minicnn":
        raise ValueError(f"--kernels: your kernels run in minicnn's ops, not with --backend {args.backend}")
    if args.resume is not None:
        raise ValueError("--kernels: not with --resume (a resumed run continues on minicnn's kernels); start afresh")
    if args.model == "simplecnn":
        if args.model_kwargs.get("fused") not in (None, False):
            raise ValueError("--kernels: SimpleCNN's fused blocks are minicnn's own kernel (conv, ReLU and pool in "
                             "one pass), none of yours: drop --model-arg fused=true")
        args.model_kwargs = dict(args.model_kwargs, fused=False)


def _check_model_kwargs(cfg, backend):
    """Build the model once, so an argument it does not take is refused before any data or folder."""
    if not cfg.model_kwargs:
        return
    if backend == "torch":
        _import_reference("models").build_model(cfg.model, **cfg.model_kwargs)
    else:
        from .models import build_model
        build_model(cfg.model, **cfg.model_kwargs)


def _warn_if_unfinished(out):
    """A fresh run over an interrupted one replaces it: say so, and how to continue it instead."""
    import pathlib

    from .checkpoint import CheckpointError, load_checkpoint
    path = pathlib.Path(out) / "checkpoint.npz"
    try:
        training = load_checkpoint(path).training if path.is_file() else None
    except CheckpointError:
        return
    if training is not None and not training["finished"]:
        sys.stderr.write(f"minicnn: note: starting afresh over the interrupted run in {out} (step "
                         f"{training['step']}); `minicnn train --resume {out}` would have continued it\n")


def _resume(args):
    """``train --resume DIR``: the run in DIR, continued with its saved settings and backend."""
    import dataclasses
    import pathlib

    from .checkpoint import load_checkpoint
    from .runs import TrainConfig, resume_config
    from .train import train as train_minicnn
    folder = pathlib.Path(args.resume)
    if not folder.is_dir():
        raise ValueError(f"--resume {folder}: no such folder")
    ckpt = load_checkpoint(folder / "checkpoint.npz")
    if ckpt.training is None:
        raise ValueError(f"--resume {folder}: checkpoint.npz holds weights only, no training state to resume")
    given = given_options(args._argv, args)
    if "out" in given and pathlib.Path(args.out).resolve() != folder.resolve():
        raise ValueError(f"--out {args.out}: contradicts --resume {folder} (a resumed run writes into its own folder)")
    if "backend" in given and args.backend != ckpt.training["backend"]:
        raise ValueError(f"--backend {args.backend}: contradicts the run in {folder}, which has --backend "
                         f"{ckpt.training['backend']} (drop --backend)")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    settings = {dest: getattr(args, dest) for dest in given if dest in fields}
    if "no_progress" in given:
        settings["progress"] = not args.no_progress
    cfg = resume_config(ckpt.training, str(folder), settings)
    backend = ckpt.training["backend"]
    train = _import_reference("train").train if backend == "torch" else train_minicnn
    train(cfg, resume=ckpt)


def cmd_evaluate(args):
    from . import data
    from .checkpoint import CheckpointError, load_checkpoint
    from .runs import accuracy_line
    if args.batch_size < 1:
        raise ValueError(f"--batch-size: expected >= 1, got {args.batch_size}")
    ckpt = load_checkpoint(args.checkpoint, model=args.model, require_model=True)
    floats = [v.dtype for v in ckpt.state_dict.values() if v.dtype.kind == "f"]
    dtype = floats[0] if floats else np.dtype(np.float32)
    load = _evaluator_minicnn if args.backend == "minicnn" else _evaluator_torch
    name = ckpt.model["name"]
    try:
        accuracy = load(ckpt, dtype)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"checkpoint {args.checkpoint}: does not fit model {name} ({exc})") from None
    dataset = args.dataset or ((ckpt.training or {}).get("settings") or {}).get("dataset", "mnist")
    x_test, y_test = data.load_dataset(dataset, data.resolve_root(args.data_dir), train=False)
    print(accuracy_line(accuracy(x_test.astype(dtype), y_test, args.batch_size)))


def _evaluator_minicnn(ckpt, dtype):
    """minicnn's model named in ``ckpt``, holding its arrays; returns ``accuracy(images, labels, batch_size)``."""
    from . import threads
    from .models import build_model
    from .train import accuracy
    model = build_model(ckpt.model["name"], **ckpt.model["kwargs"]).to(dtype)
    model.load_state_dict(ckpt.state_dict)
    threads.configure()
    return lambda images, labels, batch_size: accuracy(model, images, labels, batch_size)


def _evaluator_torch(ckpt, dtype):
    """The torch reference of the model named in ``ckpt``; same contract as :func:`_evaluator_minicnn`."""
    models, train = _import_reference("models"), _import_reference("train")
    if str(dtype) not in train.TORCH_DTYPES:
        raise TypeError(f"expected float32 or float64 arrays, got {dtype}")
    model = models.build_model(ckpt.model["name"], **ckpt.model["kwargs"]).to(train.TORCH_DTYPES[str(dtype)])
    models.load_numpy_state_dict(model, ckpt.state_dict)
    train.configure_threads()
    return lambda images, labels, batch_size: train.accuracy(model, images, labels, batch_size)


class SomeFailed(Exception):
    """Some inputs could not be processed; each is already reported on its own line, so nothing more is said."""


def cmd_predict(args):
    """One line per picture, ``path: 7 (98.1%), 1 (1.2%), 2 (0.3%)``; a bad picture is reported and skipped."""
    from . import classify, threads
    if args.top < 1:
        raise ValueError(f"--top: expected >= 1, got {args.top}")
    model = classify.load_model(args.checkpoint, model=args.model)
    dtype = next(model.parameters()).dtype
    threads.configure()
    shown, failed = [], 0
    for path in args.images:
        try:
            _, digit = classify.prepare(path)
            probs = classify.probabilities(model, classify.normalise(digit[None], dtype))[0]
        except (ValueError, OSError) as exc:   # not an image, no ink, missing, unreadable
            sys.stderr.write(f"minicnn: error: {' '.join(str(exc).split())}\n")
            failed += 1
            continue
        line = classify.top_line(path, probs, args.top)
        print(line, flush=True)
        if args.show:
            shown.append((classify.as_displayed(path), digit, line.replace(": ", "\n", 1)))
    if args.show and shown:
        classify.save_inputs_figure(args.show, *zip(*shown))
    if failed:
        raise SomeFailed(f"{failed} of {len(args.images)} pictures could not be classified")


def cmd_gradcheck(args):
    from . import threads
    from .gradcheck import format_table, run_gradchecks
    threads.configure()
    if args.samples < 1:
        raise ValueError(f"--samples: expected >= 1, got {args.samples}")
    if args.seed < 0:
        raise ValueError(f"--seed: expected >= 0, got {args.seed}")
    rows = run_gradchecks(seed=args.seed, samples=args.samples)
    print(format_table(rows, verbose=args.verbose))
    failed = [r for r in rows if not r["passed"]]
    if failed:
        names = ", ".join(f"{r['layer']} {r['param']}" for r in failed)
        raise GradcheckFailed(f"{len(failed)} of {len(rows)} gradient checks failed: {names}")


def cmd_fetch(args):
    from . import data
    print(data.fetch(args.dataset, data.resolve_root(args.data_dir)))


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "predict": cmd_predict, "fetch-data": cmd_fetch,
            "gradcheck": cmd_gradcheck, "lab": cmd_lab, "exercises": cmd_exercises}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    args._argv = argv
    from .data import MNISTError
    try:
        with warnings.catch_warnings():
            # numpy's "overflow encountered in matmul" while a run diverges: train's NaN/Inf check
            # reports it, once, with the step and the parameter
            warnings.filterwarnings("ignore", message=r".*encountered in", category=RuntimeWarning)
            COMMANDS[args.command](args)
    except SomeFailed:
        return EXIT_ERROR
    except (ValueError, TypeError, MNISTError, OSError, FloatingPointError, BackendError, GradcheckFailed,
            ExerciseFailed) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"minicnn: error: {msg}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("minicnn: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
