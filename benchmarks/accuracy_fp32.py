"""How far float32 gradients are from the float64 ones: minicnn (each conv algorithm) and torch (oneDNN on, off).

    python -m benchmarks.accuracy_fp32 [--batches 20] [--steps 300]

The same SimpleCNN weights and the same MNIST batches (64 images each) in every
backend.  For each parameter the error is ``max |g32 - g64| / max |g64|``
(relative to the largest entry), against the float64 gradient *of the same code
path* (minicnn with the same conv algorithm; torch in float64), and we report
the worst and the median over batches, at two points: the initial weights, and
after ``--steps`` SGD steps (lr 0.01, momentum 0.9) of float32 minicnn training.

Medians and worst cases differ for a reason: a ReLU input within rounding of 0
(or a pooling window whose two largest values are within rounding of each
other) can fall on the other side in float32.  That unit's gradient then
switches on or off as a whole, and the batch's error jumps to 1e-2 -- for any
backend, by chance (measured: minicnn's im2col path on 1 batch in 20, at the
initial weights, from fc1's ReLU).  That is a different, equally valid,
subgradient, not precision lost; the median is the rounding error.  The column
"vs common reference" is each float32 gradient against one float64 reference
(minicnn's default path, itself checked against torch in float64).  torch runs its default CPU
path (oneDNN convolutions) and, separately, inside
``torch.backends.mkldnn.flags(enabled=False)`` (its own im2col + GEMM).  Writes
``results/accuracy_fp32.json``; prints the README table.
"""
import argparse
import statistics
import sys

import numpy as np

from . import common

BACKENDS = {
    "minicnn, Winograd F(2x2,3x3) (default)": ("minicnn", "auto"),
    "minicnn, im2col + GEMM": ("minicnn", "im2col"),
    "PyTorch, default CPU path (oneDNN)": ("torch", True),
    "PyTorch, oneDNN disabled": ("torch", False),
}


def minicnn_grads(state, x, y, dtype, algorithm="auto"):  # noqa: D103
    import minicnn
    from minicnn import nn
    from minicnn.kernels import conv
    model = minicnn.SimpleCNN().to(dtype)
    model.load_state_dict({k: v.astype(dtype) for k, v in state.items()})
    with conv.algorithm(algorithm):
        loss = nn.CrossEntropyLoss()(model(x.astype(dtype)), y)
        loss.backward()
    return {name: p.grad.astype(np.float64) for name, p in model.named_parameters()}


def torch_grads(state, x, y, dtype, onednn=True):
    import torch

    from reference.models import SimpleCNN, load_numpy_state_dict
    model = SimpleCNN().to(torch.float64 if dtype == np.float64 else torch.float32)
    load_numpy_state_dict(model, {k: v.astype(dtype) for k, v in state.items()})
    with torch.backends.mkldnn.flags(enabled=onednn):
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x.astype(dtype))), torch.from_numpy(y))
        loss.backward()
    return {name: p.grad.numpy().astype(np.float64) for name, p in model.named_parameters()}


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def trained_state(state, batches, steps):
    """``state`` after ``steps`` float32 minicnn SGD steps over ``batches`` (cycled)."""
    import minicnn
    from minicnn import nn, optim
    from minicnn.train import train_step
    model = minicnn.SimpleCNN()
    model.load_state_dict(state)
    crit, opt = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for i in range(steps):
        train_step(model, *batches[i % len(batches)], crit, opt)
    return {k: v.copy() for k, v in model.state_dict().items()}


def measure(state, batches):
    errors = {name: {} for name in BACKENDS}
    common_ref = {name: [] for name in BACKENDS}
    reference_check = 0.0
    for x, y in batches:
        exact = {("minicnn", a): minicnn_grads(state, x, y, np.float64, a) for a in ("auto", "im2col")}
        exact["torch"] = torch_grads(state, x, y, np.float64)
        reference = exact["minicnn", "auto"]
        reference_check = max(reference_check, max(rel_err(exact["torch"][k], reference[k]) for k in reference))
        for name, (backend, option) in BACKENDS.items():
            grads = (minicnn_grads if backend == "minicnn" else torch_grads)(state, x, y, np.float32, option)
            same = exact[backend, option] if backend == "minicnn" else exact["torch"]
            for param in reference:
                errors[name].setdefault(param, []).append(rel_err(grads[param], same[param]))
            common_ref[name].append(max(rel_err(grads[k], reference[k]) for k in reference))
    summary = {name: {param: {"max": max(v), "median": statistics.median(v)} for param, v in per.items()}
               for name, per in errors.items()}
    for name, v in common_ref.items():
        summary[name]["vs common reference"] = {"max": max(v), "median": statistics.median(v)}
    return summary, reference_check


def table(result):
    params = list(next(iter(result["points"].values()))["errors"][next(iter(BACKENDS))])
    lines = []
    for point, data in result["points"].items():
        lines += [f"**{point}**: median (worst) over {result['batches']} batches of 64, float32 against float64 of "
                  f"the same code path; last column: the worst parameter against one float64 reference (float64 "
                  f"minicnn and float64 torch agree to {data['float64_check']:.0e})", "",
                  "| float32 gradient vs float64 | " + " | ".join(f"`{p}`" for p in params) + " |",
                  "|---|" + "---:|" * len(params)]
        for name in BACKENDS:
            cells = [f"{data['errors'][name][p]['median']:.1e} ({data['errors'][name][p]['max']:.0e})" for p in params]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    common.setup_threads(2)
    import minicnn
    from minicnn import data
    x_train, y_train = data.load_mnist(data.resolve_root(None), train=True)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(x_train))
    batches = [(x_train[order[i * 64:(i + 1) * 64]], y_train[order[i * 64:(i + 1) * 64]])
               for i in range(max(args.batches, 100))]
    minicnn.manual_seed(args.seed)
    initial = {k: v.copy() for k, v in minicnn.SimpleCNN().state_dict().items()}
    points = {}
    for point, state in (("initial weights", initial),
                         (f"after {args.steps} SGD steps", trained_state(initial, batches, args.steps))):
        summary, check = measure(state, batches[-args.batches:])
        points[point] = {"errors": summary, "float64_check": check}
        print(f"{point}: done", file=sys.stderr)
    result = {"batches": args.batches, "steps": args.steps, "seed": args.seed, "points": points}
    common.write_result("accuracy_fp32", result)
    print(table(result))


if __name__ == "__main__":
    main()
