"""minicnn.serialize: nested state as JSON plus named arrays, through an .npz read without pickle."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicnn.serialize import pack, unpack

LEAVES = st.none() | st.booleans() | st.integers(-2**60, 2**60) | st.floats() | st.text(max_size=5)
ARRAYS = st.sampled_from([np.float32, np.float64, np.int64, np.bool_]).flatmap(
    lambda dt: st.lists(st.integers(0, 3), max_size=3).map(lambda s: np.arange(int(np.prod(s))).reshape(s).astype(dt)))
TREES = st.recursive(LEAVES | ARRAYS, lambda children: (
    st.lists(children, max_size=3) | st.lists(children, max_size=3).map(tuple)
    | st.dictionaries(st.text(max_size=3) | st.integers(-5, 5), children, max_size=3)), max_leaves=12)


def assert_same(a, b):
    """Equal, with types: an int stays an int, a tuple a tuple, nan is nan, arrays keep dtype and shape."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert type(k) is type(next(kb for kb in b if kb == k))
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b and (not isinstance(a, float) or math.copysign(1, a) == math.copysign(1, b))


@given(tree=TREES)
def test_round_trip_in_memory(tree):
    assert_same(unpack(*pack(tree)), tree)


def test_round_trip_through_npz_without_pickle(tmp_path):
    tree = {"state": {0: {"step": 3.0, "exp_avg": np.arange(6.0).reshape(2, 3)}, 2: {}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "nesterov": False, "params": [0, 1, 2],
                              "name": None, "eps": float("-inf"), "neg": -0.0}],
            "milestones": {10: 1, 20: 2}, "half": np.float32([0.5])}
    text, arrays = pack(tree)
    assert isinstance(text, str) and sorted(arrays) == ["array_0", "array_1"]
    np.savez(tmp_path / "s.npz", tree=np.array(text), **arrays)
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        back = unpack(str(f["tree"]), f)
    assert_same(back, tree)


def test_prefix_names_the_arrays():
    _, arrays = pack([np.zeros(1), np.ones(2)], prefix="optim.")
    assert sorted(arrays) == ["optim.0", "optim.1"]


@pytest.mark.parametrize("tree, match", [
    ({"a": {1, 2}}, r"^pack: cannot encode tree\['a'\], a builtins.set"),
    ([np.int64(3)], r"^pack: cannot encode tree\[0\], a numpy.int64"),
    ({"x": [np.array([object()])]}, r"^pack: tree\['x'\]\[0\] is an object array, which needs pickle$"),
    ({(1, 2): 0}, r"^pack: tree has a key \(1, 2\) of type tuple; expected str or int keys$"),
    ({True: 0}, r"^pack: tree has a key True of type bool"),
])
def test_pack_refuses_what_it_cannot_encode(tree, match):
    with pytest.raises(TypeError, match=match):
        pack(tree)


@pytest.mark.parametrize("text, arrays, error, match", [
    ('{"dict": [["a", 1]', {}, ValueError, r"^unpack: malformed JSON"),
    ('{"ndarray": "array_0"}', {}, ValueError, r"^unpack: tree refers to array 'array_0', which is missing$"),
    ('[{"set": [1]}]', {}, ValueError, r"^unpack: tree\[0\] has an unknown tag 'set' with \[1\]$"),
    ('{"float": "huge"}', {}, ValueError, r"^unpack: tree has an unknown tag 'float' with 'huge'$"),
    ('{"a": 1, "b": 2}', {}, ValueError, r"^unpack: tree expected a value, a list or a one-key tag object"),
    ('{"dict": [["a"]]}', {}, ValueError, r"^unpack: tree expected \[key, value\] pairs, got \['a'\]$"),
    (b"[]", {}, TypeError, r"^unpack: expected the JSON as a str, got bytes$"),
])
def test_unpack_refuses_bad_input(text, arrays, error, match):
    with pytest.raises(error, match=match):
        unpack(text, arrays)


# --------------------------------------------------------------------------- minicnn.save / minicnn.load (torch's)
def test_save_and_load_a_training_checkpoint_as_torch_programs_do(tmp_path):
    import io

    import minicnn
    from minicnn import nn
    minicnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
    opt = minicnn.optim.Adam(model.parameters(), lr=0.01)
    minicnn.nn.functional.cross_entropy(model(minicnn.randn(2, 1, 4, 4)), np.array([0, 2])).backward()
    opt.step()
    checkpoint = {"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict(), "loss": 0.25,
                  "weight": model[0].weight}                         # a Parameter: stored as its array
    minicnn.save(checkpoint, tmp_path / "ckpt.pt")
    buf = io.BytesIO()
    minicnn.save(checkpoint, buf)
    for source in (tmp_path / "ckpt.pt", io.BytesIO(buf.getvalue())):
        back = minicnn.load(source)
        assert back["epoch"] == 3 and back["loss"] == 0.25
        np.testing.assert_array_equal(back["weight"], model[0].weight.array)
        fresh = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 3))
        fresh.load_state_dict(back["model"])
        for (k, a), b in zip(fresh.state_dict().items(), model.state_dict().values()):
            np.testing.assert_array_equal(a, b, err_msg=k)
        opt2 = minicnn.optim.Adam(fresh.parameters(), lr=0.01)
        opt2.load_state_dict(back["optimizer"])
        assert opt2.state_dict()["param_groups"] == opt.state_dict()["param_groups"]
    with np.load(tmp_path / "ckpt.pt", allow_pickle=False) as z:   # an npz that needs no pickle
        assert str(z["minicnn format"]) == "minicnn.save 1"


def test_load_reads_a_torch_save_file_with_torchs_weights_only_loader(tmp_path):
    import minicnn
    torch = pytest.importorskip("torch")
    state = {"w": torch.arange(6.0).reshape(2, 3), "step": 7, "nested": {"b": torch.ones(2, dtype=torch.float64)}}
    torch.save(state, tmp_path / "t.pt")
    back = minicnn.load(tmp_path / "t.pt", map_location="cpu")
    np.testing.assert_array_equal(back["w"], np.arange(6.0).reshape(2, 3))
    assert back["step"] == 7 and back["nested"]["b"].dtype == np.float64
    torch.save(torch.nn.Linear(2, 2), tmp_path / "module.pt")          # a pickled object: refused, not run
    with pytest.raises(ValueError, match="module.pt: neither a minicnn.save file nor a torch.save file"):
        minicnn.load(tmp_path / "module.pt")


@pytest.mark.parametrize("call, error, match", [
    (lambda m, p: m.load(p, weights_only=False), ValueError, "minicnn never unpickles a file"),
    (lambda m, p: m.load(p, map_location="cuda"), ValueError, "minicnn runs on the CPU only"),
    (lambda m, p: m.save(m.nn.Linear(1, 1), p), TypeError, "pack: cannot encode tree, a minicnn.nn.linear.Linear"),
    (lambda m, p: m.save({"f": print}, p), TypeError, r"pack: cannot encode tree\['f'\]"),
])
def test_save_and_load_refuse_what_would_need_pickle(tmp_path, call, error, match):
    import minicnn
    minicnn.save({"x": np.zeros(2)}, tmp_path / "ok.pt")
    with pytest.raises(error, match=match):
        call(minicnn, tmp_path / "ok.pt" if "load" in match or "CPU" in match or "unpickles" in match
             else tmp_path / "new.pt")
    assert not (tmp_path / "new.pt").exists()
