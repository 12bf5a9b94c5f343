"""minicnn.from_torch: a torch model converted computes what torch computes, forward and backward, in float64.

The torchvision zoo (every classification CNN built with ``weights=None``) is the ``extended`` tier
(``make test-slow``); here: a user's own model with a forward that is not a Sequential, resnet18 at a
small size, 20 lockstep SGD steps, every refusal, and the state_dict reader.
"""
import numpy as np
import pytest

import minicnn
from minicnn import nn
from minicnn.convert import ConversionError, _check, from_torch, load_state_dict_from_torch

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
tnn, tF = torch.nn, torch.nn.functional


def randomise(model, seed=0):
    """Batch norm's statistics and affine parameters, layer, group and instance norm's weight and bias (and
    instance norm's running statistics) and convnext's layer scales drawn away from 0/1/1e-6 (torchvision's init leaves the running stats at 0 and 1, some gammas at 0 and
    convnext's blocks scaled by 1e-6, which would hide a wrong normalisation or a block's gradients)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (tnn.LayerNorm, tnn.GroupNorm, tnn.modules.instancenorm._InstanceNorm)) and \
                    m.weight is not None:
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g, dtype=m.weight.dtype))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g, dtype=m.bias.dtype))
            if isinstance(getattr(m, "layer_scale", None), tnn.Parameter):
                m.layer_scale.copy_(0.5 + torch.rand(m.layer_scale.shape, generator=g, dtype=m.layer_scale.dtype))
            if isinstance(m, tnn.modules.instancenorm._InstanceNorm) and m.running_mean is not None:
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g, dtype=m.running_mean.dtype))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g, dtype=m.running_var.dtype))
            if isinstance(m, tnn.modules.batchnorm._BatchNorm):
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g, dtype=m.weight.dtype))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g, dtype=m.bias.dtype))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g, dtype=m.bias.dtype))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g, dtype=m.bias.dtype))
    return model


def no_dropout(model):
    """Every dropout probability (nn.Dropout, torchvision's StochasticDepth) 0: train mode without randomness."""
    for m in model.modules():
        if isinstance(getattr(m, "p", None), float):
            m.p = 0.0
    return model


def rel(got, expected, floor=1e-300):
    """max |got − expected| / max |expected| (or ``floor``, where that is larger)."""
    expected = np.asarray(expected)
    return float(np.abs(np.asarray(got) - expected).max() / max(np.abs(expected).max(), floor))


def compare(model, x, train, tol=1e-10):
    """Convert ``model`` (float64) and compare the output, the input gradient and every parameter's
    gradient for an upstream gradient drawn independently of everything else; the worst error."""
    model.train(train)
    model.zero_grad(set_to_none=True)
    converted = from_torch(model)
    assert list(converted.state_dict()) == list(model.state_dict())
    xt = torch.tensor(x, requires_grad=True)
    out = model(xt)
    g = np.random.default_rng(99).standard_normal(out.shape)
    (out * torch.from_numpy(g)).sum().backward()
    xm = minicnn.tensor(x, requires_grad=True)
    mine = converted(xm)
    (mine * minicnn.tensor(g)).sum().backward()
    errors = {"output": rel(mine.array, out.detach().numpy()), "input grad": rel(xm.grad, xt.grad.numpy())}
    theirs = {name: p.grad.numpy() for name, p in model.named_parameters() if p.grad is not None}
    # A gradient whose true value is 0 (the bias of a batch norm whose output reaches a train-mode batch
    # norm through convolutions only: the second one removes any constant the first adds) comes out as
    # round-off in both, about 1e-17 of the model's largest gradient entry (mobilenet_v2's
    # features.11.conv.3.bias: 2.7e-18 of it in torch, 5.3e-18 apart): each tensor is measured against its
    # own largest entry, but never against less than 1e-4 of the model's largest.
    floor = 1e-4 * max(np.abs(g).max() for g in theirs.values())
    for name, p in converted.named_parameters():
        if name in theirs:
            errors[name] = rel(p.grad, theirs[name], floor)
    if train:   # the running statistics moved the same way
        for name, b in converted.state_dict().items():
            errors[f"buffer {name}"] = rel(b, model.state_dict()[name].numpy())
    worst = max(errors, key=errors.get)
    assert errors[worst] <= tol, (worst, errors[worst])
    return errors[worst]


# --------------------------------------------------------------------------- a user's model
class UserNet(tnn.Module):
    """Not a Sequential: functional ReLU and pooling, a residual add, a concatenation, a mean over dims."""

    def __init__(self):
        super().__init__()
        self.stem = tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1, bias=False), tnn.BatchNorm2d(8), tnn.ReLU())
        self.branch = tnn.Conv2d(8, 8, 3, padding=1)
        self.side = tnn.Conv2d(8, 4, 1)
        self.act = tnn.Hardswish()
        self.head = tnn.Linear(12, 5)

    def forward(self, x):
        x = self.stem(x)
        x = tF.max_pool2d(x + tF.relu(self.branch(x)), 2)
        x = torch.cat([x, self.side(x)], dim=1)
        return self.head(self.act(x).mean((2, 3)))


