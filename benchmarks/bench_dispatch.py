"""What handing work to minicnn's thread pool costs, and from what size two threads win.

    python -m benchmarks.bench_dispatch [--repeats 60]

1. The hand-off: ``threads.run_parallel`` of two empty chunks, and where the time goes
   when each chunk is a 0.25 ms GEMM (when each thread starts and ends its chunk).
2. The crossover: memory-bound passes (ReLU, tanh, 2x2 average and max pooling, batch
   norm) over (64, C, 28, 28) float32 for C = 1 .. 32, on one thread and split into two
   chunks whatever their size (``threads.MIN_CHUNK_VALUES`` set to 1 for the run), as
   medians of alternating rounds.  ``MIN_CHUNK_VALUES`` is chosen from this table.
Writes benchmarks/results/dispatch.json.
"""
import argparse
import statistics
import time

import numpy as np

from . import common


def _median_us(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e6 * statistics.median(times)


def handoff(repeats):
    from minicnn import threads
    threads.configure(2)
    halves = [slice(0, 64), slice(64, 128)]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((64, 3136)).astype(np.float32), rng.standard_normal((128, 3136)).astype(np.float32)
    out = np.empty((64, 128), np.float32)
    marks = {}

    def gemm(sl):
        marks[f"start{sl.start}"] = time.perf_counter()
        np.matmul(x, w[sl].T, out=out[:, sl])
        marks[f"end{sl.start}"] = time.perf_counter()
    rows = []
    for _ in range(repeats + 5):
        t0 = time.perf_counter()
        threads.run_parallel(gemm, halves)
        rows.append([1e6 * (marks[k] - t0) for k in ("start0", "end0", "start64", "end64")]
                    + [1e6 * (time.perf_counter() - t0)])
    timeline = dict(zip(("caller_start", "caller_end", "worker_start", "worker_end", "returned"),
                        np.median(np.array(rows[5:]), axis=0).round(1).tolist()))
    return {"empty_chunks_us": _median_us(lambda: threads.run_parallel(lambda sl: None, halves), repeats),
            "one_gemm_chunk_alone_us": _median_us(lambda: gemm(halves[0]), repeats),
            "two_gemm_chunks_us": timeline}


def crossover(repeats):
    from minicnn import kernels as K
    from minicnn import threads
    ops = {
        "relu": (lambda x: K.relu_forward(x), K.relu_backward),
        "tanh": (lambda x: K.tanh_forward(x), K.tanh_backward),
        "avg_pool 2x2": (lambda x: K.avg_pool2d_forward(x, 2), K.avg_pool2d_backward),
        "max_pool 2x2": (lambda x: K.max_pool2d_forward(x, 2), K.max_pool2d_backward),
        "batch_norm": (lambda x: K.batch_norm_forward(x, None, None, None, None, True, 1e-5), K.batch_norm_backward),
    }
    rng = np.random.default_rng(0)
    rows, chosen = [], threads.MIN_CHUNK_VALUES
    try:
        for chans in (1, 2, 4, 8, 16, 32):
            x = rng.standard_normal((64, chans, 28, 28)).astype(np.float32)
            samples = {}
            for rnd in range(4):
                for count in ((1, 2) if rnd % 2 == 0 else (2, 1)):
                    threads.configure(count)
                    threads.MIN_CHUNK_VALUES = 1
                    for name, (forward, backward) in ops.items():
                        out, cache = forward(x)
                        dout = rng.standard_normal(out.shape).astype(out.dtype)
                        samples.setdefault((name, count), []).append(
                            (_median_us(lambda: forward(x), repeats), _median_us(lambda: backward(dout, cache), repeats)))
            for name in ops:
                one, two = (np.median(samples[name, c], axis=0) for c in (1, 2))
                rows.append({"op": name, "values": x.size, "forward_1_thread_us": one[0], "forward_2_threads_us": two[0],
                             "backward_1_thread_us": one[1], "backward_2_threads_us": two[1]})
                print(f"{x.size:9d} {name:13s} forward {one[0]:7.1f} / {two[0]:7.1f} us   "
                      f"backward {one[1]:7.1f} / {two[1]:7.1f} us   (1 / 2 threads)", flush=True)
    finally:
        threads.MIN_CHUNK_VALUES = chosen
        threads.configure()
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=60)
    args = p.parse_args(argv)
    h = handoff(args.repeats)
    print(f"two empty chunks: {h['empty_chunks_us']:.0f} us; one GEMM chunk alone {h['one_gemm_chunk_alone_us']:.0f} us, "
          f"two in parallel: {h['two_gemm_chunks_us']}", flush=True)
    rows = crossover(args.repeats)
    from minicnn import threads
    common.write_result("dispatch", {"handoff": h, "crossover": rows, "min_chunk_values": threads.MIN_CHUNK_VALUES})


if __name__ == "__main__":
    main()
