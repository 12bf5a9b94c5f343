"""The model and Fashion-MNIST tables, as ``benchmarks.report`` builds them from ``accuracy_seeds`` results,
and ``accuracy_seeds``' refusal of flags it sets itself; every generated block of README.md, docs/*.md,
reference/README.md and benchmarks/README.md against what ``benchmarks.report`` writes from
benchmarks/results/ now, each renderer's block in one of those pages, and no commit hash in what they show."""
import json
import re

import numpy as np
import pytest

from benchmarks import accuracy_seeds, common, report


def _result(path, name, model, dataset, runs, commit="abc1234", flags=(), epochs=5):
    payload = {"benchmark": name, "date": "2026-11-28 10:00:00", "commit": commit, "model": model,
               "dataset": dataset, "epochs": epochs, "train_flags": list(flags), "seeds": [],
               "summary": {}, "runs": [{"backend": b, "seed": s, "test_accuracy": a, "losses": [],
                                        "epoch_seconds": [1.0]} for b, s, a in runs]}
    (path / f"{name}.json").write_text(json.dumps(payload))


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    return tmp_path


def test_runs_of_one_setting_merge_across_files_and_files_without_a_commit_are_left_out(results):
    _result(results, "accuracy-resnet-mini-seed0", "resnet-mini", "mnist",
            [("minicnn", 0, 99.6), ("torch", 0, 99.5)], flags=["--scheduler", "cosine"])
    _result(results, "accuracy-resnet-mini-seed1", "resnet-mini", "mnist",
            [("minicnn", 1, 99.4), ("torch", 1, 99.6)], flags=["--scheduler", "cosine"], commit="def5678")
    _result(results, "accuracy-lenet5", "lenet5", "mnist", [("minicnn", 0, 98.0), ("torch", 0, 99.0)])
    _result(results, "accuracy", "simplecnn", "mnist", [("minicnn", 0, 50.0)], commit=None)  # older: no commit
    _result(results, "accuracy-fashion-mnist", "simplecnn", "fashion-mnist", [("minicnn", 0, 90.0)])
    groups = report.accuracy_groups()
    assert sorted(k[0] for k in groups if k[1] == "mnist") == ["lenet5", "resnet-mini"]
    table = report.accuracy_table(groups, "mnist")
    rows = [line for line in table.splitlines() if line.startswith("| `") and "--model`" not in line]
    assert [r.split("|")[1].strip() for r in rows] == ["`lenet5`", "`resnet-mini`"]  # the models' order
    resnet = rows[1]
    assert "99.60, 99.40 (**99.50 %**)" in resnet and "99.50, 99.60 (**99.55 %**)" in resnet
    assert "| -0.05 |" in resnet and "`--scheduler cosine`" in resnet
    assert "--seeds 0 1 -- --scheduler cosine`" in resnet
    assert "| -1.00 |" in rows[0] and "not measured" in rows[0]
    assert "Accuracies recorded 2026-11-28." in table and "abc1234" not in table and "50.00" not in table
    fashion = report.accuracy_table(groups, "fashion-mnist")
    assert "**90.00 %** | not run | – |" in fashion and "--backends minicnn" in fashion


def test_the_epoch_column_comes_from_bench_train(results):
    _result(results, "accuracy-lenet5", "lenet5", "mnist", [("minicnn", 0, 98.0), ("torch", 0, 99.0)])
    (results / "train_steps-lenet5.json").write_text(json.dumps(
        {"model": "lenet5", "summary": {"step_ms": {"minicnn_median": 8.0, "torch_median": 4.0, "ratio": 2.0}}}))
    assert "7.5 s / 3.8 s = **2.00×**" in report.accuracy_table(report.accuracy_groups(), "mnist")


def test_the_models_speed_table_puts_each_step_against_its_floor(results):
    from minicnn.models import MODELS
    (results / "kernels_models.json").write_text(json.dumps({"fma_peak_gflops": 400.0}))
    for model in MODELS:
        step = {"minicnn_median": 20.0, "torch_median": 16.0, "ratio": 1.25, "ratio_range": [1.2, 1.3],
                "control_range": [0.97, 1.04]}
        infer = {"minicnn_median": 1.0, "torch_median": 2.0, "ratio": 0.5}
        (results / f"train_steps{'' if model == 'simplecnn' else '-' + model}.json").write_text(json.dumps(
            {"model": model, "repeats": 5, "steps": 200, "step_flops": 2e9, "date": "2026-12-04 05:00:00",
             "machine": {"cpu": "Xeon"}, "summary": {"step_ms": step, "infer_s": infer}}))
    table = report.models_speed_table()
    # 2 GFLOP at 400 GFLOP/s: a 5 ms floor; 20 ms is 4x it (25 % of the peak), 16 ms 3.2x (31 %)
    row = next(line for line in table.splitlines() if line.startswith("| lenet5 |"))
    assert "| 1.25× (1.20–1.30) | ≤ 1.0× missed | 0.50× | ≤ 0.7× met | 0.97–1.04 |" in row
    assert "| 2.00 | 5.00 | 4.0× (25 %) | 3.2× (31 %) |" in row
    assert "| ≤ 0.6× missed |" in next(line for line in table.splitlines() if line.startswith("| simplecnn |"))


