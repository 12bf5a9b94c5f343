"""A small residual network for 28x28 digits: torchvision's ResNet layout, shrunk.

    stem    Conv2d(1, 16, 3, padding=1) -> BatchNorm2d -> ReLU          (N, 16, 28, 28)
    layer1  BasicBlock(16, 16), BasicBlock(16, 16)                      (N, 16, 28, 28)
    layer2  BasicBlock(16, 32, stride=2), BasicBlock(32, 32)            (N, 32, 14, 14)
    layer3  BasicBlock(32, 64, stride=2), BasicBlock(64, 64)            (N, 64, 7, 7)
    avgpool AdaptiveAvgPool2d(1) -> flatten                             (N, 64)
    fc      Linear(64, 10)                                              (N, 10) logits

A BasicBlock is ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the
shortcut is the identity, or a strided 1x1 convolution and batch norm
(``downsample``) where the shape changes.  Convolutions before a batch norm
have no bias.  A batch norm followed by a ReLU (the stem's, each block's
``bn1``) is one ``nn.BatchNormReLU2d`` layer: one pass instead of two, the same
numbers and state_dict keys.  The residual sum and the global average pool are the two
things SimpleCNN does not have: the sum is the engine's ``Add`` (its backward
sends the gradient down both paths), the pool ``adaptive_avg_pool2d``.
"""
from .. import functional as F
from .. import nn


class BasicBlock(nn.Module):
    """Two 3x3 conv + batch norm layers and a shortcut; torchvision's names (``conv1``, ``bn1``,
    ``conv2``, ``bn2``, ``downsample.0``, ``downsample.1``).

    Shapes: (N, in_channels, H, W) -> (N, out_channels, ceil(H / stride), ceil(W / stride)).
    """

    def __init__(self, in_channels, out_channels, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNormReLU2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_channels))
        else:
            self.downsample = None

    def forward(self, x):
        x = F.as_tensor(x, "BasicBlock input")
        out = self.bn1(self.conv1(x))  # bn1 includes the ReLU
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(out + shortcut)


class ResNetMini(nn.Module):
    """Stem, three stages of two BasicBlocks, global average pool and a linear classifier.

    Parameters
    ----------
    widths : three ints, default (16, 32, 64): the channels of the three stages

    state_dict keys as torchvision's ResNet (``conv1``, ``bn1``, ``layer1.0.conv1.weight``,
    ``layer2.0.downsample.0.weight`` …, ``fc``), and as ``reference.models.ResNetMini``.
    Shapes: input (N, 1, 28, 28) -> logits (N, 10).
    """

    def __init__(self, widths=(16, 32, 64)):
        super().__init__()
        widths = tuple(int(w) for w in widths)
        if len(widths) != 3 or min(widths) < 1:
            raise ValueError(f"ResNetMini: expected three positive widths, got {widths}")
        self.widths = widths
        self.conv1 = nn.Conv2d(1, widths[0], 3, padding=1, bias=False)
        self.bn1 = nn.BatchNormReLU2d(widths[0])
        self.layer1 = nn.Sequential(BasicBlock(widths[0], widths[0]), BasicBlock(widths[0], widths[0]))
        self.layer2 = nn.Sequential(BasicBlock(widths[0], widths[1], stride=2), BasicBlock(widths[1], widths[1]))
        self.layer3 = nn.Sequential(BasicBlock(widths[1], widths[2], stride=2), BasicBlock(widths[2], widths[2]))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(widths[2], 10)

    def forward(self, x):
        x = self.bn1(self.conv1(x))  # bn1 includes the ReLU
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))

    def extra_repr(self):
        return f"widths={self.widths}"
