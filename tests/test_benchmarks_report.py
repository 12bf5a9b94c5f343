"""The README's model and Fashion-MNIST tables, as ``benchmarks.report`` builds them from
``accuracy_seeds`` results, and ``accuracy_seeds``' refusal of flags it sets itself."""
import json

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
    assert "abc1234, def5678" in table and "50.00" not in table
    fashion = report.accuracy_table(groups, "fashion-mnist")
    assert "**90.00 %** | not run | – |" in fashion and "--backends minicnn" in fashion


def test_the_epoch_column_comes_from_bench_train(results):
    _result(results, "accuracy-lenet5", "lenet5", "mnist", [("minicnn", 0, 98.0), ("torch", 0, 99.0)])
    (results / "train_steps-lenet5.json").write_text(json.dumps(
        {"model": "lenet5", "summary": {"step_ms": {"minicnn_median": 8.0, "torch_median": 4.0, "ratio": 2.0}}}))
    assert "7.5 s / 3.8 s = **2.00×**" in report.accuracy_table(report.accuracy_groups(), "mnist")


@pytest.mark.parametrize("flag", ["--out", "--seed", "--epochs=3", "--model"])
def test_accuracy_seeds_refuses_flags_it_sets_itself(flag, capsys):
    with pytest.raises(SystemExit) as exc:
        accuracy_seeds.main(["--seeds", "0", "--", "--scheduler", "cosine", flag, "x"])
    assert exc.value.code == 2
    assert f"after --: expected flags accuracy_seeds does not set itself, got {flag}" in capsys.readouterr().err
