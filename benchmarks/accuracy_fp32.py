"""How far float32 gradients are from the float64 ones: minicnn (each conv algorithm) and torch (oneDNN on, off).

    python -m benchmarks.accuracy_fp32 [--batches 20] [--steps 300]

The same SimpleCNN weights and the same MNIST batches (64 images each) in every
backend.  For each parameter the error is ``max |g32 - g64| / max |g64|``
(relative to the largest entry), against the float64 gradient *of the same code
path* (minicnn with the same conv algorithm; torch in float64), and we report
the worst and the median over batches, at two points: the initial weights, and
after ``--steps`` SGD steps (lr 0.01, momentum 0.9) of float32 minicnn training.

Medians and worst cases differ for a reason: a ReLU input, or the gap between a
pooling window's two largest values, that is within float32 rounding of 0 can
fall on the other side in float32.  That unit's gradient then switches on or
off (or moves to another pixel) as a whole, and the batch's error jumps to
1e-3 .. 1e-1 -- for any backend, by chance.  Measured at the initial weights,
20 batches: three such decisions in all (two on the im2col path, one on
Winograd's, none in torch, whose float32 landed on float64's side at those
same three), none of them exactly at the kink: e.g. an fc1 pre-activation of
-1.1e-7 that float32 im2col computes as +8.8e-9.  That is a different, equally valid, subgradient, not precision
lost; the median is the rounding error.  So each path's float32 and float64
runs also record those decisions (the sign of each ReLU input, each pooling
window's winner) and the second table counts the ones float32 takes
differently, and gives the worst error over the batches where it took none.
Exact ties do not count: the blank background (-1.0 everywhere) makes many
windows' candidates equal, and which one wins can differ between precisions
(torch without oneDNN swaps ~60,000 windows a batch), but those candidates see
bitwise identical input patches, so that layer's weight gradient is the same
either way (measured: no batch's error moves with them).

The column "vs common reference" is each float32 gradient against one float64 reference
(minicnn's default path, itself checked against torch in float64).  torch runs its default CPU
path (oneDNN convolutions) and, separately, inside
``torch.backends.mkldnn.flags(enabled=False)`` (its own im2col + GEMM).  Writes
``results/accuracy_fp32.json``; prints the README table.
"""
import argparse
import contextlib
import statistics
import sys
import types

import numpy as np

from . import common

BACKENDS = {
    "minicnn, Winograd F(2x2,3x3) (default)": ("minicnn", "auto"),
    "minicnn, im2col + GEMM": ("minicnn", "im2col"),
    "PyTorch, default CPU path (oneDNN)": ("torch", True),
    "PyTorch, oneDNN disabled": ("torch", False),
}


# SimpleCNN's two convolutions: 3x3, padding 1, each followed by ReLU and a 2x2 max pool
KERNEL, PADDING = 3, 1


@contextlib.contextmanager
def recording_minicnn_decisions(record):
    """Run minicnn's ops inside on the fast kernels, appending each kink decision to ``record``: for the
    fused conv + ReLU + pool its input, ``active`` (pooled > 0) and the pool's ``argmax``; for a ReLU,
    ``active`` (output > 0)."""
    from minicnn import kernels
    fast = kernels.IMPLEMENTATIONS["fast"]

    def fused(x, weight, bias, padding=0):
        pooled, cache = fast.conv2d_relu_max_pool2d_forward(x, weight, bias, padding)
        argmax = cache[3]  # the kernel's winners, as its backward reads them (see kernels.fused)
        assert argmax.shape == pooled.shape and argmax.dtype.kind == "i"
        record.append({"input": np.array(x, dtype=np.float64), "active": pooled > 0, "argmax": argmax.copy()})
        return pooled, cache

    def relu(x):
        out, cache = fast.relu_forward(x)
        record.append({"active": out > 0})
        return out, cache
    name = "fp32-decisions"
    kernels.IMPLEMENTATIONS[name] = types.SimpleNamespace(**{**vars(fast), "conv2d_relu_max_pool2d_forward": fused,
                                                             "relu_forward": relu})
    try:
        with kernels.use(name):
            yield
    finally:
        del kernels.IMPLEMENTATIONS[name]


