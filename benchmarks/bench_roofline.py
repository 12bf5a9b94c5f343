"""The machine's float32 roofline, and how close minicnn and torch get to it.

    python -m benchmarks.bench_roofline [--threads 2] [--repeats 7] [--kernels kernels_simplecnn]

Measures, on this machine:

* the float32 FMA peak per core and for ``--threads`` cores: a numba kernel
  (``fma_burst``) that keeps ``ACCUMULATORS`` independent vector accumulators in
  registers and does nothing but ``acc = acc * a + b`` — once with 256-bit
  vectors (``<8 x float>``) and once with 512-bit ones (``<16 x float>``).  The
  vector type is written out in LLVM IR (a numba ``@intrinsic``): numba's own
  auto-vectorised loops prefer 256-bit registers on this target, so the 512-bit
  number is what the hardware does, the 256-bit one what numba's kernels can;
* the best sgemm rate numpy's OpenBLAS reaches, at 1 thread and at
  ``--threads``, on square matrices and on the GEMMs of SimpleCNN's layers
  (im2col, Winograd, fc1);

and then, from the latest ``results/kernels.json`` and ``results/train.json``
(both measured alternating with torch), the achieved GFLOP/s of each conv
layer and of the training step, both backends, as a fraction of that peak,
and the floor of an epoch: its FLOPs at the peak.

FLOPs are those of the direct convolution, whatever the algorithm does
(Winograd does 2.25x fewer multiplies, so its "achieved" rate can in principle
pass the FMA peak): conv forward ``2*N*O*C*KH*KW*OH*OW``, backward twice that
(dx and dweight), once where no dx is computed (conv1); linear ``2*N*I*O``
forward, twice that backward.  Writes ``results/roofline.json`` and
``results/roofline.png``.
"""
import argparse
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from . import common

ACCUMULATORS = 16         # >= 2 FMA ports x 4 cycles latency, so the chain never waits
BATCH = 64

# SimpleCNN, batch 64: (name, FLOPs forward, FLOPs backward)
def conv_flops(n, c, o, h, w, k=3):
    return 2 * n * o * c * k * k * h * w


LAYERS = {
    "conv1": (conv_flops(BATCH, 1, 32, 28, 28), conv_flops(BATCH, 1, 32, 28, 28)),       # no dx
    "conv2": (conv_flops(BATCH, 32, 64, 14, 14), 2 * conv_flops(BATCH, 32, 64, 14, 14)),
    "fc1": (2 * BATCH * 3136 * 128, 4 * BATCH * 3136 * 128),
    "fc2": (2 * BATCH * 128 * 10, 4 * BATCH * 128 * 10),
}
STEP_FLOPS = sum(f + b for f, b in LAYERS.values())
INFER_FLOPS_PER_IMAGE = sum(f for f, _ in LAYERS.values()) / BATCH
KERNEL_ROWS = {  # results/kernels.json row -> FLOPs of forward + backward
    "conv1 (64,1,28,28)->32, no dx": sum(LAYERS["conv1"]),
    "conv2 (64,32,14,14)->64": sum(LAYERS["conv2"]),
    "conv1+relu+pool fused": sum(LAYERS["conv1"]),
    "conv2+relu+pool fused": sum(LAYERS["conv2"]),
    "fc1 (64,3136)->128": sum(LAYERS["fc1"]),
}


