"""``minicnn.utils.data`` against ``torch.utils.data``: the same batches from the same datasets and samplers,
``default_collate``'s rules, ``random_split``'s lengths, the worker arguments accepted in-process, the
same refusals, and shuffling that follows ``minicnn.manual_seed``."""
import collections
import warnings

import numpy as np
import pytest
import torch
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.utils.data as mud
from minicnn import Tensor, data, nn

warnings.filterwarnings("ignore", message=".*This DataLoader will create.*")  # torch's worker-count advice


def toy(n=10):
    return np.arange(n * 6, dtype=np.float32).reshape(n, 1, 2, 3), np.arange(n, dtype=np.int64) % 3


def same(ours, theirs):
    """A minicnn batch equals torch's: the same structure, each leaf the same values and dtype."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, Tensor), type(ours)
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert type(ours) is dict and list(ours) == list(theirs)
        for k in theirs:
            same(ours[k], theirs[k])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs), (type(ours), type(theirs))
        for a, b in zip(ours, theirs):
            same(a, b)
    else:
        assert ours == theirs


def both(dataset_ours, dataset_theirs=None, **kwargs):
    """The batches of minicnn's and torch's DataLoader over the same dataset, same arguments."""
    ours = list(mud.DataLoader(dataset_ours, **kwargs))
    theirs = list(tud.DataLoader(dataset_ours if dataset_theirs is None else dataset_theirs, **kwargs))
    return ours, theirs


# --------------------------------------------------------------------------- the import path
def test_utils_data_is_minicnn_data_one_copy_of_each_class():
    for name in mud.__all__:
        assert getattr(mud, name) is getattr(data, name), name
    for name in ("Dataset", "TensorDataset", "DataLoader", "Subset", "random_split", "default_collate",
                 "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "BatchSampler"):
        assert hasattr(tud, name) and name in mud.__all__
    import minicnn.utils
    assert minicnn.utils.data is mud


# --------------------------------------------------------------------------- any map-style dataset
class Squares:
    """A user's dataset, not derived from minicnn's (nor torch's) Dataset: only __len__ and __getitem__."""

    def __len__(self):
        return 7

    def __getitem__(self, i):
        return np.full((2, 2), i, np.float32), i * i


def test_any_map_style_dataset_gives_torch_s_batches():
    for dataset in (Squares(), [1, 2, 3, 4, 5], [(1.5, True), (2.5, False), (3.5, True)],
                    [{"x": np.ones(2) * i, "name": str(i)} for i in range(5)]):
        ours, theirs = both(dataset, batch_size=2)
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)


def test_a_torch_dataset_and_a_torch_subset_load_as_torch_loads_them():
    x, y = toy(9)
    torch_ds = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    sub = tud.Subset(torch_ds, [8, 0, 3, 5, 1])  # torch's Subset has torch's __getitems__ (a list of samples)
    for dataset in (torch_ds, sub):
        ours, theirs = both(dataset, batch_size=4)
        for a, b in zip(ours, theirs, strict=True):
            same(a, b)


def test_a_torchvision_dataset_loads_as_torch_loads_it(mnist_root):
    torchvision = pytest.importorskip("torchvision")
    ds = torchvision.datasets.MNIST(str(mnist_root), train=False, download=False,
                                    transform=torchvision.transforms.ToTensor())
    sub = tud.Subset(ds, range(10))
    ours, theirs = both(sub, batch_size=4)
    for a, b in zip(ours, theirs, strict=True):
        same(a, b)
    images, labels = ours[0]
    assert images.shape == (4, 1, 28, 28) and labels.dtype == np.int64


def test_minicnn_datasets_keep_their_stacked_fast_path_and_give_what_per_sample_collation_gives():
    x, y = toy(11)
    ds = data.TensorDataset(x, y)
    calls = []
    getitems = ds.__getitems__
    ds.__getitems__ = lambda idx: calls.append(len(idx)) or getitems(idx)
    fast = list(mud.DataLoader(ds, batch_size=4))
    assert calls == [4, 4, 3]  # one call per batch, no per-sample indexing
    slow = list(mud.DataLoader(ds, batch_size=4, collate_fn=mud.default_collate))  # samples, then collate
    assert calls[3:] == [1] * 11  # a collate_fn gets samples: ds[i] each (TensorDataset's [i] is a batch of one)
    ours, theirs = both(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=4)
    for f, s, t in zip(fast, slow, theirs, strict=True):
        same(f, t)
        same(s, t)


