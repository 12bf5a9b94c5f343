"""Charts, and every generated block of README.md, docs/*.md, reference/README.md and benchmarks/README.md,
from benchmarks/results/*.json.

    python -m benchmarks.report

Draws results/kernels.png (per-layer forward+backward time, both backends) and results/train.png
(epoch time, inference time, peak RSS), and rebuilds each block between ``<!-- NAME:begin -->`` and
``<!-- NAME:end -->`` in those documents with ``RENDERERS[NAME]`` (each document written atomically):
the benchmarks' tables (``bench_train``, ``bench_kernels``, ``bench_jit``, ``bench_threads``,
``bench_roofline``, ``bench_malloc``, ``bench_ab``, ``accuracy_fp32``, ``profile_layers``, the accuracy
runs of ``accuracy_seeds``), and the evidence the tests measured, as ``python -m pytest -p
benchmarks.record ...`` recorded it (``benchmarks/record.py``: torch agreement, OpInfo coverage,
gradcheck, lockstep gaps).  A block with no
renderer, or whose results file is missing, stops it with a message naming the block; the mutation-score
block stays empty until ``make mutants`` writes results/mutants.json.  A block may sit in any of the
documents; each renderer's block sits in one of them (README keeps one-line headlines, the tables live in
the docs pages).  What users read names the date and machine of a measurement, never a commit: the commit
stays in the results file.  ``tests/test_benchmarks_report.py`` checks that the documents are what this
would write.
"""
import re
import sys
from pathlib import Path

from . import common

README = Path(__file__).resolve().parent.parent / "README.md"
# The targets of the performance issue: minicnn's time (or memory) as a multiple of PyTorch's.
TARGETS = {"epoch": 0.6, "inference": 0.5, "rss": 1.0, "conv": 1.0, "conv_relu_pool": 0.8}
STRATEGIES = {
    "batch-split": "minicnn's pool, one thread per core; OpenBLAS 1 thread (the default)",
    "blas-only": "minicnn 1 thread; OpenBLAS on both cores (only the GEMMs parallel)",
    "both": "minicnn's pool and OpenBLAS both on both cores",
    "serial": "1 thread everywhere",
}


def _fmt_ratio(r, target):
    return f"{r:.2f}× ({'meets' if r <= target else 'misses'} ≤ {target}×)"


def table(kernels, train, jit):
    lines = ["| measure | minicnn | PyTorch | minicnn / PyTorch |", "|---|---:|---:|---:|"]
    if train:
        s = train["summary"]
        lines.append(f"| training epoch (938 steps, batch 64) | {s['train_s']['minicnn_median']:.1f} s | "
                     f"{s['train_s']['torch_median']:.1f} s | {_fmt_ratio(s['train_s']['ratio'], TARGETS['epoch'])} |")
        lines.append(f"| inference, 10 000 test images | {s['infer_s']['minicnn_median']:.2f} s | "
                     f"{s['infer_s']['torch_median']:.2f} s | {_fmt_ratio(s['infer_s']['ratio'], TARGETS['inference'])} |")
        lines.append(f"| peak RSS while training | {s['peak_rss_mb']['minicnn_median']:.0f} MB | "
                     f"{s['peak_rss_mb']['torch_median']:.0f} MB | {_fmt_ratio(s['peak_rss_mb']['ratio'], TARGETS['rss'])} |")
    if kernels:
        for row in kernels["rows"]:
            if row["group"] == "simplecnn" and row["kind"] in ("conv", "conv_relu_pool"):
                f, b = row["forward"], row["backward"]
                m = (f["minicnn_median_s"] + b["minicnn_median_s"]) * 1e3
                t = (f["torch_median_s"] + b["torch_median_s"]) * 1e3
                lines.append(f"| {row['name']}: forward+backward | {m:.2f} ms | {t:.2f} ms | "
                             f"{_fmt_ratio(row['fwd_bwd_ratio'], TARGETS[row['kind']])} |")
    if jit:
        c = jit["median"]["warmup_s"]
        lines.append(f"| numba JIT warm-up in a new process | {c['cached']:.2f} s cached, {c['cold']:.1f} s cold | "
                     f"– | {'meets' if c['cached'] < 3 else 'misses'} < 3 s cached |")
    machine = (train or kernels or jit or {}).get("machine", {})
    dates = sorted({r["date"] for r in (kernels, train, jit) if r})
    lines.append("")
    lines.append(f"Measured {', '.join(dates)} on {machine.get('cpu', '?')} ({machine.get('cores', '?')} cores), "
                 f"torch {machine.get('torch', '?')}, numpy {machine.get('numpy', '?')}, "
                 f"numba {machine.get('numba', '?')}, {train['threads'] if train else '?'} threads per backend; "
                 f"medians of alternating runs (`python -m benchmarks.bench_train`, `bench_kernels`, `bench_jit`).")
    return "\n".join(lines)


def threads_table(result):
    m = result["median_step_ms"]
    lines = ["| strategy | ms per training step | vs. the default |", "|---|---:|---:|"]
    lines += [f"| {label} | {m[key]:.1f} | {m[key] / m['batch-split']:.2f}× |" for key, label in STRATEGIES.items()]
    lines += ["", f"(`python -m benchmarks.bench_threads --steps {result['steps']} --repeats {result['repeats']}`, "
                  f"medians of alternating rounds, {result['date']}.)"]
    return "\n".join(lines)


def charts(kernels, train):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    paths = []
    if kernels:
        rows = [r for r in kernels["rows"] if r["group"] == "simplecnn"]
        names = [r["name"] for r in rows]
        m = [(r["forward"]["minicnn_median_s"] + r["backward"]["minicnn_median_s"]) * 1e3 for r in rows]
        t = [(r["forward"]["torch_median_s"] + r["backward"]["torch_median_s"]) * 1e3 for r in rows]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        ys = range(len(rows))
        ax.barh([y + 0.2 for y in ys], m, height=0.4, label="minicnn")
        ax.barh([y - 0.2 for y in ys], t, height=0.4, label="PyTorch")
        ax.set_yticks(list(ys), names)
        ax.invert_yaxis()
        ax.set_xlabel("forward + backward, ms (median)")
        ax.set_title(f"SimpleCNN layers, batch 64, {kernels['threads']} threads")
        ax.legend()
        fig.tight_layout()
        paths.append(save_figure(fig, "kernels.png"))
    if train:
        s = train["summary"]
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
        for ax, (key, label) in zip(axes, (("train_s", "epoch, s"), ("infer_s", "test inference, s"),
                                           ("peak_rss_mb", "peak RSS, MB"))):
            ax.bar(["minicnn", "PyTorch"], [s[key]["minicnn_median"], s[key]["torch_median"]],
                   color=["tab:blue", "tab:orange"])
            ax.set_title(f"{label}\nratio {s[key]['ratio']:.2f}")
        fig.tight_layout()
        paths.append(save_figure(fig, "train.png"))
    return paths