def test_the_targets_table_counts_what_is_met(results):
    from minicnn.models import MODELS
    # step ratios: simplecnn 0.55 (meets 0.6), the others 0.9, 1.1, 1.2 (one of three meets 1.0)
    # inference ratios 0.3, 0.65, 0.9, 1.5: two of four meet 0.7
    for model, r, infer in zip(MODELS, (0.55, 0.9, 1.1, 1.2), (0.3, 0.65, 0.9, 1.5)):
        (results / f"train_steps{'' if model == 'simplecnn' else '-' + model}.json").write_text(json.dumps(
            {"model": model, "repeats": 5, "steps": 200, "step_flops": 4e9, "date": "2026-12-04 05:00:00",
             "machine": {"cpu": "Xeon"}, "summary": {"step_ms": {"minicnn_median": 20.0, "ratio": r},
                                                     "infer_s": {"ratio": infer}}}))
    rows = [{"layers": [f"m:conv{i}"], "fwd_bwd_ratio": r} for i, r in enumerate((0.8, 1.0, 1.5, 2.5))]
    (results / "kernels_models.json").write_text(json.dumps(
        {"fma_peak_gflops": 400.0, "rows": rows, "date": "2026-12-04 05:00:00", "machine": {"cpu": "Xeon"}}))
    (results / "roofline.json").write_text(json.dumps(
        {"date": "2026-12-04 05:00:00", "machine": {"cpu": "Xeon"}, "achieved": {"training step (batch 64)": {
            "minicnn": {"fraction_of_peak": 0.41}, "torch": {"fraction_of_peak": 0.2}}}}))
    lines = report.targets_table().splitlines()
    assert lines[2].endswith("| 0.55× | met |")
    assert "| simplecnn-bn 0.90×, lenet5 1.10×, resnet-mini 1.20× | met by 1 of 3 |" in lines[3]
    assert lines[4].endswith("| simplecnn 0.30×, simplecnn-bn 0.65×, lenet5 0.90×, resnet-mini 1.50× | met by 2 of 4 |")
    assert "m:conv0 0.80×, m:conv1 1.00×; the other 2 of 4 distinct layers 1.50× to 2.50× | met by 2 of 4 |" in lines[5]
    assert lines[6].endswith("| 41 % (PyTorch 20 %) | met |")
    # 4 GFLOP at 400 GFLOP/s: a 10 ms floor, and 20 ms is twice it
    assert "simplecnn 2.0× (50 %)" in lines[7]