def test_batches_are_tensors_a_torch_loop_can_use():
    x, y = toy(10)
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 3))
    total = correct = 0
    for images, labels in mud.DataLoader(mud.TensorDataset(minicnn.from_numpy(x), minicnn.from_numpy(y)), 4):
        assert isinstance(images, Tensor) and isinstance(labels, Tensor)
        out = model(images.view(images.size(0), -1).view(-1, 1, 2, 3))
        loss = nn.CrossEntropyLoss()(out, labels)
        loss.backward()
        _, pred = minicnn.max(out, 1)
        total += labels.size(0)
        correct += (pred == labels).sum().item()
    assert total == 10 and 0 <= correct <= 10


def test_tensor_dataset_items_are_tensors_as_torch_s():
    x, y = toy(4)
    ours = mud.TensorDataset(minicnn.from_numpy(x), y)
    theirs = tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    for i in (0, 3, -1):
        same(ours[i], theirs[i])
    assert all(isinstance(t, Tensor) for t in ours.tensors) and np.shares_memory(ours.tensors[0].numpy(), x)


def test_a_custom_collate_fn_gets_the_list_of_samples_torch_gives():
    x, y = toy(5)
    seen_ours, seen_theirs = [], []
    list(mud.DataLoader(mud.TensorDataset(x, y), batch_size=3, collate_fn=seen_ours.append))
    list(tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=3,
                        collate_fn=seen_theirs.append))
    assert [len(b) for b in seen_ours] == [len(b) for b in seen_theirs] == [3, 2]
    for a, b in zip(seen_ours, seen_theirs):
        same([tuple(s) for s in a], [tuple(s) for s in b])


# --------------------------------------------------------------------------- default_collate
Point = collections.namedtuple("Point", "x y")


@pytest.mark.parametrize("batch", [
    [np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)],
    [(np.arange(3), 1, 0.5, True, "a"), (np.arange(3) + 1, 2, 1.5, False, "b")],
    [{"img": np.zeros(2, np.float64), "label": 3}, {"img": np.ones(2, np.float64), "label": 4}],
    [Point(1, 2.0), Point(3, 4.0)],
    [[np.int32(1), np.float32(2)], [np.int32(3), np.float32(4)]],
    [(1, [2.0, 3.0]), (4, [5.0, 6.0])],
    [np.uint8(7), np.uint8(9)],
], ids=["arrays", "tuple-of-everything", "dict", "namedtuple", "numpy-scalars", "nested", "uint8-scalars"])
def test_default_collate_follows_torch_s_rules(batch):
    theirs = tud.default_collate(batch)
    ours = mud.default_collate(batch)
    if isinstance(theirs, Point):
        assert isinstance(ours, Point)
        theirs, ours = list(theirs), list(ours)
    same(ours, theirs)


def test_default_collate_takes_minicnn_and_torch_tensors():
    same(mud.default_collate([minicnn.ones(2, 2), minicnn.zeros(2, 2)]),
         tud.default_collate([torch.ones(2, 2), torch.zeros(2, 2)]))
    same(mud.default_collate([torch.ones(3), torch.zeros(3)]), tud.default_collate([torch.ones(3), torch.zeros(3)]))


@pytest.mark.parametrize("batch, error, match", [
    ([np.zeros(2), np.zeros(3)], ValueError, r"samples of one shape to stack, got shapes \[\(2,\), \(3,\)\]"),
    ([(1, 2), (1,)], ValueError, r"samples of one length, got lengths \[1, 2\]"),
    ([np.array(["a"]), np.array(["b"])], TypeError, "numeric arrays, got dtype <U1"),
    ([object(), object()], TypeError, "got object"),
    ([], ValueError, "at least one sample"),
    ("ab", TypeError, "a list of samples, got str"),
])
def test_default_collate_refuses_what_torch_refuses(batch, error, match):
    with pytest.raises(error, match=match):
        mud.default_collate(batch)
    if batch and not isinstance(batch, str):
        with pytest.raises((RuntimeError, TypeError, ValueError)):
            tud.default_collate(batch)