def save_figure(fig, name):
    import matplotlib.pyplot as plt

    from minicnn.checkpoint import atomic_write
    path = common.RESULTS / name
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    return path


def accuracy_groups():
    """Every accuracy_seeds result that records its commit, grouped by (model, dataset, epochs, flags):
    the runs of all files of a group (a later file's run replaces an earlier one's for the same
    backend and seed), the commits and the dates."""
    groups = {}
    for path in sorted(common.RESULTS.glob("accuracy*.json")):
        result = common.read_result(path.stem)
        if not result or not result.get("commit") or "runs" not in result or "model" not in result:
            continue
        key = (result["model"], result["dataset"], result["epochs"], tuple(result.get("train_flags", [])))
        g = groups.setdefault(key, {"runs": {}, "commits": set(), "dates": []})
        for run in result["runs"]:
            g["runs"][run["backend"], run["seed"]] = run
        g["commits"].add(result["commit"])
        g["dates"].append(result["date"][:10])
    return groups


def _epoch_cell(model):
    """An epoch's time on both backends from ``bench_train`` (a full epoch for simplecnn, else
    ``--steps N --model M`` scaled to 938 steps), with its ratio; None when not measured."""
    for name in ((["train"] if model == "simplecnn" else []) + [f"train_steps-{model}"]
                 + (["train_steps"] if model == "simplecnn" else [])):
        result = common.read_result(name)
        if result and result.get("model", "simplecnn") == model:
            s = result["summary"]["step_ms"]
            return (f"{s['minicnn_median'] * 0.938:.1f} s / {s['torch_median'] * 0.938:.1f} s = "
                    f"**{s['ratio']:.2f}×**")
    return None


def accuracy_table(groups, dataset):
    """One row per (model, epochs, flags) on ``dataset``: each backend's accuracies and mean, the
    difference of the means and the command; on MNIST, also an epoch's time (``bench_train``)."""
    import statistics
    timed = dataset == "mnist"
    lines = ["| `--model` | settings | minicnn: test accuracy per seed (mean) | PyTorch (mean) | difference |"
             + (" epoch, minicnn / PyTorch |" if timed else "") + " command |",
             "|---|---|---|---|---:|" + ("---:|" if timed else "") + "---|"]
    order = ["simplecnn", "simplecnn-bn", "lenet5", "resnet-mini"]
    keys = sorted((k for k in groups if k[1] == dataset),
                  key=lambda k: (order.index(k[0]) if k[0] in order else len(order), k[2], k[3]))
    dates, seen = set(), set()
    for model, _, epochs, flags in keys:
        g = groups[model, dataset, epochs, flags]
        dates |= set(g["dates"])
        cells, means = [], {}
        for backend in ("minicnn", "torch"):
            runs = sorted((r for (b, _), r in g["runs"].items() if b == backend), key=lambda r: r["seed"])
            if not runs:
                cells.append("not run")
                continue
            accs = [r["test_accuracy"] for r in runs]
            means[backend] = statistics.mean(accs)
            per_seed = ", ".join(f"{a:.2f}" for a in accs)
            cells.append(f"{per_seed} (**{means[backend]:.2f} %**)" if len(accs) > 1 else f"**{accs[0]:.2f} %**")
        diff = f"{means['minicnn'] - means['torch']:+.2f}" if len(means) == 2 else "–"
        seeds = sorted({seed for _, seed in g["runs"]})
        backends = sorted({b for b, _ in g["runs"]})
        cmd = (f"`python -m benchmarks.accuracy_seeds --model {model}"
               + ("" if dataset == "mnist" else f" --dataset {dataset}") + f" --epochs {epochs}"
               + f" --seeds {' '.join(map(str, seeds))}"
               + ("" if len(backends) == 2 else f" --backends {' '.join(backends)}")
               + (f" -- {' '.join(flags)}" if flags else "") + "`")
        settings = f"{epochs} epochs" + (f", `{' '.join(flags)}`" if flags else "")
        first = model not in seen
        seen.add(model)
        epoch = (f" {(_epoch_cell(model) or 'not measured') if first else '(as above)'} |" if timed else "")
        lines.append(f"| `{model}` | {settings} | {cells[0]} | {cells[1]} | {diff} |{epoch} {cmd} |")
    lines.append("")
    lines.append(f"Accuracies recorded {', '.join(sorted(dates))}.")
    if timed:
        lines.append("Epoch times: `python -m benchmarks.bench_train --model M --steps 200` (simplecnn: a full "
                     "epoch), medians of alternating runs in fresh processes on both cores, scaled to 938 steps.")
    return "\n".join(lines)


# --------------------------------------------------------------------------- the evidence blocks
# What the evidence tests measured, as ``python -m pytest -p benchmarks.record ...`` recorded it
# (benchmarks/record.py): results/agreement.json, opinfo.json, gradcheck.json, lockstep.json,
# models_lockstep.json, optim_lockstep.json.  Every renderer returns None when its results are missing.

RECORD = "python -m pytest -q -p benchmarks.record"
TUTORIAL = {  # printed by the PyTorch MNIST tutorial this project follows (its own run, quoted)
    "losses": [0.2325, 0.0526, 0.0366, 0.0273, 0.0221], "test_accuracy": 98.96}
# (layer keys of the agreement tests, shown as one row): README's per-layer table
AGREEMENT_ROWS = [
    ("`Conv2d` (stride, padding) / with dilation, groups, padding modes", ["Conv2d", "Conv2d (all args)"]),
    ("`MaxPool2d` (also dilation, ceil_mode, indices), `MaxUnpool2d`, `ReLU`, `LeakyReLU`, `Flatten`",
     ["MaxPool2d", "MaxPool2d (all args)", "MaxUnpool2d", "ReLU", "LeakyReLU", "LeakyReLU(0.3)", "Flatten"]),
    ("`AvgPool2d` / `AdaptiveAvgPool2d`", ["AvgPool2d", "AdaptiveAvgPool2d"]),
    ("`BatchNorm2d` / `BatchNorm1d` (train and eval, affine or not; running estimates checked too)",
     ["BatchNorm2d", "BatchNorm1d"]),
    ("`BatchNormReLU2d` (against torch's `relu(batch_norm(x))`)", ["BatchNormReLU2d"]),
    ("`LocalResponseNorm`", ["LocalResponseNorm"]),
    ("`Dropout` / `Dropout2d` (torch given minicnn's mask)", ["Dropout", "Dropout2d"]),
    ("`Linear` / on `(*, in)`", ["Linear", "Linear (*, in)"]),
    ("`Sigmoid` / `Tanh` / `Softmax` / `LogSoftmax`", ["Sigmoid", "Tanh", "Softmax", "LogSoftmax"]),
    ("`CrossEntropyLoss` / with every argument", ["CrossEntropyLoss", "CrossEntropyLoss (all args)"]),
    ("`NLLLoss` / `MSELoss` / `BCEWithLogitsLoss`", ["NLLLoss", "MSELoss", "BCEWithLogitsLoss"]),
]