@pytest.mark.parametrize("train", [False, True])
def test_a_users_model_converts_forward_and_backward(train):
    torch.manual_seed(0)
    model = randomise(UserNet().double())
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8))
    compare(model, x, train)


class PoolsWithIndices(tnn.Module):
    """F.max_pool2d and F.adaptive_max_pool2d with return_indices=True: torch's fx records them as the
    ``*_with_indices`` functions they dispatch to; the indices are used (an unpool)."""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        y, i = tF.max_pool2d(self.conv(x), 2, return_indices=True)
        z, _ = tF.adaptive_max_pool2d(y, (2, 3), return_indices=True)
        return tF.max_unpool2d(y, i, 2).mean((2, 3)) + z.sum((2, 3))


def test_pools_returning_indices_convert_and_save(tmp_path):
    torch.manual_seed(0)
    compare(PoolsWithIndices().double(), np.random.default_rng(3).standard_normal((2, 3, 8, 8)), train=False)
    converted = from_torch(PoolsWithIndices().double())
    from minicnn import classify
    rebuilt = classify.load_model(minicnn.save_converted(converted, tmp_path / "pools.npz"))
    x = minicnn.tensor(np.random.default_rng(4).standard_normal((1, 3, 8, 8)))
    assert np.array_equal(rebuilt(x).detach().numpy(), converted(x).detach().numpy())


@pytest.mark.parametrize("loss", ["CrossEntropyLoss", "NLLLoss", "BCELoss"])
def test_losses_with_class_weights_convert(loss):
    """A torch loss holds its weight as a tensor buffer: converted, the same values and the same state_dict."""
    weight = torch.tensor([0.5, 2.0, 3.0], dtype=torch.float64)
    theirs = getattr(tnn, loss)(weight=weight)
    ours = from_torch(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3)) if loss != "BCELoss" else rng.uniform(0.05, 0.95, (4, 3))
    t = rng.integers(0, 3, 4) if loss != "BCELoss" else rng.uniform(0, 1, (4, 3))
    xt = torch.tensor(x, requires_grad=True)
    expected = theirs(xt, torch.from_numpy(t))
    expected.backward()
    xm = minicnn.tensor(x, requires_grad=True)
    got = ours(xm, minicnn.tensor(t))
    got.backward()
    assert rel(got.array, expected.detach().numpy()) < 1e-12 and rel(xm.grad, xt.grad.numpy()) < 1e-12


class Decoder(tnn.Module):
    """A U-Net-like decoder: resizing layers (nn.Upsample in each mode, UpsamplingBilinear2d) and F.interpolate in
    the forward, concatenated with a skip path."""

    def __init__(self):
        super().__init__()
        self.down = tnn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.up = tnn.Sequential(tnn.Upsample(scale_factor=2, mode="bilinear"), tnn.Conv2d(4, 4, 3, padding=1),
                                 tnn.UpsamplingBilinear2d(size=(9, 7)), tnn.Upsample(size=(8, 8), mode="nearest-exact"))
        self.head = tnn.Conv2d(7, 2, 1)

    def forward(self, x):
        skip = tF.interpolate(x, size=(8, 8), mode="nearest")
        y = tF.interpolate(self.up(tF.relu(self.down(x))), scale_factor=1.5, mode="bilinear", align_corners=True)
        return self.head(torch.cat([tF.interpolate(y, size=(8, 8)), skip], dim=1))