# --------------------------------------------------------------------------- samplers and len
@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 20), batch_size=st.integers(1, 7), drop_last=st.booleans(), shuffle=st.booleans())
def test_len_and_batch_sizes_equal_torch_s(n, batch_size, drop_last, shuffle):
    if n == 0 and shuffle:  # torch's RandomSampler refuses an empty dataset; minicnn's gives no batches
        assert list(mud.DataLoader([], shuffle=True)) == []
        return
    ds = list(range(n))
    ours = mud.DataLoader(ds, batch_size=batch_size, drop_last=drop_last, shuffle=shuffle)
    theirs = tud.DataLoader(ds, batch_size=batch_size, drop_last=drop_last, shuffle=shuffle)
    assert len(ours) == len(theirs)
    assert [len(b) for b in ours] == [len(b) for b in theirs]
    seen = [i for b in ours for i in b.tolist()]
    assert len(set(seen)) == len(seen) and set(seen) <= set(ds)  # each sample at most once
    if not drop_last:
        assert sorted(seen) == ds


def test_torch_s_samplers_and_batch_samplers_give_the_same_batches():
    ds = list(range(12))

    def seeded():
        return torch.Generator().manual_seed(3)
    cases = [dict(sampler=tud.SequentialSampler(ds), batch_size=5),
             dict(sampler=[11, 0, 5, 5, 2], batch_size=2),
             dict(batch_sampler=tud.BatchSampler(tud.SequentialSampler(ds), 4, drop_last=True)),
             dict(batch_sampler=[[3, 1], [0], [11, 10, 9]])]
    for kwargs in cases:
        ours, theirs = both(ds, **kwargs)
        for a, b in zip(ours, theirs, strict=True):
            same(a, b)
    ours = [b.tolist() for b in mud.DataLoader(ds, sampler=tud.SubsetRandomSampler(range(6), seeded()), batch_size=4)]
    theirs = [b.tolist() for b in tud.DataLoader(ds, sampler=tud.SubsetRandomSampler(range(6), seeded()), batch_size=4)]
    assert ours == theirs


def test_minicnn_s_samplers_behave_as_torch_s():
    ds = list(range(10))
    assert list(mud.SequentialSampler(ds)) == list(tud.SequentialSampler(ds))
    for kwargs in (dict(), dict(num_samples=25), dict(num_samples=4), dict(replacement=True, num_samples=30)):
        ours, theirs = mud.RandomSampler(ds, **kwargs), tud.RandomSampler(ds, **kwargs)
        drawn = list(ours)
        assert len(ours) == len(theirs) == len(drawn) == len(list(theirs))
        assert all(0 <= i < 10 for i in drawn)
        if not kwargs.get("replacement"):  # permutations, one after the other, cut where torch cuts
            full = drawn[:len(drawn) // 10 * 10]
            assert all(sorted(full[k:k + 10]) == ds for k in range(0, len(full), 10))
            assert len(set(drawn[len(full):])) == len(drawn) - len(full)
    assert sorted(mud.SubsetRandomSampler([7, 3, 5])) == [3, 5, 7]
    bs = [list(mud.BatchSampler(range(7), 3, drop_last)) for drop_last in (False, True)]
    assert bs == [list(tud.BatchSampler(range(7), 3, drop_last)) for drop_last in (False, True)]
    assert len(mud.BatchSampler(range(7), 3, False)) == 3 and len(mud.BatchSampler(range(7), 3, True)) == 2


# --------------------------------------------------------------------------- randomness
def epochs(loader, k=2):
    return [[i for b in loader for i in b.tolist()] for _ in range(k)]


def test_shuffling_follows_manual_seed_unless_a_generator_is_given():
    ds = list(range(40))
    minicnn.manual_seed(0)
    first = epochs(mud.DataLoader(ds, batch_size=8, shuffle=True))
    minicnn.manual_seed(0)
    assert epochs(mud.DataLoader(ds, batch_size=8, shuffle=True)) == first  # the seed fixes the batches
    assert first[0] != first[1]  # a new order every epoch
    assert epochs(mud.DataLoader(ds, batch_size=8, shuffle=True)) != first  # a fresh loader shuffles anew
    minicnn.manual_seed(1)
    assert epochs(mud.DataLoader(ds, batch_size=8, shuffle=True)) != first
    # a generator of its own: manual_seed does not matter, and the global generator is not drawn from
    a = mud.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(5))
    minicnn.manual_seed(9)
    before = minicnn.get_rng_state()
    mine = epochs(a)
    assert minicnn.get_rng_state() == before
    assert mine == epochs(mud.DataLoader(ds, batch_size=8, shuffle=True, generator=np.random.default_rng(5)))
    # minicnn's seed= (kept from before) is a generator of its own too
    assert mine == epochs(mud.DataLoader(ds, batch_size=8, shuffle=True, seed=5))