def _e(value):
    return "0" if value == 0 else f"{value:.1e}".replace("e-0", "e-").replace("e+0", "e+")


def _b(bound):
    """A tolerance as the tests write it: 1e-10, 1e-4."""
    return f"{bound:.0e}".replace("e-0", "e-").replace("e+0", "e+")


def _stamp(*results):
    """'recorded YYYY-MM-DD' of the results (each date once; '(uncommitted code)' where a result says
    ``+dirty``); the commit itself stays in the results file."""
    seen = []
    for r in results:
        s = r["date"][:10] + (" (uncommitted code)" if str(r.get("commit") or "").endswith("+dirty") else "")
        if s not in seen:
            seen.append(s)
    return "recorded " + ", ".join(seen)


def _source(result):
    return result["source"]


def _record_command(*results):
    env = {k: v for r in results if "draws" in r for k, v in r.get("env", {}).items()}
    sources = list(dict.fromkeys(_source(r) for r in results))
    return (" ".join(f"{k}={v}" for k, v in sorted(env.items())) + (" " if env else "")
            + RECORD + " " + " ".join(sources))


# the results files of the agreement tests (one: every layer's tests are in tests/test_agreement.py)
AGREEMENT_FILES = ("agreement",)


def _agreement():
    """(results, {(layer, dtype): worst}, tolerance) of the agreement results, or None without
    results/agreement.json.  A layer's row comes from the first file in AGREEMENT_FILES that has it."""
    if common.read_result(AGREEMENT_FILES[0]) is None:
        return None
    results = [r for r in (common.read_result(n) for n in AGREEMENT_FILES) if r]
    worst, used = {}, []
    for r in results:
        rows = {(layer, dtype): value for layer, dtype, value in r["rows"] if (layer, dtype) not in worst}
        if rows:
            worst.update(rows)
            used.append(r)
    tolerance = {k: v for r in used for k, v in r.get("tolerance", {}).items()}
    return used, worst, tolerance


def _cell(worst, keys, dtype):
    values = [worst[k, dtype] for k in keys if (k, dtype) in worst]
    if not values:
        return "–"
    if not any(values):
        return "0 (bit-identical)"
    return " / ".join(_e(v) for v in values)


def agreement_table():
    found = _agreement()
    if found is None:
        return None
    results, worst, tolerance = found
    layers = sorted({layer for layer, _ in worst})
    grouped = {k for _, keys in AGREEMENT_ROWS for k in keys}
    rows = AGREEMENT_ROWS + [(f"`{k}`", [k]) for k in layers if k not in grouped]
    draws = sorted({r.get("draws") for r in results})
    lines = [f"Worst relative error per layer and dtype over {' / '.join(map(str, draws))} hypothesis-drawn shapes "
             f"and arguments per test (error = max\\|minicnn − torch\\| / max\\|torch\\| per tensor, forward and every "
             f"gradient; bounds {_b(tolerance['float64'])} and {_b(tolerance['float32'])}, asserted): "
             f"`{_record_command(*results)}`, {_stamp(*results)}. The draws are derandomized (the same on every "
             "run of this code with the pinned hypothesis); `HYPOTHESIS_PROFILE=random` draws others, with other "
             "worst cases.", "",
             "| layer / loss | float64 | float32 |", "|---|---:|---:|"]
    lines += [f"| {label} | {_cell(worst, keys, 'float64')} | {_cell(worst, keys, 'float32')} |"
              for label, keys in rows if any((k, d) in worst for k in keys for d in ("float64", "float32"))]
    return "\n".join(lines)


def agreement_output():
    """The agreement tests' printed table (every layer, one table), for docs/correctness.md."""
    found = _agreement()
    if found is None:
        return None
    results, worst, tolerance = found
    lines = [f"$ {_record_command(*results).replace(' -p benchmarks.record', ' -s')}",
             "worst relative error vs torch (forward and all gradients):"]
    width = max(len(layer) for layer, _ in worst)
    lines += [f"  {layer:<{width}}  {dtype:<8} {value:.2e}   (tolerance {tolerance[dtype]:g})"
              for (layer, dtype), value in sorted(worst.items())]
    text = "```console\n" + "\n".join(lines) + "\n```\n\n"
    for dtype in ("float64", "float32"):
        (layer, value) = max(((k[0], v) for k, v in worst.items() if k[1] == dtype), key=lambda kv: kv[1])
        text += (f"{'W' if dtype == 'float64' else 'w'}orst {dtype}: **{_e(value)}** ({layer}; tolerance "
                 f"{_b(tolerance[dtype])}){'; ' if dtype == 'float64' else '. '}")
    exact = sorted({k[0] for k in worst} - {k[0] for k, v in worst.items() if v})
    text += f"Bit-identical to torch in both dtypes: {', '.join(exact)}. ({results[0]['draws']} draws per test and " \
            f"dtype; {_stamp(*results)}.)"
    return text


def opinfo_table():
    r = common.read_result("opinfo")
    if r is None:
        return None
    lines = ["| op | samples accepted / total |", "|---|---|"]
    for name, (accepted, total, _refusals) in sorted(r["data"].items()):
        lines.append(f"| `{name.rsplit('.', 1)[-1]}` | {accepted} / {total} |")
    refused = [f"`{name.rsplit('.', 1)[-1]}` {total - accepted}" for name, (accepted, total, _) in
               sorted(r["data"].items()) if accepted < total]
    lines += ["", f"`{_record_command(r)}`, {_stamp(r)}; `tests/test_opinfo.py` asserts each op's sample count, "
                  "that no answer is wrong, and that the only refusals are the ones it lists with their reasons "
                  f"(`REFUSED`: {', '.join(refused) or 'none'})."]
    return "\n".join(lines)


def _opinfo_summary(r):
    accepted = sum(v[0] for v in r["data"].values())
    total = sum(v[1] for v in r["data"].values())
    return accepted, total


def optim_lockstep():
    r = common.read_result("optim_lockstep")
    if r is None:
        return None
    cells = ", ".join(f"{name} {_e(value)}" for name, value in r["rows"])
    return (f"Measured worst relative weight gap of the float64 lockstep runs (bound 1e-9, asserted): {cells} "
            f"(`{_record_command(r)}`, {_stamp(r)}).")