def minicnn_grads(state, x, y, dtype, algorithm="auto", decisions=None):
    """The gradients; with a list ``decisions``, also the ReLU and pooling decisions, appended to it."""
    import minicnn
    from minicnn import nn
    from minicnn.kernels import conv
    model = minicnn.SimpleCNN(fused=True).to(dtype)  # the fused blocks, whose decisions are recorded
    model.load_state_dict({k: v.astype(dtype) for k, v in state.items()})
    record = contextlib.nullcontext() if decisions is None else recording_minicnn_decisions(decisions)
    with conv.algorithm(algorithm), record:
        loss = nn.CrossEntropyLoss()(model(x.astype(dtype)), y)
        loss.backward()
    return {name: p.grad.astype(np.float64) for name, p in model.named_parameters()}


def torch_grads(state, x, y, dtype, onednn=True, decisions=None):
    """As :func:`minicnn_grads`; the decisions from the conv and fc1 outputs (forward hooks), pooled
    again by the same ``max_pool2d`` as the model's forward."""
    import torch

    from reference.models import SimpleCNN, load_numpy_state_dict
    model = SimpleCNN().to(torch.float64 if dtype == np.float64 else torch.float32)
    load_numpy_state_dict(model, {k: v.astype(dtype) for k, v in state.items()})
    outputs = []
    hooks = [getattr(model, name).register_forward_hook(lambda m, args, out: outputs.append((args[0], out)))
             for name in ("conv1", "conv2", "fc1")] if decisions is not None else []
    with torch.backends.mkldnn.flags(enabled=onednn):
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x.astype(dtype))), torch.from_numpy(y))
        loss.backward()
        with torch.no_grad():
            for (inp, out), kind in zip(outputs, ("pool", "pool", "relu")):
                if kind == "relu":
                    decisions.append({"active": out.detach().numpy() > 0})
                    continue
                pooled, argmax = torch.nn.functional.max_pool2d(torch.relu(out.detach()), 2, return_indices=True)
                decisions.append({"input": inp.detach().numpy().astype(np.float64), "active": pooled.numpy() > 0,
                                  "argmax": argmax.numpy()})
    for hook in hooks:
        hook.remove()
    return {name: p.grad.numpy().astype(np.float64) for name, p in model.named_parameters()}