def test_iterating_draws_from_the_global_generator_as_torch_s_does():
    """torch's loader takes a seed from torch's generator at every iter(), shuffled or not; so does minicnn's."""
    ds = list(range(5))
    minicnn.manual_seed(0)
    list(mud.DataLoader(ds, batch_size=2))
    after_plain = minicnn.rand(1).item()
    minicnn.manual_seed(0)
    expected = minicnn.rand(1).item()
    assert after_plain != expected
    torch.manual_seed(0)
    list(tud.DataLoader(ds, batch_size=2))
    after_torch = torch.rand(1).item()
    torch.manual_seed(0)
    assert after_torch != torch.rand(1).item()


def test_random_transforms_follow_manual_seed_and_leave_the_order_alone():
    pixels = (np.arange(12 * 8 * 8) % 256).astype(np.uint8).reshape(12, 1, 8, 8)
    aug = data.transforms.Compose([data.transforms.RandomCrop(8, padding=2), data.transforms.ToTensor()])

    def run(transform, seed):
        minicnn.manual_seed(seed)
        loader = mud.DataLoader(data.TensorDataset(pixels, np.arange(12), transform=transform), batch_size=5,
                                shuffle=True)
        return [(x.numpy().copy(), y.tolist()) for x, y in loader]
    a, b, c = run(aug, 3), run(aug, 3), run(data.transforms.ToTensor(), 3)
    assert all(np.array_equal(xa, xb) for (xa, _), (xb, _) in zip(a, b))
    assert [y for _, y in a] == [y for _, y in c]  # augmentation draws from a stream of its own
    assert not all(np.array_equal(xa, xc) for (xa, _), (xc, _) in zip(a, c))


def test_a_loader_without_a_generator_resumes_mid_epoch():
    x, y = toy(10)
    minicnn.manual_seed(4)
    a = mud.DataLoader(data.TensorDataset(x, y), batch_size=3, shuffle=True)
    it = iter(a)
    next(it)
    state, rng = a.state_dict(), minicnn.get_rng_state()
    assert state["rng"] is None and state["position"] == 1
    rest = [yb.tolist() for _, yb in it] + [yb.tolist() for _, yb in a]  # epoch 1's rest, then epoch 2
    b = mud.DataLoader(data.TensorDataset(x, y), batch_size=3, shuffle=True)
    b.load_state_dict(state)
    minicnn.set_rng_state(rng)
    assert [yb.tolist() for _, yb in b] + [yb.tolist() for _, yb in b] == rest
    with pytest.raises(ValueError, match="rng is None .* this one has its own generator"):
        mud.DataLoader(data.TensorDataset(x, y), batch_size=3, shuffle=True, seed=1).load_state_dict(state)