def _gradcheck_worst(r):
    rows = r["data"]["rows"]
    worst = max(rows, key=lambda row: row["error"])
    return rows, worst


def gradcheck_output():
    r = common.read_result("gradcheck")
    if r is None:
        return None
    rows, worst = _gradcheck_worst(r)
    threshold = r["data"]["threshold"]
    return (f"```console\n$ {r['data']['command']}\n{r['data']['output']}\n```\n\n"
            f"Worst: **{_e(worst['error'])}** ({worst['layer']} {worst['param']}), {threshold / worst['error']:.0f} "
            f"times below the threshold ({len(rows)} tensors; recorded by `{_record_command(r)}`, {_stamp(r)}; "
            "the test asserts every row passes and the worst is below 1e-7).")


def _lockstep_line(title, numbers):
    return f"{title}: " + ", ".join(f"{k} {v:.3g}" for k, v in numbers.items())


def lockstep_output():
    r = common.read_result("lockstep")
    if r is None:
        return None
    d = r["data"]
    f64 = d["float64 lockstep, 200 steps"]
    ours, theirs = d["float32 minicnn vs float64"], d["float32 torch vs float64"]
    lines = [_lockstep_line(t, d[t]) for t in ("float64 lockstep, 200 steps", "float32 minicnn vs float64",
                                                 "float32 torch vs float64")]
    return ("```console\n$ python -m pytest -q -s tests/test_lockstep.py\n" + "\n".join(lines)
            + "\n```\n\n"
            f"* **float64**: every step's loss agrees to **{_e(f64['max_loss_diff'])}** and every weight after 200 "
            f"steps to **{_e(f64['max_weight_diff'])}** (the test demands 1e-9).\n"
            f"* **float32**, against the shared float64 trajectory: after 10 steps minicnn's weights are "
            f"**{_e(ours['max_weight_diff_after_10'])}** from float64, torch's **{_e(theirs['max_weight_diff_after_10'])}**; "
            f"after 50 steps {_e(ours['max_weight_diff_after_50'])} and {_e(theirs['max_weight_diff_after_50'])}, after "
            f"200 {_e(ours['max_weight_diff_after_200'])} and {_e(theirs['max_weight_diff_after_200'])}.\n\n"
            f"(`{_record_command(r)}`, {_stamp(r)}.)")


def interchange_output():
    r = common.read_result("lockstep")
    if r is None:
        return None
    d = r["data"]
    lines = [_lockstep_line(f"interchange, trained by {b}", d[f"interchange, trained by {b}"])
             for b in ("minicnn", "torch")]
    same = min(d[f"interchange, trained by {b}"]["identical_argmax_percent"] for b in ("minicnn", "torch"))
    gap = max(d[f"interchange, trained by {b}"]["max_logit_diff"] for b in ("minicnn", "torch"))
    return ("```text\n" + "\n".join(lines) + "\n```\n\n"
            f"**{same:.3g} %** identical argmax (the test demands ≥ 99.9 %), max |Δlogit| **{_e(gap)}** (≤ 1e-4 "
            f"demanded); `{_record_command(r)}`, {_stamp(r)}.")


def right_table():
    """docs/correctness.md's summary table, from every evidence results file."""
    grad, opinfo, lock, models = (common.read_result(n) for n in ("gradcheck", "opinfo", "lockstep",
                                                                   "models_lockstep"))
    found = _agreement()
    if not (grad and opinfo and lock and models and found):
        return None
    rows, worst = _gradcheck_worst(grad)
    results, agree, tolerance = found
    w64 = max(((k[0], v) for k, v in agree.items() if k[1] == "float64"), key=lambda kv: kv[1])
    w32 = max(((k[0], v) for k, v in agree.items() if k[1] == "float32"), key=lambda kv: kv[1])
    exact = sorted({k[0] for k in agree} - {k[0] for k, v in agree.items() if v})
    accepted, total = _opinfo_summary(opinfo)
    d = lock["data"]
    f64, ours, theirs = (d["float64 lockstep, 200 steps"], d["float32 minicnn vs float64"],
                         d["float32 torch vs float64"])
    m = models["data"]
    inter = [d[f"interchange, trained by {b}"] for b in ("minicnn", "torch")]
    functional = sum(name.startswith("nn.functional.") for name in opinfo["data"])
    lines = [
        "| evidence | command | result |", "|---|---|---|",
        f"| every backward pass against float64 central differences (every layer type, batch norm in train mode at "
        f"batch 2 and 3, every loss, SimpleCNN, LeNet-5, a residual block; threshold {_b(grad['data']['threshold'])}) | "
        f"`minicnn gradcheck` | {len(rows)} tensors, all pass; worst **{_e(worst['error'])}** ({worst['layer']} "
        f"{worst['param']}) |",
        f"| every layer, loss and functional op against `torch.nn.functional` on hypothesis-drawn shapes and "
        f"arguments, forward and every gradient | `{_record_command(*results)}` | worst **{_e(w64[1])}** in float64 "
        f"({w64[0]}; bound {_b(tolerance['float64'])}), **{_e(w32[1])}** in float32 ({w32[0]}; bound "
        f"{_b(tolerance['float32'])}; per layer below); {', '.join(exact)} "
        f"bit-identical |",
        f"| PyTorch's own OpInfo sample inputs (float64) for every op minicnn has that has an OpInfo: "
        f"{functional} of `torch.nn.functional` and {len(opinfo['data']) - functional} tensor ops and factories "
        f"([the table](#pytorchs-own-test-inputs)) | `{_record_command(opinfo)}` | {accepted} of "
        f"{total} samples accepted, every forward and gradient within 1e-10 |",
        "| the engine on graphs a Sequential cannot express (reused layers, two forwards in one loss, residual "
        "blocks, `cat`, tensor arithmetic), float64 | `python -m pytest -q tests/test_engine.py` | every gradient "
        "within 1e-10 of torch's autograd (asserted) |",
        f"| lockstep: identical initial weights, the same 200 MNIST batches, SGD(0.01, 0.9); and 50 steps for every "
        f"other model (batch norm in train mode) | `{_record_command(lock, models)}` | SimpleCNN float64: every loss "
        f"within **{_e(f64['max_loss_diff'])}**, every weight within **{_e(f64['max_weight_diff'])}** after 200 steps "
        f"(bound 1e-9); the other models: every loss within {_e(max(v['max_loss_diff'] for v in m.values()))}, every "
        f"weight and buffer within {_e(max(v['max_weight_diff'] for v in m.values()))} (bound 1e-9); float32, "
        f"measured against that float64 trajectory: minicnn **{_e(ours['max_weight_diff_after_10'])}** after 10 "
        f"steps, torch (oneDNN) **{_e(theirs['max_weight_diff_after_10'])}** |",
        f"| interchange: a checkpoint trained by one backend, predicted by both on the 10 000 test images | "
        f"`{_record_command(lock)}` | **{min(i['identical_argmax_percent'] for i in inter):.3g} %** identical "
        f"argmax, max \\|Δlogit\\| **{_e(max(i['max_logit_diff'] for i in inter))}** (bounds ≥ 99.9 %, ≤ 1e-4) |",
        "", f"{_stamp(grad, *results, opinfo, lock, models).capitalize()}; the machines: "
            "[where each number comes from](#where-each-number-comes-from)."]
    return "\n".join(lines)