def _same_patches(inp, n, at_a, at_b, width, chunk=4096):
    """For each (image n, flat conv-output index at_a, at_b): whether the two pixels' input patches (all
    channels, KERNEL x KERNEL, zero padding PADDING) are bitwise equal."""
    pad = np.pad(inp, ((0, 0), (0, 0), (PADDING, PADDING), (PADDING, PADDING)))
    view = np.lib.stride_tricks.sliding_window_view(pad, (KERNEL, KERNEL), axis=(2, 3))  # (N, C, H, W, k, k)
    same = np.empty(len(n), dtype=bool)
    for i in range(0, len(n), chunk):
        s = slice(i, i + chunk)
        a = view[n[s], :, at_a[s] // width, at_a[s] % width]
        b = view[n[s], :, at_b[s] // width, at_b[s] % width]
        same[s] = (a == b).reshape(len(a), -1).all(axis=1)
    return same


def flipped_decisions(d32, d64):
    """Compare two runs' decisions: ``relu`` units whose ReLU (after the max, for the convs) switched,
    ``pool`` windows (active in both) whose winner moved to a pixel with a different input patch, and
    ``tie`` windows whose winner moved between identical patches (the same weight gradient; only
    the input gradient lands on another, equal, pixel)."""
    count = {"relu": 0, "pool": 0, "tie": 0}
    for a, b in zip(d32, d64, strict=True):
        count["relu"] += int((a["active"] != b["active"]).sum())
        if "argmax" not in a:
            continue
        moved = (a["argmax"] != b["argmax"]) & a["active"] & b["active"]
        n = np.nonzero(moved)[0]
        same = _same_patches(b["input"], n, a["argmax"][moved], b["argmax"][moved], 2 * a["argmax"].shape[3])
        count["tie"] += int(same.sum())
        count["pool"] += int((~same).sum())
    return count


def rel_err(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def trained_state(state, batches, steps):
    """``state`` after ``steps`` float32 minicnn SGD steps over ``batches`` (cycled)."""
    import minicnn
    from minicnn import nn, optim
    from minicnn.train import train_step
    model = minicnn.SimpleCNN(fused=True)
    model.load_state_dict(state)
    crit, opt = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for i in range(steps):
        train_step(model, *batches[i % len(batches)], crit, opt)
    return {k: v.copy() for k, v in model.state_dict().items()}


def measure(state, batches):
    errors = {name: {} for name in BACKENDS}
    common_ref = {name: [] for name in BACKENDS}
    flips = {name: [] for name in BACKENDS}
    reference_check = 0.0
    for x, y in batches:
        exact, decided = {}, {}
        for a in ("auto", "im2col"):
            decided["minicnn", a] = []
            exact["minicnn", a] = minicnn_grads(state, x, y, np.float64, a, decided["minicnn", a])
        decided["torch"] = []
        exact["torch"] = torch_grads(state, x, y, np.float64, decisions=decided["torch"])
        reference = exact["minicnn", "auto"]
        reference_check = max(reference_check, max(rel_err(exact["torch"][k], reference[k]) for k in reference))
        for name, (backend, option) in BACKENDS.items():
            d32 = []
            grads = (minicnn_grads if backend == "minicnn" else torch_grads)(state, x, y, np.float32, option, d32)
            key = (backend, option) if backend == "minicnn" else "torch"
            same = exact[key]
            for param in reference:
                errors[name].setdefault(param, []).append(rel_err(grads[param], same[param]))
            common_ref[name].append(max(rel_err(grads[k], reference[k]) for k in reference))
            flips[name].append(flipped_decisions(d32, decided[key]))
    summary = {}
    for name, per in errors.items():
        clean = [f["relu"] + f["pool"] == 0 for f in flips[name]]
        summary[name] = {param: {"max": max(v), "median": statistics.median(v),
                                 "max_unflipped": max((e for e, c in zip(v, clean) if c), default=None)}
                         for param, v in per.items()}
        v = common_ref[name]
        summary[name]["vs common reference"] = {
            "max": max(v), "median": statistics.median(v),
            "max_unflipped": max((e for e, c in zip(v, clean) if c), default=None)}
        summary[name]["flipped decisions"] = {
            "batches": len(clean) - sum(clean), **{k: sum(f[k] for f in flips[name]) for k in ("relu", "pool", "tie")}}
    return summary, reference_check


def table(result):
    params = [p for p in next(iter(result["points"].values()))["errors"][next(iter(BACKENDS))]
              if p != "flipped decisions"]
    grads = [p for p in params if p != "vs common reference"]
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
        if "flipped decisions" not in data["errors"][next(iter(BACKENDS))]:
            continue  # a result written before the decisions were recorded
        lines += ["Decisions at a kink that float32 took differently from float64 (summed over the batches); the "
                  "worst error (any parameter, vs the same path) over all batches, and over those with no ReLU "
                  "or pool flip", "",
                  "| float32 vs float64 | batches with a flip | ReLU flips | pool-winner flips | tied windows "
                  "swapped (identical patches) | worst, all batches | worst, batches without a flip |",
                  "|---|---:|---:|---:|---:|---:|---:|"]
        for name in BACKENDS:
            per = data["errors"][name]
            f = per["flipped decisions"]
            worst = max(per[p]["max"] for p in grads)
            clean = [per[p]["max_unflipped"] for p in grads]
            clean = "--" if None in clean else f"{max(clean):.0e}"
            lines.append(f"| {name} | {f['batches']} | {f['relu']} | {f['pool']} | {f['tie']} | {worst:.0e} | "
                         f"{clean} |")
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