def test_a_loader_with_a_sampler_resumes_mid_epoch():
    ds = list(range(9))
    a = mud.DataLoader(ds, batch_size=2, sampler=mud.SubsetRandomSampler([8, 6, 4, 2, 0], np.random.default_rng(1)))
    it = iter(a)
    next(it)
    state = a.state_dict()
    rest = [b.tolist() for b in it]
    b = mud.DataLoader(ds, batch_size=2, sampler=mud.SubsetRandomSampler([8, 6, 4, 2, 0]))
    b.load_state_dict(state)
    assert [x.tolist() for x in b] == rest
    with pytest.raises(ValueError, match=r"order expected indices in \[0, 9\)"):
        b.load_state_dict({**state, "order": np.array([0, 9])})
    with pytest.raises(TypeError, match="not available with a batch_sampler"):
        mud.DataLoader(ds, batch_sampler=[[0, 1]]).state_dict()


# --------------------------------------------------------------------------- the worker arguments
def test_worker_arguments_are_accepted_and_change_nothing():
    x, y = toy(10)
    called = []
    plain = list(mud.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=2))
    workers = list(mud.DataLoader(data.TensorDataset(x, y), batch_size=4, shuffle=True, seed=2, num_workers=4,
                                  pin_memory=True, persistent_workers=True, prefetch_factor=3, timeout=5,
                                  worker_init_fn=called.append, multiprocessing_context="spawn", in_order=False,
                                  pin_memory_device="cpu"))
    assert not called  # no worker process was started
    for (xa, ya), (xb, yb) in zip(plain, workers, strict=True):
        assert np.array_equal(xa.numpy(), xb.numpy()) and np.array_equal(ya.numpy(), yb.numpy())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(shuffle=True, sampler=[0, 1]), ValueError, "sampler is mutually exclusive with shuffle"),
    (dict(batch_size=2, batch_sampler=[[0]]), ValueError, "batch_sampler is mutually exclusive"),
    (dict(drop_last=True, batch_sampler=[[0]]), ValueError, "batch_sampler is mutually exclusive"),
    (dict(num_workers=-1), ValueError, "num_workers: expected an int >= 0, got -1"),
    (dict(timeout=-1), ValueError, "timeout: expected a number >= 0"),
    (dict(persistent_workers=True), ValueError, "persistent_workers: needs num_workers > 0"),
    (dict(prefetch_factor=2), ValueError, "prefetch_factor: only with num_workers > 0"),
    (dict(multiprocessing_context="spawn"), ValueError, "multiprocessing_context: only with num_workers > 0"),
])
def test_what_torch_refuses_minicnn_refuses(kwargs, error, match):
    ds = list(range(4))
    with pytest.raises(error, match=match):
        mud.DataLoader(ds, **kwargs)
    with pytest.raises((ValueError, TypeError)):
        tud.DataLoader(ds, **kwargs)