EVIDENCE = ["gradcheck", "agreement", "opinfo", "lockstep", "models_lockstep", "optim_lockstep", "accuracy"]


def sources_table():
    """Where each evidence number comes from: results file, the command that writes it, date, machine."""
    lines = ["| results file | written by | recorded | machine |", "|---|---|---|---|"]
    for name in EVIDENCE:
        found = _agreement() if name == "agreement" else None
        group = found[0] if found else [r for r in [common.read_result(name)] if r]
        if not group:
            continue
        m = group[0].get("machine", {})
        command = (_record_command(*group) if "source" in group[0] else
                   "python -m benchmarks.accuracy_seeds --model simplecnn --epochs 5 --seeds 0")
        files = f"`benchmarks/results/{name}{'*' if len(group) > 1 else ''}.json`"
        lines.append(f"| {files} | `{command}` | {_stamp(*group)[len('recorded '):]} | {m.get('cpu', '?')} "
                     f"({m.get('cores', '?')} cores), numpy {m.get('numpy', '?')}, numba {m.get('numba', '?')}, "
                     f"torch {m.get('torch', '?')} |")
    return "\n".join(lines) if len(lines) > 2 else None


def _tutorial_run():
    """The seed-0 SimpleCNN run of both backends at the tutorial's settings (results/accuracy.json)."""
    r = common.read_result("accuracy")
    if not r or r.get("model") != "simplecnn" or r.get("epochs") != 5 or r.get("train_flags"):
        return None
    runs = {run["backend"]: run for run in r["runs"] if run["seed"] == 0}
    return (r, runs) if {"minicnn", "torch"} <= set(runs) else None


def tutorial_table():
    found = _tutorial_run()
    if found is None:
        return None
    r, runs = found
    ours, theirs = runs["minicnn"], runs["torch"]
    lines = ["| | minicnn | PyTorch reference | the tutorial |", "|---|---|---|---|"]
    for e, (a, b, c) in enumerate(zip(ours["losses"], theirs["losses"], TUTORIAL["losses"]), 1):
        lines.append(f"| `Epoch [{e}/5], Loss:` | {a:.4f} | {b:.4f} | {c:.4f} |")
    lines.append(f"| `Test Accuracy:` | **{ours['test_accuracy']:.2f}%** | {theirs['test_accuracy']:.2f}% | "
                 f"{TUTORIAL['test_accuracy']:.2f}% |")
    lines += ["", f"(`python -m benchmarks.accuracy_seeds --model simplecnn --epochs 5 --seeds 0`, which runs "
                  f"`minicnn train --seed 0` and `minicnn train --backend torch --seed 0`; {_stamp(r)}; the "
                  "tutorial's column is its own published run.)"]
    return "\n".join(lines)


def _mutants():
    """(caught, total) from results/mutants.json (``make mutants``), or None while there is none."""
    r = common.read_result("mutants")
    if r is None:
        return None
    caught = r.get("caught", r.get("killed"))
    total = r.get("total", r.get("planted"))
    mutants = r.get("mutants")
    if isinstance(mutants, list):
        total = len(mutants) if total is None else total
        if caught is None:
            caught = sum(bool(m.get("caught", m.get("killed"))) for m in mutants if isinstance(m, dict))
    elif isinstance(mutants, int) and total is None:
        total = mutants
    if caught is None or total is None:
        raise SystemExit("report: results/mutants.json has no caught/total counts")
    return caught, total


def headlines():
    """README's headline figures, one line each, each linking to the page that has the detail (and the
    table it comes from)."""
    grad, lock, train = (common.read_result(n) for n in ("gradcheck", "lockstep", "train"))
    found, tutorial = _agreement(), _tutorial_run()
    if not (grad and lock and train and found and tutorial):
        return None
    results, agree, _ = found
    w64 = max(v for k, v in agree.items() if k[1] == "float64")
    w32 = max(v for k, v in agree.items() if k[1] == "float32")
    rows, worst = _gradcheck_worst(grad)
    f64 = lock["data"]["float64 lockstep, 200 steps"]
    r, runs = tutorial
    acc = r.get("machine", {})
    s, m = train["summary"], train.get("machine", {})
    lines = [
        f"- **Agrees with PyTorch**: every layer, loss and functional op, forward and every gradient, on "
        f"{results[0]['draws']} drawn shapes per test: worst relative error {_e(w64)} in float64, {_e(w32)} in "
        "float32 ([correctness](docs/correctness.md#every-layer-against-torch-on-drawn-shapes)).",
        f"- **Gradients checked by central differences**: {len(rows)} tensors of every layer, loss and model, "
        f"worst relative error {_e(worst['error'])} (threshold {_b(grad['data']['threshold'])}) "
        "([correctness](docs/correctness.md#every-backward-pass-against-central-differences)).",
        f"- **Trains in lockstep with PyTorch**: SimpleCNN from identical weights, the same 200 MNIST batches, "
        f"float64: every weight within {_e(f64['max_weight_diff'])} after 200 steps "
        "([correctness](docs/correctness.md#the-whole-network-step-by-step-lockstep)).",
    ]
    caught = _mutants()
    if caught:
        lines.append(f"- **Wrong backward passes get caught**: {caught[0]} of {caught[1]} planted mistakes fail a "
                     "test ([testing](docs/testing.md#planted-mistakes-mutation-testing)).")
    lines += [
        f"- **The tutorial's result**: `make train` ends at {runs['minicnn']['test_accuracy']:.2f} % test accuracy "
        f"after 5 epochs, the PyTorch reference on the same batches at {runs['torch']['test_accuracy']:.2f} % "
        f"(seed 0, {acc.get('cpu', '?')}, {acc.get('cores', '?')} cores; another CPU or thread count changes the "
        "last digits) ([training](docs/training.md#the-tutorials-run-on-both-backends)).",
        f"- **Speed**: a SimpleCNN training epoch (its fused blocks, as `minicnn train` runs it) in {s['train_s']['minicnn_median']:.1f} s against PyTorch's "
        f"{s['train_s']['torch_median']:.1f} s ({s['train_s']['ratio']:.2f}×), inference "
        f"{s['infer_s']['ratio']:.2f}×, on {m.get('cpu', '?')} ({m.get('cores', '?')} cores), {train['threads']} "
        "threads each; on other CPUs the ratios move ([performance](docs/performance.md)).",
    ]
    return "\n".join(lines)


