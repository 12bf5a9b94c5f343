"""``minicnn`` command line: train, evaluate, fetch-data.

Errors print one line ``minicnn: error: …`` and exit non-zero, without a traceback.
"""
import argparse
import sys

EXIT_ERROR = 1
EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(EXIT_USAGE)


def _add_train(sub):
    from .train import TrainConfig
    d = TrainConfig()
    p = sub.add_parser("train", help="train SimpleCNN on MNIST with the tutorial's settings")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--momentum", type=float, default=d.momentum)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--data-dir", default=None, help="MNIST root (default $MINICNN_DATA or data/)")
    p.add_argument("--out", default=d.out, help="where checkpoint.npz and metrics.json go")
    p.add_argument("--limit", type=int, default=None, help="train on the first N training images")
    p.add_argument("--dtype", choices=["float32", "float64"], default=d.dtype)
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def _add_evaluate(sub):
    p = sub.add_parser("evaluate", help="print the test accuracy of a checkpoint")
    p.add_argument("checkpoint")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--batch-size", type=int, default=1000)


def _add_fetch(sub):
    p = sub.add_parser("fetch-data", help="fetch and verify the MNIST files")
    p.add_argument("--data-dir", default=None)


def build_parser():
    parser = _Parser(prog="minicnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_evaluate(sub)
    _add_fetch(sub)
    return parser


def cmd_train(args):
    from .train import TrainConfig, train
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, momentum=args.momentum,
                      seed=args.seed, data_dir=args.data_dir, out=args.out, limit=args.limit,
                      dtype=args.dtype, progress=not args.no_progress)
    train(cfg)


def cmd_evaluate(args):
    from . import data, io, threads
    from .models import SimpleCNN
    from .train import accuracy, accuracy_line
    if args.batch_size < 1:
        raise ValueError(f"--batch-size: expected >= 1, got {args.batch_size}")
    state = io.load_checkpoint(args.checkpoint)
    model = SimpleCNN()
    dtype = next(iter(state.values())).dtype if state else None
    if dtype is not None:
        model.to(dtype)
    try:
        model.load_state_dict(state)
    except (ValueError, TypeError) as exc:
        raise io.CheckpointError(f"checkpoint {args.checkpoint}: does not fit SimpleCNN ({exc})") from None
    threads.configure()
    x_test, y_test = data.load_mnist(data.resolve_root(args.data_dir), train=False)
    print(accuracy_line(accuracy(model, x_test.astype(model.fc2.weight.data.dtype), y_test, args.batch_size)))


def cmd_fetch(args):
    from . import data
    print(data.fetch_mnist(data.resolve_root(args.data_dir)))


COMMANDS = {"train": cmd_train, "evaluate": cmd_evaluate, "fetch-data": cmd_fetch}


def main(argv=None):
    args = build_parser().parse_args(argv)
    from .data import MNISTError
    try:
        COMMANDS[args.command](args)
    except (ValueError, TypeError, MNISTError, OSError) as exc:
        msg = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(f"minicnn: error: {msg}\n")
        return EXIT_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("minicnn: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