@pytest.mark.parametrize("make, error, match", [
    (lambda: mud.DataLoader(list(range(4)), batch_size=None), TypeError, "batch_size: None .* is not supported"),
    (lambda: mud.DataLoader(list(range(4)), pin_memory_device="cuda"), ValueError, "CPU only"),
    (lambda: mud.DataLoader(list(range(4)), generator=torch.Generator()), TypeError,
     "generator: expected a numpy.random.Generator or None, got Generator"),
    (lambda: mud.DataLoader(list(range(4)), seed=1, generator=np.random.default_rng()), TypeError,
     "seed or generator, not both"),
    (lambda: mud.DataLoader(list(range(4)), collate_fn=3), TypeError, "collate_fn: expected a callable"),
    (lambda: mud.DataLoader(list(range(4)), shuffle="yes"), TypeError, "shuffle: expected a bool, got str"),
    (lambda: mud.DataLoader(list(range(4)), sampler=3), TypeError, "sampler: expected an iterable"),
    (lambda: list(mud.DataLoader(list(range(4)), sampler=[0, 7])), IndexError, r"indices in \[0, 4\), got 0..7"),
    (lambda: mud.DataLoader(list(range(4)), workers=2), TypeError, "unexpected keyword argument 'workers'"),
    (lambda: mud.DataLoader(iter(range(4))), TypeError, "iterable-style"),
])
def test_what_minicnn_cannot_do_is_refused_by_name(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_an_iterable_dataset_is_refused_by_name():
    class Stream(tud.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    with pytest.raises(TypeError, match="iterable-style Stream, which minicnn's DataLoader does not take"):
        mud.DataLoader(Stream())


def test_the_array_form_from_before_datasets_still_works_and_torch_s_positional_batch_size_too():
    x, y = toy(10)
    legacy = [b.tolist() for _, b in mud.DataLoader(x, y, batch_size=4)]
    assert legacy == [b.tolist() for _, b in mud.DataLoader(data.TensorDataset(x, y), 4)]  # torch's (dataset, 4)
    assert [len(b) for _, b in mud.DataLoader(data.TensorDataset(x, y), 4, False, None, None, 0, None, False, True)] \
        == [4, 4]  # every one of torch's positional arguments, drop_last last
    with pytest.raises(TypeError, match="got labels twice"):
        mud.DataLoader(x, y, labels=y)


# --------------------------------------------------------------------------- random_split and Subset
@pytest.mark.parametrize("n, lengths", [
    (10, [3, 7]), (30, [0.3, 0.3, 0.4]), (10, [0.33, 0.33, 0.34]), (7, [0.5, 0.5]), (11, [0.1] * 10),
    (5, [1.0]), (4, [0, 4]), (3, [0.2, 0.8]), (0, [0.5, 0.5]),
])
def test_random_split_lengths_follow_torch_s_rules(n, lengths):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # both warn of a split of length 0
        ours = mud.random_split(list(range(n)), lengths, generator=np.random.default_rng(0))
        theirs = tud.random_split(list(range(n)), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    assert sorted(i for s in ours for i in s.indices) == list(range(n))  # disjoint, covering
    assert all(isinstance(s, mud.Subset) for s in ours)


@pytest.mark.parametrize("lengths, error, match", [
    ([3, 3], ValueError, "summing to the dataset's 10 samples, got .* \\(sum 6\\)"),
    ([0.5, 0.6], ValueError, r"non-negative ints \(or fractions summing to 1\), got 0.5 at index 0"),
    ([1.5, -0.5], ValueError, "fraction at index 0 is not between 0 and 1"),
    ([11, -1], ValueError, "non-negative ints .* got -1 at index 1"),  # (torch makes a Subset of -1 samples)
    (["a"], TypeError, "ints or fractions, got str at index 0"),
    (5, TypeError, "a sequence of ints or fractions, got int"),
])
def test_random_split_refuses_what_torch_refuses(lengths, error, match):
    with pytest.raises(error, match=match):
        mud.random_split(list(range(10)), lengths)
    if error is ValueError and min(lengths) >= 0:
        with pytest.raises(ValueError):
            tud.random_split(list(range(10)), lengths)


def test_random_split_follows_manual_seed():
    minicnn.manual_seed(0)
    a = [s.indices for s in mud.random_split(range(20), [0.5, 0.5])]
    minicnn.manual_seed(0)
    assert [s.indices for s in mud.random_split(range(20), [0.5, 0.5])] == a
    assert [s.indices for s in mud.random_split(range(20), [0.5, 0.5])] != a


def test_subset_indexes_as_torch_s_and_keeps_the_fast_path():
    x, y = toy(10)
    ours = mud.Subset(data.TensorDataset(x, y), [9, 2, 4])
    theirs = tud.Subset(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), [9, 2, 4])
    assert len(ours) == len(theirs) == 3
    for i in (0, 2, -1):
        same(ours[i], theirs[i])
    a, b = both(ours, theirs, batch_size=2)
    for p, q in zip(a, b, strict=True):
        same(p, q)
    assert callable(getattr(ours, "__getitems__", None))  # the stacked batch of the dataset under it
    assert not hasattr(mud.Subset(list(range(5)), [1]), "__getitems__")  # a list has none to keep
    with pytest.raises(IndexError, match=r"expected indices in \[-10, 10\) for 10 samples, got 2..10"):
        mud.Subset(data.TensorDataset(x, y), [2, 10])
    with pytest.raises(TypeError, match="map-style dataset"):
        mud.Subset(3, [0])