# --------------------------------------------------------------------------- the FMA peak
def make_fma_kernel(width, accumulators=ACCUMULATORS):
    """A numba function ``kernel(n, a, b) -> float32`` doing ``n * accumulators * width`` FMAs."""
    from llvmlite import ir
    from numba import njit, types
    from numba.core import cgutils
    from numba.extending import intrinsic

    @intrinsic
    def fma_burst(typingctx, n, a, b):
        def codegen(context, builder, signature, args):
            n, a, b = args
            f32, i32 = ir.FloatType(), ir.IntType(32)
            vec = ir.VectorType(f32, width)
            fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                                 f"llvm.fma.v{width}f32")

            def splat(s):
                v = builder.insert_element(ir.Constant(vec, ir.Undefined), s, ir.Constant(i32, 0))
                return builder.shuffle_vector(v, ir.Constant(vec, ir.Undefined),
                                              ir.Constant(ir.VectorType(i32, width), [0] * width))
            av, bv = splat(a), splat(b)
            # distinct starting values, so no two chains can be merged
            accs = [cgutils.alloca_once_value(builder, ir.Constant(vec, [0.5 + 1e-3 * (k * width + j)
                                                                         for j in range(width)]))
                    for k in range(accumulators)]
            with cgutils.for_range(builder, n):
                for p in accs:
                    builder.store(builder.call(fma, [builder.load(p), av, bv]), p)
            total = builder.load(accs[0])
            for p in accs[1:]:
                total = builder.fadd(total, builder.load(p))
            s = builder.extract_element(total, ir.Constant(i32, 0))
            for j in range(1, width):
                s = builder.fadd(s, builder.extract_element(total, ir.Constant(i32, j)))
            return s
        return types.float32(types.int64, types.float32, types.float32), codegen

    @njit(nogil=True)
    def kernel(n, a, b):
        return fma_burst(n, a, b)
    kernel(1, np.float32(1), np.float32(0))
    return kernel


def fma_peak(width, threads, repeats, iters=40_000_000):
    """Best GFLOP/s of ``threads`` copies of the FMA kernel running at once (numba releases the GIL)."""
    kernel = make_fma_kernel(width)
    a, b = np.float32(0.9999999), np.float32(1e-7)
    flops = 2 * iters * ACCUMULATORS * width * threads
    best = []
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(repeats):
            start = time.perf_counter()
            list(pool.map(lambda _: kernel(iters, a, b), range(threads)))
            best.append(flops / (time.perf_counter() - start) / 1e9)
    return {"best_gflops": max(best), "median_gflops": statistics.median(best)}


# --------------------------------------------------------------------------- OpenBLAS sgemm
def gemm_shapes():
    """(name, batch, M, K, N, transpose-B): the GEMMs a SimpleCNN step runs, per 2-thread chunk, and squares."""
    half = BATCH // 2
    return [
        ("square 512", 1, 512, 512, 512, False),
        ("square 1024", 1, 1024, 1024, 1024, False),
        ("square 2048", 1, 2048, 2048, 2048, False),
        ("conv2 im2col forward: W(64x288) @ cols(288x6272)", 1, 64, 288, half * 196, False),
        ("conv2 im2col dweight: dout(64x6272) @ cols^T(6272x288)", 1, 64, half * 196, 288, True),
        ("conv2 Winograd forward: 16 x U(64x32) @ V(32x1568)", 16, 64, 32, half * 49, False),
        ("conv2 Winograd dU: 16 x dM(64x1568) @ V^T", 16, 64, half * 49, 32, True),
        ("fc1 forward: x(64x3136) @ W^T(3136x128)", 1, BATCH, 3136, 128, True),
    ]


def sgemm_rates(threads, repeats):
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(0)
    out = {}
    with threadpool_limits(limits=threads, user_api="blas"):
        for name, batch, m, k, n, trans_b in gemm_shapes():
            a = rng.standard_normal((batch, m, k), dtype=np.float32)
            b = rng.standard_normal((batch, n, k) if trans_b else (batch, k, n), dtype=np.float32)
            b = b.transpose(0, 2, 1) if trans_b else b
            c = np.empty((batch, m, n), dtype=np.float32)
            flops = 2 * batch * m * k * n
            inner = max(1, int(2e9 / flops / 20))  # about 0.1 s per sample at 100 GFLOP/s
            rates = []
            for _ in range(repeats + 1):
                start = time.perf_counter()
                for _ in range(inner):
                    np.matmul(a, b, out=c)
                rates.append(flops * inner / (time.perf_counter() - start) / 1e9)
            rates = rates[1:]
            out[name] = {"best_gflops": max(rates), "median_gflops": statistics.median(rates),
                         "shape": [batch, m, k, n]}
            print(f"  sgemm {threads} thr  {name:52s} {max(rates):7.1f} GFLOP/s best", file=sys.stderr)
    return out


