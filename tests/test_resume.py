"""Checkpoints and resume: a real training process killed with SIGKILL, resumed, ends bit-identical.

Every run here is ``python -m minicnn train`` in its own process on 256 images (8 steps of 32 an
epoch, 2 epochs, a checkpoint every 3 steps and at each epoch's end, the step schedule so the lr
changes between the epochs).  ``MINICNN_FAULT=POINT:N`` (``minicnn/faults.py``) makes the process
kill itself with SIGKILL at a chosen instant, as ``kill -9`` would; one test kills from outside at
a random instant instead.

The checkpoint writes of such a run, counted as ``write:N`` (a checkpoint whenever the run's step is a
multiple of 3, and at each epoch's end): 1 at step 0, 2 at step 3, 3 at step 6, 4 at the end of epoch 1
(step 8), 5 at step 9, 6 at step 12, 7 at step 15, 8 at the end (step 16, finished); then 9 metrics.json
and 10 predictions.png.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from minicnn import cli
from minicnn.checkpoint import CheckpointError, TRAINING_FORMAT, TRAINING_KEY, load_checkpoint, save_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = ["train", "--epochs", "2", "--limit", "256", "--batch-size", "32", "--checkpoint-every", "3",
       "--scheduler", "step", "--no-progress"]


def minicnn(*args, fault=None, threads=2, timeout=180):
    """``python -m minicnn ARGS`` in a fresh process with ``threads`` threads (and a crash point)."""
    env = {**os.environ, "MINICNN_NUM_THREADS": str(threads)}
    env.pop("MINICNN_FAULT", None)
    if fault:
        env["MINICNN_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "minicnn", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


CHECKPOINTS = (0, 3, 6, 8, 9, 12, 15, 16)  # the steps at which the run writes checkpoint.npz


def start(*args):
    """``python -m minicnn ARGS`` started in the background, with 2 threads, no crash point."""
    env = {**os.environ, "MINICNN_NUM_THREADS": "2"}
    env.pop("MINICNN_FAULT", None)
    return subprocess.Popen([sys.executable, "-m", "minicnn", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def watch(proc, run, t0, until=None, timeout=120):
    """Poll ``run/checkpoint.npz`` while ``proc`` runs: ``{step: seconds after t0 it was first seen}``.

    Returns once a checkpoint at a step >= ``until`` is seen, else when the process ends."""
    times, seen = {}, None
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            st = (run / "checkpoint.npz").stat()
        except FileNotFoundError:
            st = None
        if st is not None and (st.st_ino, st.st_mtime_ns) != seen:  # each write renames a new file into place
            seen = (st.st_ino, st.st_mtime_ns)
            step = load_checkpoint(run / "checkpoint.npz").training["step"]
            times.setdefault(step, time.monotonic() - t0)
            if until is not None and step >= until:
                break
        time.sleep(0.002)
    return times


def contents(run):
    """Everything a finished run computed: model arrays, training-state arrays, losses, accuracy."""
    ckpt = load_checkpoint(run / "checkpoint.npz")
    metrics = json.loads((run / "metrics.json").read_text())
    arrays = {}

    def walk(node, path):
        if isinstance(node, np.ndarray):
            arrays[path] = node
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}/{k}")
        elif isinstance(node, (list, tuple)):
            for i, v in enumerate(node):
                walk(v, f"{path}/{i}")
    walk({k: v for k, v in ckpt.training.items() if k in ("optimizer", "scheduler", "rng", "loader")}, "")
    return {"weights": ckpt.state_dict, "state": arrays, "step": ckpt.training["step"],
            "finished": ckpt.training["finished"],
            "losses": [e["loss"] for e in metrics["epochs"]], "accuracy": metrics["test_accuracy"],
            "lr": ckpt.training["optimizer"]["param_groups"][0]["lr"]}


def assert_identical(got, want):
    assert got["step"] == want["step"] == 16 and got["finished"] and want["finished"]
    assert list(got["weights"]) == list(want["weights"])
    for name in want["weights"]:  # bit for bit, not approximately
        assert got["weights"][name].dtype == want["weights"][name].dtype
        assert got["weights"][name].tobytes() == want["weights"][name].tobytes(), name
    assert set(got["state"]) == set(want["state"])
    for name in want["state"]:
        assert got["state"][name].tobytes() == want["state"][name].tobytes(), name
    assert got["losses"] == want["losses"] and got["accuracy"] == want["accuracy"] and got["lr"] == want["lr"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, mnist_root):
    """The reference: the same run, never interrupted; ``schedule`` says when each checkpoint appeared
    (seconds after the first), the clock that the kill at a random instant aims by."""
    run = tmp_path_factory.mktemp("uninterrupted") / "run"
    proc, t0 = start(*RUN, "--out", str(run)), time.monotonic()
    times = watch(proc, run, t0, timeout=180)
    err = proc.communicate(timeout=180)[1]
    assert proc.returncode == 0, err
    times[CHECKPOINTS[-1] + 1] = time.monotonic() - t0  # (the process's end)
    reference = contents(run)
    # a checkpoint the polling missed (two writes between two looks) is dated by the next one seen
    reference["schedule"] = {s: min(t for step, t in times.items() if step >= s) - min(times.values())
                             for s in CHECKPOINTS}
    return reference


def kill_and_resume(run, fault):
    killed = minicnn(*RUN, "--out", str(run), fault=fault)
    assert killed.returncode == -signal.SIGKILL, (killed.returncode, killed.stderr)
    assert killed.stderr == "" and not (run / "metrics.json").exists()
    resumed = minicnn("train", "--resume", str(run))
    assert resumed.returncode == 0, resumed.stderr
    assert not [p.name for p in run.iterdir() if p.name.endswith(".tmp")]  # the killed run's temp file: gone
    return killed, resumed


# one kill inside a checkpoint write and one inside a step run in the fast suite, the final checkpoint in
# `make test`; the rest (about 15 s each) in the extended tier, which CI runs too (`make test-slow`)
@pytest.mark.parametrize("fault", [
    "write:3",  # the step-6 checkpoint half-done (its temp file left): resumes from step 3
    "step:10",  # epoch 2's second step, between backward and the update: resumes from the epoch's end
    pytest.param("write:8", marks=pytest.mark.slow),  # the final checkpoint: resumes from step 15
    pytest.param("step:1", marks=pytest.mark.extended),   # before any update: resumes from step 0
    pytest.param("step:5", marks=pytest.mark.extended),   # between two checkpoints
    pytest.param("write:4", marks=pytest.mark.extended),  # the epoch-end checkpoint: resumes mid-epoch 1, from step 6
    pytest.param("write:7", marks=pytest.mark.extended),  # epoch 2's last checkpoint (step 15): resumes from step 12
    pytest.param("write:9", marks=pytest.mark.extended),  # metrics.json: training done, only the run files redone
])
def test_killed_run_resumes_bit_identical(tmp_path, uninterrupted, fault):
    run = tmp_path / "run"
    killed, resumed = kill_and_resume(run, fault)
    assert_identical(contents(run), uninterrupted)
    # the lines of the epochs the killed run did not finish, then the accuracy (which a run killed writing
    # metrics.json had printed already)
    accuracy = f"Test Accuracy: {uninterrupted['accuracy']:.2f}%"
    printed = killed.stdout.splitlines()
    assert printed[2:] == ([accuracy] if fault == "write:9" else [])
    assert printed[:2] + resumed.stdout.splitlines() == [
        f"Epoch [1/2], Loss: {uninterrupted['losses'][0]:.4f}", f"Epoch [2/2], Loss: {uninterrupted['losses'][1]:.4f}",
        accuracy]


@pytest.mark.extended
def test_killed_twice_and_at_a_random_instant_from_outside(tmp_path, uninterrupted):
    run = tmp_path / "run"
    assert minicnn(*RUN, "--out", str(run), fault="step:4").returncode == -signal.SIGKILL
    # the resumed run killed again, inside its second checkpoint write
    assert minicnn("train", "--resume", str(run), fault="write:2").returncode == -signal.SIGKILL
    assert minicnn("train", "--resume", str(run)).returncode == 0
    assert_identical(contents(run), uninterrupted)

    # from outside: once at a random instant of epoch 1, once of epoch 2, each before the run's end
    schedule = uninterrupted["schedule"]
    last = schedule[15] + 0.5 * (schedule[16] - schedule[15])  # half way through epoch 2's test pass at most
    rng = np.random.default_rng(0)
    for attempt, window in enumerate([(0, schedule[8]), (schedule[8], last)]):
        other = tmp_path / f"async{attempt}"
        step = kill_at_a_random_instant(other, rng, schedule, window)
        assert step < 16, step
        assert minicnn("train", "--resume", str(other)).returncode == 0
        assert_identical(contents(other), uninterrupted)


def kill_at_a_random_instant(run, rng, schedule, window, tries=3):
    """SIGKILL a fresh run from outside at an instant drawn from ``window`` (seconds after the first checkpoint,
    on the reference run's clock ``schedule``); return the step of the checkpoint it left.

    The run is aimed at through its checkpoints (wait for the last one the reference wrote before the instant,
    then sleep the rest), stopped there with SIGSTOP and looked at: the kill counts only if training had not
    finished.  A run that got there first (faster than the reference) is tried again, ``tries`` times in all."""
    for _ in range(tries):
        instant = rng.uniform(*window)
        before = max(s for s in CHECKPOINTS if schedule[s] <= instant)
        shutil.rmtree(run, ignore_errors=True)
        proc = start(*RUN, "--out", str(run))
        watch(proc, run, time.monotonic(), until=before)
        time.sleep(instant - schedule[before])
        status = None
        if proc.poll() is None:
            proc.send_signal(signal.SIGSTOP)
            try:
                _, status = os.waitpid(proc.pid, os.WUNTRACED)  # returns once it is stopped (or has ended)
            except ChildProcessError:  # it ended just now, and was reaped
                pass
        if status is not None and os.WIFSTOPPED(status):
            training = load_checkpoint(run / "checkpoint.npz").training
            ended = training["finished"] or (run / "metrics.json").exists()
            proc.send_signal(signal.SIGKILL)  # a stopped process dies where it stands
            err = proc.communicate(timeout=30)[1]
            assert proc.returncode == -signal.SIGKILL, (proc.returncode, err)
            if not ended:
                assert training["step"] >= before, (training["step"], before)
                return training["step"]
        elif status is not None:  # waitpid reaped it as it ended, so Popen can no longer see how
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status  # on its own, not by crashing
        else:
            err = proc.communicate(timeout=30)[1]
            assert proc.returncode == 0, (proc.returncode, err)  # it ended on its own, not by crashing
    pytest.fail(f"{tries} runs each got past the end of training before the kill at a random instant of {window} s "
                f"after its first checkpoint: they ran faster than the reference run ({schedule})")


@pytest.mark.slow
def test_same_seed_and_threads_give_bit_identical_weights_and_another_seed_does_not(tmp_path, uninterrupted):
    again = tmp_path / "again"
    assert minicnn(*RUN, "--out", str(again)).returncode == 0
    assert_identical(contents(again), uninterrupted)
    other = tmp_path / "seed1"
    assert minicnn(*RUN, "--out", str(other), "--seed", "1", "--epochs", "1").returncode == 0
    assert not np.array_equal(contents(other)["weights"]["fc2.bias"], uninterrupted["weights"]["fc2.bias"])


@pytest.mark.extended
def test_torch_backend_resumes_bit_identical(tmp_path):
    """torch on CPU with a fixed thread count repeats itself, and its optimiser, scheduler and RNG state
    round-trip through the checkpoint exactly: the resumed run matches bit for bit on this machine."""
    pytest.importorskip("torch")
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert minicnn(*RUN, "--backend", "torch", "--out", str(full)).returncode == 0
    assert minicnn(*RUN, "--backend", "torch", "--out", str(cut), fault="step:5").returncode == -signal.SIGKILL
    resumed = minicnn("train", "--resume", str(cut))
    assert resumed.returncode == 0, resumed.stderr
    assert_identical(contents(cut), contents(full))


# --------------------------------------------------------------------------- what the checkpoint holds
def test_a_training_checkpoint_holds_everything_to_resume_and_reads_without_pickle(tmp_path, mnist_root):
    run = tmp_path / "run"
    assert cli.main(RUN + ["--epochs", "1", "--out", str(run), "--data-dir", str(mnist_root)]) == 0
    with np.load(run / "checkpoint.npz", allow_pickle=False) as npz:  # plain numpy, no pickle
        tree = json.loads(str(npz[TRAINING_KEY]))
        assert all(npz[f].dtype != object for f in npz.files)
    assert tree["dict"][0] == ["format", TRAINING_FORMAT]
    t = load_checkpoint(run / "checkpoint.npz").training
    assert {"format", "backend", "settings", "epoch", "step", "finished", "history", "epoch_loss", "loader",
            "optimizer", "scheduler", "rng", "threads"} <= set(t)
    assert (t["backend"], t["epoch"], t["step"], t["finished"]) == ("minicnn", 1, 8, True)
    assert t["settings"]["lr"] == 0.01 and t["settings"]["checkpoint_every"] == 3
    assert sorted(t["loader"]["order"].tolist()) == list(range(256)) and t["loader"]["position"] == 8
    assert set(t["rng"]) == {"minicnn"} and t["rng"]["minicnn"]["bit_generator"] == "PCG64"
    assert t["optimizer"]["state"][0]["momentum_buffer"].shape == (32, 1, 3, 3)
    assert t["scheduler"]["last_epoch"] == 1
    # evaluate reads the training checkpoint as any other
    assert cli.main(["evaluate", str(run / "checkpoint.npz"), "--data-dir", str(mnist_root)]) == 0


def test_a_newer_format_is_refused_by_number(tmp_path):
    path = save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(2, np.float32)}, training={"step": 1})
    assert load_checkpoint(path).training == {"format": TRAINING_FORMAT, "step": 1}
    arrays = dict(np.load(path))
    arrays[TRAINING_KEY] = np.array(str(arrays[TRAINING_KEY]).replace(
        f'["format", {TRAINING_FORMAT}]', '["format", 99]'))
    np.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=rf"training state of format 99; this minicnn reads format "
                                                 rf"{TRAINING_FORMAT}"):
        load_checkpoint(path)


def test_nan_in_the_optimizer_state_is_refused_by_path(tmp_path):
    state = {"optimizer": {"state": {0: {"momentum_buffer": np.array([1.0, np.nan])}}}}
    path = save_checkpoint(tmp_path / "c.npz", {"w": np.zeros(2, np.float32)}, training=state)
    with pytest.raises(CheckpointError, match=r"NaN or Inf in training state\['optimizer'\]\['state'\]\[0\]"
                                                 r"\['momentum_buffer'\]$"):
        load_checkpoint(path)


# --------------------------------------------------------------------------- resume: what is refused
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, mnist_root):
    run = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(RUN + ["--epochs", "1", "--out", str(run), "--data-dir", str(mnist_root)]) == 0
    return run


def one_error_line(err):
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("minicnn: error: "), err
    return lines[0]


@pytest.mark.parametrize("flags, match", [
    (["--lr", "0.1"], r"--lr 0.1: contradicts the run in .*, which has --lr 0.01 .*drop --lr\)$"),
    (["--epochs", "5"], r"--epochs 5: contradicts .* which has --epochs 1"),
    (["--seed", "0", "--batch-size", "64"], r"--batch-size 64: contradicts .* which has --batch-size 32"),
    (["--optimizer", "adam", "--momentum", "0"], r"--optimizer adam: contradicts"),
    (["--backend", "torch"], r"--backend torch: contradicts the run in .*, which has --backend minicnn"),
    (["--out", "elsewhere"], r"--out elsewhere: contradicts --resume"),
])
def test_flags_that_contradict_the_saved_settings_are_refused_by_name(finished_run, flags, match, capsys):
    before = (finished_run / "checkpoint.npz").read_bytes()
    assert cli.main(["train", "--resume", str(finished_run), *flags]) == 1
    out, err = capsys.readouterr()
    assert out == "" and re.search(match, one_error_line(err))
    assert (finished_run / "checkpoint.npz").read_bytes() == before


def test_flags_that_agree_or_only_say_where_are_accepted(finished_run, mnist_root, capsys):
    """The saved values again, a data folder, a checkpoint interval: the finished run is just re-reported."""
    argv = ["train", "--resume", str(finished_run), "--lr", "0.01", "--epochs", "1", "--data-dir", str(mnist_root),
            "--checkpoint-every", "5", "--no-progress", "--backend", "minicnn"]
    assert cli.main(argv) == 0
    assert capsys.readouterr().out.startswith("Test Accuracy: ")


def test_resume_of_what_is_not_a_run(tmp_path, capsys):
    assert cli.main(["train", "--resume", str(tmp_path / "nope")]) == 1
    assert one_error_line(capsys.readouterr().err).endswith("nope: no such folder")
    save_checkpoint(tmp_path / "checkpoint.npz", {"w": np.zeros(2, np.float32)})
    assert cli.main(["train", "--resume", str(tmp_path)]) == 1
    assert "holds weights only, no training state" in one_error_line(capsys.readouterr().err)
    save_checkpoint(tmp_path / "checkpoint.npz", {"w": np.zeros(2, np.float32)}, training={"step": 5})
    assert cli.main(["train", "--resume", str(tmp_path)]) == 1
    assert "training state lacks ['backend', 'settings'" in one_error_line(capsys.readouterr().err)
    (tmp_path / "checkpoint.npz").write_bytes(b"torn")
    assert cli.main(["train", "--resume", str(tmp_path)]) == 1
    assert "checkpoint.npz: a text file" in one_error_line(capsys.readouterr().err)


def rewrite(path, change):
    """Rewrite the .npz at ``path`` with ``change(arrays)`` applied (a tampered or foreign checkpoint)."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    change(arrays)
    np.savez(path, **arrays)


def another_architecture(arrays):
    arrays["conv1.weight"] = np.zeros((16, 1, 5, 5), np.float32)  # a shape mismatch
    arrays["head.weight"] = arrays.pop("fc2.weight")               # missing fc2.weight, unexpected head.weight


@pytest.mark.parametrize("command", ["evaluate", "resume"])
def test_a_checkpoint_of_another_architecture_names_missing_unexpected_and_mismatched(
        finished_run, tmp_path, command, mnist_root, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes((finished_run / "checkpoint.npz").read_bytes())
    rewrite(run / "checkpoint.npz", another_architecture)
    argv = (["evaluate", str(run / "checkpoint.npz")] if command == "evaluate" else
            ["train", "--resume", str(run), "--data-dir", str(mnist_root)])
    assert cli.main(argv) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "does not fit model simplecnn" in line
    assert "missing keys ['fc2.weight']" in line and "unexpected keys ['head.weight']" in line
    assert "conv1.weight: expected shape (32, 1, 3, 3), got (16, 1, 5, 5)" in line


def test_an_optimizer_state_that_does_not_fit_is_refused_on_resume(finished_run, tmp_path, mnist_root, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.npz").write_bytes((finished_run / "checkpoint.npz").read_bytes())
    ckpt = load_checkpoint(run / "checkpoint.npz")
    ckpt.training["optimizer"]["state"][0]["momentum_buffer"] = np.zeros((3, 3), np.float32)
    save_checkpoint(run / "checkpoint.npz", ckpt.state_dict, ckpt.model, ckpt.training)
    assert cli.main(["train", "--resume", str(run), "--data-dir", str(mnist_root)]) == 1
    assert re.search(r"does not fit .*momentum_buffer'\] expected shape \(32, 1, 3, 3\), got \(3, 3\)",
                     one_error_line(capsys.readouterr().err))


def test_a_fresh_run_over_an_interrupted_one_says_so(tmp_path, mnist_root, capsys):
    run = tmp_path / "run"
    path = save_checkpoint(run / "checkpoint.npz", {"w": np.zeros(1, np.float32)},
                              training={"step": 5, "finished": False})
    assert path.exists()
    assert cli.main(RUN + ["--epochs", "1", "--limit", "64", "--out", str(run), "--data-dir", str(mnist_root)]) == 0
    err = capsys.readouterr().err
    assert f"starting afresh over the interrupted run in {run} (step 5)" in err and "--resume" in err


# --------------------------------------------------------------------------- the pieces of state
def test_a_loader_restored_mid_epoch_hands_out_the_same_batches_as_the_original():
    from minicnn import data
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1)
    y = np.arange(10)
    a = data.DataLoader(x, y, batch_size=3, shuffle=True, seed=7)
    list(a)  # epoch 1
    it = iter(a)
    next(it)  # one batch of epoch 2 handed out
    b = data.DataLoader(x, y, batch_size=3, shuffle=True, seed=99)
    b.load_state_dict(a.state_dict())
    rest = [yb.tolist() for _, yb in it] + [yb.tolist() for _, yb in a]  # epoch 2's rest, then epoch 3
    assert [yb.tolist() for _, yb in b] + [yb.tolist() for _, yb in b] == rest
    with pytest.raises(ValueError, match=r"order is not a permutation of 0..9"):
        b.load_state_dict({**a.state_dict(), "order": np.zeros(10, np.int64)})
    with pytest.raises(ValueError, match=r"position expected an int in \[0, 4\], got 5"):
        b.load_state_dict({**a.state_dict(), "position": 5})


def test_the_init_generator_state_round_trips():
    from minicnn import random
    random.manual_seed(3)
    state = random.get_rng_state()
    first = random.get_rng().random(4)
    random.set_rng_state(state)
    np.testing.assert_array_equal(random.get_rng().random(4), first)
    with pytest.raises(ValueError, match="set_rng_state: not a PCG64 state"):
        random.set_rng_state({"bit_generator": "MT19937"})
