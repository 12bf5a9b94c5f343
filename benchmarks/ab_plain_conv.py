"""A/B of the plain conv (SimpleCNN's conv2: batch 64, 32 -> 64 channels, 14x14, 3x3, padding 1) against a git rev.

``--layer conv2-fused`` (or ``conv1-fused``: 1 -> 32 channels, 28x28, no input gradient) times
SimpleCNN's fused conv -> ReLU -> pool blocks instead.

The baseline's ``minicnn`` is exported from git (``git archive REV minicnn``) into a temporary directory as
``minicnn_base``, so both versions load in one process; their calls alternate (the order flips every
round), and the medians, and the median of the paired ratios, are printed.  Run ``--control`` to A/B the
baseline against a second copy of itself: the spread of that ratio is the machine's noise floor.

    python benchmarks/ab_plain_conv.py 20a85c1 [--threads 1] [--rounds 60] [--control] [--layer conv2-fused]
"""
import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def export(rev, root, name):
    tar = subprocess.run(["git", "-C", str(REPO), "archive", rev, "minicnn"], check=True, capture_output=True).stdout
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(root, filter="data")
    (Path(root) / "minicnn").rename(Path(root) / name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--control", action="store_true", help="baseline against a copy of itself")
    parser.add_argument("--layer", choices=["conv2", "conv2-fused", "conv1-fused"], default="conv2")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="minicnn_ab_")
    export(args.rev, root, "minicnn_base")
    if args.control:
        export(args.rev, root, "minicnn_control")
    sys.path[:0] = [root, str(REPO)]
    import importlib
    base = importlib.import_module("minicnn_base.kernels")
    new = importlib.import_module("minicnn_control.kernels" if args.control else "minicnn.kernels")
    for package in ("minicnn_base", "minicnn_control" if args.control else "minicnn"):
        importlib.import_module(f"{package}.threads").configure(args.threads)

    rng = np.random.default_rng(0)
    c, o, h = (1, 32, 28) if args.layer == "conv1-fused" else (32, 64, 14)
    x = rng.standard_normal((64, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, 3, 3)) * 0.1).astype(np.float32)
    b = rng.standard_normal(o).astype(np.float32)
    fused = args.layer.endswith("fused")
    g = rng.standard_normal((64, o) + ((h // 2, h // 2) if fused else (h, h))).astype(np.float32)
    need_dx = args.layer != "conv1-fused"
    times = {(side, what): [] for side in ("base", "new") for what in ("forward", "backward")}
    for it in range(args.rounds + 1):
        order = (("base", base), ("new", new)) if it % 2 else (("new", new), ("base", base))
        for side, K in order:
            t0 = time.perf_counter()
            if fused:
                out, cache = K.conv2d_relu_max_pool2d_forward(x, w, b, 1)
            else:
                out, cache = K.conv2d_forward(x, w, b, 1, 1)
            t1 = time.perf_counter()
            (K.conv2d_relu_max_pool2d_backward if fused else K.conv2d_backward)(g, cache, need_dx)
            t2 = time.perf_counter()
            if it:  # round 0 compiles and warms up
                times[side, "forward"].append(t1 - t0)
                times[side, "backward"].append(t2 - t1)
    label = "control" if args.control else "new"
    for what in ("forward", "backward"):
        a, c = np.array(times["base", what]), np.array(times["new", what])
        print(f"{args.layer} {what:<8}  base {1e3 * np.median(a):6.2f} ms   {label} {1e3 * np.median(c):6.2f} ms   "
              f"median paired ratio {label}/base {np.median(c / a):.3f}  (n={len(a)})")


if __name__ == "__main__":
    main()