def malloc_table():
    """bench_malloc's step time and page faults per step, with minicnn's malloc setting and glibc's."""
    r = next((common.read_result(p.stem) for p in sorted(common.RESULTS.glob("malloc-*.json"))), None)
    if r is None:
        return None
    s = r["summary"]
    lines = ["| backend, malloc | ms per step | page faults per step | system time, ms per step |",
             "|---|---:|---:|---:|"]
    for backend in ("minicnn", "torch"):
        for setting, label in (("tuned", "minicnn's setting"), ("default", "glibc's default")):
            row = s[f"{backend} {setting}"]
            lines.append(f"| {'PyTorch' if backend == 'torch' else backend}, {label} | {row['step_ms']:.2f} | "
                         f"{row['page_faults_per_step']:.0f} | {row['system_ms_per_step']:.2f} |")
    m = r.get("machine", {})
    lines += ["", f"(`python -m benchmarks.bench_malloc --model {r['model']}`, {r['steps']} steps, median of "
                  f"{r['repeats']} fresh processes per row, {r['threads']} threads, {m.get('cpu', '?')} "
                  f"({m.get('cores', '?')} cores); {_stamp(r)}.)"]
    return "\n".join(lines)


def engine_cost():
    """bench_ab's training step before and after the reverse-mode engine (results/ab-engine.json)."""
    r = common.read_result("ab-engine")
    if r is None:
        return None
    m = r.get("machine", {})
    return (f"A SimpleCNN training step took {r['base_median_ms']:.1f} ms on the last revision before the engine "
            f"and {r['head_median_ms']:.1f} ms with it (head / base {r['ratio_head_over_base']:.2f}; "
            f"`python -m benchmarks.bench_ab --base REV --head REV`, {r['steps']} steps, medians of "
            f"{len(r['samples_s']['base'])} alternating rounds, {r['threads']} threads, {m.get('cpu', '?')}; "
            f"{_stamp(r)}).")


def mutants_line():
    """One line from results/mutants.json (``make mutants``); '' while there is none."""
    found = _mutants()
    if found is None:
        return ""
    return (f"Mutation score: caught {found[0]} of {found[1]} planted wrong backwards (`make mutants`, "
            f"{_stamp(common.read_result('mutants'))}).")


def profile_table():
    r = common.read_result("profile")
    if r is None:
        return None
    m, t = r["minicnn_s"], r["torch_self_cpu_s"]
    lines = ["| minicnn, per step | ms |", "|---|---:|"]
    lines += [f"| {k} | {v * 1e3:.2f} |" for k, v in m.items() if k != "total"]
    lines.append(f"| **total** | **{m['total'] * 1e3:.2f}** |")
    lines += ["", "| torch, self CPU time per step (top operators) | ms |", "|---|---:|"]
    top = sorted(t.items(), key=lambda kv: -kv[1])
    lines += [f"| `{k}` | {v * 1e3:.2f} |" for k, v in top[:8]]
    lines.append(f"| **total (all operators)** | **{sum(t.values()) * 1e3:.2f}** |")
    lines += ["", f"(`python -m benchmarks.profile_layers`, {r.get('model', 'simplecnn')}, {r['threads']} threads each, "
                  f"batch 64, median of {r['steps']} steps; {_stamp(r)}.)"]
    return "\n".join(lines)


# issue-set targets per model: training step and inference, minicnn / torch
STEP_TARGETS = {"simplecnn": 0.6}
STEP_TARGET, INFERENCE_TARGET = 1.0, 0.7
PEAK_SHARE_TARGET = 0.4   # SimpleCNN's whole step, as a share of the FMA peak


def _spread(cell):
    """'0.74× (0.71–0.78)': a ratio's median with the min and max of its rounds (when recorded)."""
    span = cell.get("ratio_range")
    return f"{cell['ratio']:.2f}×" + (f" ({span[0]:.2f}–{span[1]:.2f})" if span else "")


def _floor_ms(result, peak):
    """A bench_train result's floor: its step's conv and linear FLOPs at the FMA peak, in ms (None when
    either is not recorded)."""
    return result["step_flops"] / peak / 1e6 if peak and result.get("step_flops") else None


def _from_floor(ms, floor_ms):
    """'3.0× (33 %)': a step's time over its floor, and the share of the peak that is."""
    return f"{ms / floor_ms:.1f}× ({100 * floor_ms / ms:.0f} %)"


def _model_steps():
    """{model: its bench_train --steps result} for every registered model, or None if one is missing."""
    from minicnn.models import MODELS
    results = {m: common.read_result("train_steps" if m == "simplecnn" else f"train_steps-{m}") for m in MODELS}
    return None if None in results.values() else results