# --------------------------------------------------------------------------- achieved
def achieved(kernels, train, peak):
    """GFLOP/s of each conv layer (forward + backward) and of the step, both backends, and the fraction of
    ``peak`` (the FMA peak of the cores the benchmark used)."""
    rows = {}
    if kernels:
        for row in kernels["rows"]:
            if row["name"] in KERNEL_ROWS:
                flops = KERNEL_ROWS[row["name"]]
                for backend in ("minicnn", "torch"):
                    s = row["forward"][f"{backend}_median_s"] + row["backward"][f"{backend}_median_s"]
                    g = flops / s / 1e9
                    rows.setdefault(row["name"], {"gflop": flops / 1e9})[backend] = {
                        "ms": s * 1e3, "gflops": g, "fraction_of_peak": g / peak}
    if train:
        s = train["summary"]
        for what, flops, key, scale in (("training step (batch 64)", STEP_FLOPS, "step_ms", 1e-3),
                                        ("inference, 10 000 images", INFER_FLOPS_PER_IMAGE * 10_000, "infer_s", 1)):
            row = rows.setdefault(what, {"gflop": flops / 1e9})
            for backend in ("minicnn", "torch"):
                t = s[key][f"{backend}_median"] * scale
                row[backend] = {"ms": t * 1e3, "gflops": flops / t / 1e9, "fraction_of_peak": flops / t / 1e9 / peak}
    return rows


def chart(result):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .report import save_figure
    rows = result["achieved"]
    names = list(rows)
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(names) + 2))
    ys = np.arange(len(names))
    for off, backend, color in ((0.2, "minicnn", "tab:blue"), (-0.2, "torch", "tab:orange")):
        ax.barh(ys + off, [rows[n].get(backend, {}).get("gflops", 0) for n in names], height=0.4,
                label="minicnn" if backend == "minicnn" else "PyTorch", color=color)
    t = result["threads"]
    for value, label, style in ((result["fma_peak"]["512-bit"][str(t)]["best_gflops"], f"FMA peak, 512-bit, {t} cores", "-"),
                                (result["fma_peak"]["256-bit"][str(t)]["best_gflops"], f"FMA peak, 256-bit, {t} cores", "--"),
                                (result["sgemm_best"][str(t)], f"best OpenBLAS sgemm, {t} threads", ":")):
        ax.axvline(value, color="k", linestyle=style, linewidth=1, label=f"{label}: {value:.0f}")
    ax.set_yticks(ys, names)
    ax.invert_yaxis()
    ax.set_xlabel("achieved GFLOP/s (direct-convolution FLOPs / median time)")
    ax.set_title(f"float32 roofline, {result['machine']['cpu']}, {t} threads")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, "roofline.png")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--kernels", default="kernels", help="the kernel results to read: kernels (bench_kernels) or "
                   "kernels_simplecnn (bench_kernels --simplecnn)")
    args = p.parse_args(argv)
    t = args.threads
    counts = sorted({1, t})
    peaks = {f"{32 * w}-bit": {str(n): fma_peak(w, n, args.repeats) for n in counts} for w in (8, 16)}
    for bits, by_threads in peaks.items():
        for n, r in by_threads.items():
            print(f"FMA peak {bits:7s} {n} thread(s): {r['best_gflops']:7.1f} GFLOP/s best, "
                  f"{r['median_gflops']:7.1f} median", file=sys.stderr)
    sgemm = {str(n): sgemm_rates(n, args.repeats) for n in counts}
    sgemm_best = {n: max(r["best_gflops"] for r in rates.values()) for n, rates in sgemm.items()}
    peak = peaks["512-bit"][str(t)]["best_gflops"]
    kernels, train = common.read_result(args.kernels), common.read_result("train")
    rows = achieved(kernels, train, peak)
    epoch_flops = STEP_FLOPS * 60_000 / BATCH
    floor = {"epoch_gflop": epoch_flops / 1e9,
             "epoch_floor_s_at_fma_peak": epoch_flops / peak / 1e9,
             "epoch_floor_s_at_best_sgemm": epoch_flops / sgemm_best[str(t)] / 1e9}
    if train:
        for backend in ("minicnn", "torch"):
            floor[f"{backend}_epoch_s"] = train["summary"]["train_s"][f"{backend}_median"]
            floor[f"{backend}_times_floor"] = floor[f"{backend}_epoch_s"] / floor["epoch_floor_s_at_fma_peak"]
    result = {"threads": t, "repeats": args.repeats, "fma_peak": peaks, "sgemm": sgemm, "sgemm_best": sgemm_best,
              "flops": {"layers_fwd_bwd": LAYERS, "step": STEP_FLOPS, "inference_per_image": INFER_FLOPS_PER_IMAGE},
              "achieved": rows, "epoch": floor,
              "sources": {"kernels": kernels and kernels["date"], "train": train and train["date"]}}
    path = common.write_result("roofline", result)
    result["machine"] = common.read_result("roofline")["machine"]
    print(table(result))
    print(f"wrote {chart(result)}", file=sys.stderr)
    return path