@pytest.mark.parametrize("flag", ["--out", "--seed", "--epochs=3", "--model"])
def test_accuracy_seeds_refuses_flags_it_sets_itself(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        accuracy_seeds.main(["--seeds", "0", "--", "--scheduler", "cosine", flag, "x"])
    assert exc.value.code == 2
    assert f"after --: expected flags accuracy_seeds does not set itself, got {flag}" in capsys.readouterr().err


# --------------------------------------------------------------------------- the generated blocks


def test_every_generated_block_is_what_the_results_files_say():
    """README.md, docs/*.md, reference/README.md and benchmarks/README.md: each block between
    ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` is exactly what ``python -m benchmarks.report`` writes
    from benchmarks/results/."""
    problems = [f"{doc.relative_to(report.ROOT)}: <!-- {name} -->: {why}"
                for doc in report.DOCS for name, why in report.stale_blocks(doc.read_text())]
    assert not problems, ("generated blocks out of date; run `python -m benchmarks.report` (after the commands "
                          "that write benchmarks/results/, see benchmarks/README.md):\n" + "\n".join(problems))


def _page(name):
    (doc,) = [d for d in report.DOCS if d.relative_to(report.ROOT).as_posix() == name]
    return doc


# where each table lives: README keeps the one-line headlines, the pages the tables
PLACES = {
    "README.md": {"headlines"},
    "docs/correctness.md": {"right", "gradcheck-output", "agreement-table", "agreement-output", "opinfo-table",
                            "optim-lockstep", "lockstep-output", "interchange-output", "fp32-table",
                            "evidence-sources"},
    "docs/performance.md": {"perf-table", "threads-table", "roofline-table", "malloc-table", "profile-table",
                            "engine-cost", "conv-layers-table", "layers-table", "models-speed-table", "targets-table"},
    "docs/training.md": {"tutorial-table", "models-table", "fashion-table"},
    "docs/testing.md": {"mutants"},
}


def test_the_documents_have_their_blocks():
    for name, expected in PLACES.items():
        assert expected <= {block for block, _ in report.blocks(_page(name).read_text())}, name


def test_every_renderer_has_its_block_in_a_page_so_no_recorded_table_is_lost():
    shown = {name for doc in report.DOCS for name, _ in report.blocks(doc.read_text())}
    assert shown == set(report.RENDERERS), (f"renderers without a block: {sorted(set(report.RENDERERS) - shown)}; "
                                            f"blocks without a renderer: {sorted(shown - set(report.RENDERERS))}")
    assert set().union(*PLACES.values()) == set(report.RENDERERS)


def test_readme_keeps_only_one_line_headlines():
    readme = _page("README.md").read_text()
    assert [name for name, _ in report.blocks(readme)] == ["headlines"]
    (_, body), = report.blocks(readme)
    assert body.splitlines() and all(line.startswith("- **") and "](docs/" in line for line in body.splitlines())


def test_no_page_shows_a_commit_hash():
    """What users read names the date and machine of a measurement; the commit stays in the results file."""
    for doc in report.DOCS:
        for name, body in report.blocks(doc.read_text()):
            assert not re.search(r"\bcommit [0-9a-f]{7}|\([0-9a-f]{7}\)", body), (doc.name, name)


def test_a_stale_block_is_named():
    correctness = _page("docs/correctness.md").read_text()
    (_, right), = [(n, body) for n, body in report.blocks(correctness) if n == "right"]
    planted = correctness.replace(right, right.replace("all pass", "all pass, trust me"), 1)
    assert [name for name, _ in report.stale_blocks(planted)] == ["right"]
    unknown = correctness + "\n<!-- made-up:begin -->\nx\n<!-- made-up:end -->\n"
    assert ("made-up", "no renderer in benchmarks/report.py RENDERERS") in report.stale_blocks(unknown)


@pytest.mark.parametrize("name", sorted(PLACES))
def test_a_table_that_differs_from_its_results_fails_on_every_page(name):
    text = _page(name).read_text()
    block, body = next((n, b) for n, b in report.blocks(text) if b)
    digit = re.search(r"\d", body)
    changed = body[:digit.start()] + str((int(digit.group()) + 1) % 10) + body[digit.end():]
    planted = text.replace(f"<!-- {block}:begin -->\n{body}", f"<!-- {block}:begin -->\n{changed}", 1)
    assert [n for n, _ in report.stale_blocks(planted)] == [block]


def test_the_agreement_table_comes_from_results_agreement_json(results):
    machine = {"cpu": "x", "cores": 2}
    (results / "agreement.json").write_text(json.dumps(
        {"date": "2026-12-02 00:00:00", "commit": "abc1234", "machine": machine, "source": "tests/test_agreement.py",
         "draws": 30, "rows": [["ReLU", "float64", 1e-16], ["Tanh", "float64", 2e-16]],
         "tolerance": {"float64": 1e-10}}))
    used, worst, _ = report._agreement()
    assert worst == {("ReLU", "float64"): 1e-16, ("Tanh", "float64"): 2e-16}
    assert report._record_command(*used) == "python -m pytest -q -p benchmarks.record tests/test_agreement.py"
    assert "`benchmarks/results/agreement.json`" in report.sources_table()
    (results / "agreement.json").unlink()
    assert report._agreement() is None


def test_the_mutation_score_block_is_empty_until_make_mutants_writes_its_results(results):
    assert report.mutants_line() == ""
    (results / "mutants.json").write_text(json.dumps({"date": "2026-12-02 03:00:00", "commit": "abc1234",
                                                      "caught": 17, "total": 18}))
    assert report.mutants_line() == ("Mutation score: caught 17 of 18 planted wrong backwards (`make mutants`, "
                                     "recorded 2026-12-02).")
    assert report.render("<!-- mutants:begin -->\n<!-- mutants:end -->").count("caught 17 of 18") == 1


def test_the_record_plugin_writes_a_modules_worst_table():
    import types
    from collections import defaultdict

    from benchmarks import record
    module = types.SimpleNamespace(WORST=defaultdict(float, {("Conv2d", "float64"): 1e-15, ("ReLU", "float32"): 0.0}),
                                   RTOL={np.float64: 1e-10, np.float32: 1e-4},
                                   SETTINGS=types.SimpleNamespace(max_examples=300))
    name, payload = record.measurements("test_agreement", module)
    assert name == "agreement" and payload["draws"] == 300 and payload["source"] == "tests/test_agreement.py"
    assert payload["rows"] == [["Conv2d", "float64", 1e-15], ["ReLU", "float32", 0.0]]
    assert payload["tolerance"] == {"float64": 1e-10, "float32": 1e-4}