def targets_table():
    """Where each speed target stands, from the results the tables below it render: every model's step and
    inference (``bench_train --steps``), every conv layer bare (``bench_kernels --models``) and SimpleCNN's
    share of the FMA peak (``bench_roofline``)."""
    steps, kernels, roofline = _model_steps(), common.read_result("kernels_models"), common.read_result("roofline")
    if steps is None or kernels is None or roofline is None:
        return None

    def status(met, of):
        return "met" if met == of else ("missed" if met == 0 else f"met by {met} of {of}")

    def ratios(models, key):
        return ", ".join(f"{m} {steps[m]['summary'][key]['ratio']:.2f}×" for m in models)

    simple = steps["simplecnn"]["summary"]["step_ms"]
    others = [m for m in steps if m != "simplecnn"]
    rows = [(f"SimpleCNN's training step ≤ {STEP_TARGETS['simplecnn']}× PyTorch's", _spread(simple),
             status(simple["ratio"] <= STEP_TARGETS["simplecnn"], 1)),
            (f"every other model's step ≤ {STEP_TARGET}× PyTorch's", ratios(others, "step_ms"),
             status(sum(steps[m]["summary"]["step_ms"]["ratio"] <= STEP_TARGET for m in others), len(others))),
            (f"inference ≤ {INFERENCE_TARGET}× PyTorch's, every model", ratios(steps, "infer_s"),
             status(sum(steps[m]["summary"]["infer_s"]["ratio"] <= INFERENCE_TARGET for m in steps), len(steps)))]
    ratio = {", ".join(row["layers"]): row["fwd_bwd_ratio"] for row in kernels["rows"]}
    met = [n for n in ratio if ratio[n] <= TARGETS["conv"]]
    missed = [ratio[n] for n in ratio if ratio[n] > TARGETS["conv"]]
    rows.append((f"every conv layer of the four models, bare, forward + backward ≤ {TARGETS['conv']}× PyTorch's",
                 "; ".join(([", ".join(f"{n} {ratio[n]:.2f}×" for n in met)] if met else [])
                           + ([f"the other {len(missed)} of {len(ratio)} distinct layers {min(missed):.2f}× to {max(missed):.2f}×"] if missed else [])),
                 status(len(met), len(ratio))))
    share = roofline["achieved"]["training step (batch 64)"]
    rows.append((f"SimpleCNN's whole step ≥ {100 * PEAK_SHARE_TARGET:.0f} % of the FMA peak",
                 f"{100 * share['minicnn']['fraction_of_peak']:.0f} % (PyTorch "
                 f"{100 * share['torch']['fraction_of_peak']:.0f} %)",
                 status(share["minicnn"]["fraction_of_peak"] >= PEAK_SHARE_TARGET, 1)))
    floors = {m: _floor_ms(r, kernels.get("fma_peak_gflops")) for m, r in steps.items()}
    rows.append(("each model's step against its floor (no target: how far it is)",
                 ", ".join(f"{m} {_from_floor(steps[m]['summary']['step_ms']['minicnn_median'], floor)}"
                           for m, floor in floors.items() if floor), "–"))
    machines = sorted({r["machine"].get("cpu", "?") for r in (*steps.values(), kernels, roofline)})
    spans = " or ".join(sorted({f"--steps {r['steps']} --repeats {r['repeats']}" for r in steps.values()}))
    return "\n".join(["| target | where it stands | |", "|---|---|---|",
                      *(f"| {what} | {where} | {verdict} |" for what, where, verdict in rows), "",
                      f"(Medians of the alternating rounds of the tables below: `bench_train --model M {spans}`, "
                      f"`bench_kernels --models`, `bench_roofline`; {', '.join(machines)}, "
                      f"{_stamp(*steps.values(), kernels, roofline)}.)"])


def models_speed_table():
    """Every registered model's training step and inference against PyTorch, each with its target, the
    spread of the rounds and the control (minicnn against itself), from ``bench_train --steps``; and each
    step's distance from its floor, the step's conv and linear FLOPs at the FMA peak ``bench_kernels
    --models`` measured."""
    steps, kernels = _model_steps(), common.read_result("kernels_models")
    if steps is None:
        return None
    peak = kernels.get("fma_peak_gflops") if kernels else None
    rows = []
    for model, r in steps.items():
        s = r["summary"]
        control = s["step_ms"].get("control_range")
        target = STEP_TARGETS.get(model, STEP_TARGET)
        floor_ms = _floor_ms(r, peak)
        if floor_ms:
            floor = (f"| {r['step_flops'] / 1e9:.2f} | {floor_ms:.2f} | "
                     + " | ".join(_from_floor(s["step_ms"][f"{b}_median"], floor_ms) for b in ("minicnn", "torch"))
                     + " ")
        else:
            floor = "| – | – | – | – "
        rows.append(f"| {model} | {s['step_ms']['minicnn_median']:.1f} | {s['step_ms']['torch_median']:.1f} "
                    f"| {_spread(s['step_ms'])} | ≤ {target}× {'met' if s['step_ms']['ratio'] <= target else 'missed'} "
                    f"| {_spread(s['infer_s'])} | ≤ {INFERENCE_TARGET}× "
                    f"{'met' if s['infer_s']['ratio'] <= INFERENCE_TARGET else 'missed'} "
                    f"| {f'{control[0]:.2f}–{control[1]:.2f}' if control else '—'} "
                    f"{floor}| {r['repeats']} × {r['steps']} steps, {_stamp(r)}, {r['machine'].get('cpu', '?')} |")
    return "\n".join(["| model | minicnn ms/step | torch ms/step | step minicnn / torch, median (min–max) "
                      "| step target | inference minicnn / torch | inference target | control: minicnn / minicnn "
                      "| step GFLOP | floor, ms | minicnn: × floor (% of peak) | torch: × floor (% of peak) "
                      "| rounds |", "|---|---:|---:|---:|---|---:|---|---:|---:|---:|---:|---:|---|", *rows,
                      "", "(`python -m benchmarks.bench_train --model M --steps N --repeats R`: each backend in its "
                          "own worker process, rounds alternating the order, batch 64, 2 threads each; the control "
                          "is each round's minicnn run over the next round's. The floor is the step's conv and "
                          "linear multiply-adds (forward, weight and input gradients, counted as the direct sums "
                          "count them) at this machine's 512-bit FMA peak"
                          + (f", {peak:.0f} GFLOP/s on 2 threads (`bench_kernels --models`)" if peak else "")
                          + "; normalisation, pooling and activations add memory traffic it does not count.)"])