def test_a_model_that_resizes_converts_forward_and_backward():
    torch.manual_seed(0)
    compare(Decoder().double(), np.random.default_rng(2).standard_normal((2, 3, 7, 6)), train=True)
    with pytest.raises(ConversionError, match=r"from_torch: 0 \(Upsample\): minicnn's Upsample refuses its "
                                              r"arguments \(Upsample: mode='lanczos' is not supported"):
        from_torch(tnn.Sequential(tnn.Upsample(scale_factor=2, mode="lanczos")))


def test_the_converted_model_keeps_structure_modes_and_runs_without_torch_objects():
    model = UserNet().double().eval()
    model.stem.train()
    converted = from_torch(model)
    assert isinstance(converted.stem, nn.Sequential) and isinstance(converted.stem[1], nn.BatchNorm2d)
    assert not converted.training and converted.stem.training and converted.stem[1].training
    assert converted.stem[1].eps == model.stem[1].eps and converted.branch.padding == (1, 1)
    assert "torch.cat" in converted.code and "traced from UserNet" in repr(converted)
    for kind, target, args, kwargs in converted.program:   # the replay holds minicnn's callables, no torch ones
        assert not (callable(target) and getattr(target, "__module__", "").startswith("torch")), target
    np.testing.assert_array_equal(converted.stem[0].weight.array, model.stem[0].weight.detach().numpy())
    assert converted.stem[0].weight.dtype == np.float64


class TinyDecoder(tnn.Module):
    """Upsampling as a decoder does it: ConvTranspose2d layers (one sized by ``output_size``, one grouped and
    dilated with output_padding at the stride) and F.conv_transpose2d on a weight of the model's own."""

    def __init__(self):
        super().__init__()
        self.down = tnn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.up = tnn.ConvTranspose2d(8, 4, 3, stride=2, padding=1)
        self.spread = tnn.ConvTranspose2d(8, 4, 2, stride=2, groups=2, dilation=3, output_padding=(2, 0))
        self.weight = tnn.Parameter(0.3 * torch.randn(8, 2, 2, 2, dtype=torch.float64))

    def forward(self, x):
        h = tF.relu(self.down(x))
        up = self.up(h, output_size=x.shape)                        # (N, 4, 8, 8): output_padding 1 from the size
        side = tF.conv_transpose2d(h, self.weight, None, 2, 0, 0, 2)   # (N, 4, 8, 8), 2 groups
        spread = self.spread(h)                                       # (N, 4, 12, 10), cropped to 8 x 8
        return torch.cat([x, up, side, spread[:, :, :8, :8]], dim=1)


@pytest.mark.parametrize("train", [False, True])
def test_a_decoder_with_transposed_convolutions_converts(train):
    torch.manual_seed(0)
    model = TinyDecoder().double()
    x = np.random.default_rng(4).standard_normal((2, 3, 8, 8))
    compare(model, x, train)
    assert isinstance(from_torch(model).up, nn.ConvTranspose2d)


class NormNet(tnn.Module):
    """Group and instance norm as layers (tracking running statistics, and not) and as functions."""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(3, 6, 3, padding=1)
        self.group = tnn.GroupNorm(3, 6)
        self.instance = tnn.InstanceNorm2d(6, affine=True, track_running_stats=True, momentum=0.3)
        self.plain = tnn.InstanceNorm2d(6)
        self.weight = tnn.Parameter(torch.ones(6))

    def forward(self, x):   # (products, so that no norm undoes the affine maps of the ones before it)
        x = self.conv(x)
        x = self.instance(self.group(tF.instance_norm(x, eps=1e-3) * x))
        return tF.group_norm(self.plain(x) * x, 2, self.weight)


