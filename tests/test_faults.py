"""Faults a training run meets: NaN/Inf, a full disk, an unwritable folder, bad data files, bad flags.

Each ends with one line ``minicnn: error: …``, a non-zero exit, no traceback, and nothing half-written.
"""
import argparse
import errno
import re
import shutil

import numpy as np
import pytest

from minicnn import SimpleCNN, cli, manual_seed, nn, optim
from minicnn.checkpoint import load_checkpoint
from minicnn.runs import NonFiniteError, check_finite
from minicnn.train import train_step

SMALL = ["train", "--epochs", "1", "--limit", "256", "--batch-size", "32", "--no-progress"]


def one_error_line(err):
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("minicnn") and ": error: " in lines[0], err
    return lines[0]


# --------------------------------------------------------------------------- NaN / Inf
def test_an_absurd_learning_rate_stops_at_the_first_bad_step_and_keeps_the_last_good_checkpoint(
        tmp_path, mnist_root, capsys):
    run = tmp_path / "run"
    argv = SMALL + ["--lr", "1e6", "--checkpoint-every", "2", "--out", str(run), "--data-dir", str(mnist_root)]
    assert cli.main(argv) == 1
    out, err = capsys.readouterr()
    line = one_error_line(err)
    m = re.fullmatch(r"minicnn: error: step (\d+) \(epoch 1, batch \d+/8\): (the loss is (nan|inf); )?the gradient of "
                     r"(\S+) went NaN/Inf first.*; training stopped before the update, the last good checkpoint is "
                     r"(\S+) \(step (\d+)\), unchanged", line)
    assert m, line
    bad_step, param, path, good_step = int(m[1]), m[4], m[5], int(m[6])
    assert param in dict(SimpleCNN().named_parameters())
    assert path == str(run / "checkpoint.npz") and good_step == 2 * ((bad_step - 1) // 2) < bad_step
    ckpt = load_checkpoint(path)  # intact: it reads, and every array in it is finite
    assert ckpt.training["step"] == good_step and not ckpt.training["finished"]
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz"]  # no metrics, no temp file
    assert cli.main(["evaluate", path, "--data-dir", str(mnist_root)]) == 0  # and evaluate still takes it


def test_a_nan_loss_stops_the_step_before_the_update():
    manual_seed(0)
    model = SimpleCNN()
    model.fc1.bias.data[0] = np.inf  # the forward pass overflows: the loss is NaN
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = {k: v.copy() for k, v in model.state_dict().items()}  # a snapshot: state_dict() is the live arrays
    images = np.random.default_rng(0).random((4, 1, 28, 28), dtype=np.float32)
    with np.errstate(all="ignore"), pytest.raises(NonFiniteError, match=r"^the loss is nan; the gradient of "
                                                                          r"fc2\.\w+ went NaN/Inf first"):
        train_step(model, images, np.array([0, 1, 2, 3]), nn.CrossEntropyLoss(), optimizer)
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k], equal_nan=True) for k in before)  # no update happened
    assert not optimizer.state


def test_the_first_bad_gradient_in_backward_order_is_named_and_the_loss_only_when_bad():
    good = np.ones((3, 3), np.float32)
    grads = [("fc2.weight", good), ("fc2.bias", None), ("fc1.bias", np.array([1.0, np.nan], np.float32)),
             ("conv1.weight", np.array([np.inf]))]
    with pytest.raises(NonFiniteError, match=r"^the gradient of fc1.bias went NaN/Inf first "
                                             r"\(then 1 more: conv1.weight\)$"):
        check_finite(0.5, grads)
    with pytest.raises(NonFiniteError, match=r"^the loss is inf$"):
        check_finite(float("inf"), [("w", good)])
    check_finite(0.5, [("w", good), ("b", None)])
    # finite numbers whose sum overflows float32 are not taken for NaN/Inf (the exact test decides)
    check_finite(0.5, [("huge", np.full(4, 3e38, np.float32))])


# --------------------------------------------------------------------------- the disk
def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(tmp_path, mnist_root, monkeypatch, capsys):
    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 half a zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    run = tmp_path / "run"
    assert cli.main(SMALL + ["--out", str(run), "--data-dir", str(mnist_root)]) == 1
    assert "No space left on device" in one_error_line(capsys.readouterr().err)
    assert list(run.iterdir()) == []


def test_the_disk_filling_up_mid_run_keeps_the_last_checkpoint(tmp_path, mnist_root, monkeypatch, capsys):
    real, calls = np.savez, []

    def fills_up(f, **arrays):
        calls.append(1)
        if len(calls) == 3:  # the checkpoints at steps 0 and 3 fit; the one at step 6 does not
            f.write(b"PK\x03\x04 half")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(f, **arrays)

    monkeypatch.setattr(np, "savez", fills_up)
    run = tmp_path / "run"
    assert cli.main(SMALL + ["--checkpoint-every", "3", "--out", str(run), "--data-dir", str(mnist_root)]) == 1
    assert "No space left on device" in one_error_line(capsys.readouterr().err)
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.npz"]
    assert load_checkpoint(run / "checkpoint.npz").training["step"] == 3


@pytest.mark.parametrize("where", ["under a file", "in /proc"])
def test_an_unwritable_output_folder_is_one_line_before_training(tmp_path, mnist_root, where, capsys):
    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run" if where == "under a file" else "/proc/minicnn-run"
    assert cli.main(SMALL + ["--out", str(out), "--data-dir", str(mnist_root)]) == 1
    out_text, err = capsys.readouterr()
    assert out_text == "" and str(out) in one_error_line(err)  # no epoch line: it failed before training


def test_bad_data_files_are_one_line(tmp_path, mnist_root, monkeypatch, capsys):
    raw = tmp_path / "data" / "MNIST" / "raw"
    shutil.copytree(mnist_root / "MNIST" / "raw", raw)
    victim = sorted(p for p in raw.iterdir() if "train-images" in p.name)[0]
    victim.write_bytes(victim.read_bytes()[:1000])  # truncated
    monkeypatch.setenv("PATH", str(tmp_path))  # no npm to fetch a fresh copy with
    assert cli.main(SMALL + ["--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data")]) == 1
    assert victim.name in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- bad flags
def _bad_flags():
    """For every option of every subcommand that takes a value: a value of the wrong kind, and none at all."""
    cases = []
    for name, sub in cli.build_parser().commands.items():
        for action in sub._actions:
            if not action.option_strings or action.nargs == 0 or isinstance(action, argparse._HelpAction):
                continue
            flag = action.option_strings[0]
            if action.choices:
                cases.append(([name, flag, "bogus"], rf"argument {flag}: invalid choice: 'bogus'"))
            elif action.type in (int, float):
                cases.append(([name, flag, "1.5x"], rf"argument {flag}: invalid {action.type.__name__} value"))
            cases.append(([name, flag], rf"argument {flag}: expected one argument"))
    return cases


@pytest.mark.parametrize("argv, match", _bad_flags(), ids=lambda v: " ".join(v) if isinstance(v, list) else "")
def test_every_bad_flag_is_a_usage_error_exit_2_one_line(argv, match, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and re.search(match, one_error_line(err))


def test_the_bad_flag_table_covers_the_new_options():
    flags = {argv[1] for argv, _ in _bad_flags()}
    assert {"--checkpoint-every", "--resume", "--lr", "--backend", "--batch-size", "--samples"} <= flags
