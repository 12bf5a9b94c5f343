"""The Module API torch code relies on, against torch: ``parameters()`` a generator, ``state_dict()`` the live
arrays, ``add_module``, ``Sequential(OrderedDict)``, ``ModuleDict``, and the order of a replaced submodule."""
from collections import OrderedDict

import numpy as np
import pytest
import torch

from minicnn import SimpleCNN, nn


def pair(build):
    """The same construction in minicnn and in torch (``build(nn)``)."""
    return build(nn), build(torch.nn)


def test_parameters_and_buffers_are_generators_as_torch_s():
    ours, theirs = pair(lambda m: m.Sequential(m.Conv2d(1, 2, 3), m.BatchNorm2d(2)))
    for a, b in ((ours.parameters(), theirs.parameters()), (ours.buffers(), theirs.buffers())):
        assert iter(a) is a and iter(b) is b  # generators, not lists
        assert len(list(a)) == len(list(b))
    assert next(ours.parameters()) is ours[0].weight
    own, own_t = ours.named_parameters(recurse=False), theirs.named_parameters(recurse=False)
    assert [n for n, _ in own] == [n for n, _ in own_t]
    assert len(list(ours[1].parameters(recurse=False))) == 2


def test_state_dict_entries_are_the_model_s_arrays_as_torch_s_are_its_tensors():
    ours, theirs = pair(lambda m: m.Linear(3, 2))
    ours.state_dict()["bias"][...] = 5.0
    theirs.state_dict()["bias"][...] = 5.0
    assert np.all(ours.bias.detach().numpy() == 5.0) and bool(torch.all(theirs.bias == 5.0))
    before = ours.state_dict()["weight"]
    ours.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2)})  # torch's copy_: into the same memory
    assert np.all(before == 1.0) and before.dtype == np.float32


def test_add_module_and_sequential_of_an_ordered_dict_name_the_keys_as_torch():
    def build(m):
        seq = m.Sequential(OrderedDict([("conv", m.Conv2d(1, 2, 3)), ("act", m.ReLU()), ("flat", m.Flatten())]))
        seq.add_module("fc", m.Linear(2, 2))
        seq.append(m.Linear(2, 1))
        return seq
    ours, theirs = pair(build)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["conv.weight", "conv.bias", "fc.weight",
                                                                      "fc.bias", "4.weight", "4.bias"]
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert isinstance(ours[1:], nn.Sequential)
    assert [n for n, _ in ours[1:].named_children()] == ["act", "flat", "fc", "4"]
    x = np.random.default_rng(0).standard_normal((2, 1, 3, 3)).astype(np.float32)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours(x).detach().numpy(), theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("name, error, match", [("a.b", KeyError, "without '.'"), ("", KeyError, "non-empty"),
                                                ("forward", KeyError, "attribute 'forward' already exists"),
                                                (3, TypeError, "expected a str name, got int")])
def test_add_module_refuses_the_names_torch_refuses(name, error, match):
    with pytest.raises(error, match=match):
        nn.Module().add_module(name, nn.ReLU())
    with pytest.raises((KeyError, TypeError)):
        torch.nn.Module().add_module(name, torch.nn.ReLU())
    with pytest.raises(TypeError, match="add_module: 'x' expected a Module, got function"):
        nn.Module().add_module("x", lambda x: x)


def test_module_dict_is_torch_s():
    def build(m):
        d = m.ModuleDict({"conv": m.Conv2d(1, 2, 3), "act": m.ReLU()})
        d["fc"] = m.Linear(2, 2)
        d.update([("out", m.Linear(2, 1))])
        return d
    ours, theirs = pair(build)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours) == list(theirs) == list(ours.keys()) == ["conv", "act", "fc", "out"]
    assert "fc" in ours and len(ours) == 4 and isinstance(ours["act"], nn.ReLU)
    assert [type(m).__name__ for m in ours.values()] == [type(m).__name__ for m in theirs.values()]
    popped = ours.pop("act")
    theirs.pop("act")
    assert isinstance(popped, nn.ReLU) and list(ours) == list(theirs) and not hasattr(ours, "act")
    ours["conv"] = nn.Conv2d(1, 2, 3)  # replacing keeps the place, as in torch
    theirs["conv"] = torch.nn.Conv2d(1, 2, 3)
    assert list(ours) == list(theirs)
    with pytest.raises(TypeError, match="ModuleDict: expected a Module for 'x', got int"):
        ours["x"] = 3
    with pytest.raises(KeyError, match="attribute 'keys' already exists"):
        ours["keys"] = nn.ReLU()


def test_replacing_a_submodule_keeps_its_place_in_the_state_dict_as_torch():
    ours = SimpleCNN()
    keys = list(ours.state_dict())
    ours.fc1 = nn.Linear(64 * 7 * 7, 128)  # the fine-tuning idiom: model.fc = nn.Linear(...)
    assert list(ours.state_dict()) == keys
    seq_ours, seq_theirs = pair(lambda m: m.Sequential(m.Linear(2, 3), m.ReLU(), m.Linear(3, 1)))
    seq_ours[0], seq_theirs[0] = nn.Linear(2, 3), torch.nn.Linear(2, 3)
    assert list(seq_ours.state_dict()) == list(seq_theirs.state_dict())