@pytest.mark.parametrize("train", [False, True])
def test_group_and_instance_norm_convert(train):
    torch.manual_seed(0)
    model = randomise(NormNet().double())
    converted = from_torch(model)
    assert isinstance(converted.group, nn.GroupNorm) and isinstance(converted.instance, nn.InstanceNorm2d)
    assert repr(converted.instance) == repr(model.instance) and repr(converted.group) == repr(model.group)
    compare(model, np.random.default_rng(3).standard_normal((2, 3, 5, 4)), train)


@pytest.mark.extended   # (17 s; the zoo below runs it too, at 64x64)
def test_resnet18_converts_in_train_and_eval():
    torch.manual_seed(0)
    model = randomise(torchvision.models.resnet18(weights=None, num_classes=10).double())
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64))   # (layer4 at 2x2: batch norm over 8 values)
    compare(model, x, train=False)
    compare(model, x, train=True)


def test_twenty_sgd_steps_in_lockstep_with_torch():
    """The converted model trains with minicnn's optimiser as torch's model with torch's, from the same weights."""
    torch.manual_seed(0)
    model = randomise(UserNet().double()).train()
    converted = from_torch(model)
    ours = minicnn.optim.SGD(converted.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    theirs = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x, y = rng.standard_normal((4, 3, 8, 8)), rng.integers(0, 5, 4)
        theirs.zero_grad()
        tF.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        theirs.step()
        ours.zero_grad()
        minicnn.nn.functional.cross_entropy(converted(minicnn.tensor(x)), y).backward()
        ours.step()
    torch_state = model.state_dict()
    worst = max(rel(v, torch_state[k].numpy()) for k, v in converted.state_dict().items())
    assert worst <= 1e-9, worst


# --------------------------------------------------------------------------- refusals
class WithLSTM(tnn.Module):
    def __init__(self):
        super().__init__()
        self.features = tnn.Sequential(tnn.Conv2d(1, 2, 3), tnn.LSTM(4, 4))


class WithUnknownFunction(tnn.Module):
    def __init__(self):
        super().__init__()
        self.block = tnn.Sequential(tnn.Conv2d(1, 2, 3))

    def forward(self, x):
        return torch.erfinv(self.block(x))


class DataDependent(tnn.Module):
    def forward(self, x):
        return x if x.sum() > 0 else -x


class UnknownMethod(tnn.Module):
    def forward(self, x):
        return x.cummax(1)


@pytest.mark.parametrize("model, match", [
    (WithLSTM(), r"from_torch: features\.1 is torch\.nn\.LSTM, which minicnn does not have"),
    (WithUnknownFunction(), r"from_torch: the model: %erfinv .* minicnn has no torch\.erfinv"),
    (DataDependent(), r"from_torch: the model \(DataDependent\): torch\.fx cannot trace its forward \(TraceError"),
    (UnknownMethod(), r"minicnn's Tensor has no method cummax"),
    (tnn.Sequential(tnn.Sequential(tnn.InstanceNorm3d(4))), r"from_torch: 0\.0 is torch\.nn\.InstanceNorm3d"),
])
def test_what_cannot_be_mapped_is_refused_naming_it_and_where(model, match):
    with pytest.raises(ConversionError, match=match):
        from_torch(model)


def test_not_a_torch_module_is_a_type_error():
    with pytest.raises(TypeError, match="from_torch: expected a torch.nn.Module, got Conv2d"):
        from_torch(nn.Conv2d(1, 1, 3))


def test_example_input_checks_the_conversion_and_catches_a_different_model():
    model = UserNet().double().eval()
    x = np.random.default_rng(4).standard_normal((1, 3, 8, 8))
    converted = from_torch(model, example_input=torch.from_numpy(x))
    converted.head.bias.array[0] += 1.0                    # planted: no longer the same model
    with pytest.raises(ConversionError, match="output differs from torch's"):
        _check(torch, model, converted, x)


# --------------------------------------------------------------------------- torch.save'd weights
def test_a_torch_saved_state_dict_loads_into_the_converted_model(tmp_path):
    model = UserNet().double().eval()
    converted = from_torch(UserNet().double().eval())       # other weights
    torch.save(model.state_dict(), tmp_path / "w.pt")
    converted.load_state_dict(load_state_dict_from_torch(tmp_path / "w.pt"))
    x = np.random.default_rng(5).standard_normal((1, 3, 8, 8))
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    assert rel(converted(minicnn.tensor(x)).array, expected) <= 1e-12


def test_the_state_dict_reader_refuses_what_is_not_one(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    torch.save({"model": tnn.Linear(2, 2)}, tmp_path / "module.pt")
    with pytest.raises(ValueError, match="expected a state_dict .*got list"):
        load_state_dict_from_torch(tmp_path / "list.pt")
    with pytest.raises(ValueError, match="junk.pt: neither a minicnn.save file nor a torch.save file"):
        load_state_dict_from_torch(tmp_path / "junk.pt")
    with pytest.raises(ValueError, match="module.pt: neither"):   # weights_only: no code is unpickled
        load_state_dict_from_torch(tmp_path / "module.pt")


# --------------------------------------------------------------------------- the torchvision zoo
ZOO = {"alexnet": {}, "vgg11": {}, "resnet18": {}, "resnet50": {}, "resnext50_32x4d": {}, "wide_resnet50_2": {},
       "squeezenet1_1": {}, "densenet121": {}, "googlenet": {"aux_logits": False, "init_weights": False},
       "inception_v3": {"aux_logits": False, "init_weights": False}, "mobilenet_v2": {},
       "mobilenet_v3_small": {}, "mnasnet0_5": {}, "shufflenet_v2_x0_5": {}, "efficientnet_b0": {},
       "regnet_y_400mf": {}, "convnext_tiny": {}}


@pytest.mark.extended
@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_torchvision_classification_cnn_converts(name, record_property):
    torch.manual_seed(0)
    model = randomise(no_dropout(getattr(torchvision.models, name)(weights=None, **ZOO[name]).double()))
    size = 112 if name == "inception_v3" else 64   # (at 80 its Mixed_6e maps are 3x3: a bn weight 1.05e-10 apart)
    x = np.random.default_rng(6).standard_normal((2, 3, size, size))
    record_property("eval", compare(model, x[:1], train=False))
    record_property("train", compare(model, x, train=True))


class OutOnly(tnn.Module):
    """A segmentation model's ``out`` map (torchvision's return a dict, which ``compare`` does not take)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)["out"]


SEGMENTATION = ["deeplabv3_mobilenet_v3_large", "fcn_resnet50", "lraspp_mobilenet_v3_large"]


@pytest.mark.extended
@pytest.mark.parametrize("name", SEGMENTATION)
def test_torchvisions_segmentation_models_convert(name, record_property):
    """Dense prediction: dilated backbones, ASPP's global pooling branch, and F.interpolate back to the input's
    size (bilinear, align_corners=False) in the traced forward."""
    torch.manual_seed(0)
    model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None, num_classes=5)
    model = OutOnly(randomise(no_dropout(model.double())))
    x = np.random.default_rng(7).standard_normal((2, 3, 64, 64))
    record_property("eval", compare(model, x[:1], train=False))
    record_property("train", compare(model, x, train=True))


# --------------------------------------------------------------------------- checkpoints of converted models
class DigitNet(tnn.Module):
    """A traced model for MNIST's 1x28x28: batch norm, a residual add, functional pooling, flatten."""

    def __init__(self):
        super().__init__()
        self.conv = tnn.Conv2d(1, 6, 3, padding=1, bias=False)
        self.bn = tnn.BatchNorm2d(6)
        self.branch = tnn.Sequential(tnn.Conv2d(6, 6, 3, padding=1), tnn.Hardswish())
        self.fc = tnn.Linear(6 * 7 * 7, 10)

    def forward(self, x):
        x = tF.relu(self.bn(self.conv(x)))
        x = tF.max_pool2d(x + self.branch(x), 4)
        return self.fc(torch.flatten(x, 1))


def test_a_converted_models_checkpoint_evaluates_predicts_and_opens_in_the_lab(tmp_path, mnist_root, capsys):
    """save_converted writes the module tree beside the weights; evaluate, predict, the lab and
    classify.load_model rebuild it from the file alone and compute what the converted model computes."""
    from PIL import Image

    from minicnn import classify, cli, data, structure, train
    from minicnn.lab.app import LabApp
    from minicnn.runs import accuracy_line
    torch.manual_seed(0)
    converted = from_torch(randomise(DigitNet()).eval())
    path = minicnn.save_converted(converted, tmp_path / "mine.npz")

    x, y = data.load_mnist(mnist_root, train=False)
    assert cli.main(["evaluate", str(path), "--data-dir", str(mnist_root)]) == 0
    assert capsys.readouterr().out.strip() == accuracy_line(train.accuracy(converted, x, y))

    rebuilt = classify.load_model(path)
    assert repr(rebuilt) == repr(converted) and not rebuilt.training
    with minicnn.no_grad():
        expected = converted(minicnn.tensor(x[:50])).numpy()
        assert np.array_equal(rebuilt(minicnn.tensor(x[:50])).numpy(), expected)

    picture = tmp_path / "digit.png"
    Image.fromarray(data.read_idx(data.raw_dir(mnist_root) / "t10k-images-idx3-ubyte")[0]).save(picture)
    assert cli.main(["predict", str(path), str(picture)]) == 0
    top = int(capsys.readouterr().out.split(": ")[1][0])
    digit = classify.normalise(classify.prepare(picture)[1][None], np.float32)
    assert top == int(np.argmax(classify.probabilities(rebuilt, digit)))

    lab = LabApp(checkpoint=path, data_root=mnist_root, runs_dir=tmp_path / "runs")
    steps = lab.backprop(digit=0)["steps"]
    assert any("fc" in str(s.get("name")) for s in steps)

    with pytest.raises(minicnn.structure.StructureError, match="not one of minicnn's layers"):
        structure.describe(minicnn.SimpleCNN())   # a model class of minicnn's own is rebuilt from its name
    bad = minicnn.checkpoint.save_checkpoint(tmp_path / "bad.npz", converted.state_dict(), model={
        "name": "converted", "kwargs": {"structure": structure.describe(converted)["kwargs"]["structure"].replace(
            '"F.relu"', '"os.system"')}})
    assert cli.main(["evaluate", str(bad), "--data-dir", str(mnist_root)]) == 1
    assert "minicnn has no function 'os.system'" in capsys.readouterr().err


@pytest.mark.parametrize("instruction, match", [
    (["attr", "conv.__class__", {"tuple": []}, {"dict": []}], "refused name 'conv.__class__'"),
    (["method", "__reduce_ex__", {"tuple": []}, {"dict": []}], "minicnn's Tensor has no method '__reduce_ex__'"),
    (["function", "builtins.getattr", {"tuple": [{"ref": 0}, "__class__"]}, {"dict": []}], "refused name '__class__'"),
    (["function", "minicnn.save", {"tuple": [{"ref": 0}, "/tmp/x"]}, {"dict": []}], "no function 'minicnn.save'"),
    (["function", "operator.methodcaller", {"tuple": ["system"]}, {"dict": []}], "no function 'operator.methodcaller'"),
])
def test_a_structure_reaches_only_minicnns_public_ops(instruction, match):
    """What a checkpoint's program may name is checked when it is read: no private or special attribute
    (the way out of any sandbox), no function outside the ops from_torch maps to."""
    import json

    from minicnn import structure
    tree = json.loads(structure.describe(from_torch(DigitNet()))["kwargs"]["structure"])
    tree["root"]["program"].insert(1, instruction)
    with pytest.raises(structure.StructureError, match=match):
        structure.rebuild(json.dumps(tree))
