"""``minicnn predict``: a person's own digit pictures, classified by a trained checkpoint.

The pictures are MNIST test digits disguised as photos and scans are (off-centre, inverted,
enlarged onto a page, coloured ink on coloured paper, transparent; PNG and JPEG), with the
helpers of ``test_digits.py``.  A digit the model gets right as MNIST gives it must still be
got right in every disguise: the preprocessing must give the network what it was trained on.
"""
import re

import numpy as np
import pytest
from PIL import Image
from test_digits import DISGUISES

from minicnn import classify, data
from minicnn.checkpoint import save_checkpoint
from minicnn.cli import main

N_DIGITS = 30
CONFIDENT = 0.9   # a digit counts as known when the model gives its label at least this probability
LINE = re.compile(r"^(?P<path>.+): (?P<top>\d) \((?P<p>\d+\.\d)%\)(?:, \d \(\d+\.\d%\))*$")


@pytest.fixture(scope="module")
def model(small_checkpoint):
    return classify.load_model(small_checkpoint)


@pytest.fixture(scope="module")
def known_digits(mnist_root, model):
    """The first test digits that the model classifies right, confidently, as MNIST gives them.

    A digit the model hesitates over (say 43 % four, 35 % nine) can flip under any resampling;
    the test is of the preprocessing, so it uses the digits the model knows.
    """
    raw = data.raw_dir(mnist_root)
    images = data.read_idx(raw / "t10k-images-idx3-ubyte")[:N_DIGITS]
    labels = data.read_idx(raw / "t10k-labels-idx1-ubyte")[:N_DIGITS].astype(np.int64)
    probs = classify.probabilities(model, classify.normalise(images / 255.0))
    known = probs[np.arange(N_DIGITS), labels] >= CONFIDENT
    assert known.sum() >= 0.8 * N_DIGITS, f"the fixture's model knows only {known.sum()} of {N_DIGITS} digits"
    return images[known], labels[known]


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("minicnn: error: "), err
    return lines[0]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
@pytest.mark.parametrize("disguise", DISGUISES, ids=lambda f: f.__name__)
def test_disguised_digits_are_classified_right(small_checkpoint, known_digits, disguise, fmt, tmp_path, capsys):
    if fmt == "JPEG" and disguise.__name__ == "transparent":
        pytest.skip("JPEG has no alpha channel")
    images, labels = known_digits
    paths = []
    for k, digit in enumerate(images):
        paths.append(tmp_path / f"digit{k}.{fmt.lower()}")
        Image.fromarray(disguise(digit)).save(paths[-1], format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    assert main(["predict", str(small_checkpoint), *map(str, paths)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert len(lines) == len(paths)
    for line, path, label in zip(lines, paths, labels):
        m = LINE.match(line)
        assert m and m["path"] == str(path), line
        assert int(m["top"]) == label, line


def test_the_line_holds_the_softmax_probabilities(small_checkpoint, known_digits, model, tmp_path, capsys):
    images, labels = known_digits
    path = tmp_path / "seven.png"
    Image.fromarray(255 - images[0]).save(path)   # dark ink on white paper
    assert main(["predict", str(small_checkpoint), str(path), "--top", "10"]) == 0
    line = capsys.readouterr().out.strip()
    pairs = re.findall(r"(\d) \((\d+\.\d)%\)", line)
    assert [int(k) for k, _ in pairs][0] == labels[0] and len(pairs) == 10
    assert sorted(int(k) for k, _ in pairs) == list(range(10))
    # the same numbers from the pipeline by hand: to_mnist, (x - 0.5) / 0.5, softmax of the logits
    from minicnn.digits import load_image, to_mnist
    x = ((to_mnist(load_image(path)) - 0.5) / 0.5).astype(np.float32)[None, None]
    z = model(x).array.astype(np.float64)[0]
    probs = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    for k, p in pairs:
        assert float(p) == pytest.approx(100 * probs[int(k)], abs=0.051)
    assert sum(float(p) for _, p in pairs) == pytest.approx(100, abs=0.5)


def test_bad_pictures_are_named_and_the_others_still_classified(small_checkpoint, known_digits, tmp_path, capsys):
    images, labels = known_digits
    good = [tmp_path / "a.png", tmp_path / "b.png"]
    for path, digit in zip(good, images):
        Image.fromarray(digit).save(path)
    text, blank, missing = tmp_path / "notes.txt", tmp_path / "blank.png", tmp_path / "missing.png"
    text.write_text("not a picture")
    Image.fromarray(np.full((40, 40), 255, np.uint8)).save(blank)
    argv = ["predict", str(small_checkpoint), str(good[0]), str(text), str(missing), str(blank), str(good[1])]
    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert [LINE.match(line)["path"] for line in out.splitlines()] == [str(good[0]), str(good[1])]
    errors = err.strip().splitlines()
    assert len(errors) == 3 and all(e.startswith("minicnn: error: ") for e in errors)
    assert re.search(r"notes\.txt: not an image", errors[0])
    assert re.search(r"missing\.png: no such file", errors[1])
    assert re.search(r"blank\.png: no ink found", errors[2])


@pytest.mark.parametrize("content, match", [
    (None, r"nope\.npz: no such file"),
    (b"hello", r"a text file, not an .npz archive"),
    ("wrong model", r"does not fit model simplecnn"),
])
def test_a_bad_checkpoint_is_one_line(content, match, known_digits, tmp_path, capsys):
    ckpt = tmp_path / "nope.npz"
    if isinstance(content, bytes):
        ckpt.write_bytes(content)
    elif content == "wrong model":
        save_checkpoint(ckpt, {"conv1.weight": np.zeros((3, 1, 3, 3), np.float32)}, {"name": "simplecnn"})
    picture = tmp_path / "a.png"
    Image.fromarray(known_digits[0][0]).save(picture)
    assert main(["predict", str(ckpt), str(picture)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert re.search(match, one_error_line(err))


def test_bad_top_is_one_line(small_checkpoint, tmp_path, capsys):
    assert main(["predict", str(small_checkpoint), str(tmp_path / "a.png"), "--top", "0"]) == 1
    assert "--top: expected >= 1" in one_error_line(capsys.readouterr().err)


def test_show_saves_each_picture_beside_its_input(small_checkpoint, known_digits, tmp_path, capsys):
    from test_digits import coloured
    images, _ = known_digits
    paths = [tmp_path / "a.png", tmp_path / "b.jpg"]
    Image.fromarray(coloured(images[0])).save(paths[0])
    Image.fromarray(255 - images[1]).save(paths[1])
    figure = tmp_path / "shown" / "inputs.png"
    assert main(["predict", str(small_checkpoint), *map(str, paths), "--show", str(figure)]) == 0
    with Image.open(figure) as img:
        assert img.format == "PNG" and img.size[1] >= 2 * 250   # one row per picture
    assert [p.name for p in figure.parent.iterdir()] == ["inputs.png"]   # no temporary file left