def conv_layers_table():
    """Every conv layer of the registered models, bare: algorithm, fwd+bwd ms, GFLOP/s and share of the FMA
    peak of both backends (``bench_kernels --models``, results/kernels_models.json)."""
    r = common.read_result("kernels_models")
    if r is None:
        return None
    lines = ["| conv layer (batch 64) | where | minicnn algorithm | minicnn fwd+bwd ms | torch fwd+bwd ms "
             "| minicnn / torch, median (min–max of rounds) | minicnn GFLOP/s (% of peak) | torch GFLOP/s (% of peak) |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for row in r["rows"]:
        ms = {b: (row["forward"][f"{b}_median_s"] + row["backward"][f"{b}_median_s"]) * 1e3
              for b in ("minicnn", "torch")}
        flops = sum(row["flops"])
        rate = {b: flops / ms[b] / 1e6 for b in ms}
        where = ", ".join(row["layers"])
        lines.append(f"| {row['name']} | {where} | {row['algorithm']} | {ms['minicnn']:.2f} | {ms['torch']:.2f} "
                     f"| {row['fwd_bwd_ratio']:.2f}× ({row['fwd_bwd_ratio_range'][0]:.2f}–{row['fwd_bwd_ratio_range'][1]:.2f}) | "
                     + " | ".join(f"{rate[b]:.0f} ({100 * rate[b] / r['fma_peak_gflops']:.0f} %)" for b in ms) + " |")
    lines += ["", f"(`python -m benchmarks.bench_kernels --models`: {r['threads']} threads each, medians of "
                  f"{r['rounds']} alternating worker rounds x {r['repeats']} calls, the target ≤ {TARGETS['conv']}×; GFLOP/s count the direct sum's "
                  f"multiply-adds (forward, dweight and dx), the peak is this machine's 512-bit FMA rate on "
                  f"{r['threads']} threads, {r['fma_peak_gflops']:.0f} GFLOP/s; {r['machine'].get('cpu', '?')}; "
                  f"{_stamp(r)}.)"]
    return "\n".join(lines)


def layers_table():
    """The layers torch's models add, fwd+bwd against torch (``bench_kernels --layers``,
    results/kernels_layers.json)."""
    r = common.read_result("kernels_layers")
    if r is None:
        return None
    lines = ["| layer (shape) | minicnn fwd+bwd ms | torch fwd+bwd ms | minicnn / torch, median (min–max of rounds) |",
             "|---|---:|---:|---:|"]
    for row in r["rows"]:
        ms = {b: (row["forward"][f"{b}_median_s"] + row["backward"][f"{b}_median_s"]) * 1e3
              for b in ("minicnn", "torch")}
        lo, hi = row["fwd_bwd_ratio_range"]
        lines.append(f"| {row['name']} | {ms['minicnn']:.2f} | {ms['torch']:.2f} "
                     f"| {row['fwd_bwd_ratio']:.2f}× ({lo:.2f}–{hi:.2f}) |")
    lines += ["", f"(`python -m benchmarks.bench_kernels --layers`: {r['threads']} threads each, medians of "
                  f"{r['rounds']} alternating worker rounds x {r['repeats']} calls, float32, each case first checked "
                  f"against torch; {r['machine'].get('cpu', '?')}; {_stamp(r)}.)"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- every generated block

ROOT = Path(__file__).resolve().parent.parent
# every document whose blocks this writes: README, each page of docs/, the two folders' READMEs
DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), ROOT / "reference" / "README.md",
        ROOT / "benchmarks" / "README.md"]
MARKER = re.compile(r"<!-- ([a-z0-9-]+):begin -->\n?(.*?)\n?<!-- \1:end -->", re.S)


def _perf():
    kernels, train, jit = (common.read_result(n) for n in ("kernels", "train", "jit"))
    return table(kernels, train, jit) if (kernels or train or jit) else None


def _threads():
    r = common.read_result("threads")
    return threads_table(r) if r else None


def _optional(name):
    def render():
        from importlib import import_module
        result = common.read_result(name)
        if not result:
            return None
        module = import_module(f"benchmarks.{'bench_roofline' if name == 'roofline' else name}")
        if name == "roofline":
            result["machine"] = result.get("machine", {})
        return module.table(result)
    return render


def _accuracy(dataset):
    def render():
        groups = accuracy_groups()
        return accuracy_table(groups, dataset) if any(k[1] == dataset for k in groups) else None
    return render


# block name (between <!-- NAME:begin --> and <!-- NAME:end -->, in any of DOCS) -> renderer
RENDERERS = {
    "perf-table": _perf, "threads-table": _threads,
    "roofline-table": _optional("roofline"), "fp32-table": _optional("accuracy_fp32"),
    "models-table": _accuracy("mnist"), "fashion-table": _accuracy("fashion-mnist"),
    "headlines": headlines, "tutorial-table": tutorial_table,
    "malloc-table": malloc_table, "engine-cost": engine_cost,
    "agreement-table": agreement_table, "agreement-output": agreement_output,
    "opinfo-table": opinfo_table, "optim-lockstep": optim_lockstep,
    "gradcheck-output": gradcheck_output, "lockstep-output": lockstep_output,
    "interchange-output": interchange_output, "right": right_table, "evidence-sources": sources_table,
    "mutants": mutants_line, "profile-table": profile_table, "conv-layers-table": conv_layers_table,
    "models-speed-table": models_speed_table, "layers-table": layers_table, "targets-table": targets_table,
}


def blocks(text):
    """[(name, current content)] of every generated block in a document's text."""
    return [(m.group(1), m.group(2)) for m in MARKER.finditer(text)]


def render(text):
    """``text`` with every block rebuilt from benchmarks/results/; raises SystemExit naming a block that
    has no renderer or whose results are missing."""
    cache = {}

    def replace(match):
        name = match.group(1)
        if name not in RENDERERS:
            raise SystemExit(f"report: no renderer for the block <!-- {name}:begin -->")
        if name not in cache:
            cache[name] = RENDERERS[name]()
        if cache[name] is None:
            raise SystemExit(f"report: the results behind <!-- {name}:begin --> are missing from benchmarks/results/")
        body = cache[name]
        return f"<!-- {name}:begin -->\n{body}\n<!-- {name}:end -->" if body else \
            f"<!-- {name}:begin -->\n<!-- {name}:end -->"
    return MARKER.sub(replace, text)


def stale_blocks(text):
    """[(name, message)] for each generated block of ``text`` that is not what its renderer writes now
    (a block with no renderer, or whose results are missing, too), and for unmatched markers."""
    problems, cache = [], {}
    found = blocks(text)
    for begin in re.findall(r"<!-- ([a-z0-9-]+):begin -->", text):
        if sum(name == begin for name, _ in found) != text.count(f"<!-- {begin}:begin -->"):
            problems.append((begin, "its begin and end markers do not pair up (or blocks are nested)"))
    for name, current in found:
        if name not in RENDERERS:
            problems.append((name, "no renderer in benchmarks/report.py RENDERERS"))
            continue
        if name not in cache:
            cache[name] = RENDERERS[name]()
        expected = cache[name]
        if expected is None:
            problems.append((name, "its results file is missing from benchmarks/results/"))
        elif current != expected:
            import difflib
            diff = [line for line in difflib.unified_diff(current.splitlines(), expected.splitlines(), "document",
                                                          "results", lineterm="", n=0) if line[:1] in "+-"]
            problems.append((name, "stale:\n    " + "\n    ".join(diff[:8])))
    return problems


def main(argv=None):
    import argparse
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 naming every generated block that is not up to date")
    args = parser.parse_args(argv)
    if args.check:
        problems = [(doc, name, why) for doc in DOCS for name, why in stale_blocks(doc.read_text())]
        for doc, name, why in problems:
            print(f"{doc.relative_to(ROOT)}: <!-- {name} -->: {why}")
        if problems:
            raise SystemExit("run `python -m benchmarks.report` to rebuild the blocks from benchmarks/results/")
        return
    from minicnn.checkpoint import atomic_write
    kernels, train = common.read_result("kernels"), common.read_result("train")
    for path in charts(kernels, train):
        print(f"wrote {path}", file=sys.stderr)
    for doc in DOCS:
        text = doc.read_text()
        new = render(text)
        if new != text:
            atomic_write(doc, lambda f, new=new: f.write(new.encode()))
            print(f"rewrote {doc.relative_to(ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