def table(result):
    """The README's roofline table (markdown)."""
    t = str(result["threads"])
    p5, p2 = result["fma_peak"]["512-bit"], result["fma_peak"]["256-bit"]
    lines = ["| ceiling | 1 core | " + f"{t} cores |", "|---|---:|---:|",
             f"| FMA peak, 512-bit vectors (numba `fma_burst`) | {p5['1']['best_gflops']:.0f} GFLOP/s | "
             f"{p5[t]['best_gflops']:.0f} GFLOP/s |",
             f"| FMA peak, 256-bit vectors | {p2['1']['best_gflops']:.0f} GFLOP/s | {p2[t]['best_gflops']:.0f} GFLOP/s |",
             f"| best OpenBLAS sgemm (of the shapes below) | {result['sgemm_best']['1']:.0f} GFLOP/s | "
             f"{result['sgemm_best'][t]:.0f} GFLOP/s |"]
    for name in result["sgemm"]["1"]:
        lines.append(f"| sgemm {name} | {result['sgemm']['1'][name]['best_gflops']:.0f} | "
                     f"{result['sgemm'][t][name]['best_gflops']:.0f} |")
    lines += ["", f"| achieved, {t} threads (direct-conv FLOPs) | GFLOP | minicnn | PyTorch |", "|---|---:|---:|---:|"]
    for name, row in result["achieved"].items():
        cells = [f"{row[b]['gflops']:.0f} GFLOP/s ({100 * row[b]['fraction_of_peak']:.0f} %)" if b in row else "–"
                 for b in ("minicnn", "torch")]
        lines.append(f"| {name} | {row['gflop']:.3f} | {cells[0]} | {cells[1]} |")
    e = result["epoch"]
    lines += ["", f"Epoch: {e['epoch_gflop']:.0f} GFLOP; floor {e['epoch_floor_s_at_fma_peak']:.1f} s at the FMA peak, "
                  f"{e['epoch_floor_s_at_best_sgemm']:.1f} s at the best sgemm rate"
              + (f"; minicnn {e['minicnn_epoch_s']:.1f} s ({e['minicnn_times_floor']:.1f}× the floor), "
                 f"PyTorch {e['torch_epoch_s']:.1f} s ({e['torch_times_floor']:.1f}×)." if "minicnn_epoch_s" in e else ".")]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
