"""The tutorial's SimpleCNN, layer for layer.

    conv1  Conv2d(1, 32, 3, padding=1)  -> ReLU -> MaxPool2d(2)    (N, 32, 14, 14)
    conv2  Conv2d(32, 64, 3, padding=1) -> ReLU -> MaxPool2d(2)    (N, 64, 7, 7)
    flatten                                                        (N, 3136)
    fc1    Linear(3136, 128) -> ReLU
    fc2    Linear(128, 10)                                         (N, 10) logits
"""
from .. import functional as F
from .. import nn


class SimpleCNN(nn.Module):
    """The seed tutorial's network; ``state_dict`` keys ``conv1.weight`` … ``fc2.bias`` as torch's.

    Parameters
    ----------
    fused : bool, default False
        False runs the tutorial's separate Conv2d, ReLU and MaxPool2d layers (the
        readable form); True runs each conv -> ReLU -> pool as one
        :class:`nn.Conv2dReLUMaxPool2d` (fewer passes over memory: a training step
        about 1.35x faster on 2 cores).  Both have the same parameters and
        state_dict and compute the same numbers up to the summation order
        (~1e-16 of the scale in float64, ~3e-7 in float32).

    Shapes: input (N, 1, 28, 28) -> logits (N, 10).
    """

    def __init__(self, fused=False):
        super().__init__()
        self.fused = bool(fused)
        if self.fused:
            self.conv1 = nn.Conv2dReLUMaxPool2d(1, 32, kernel_size=3, padding=1)
            self.conv2 = nn.Conv2dReLUMaxPool2d(32, 64, kernel_size=3, padding=1)
        else:
            self.conv1 = nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        if getattr(x, "ndim", None) == 4 and x.shape[1:] != (1, 28, 28):
            raise ValueError(f"SimpleCNN: expected input of shape (N, 1, 28, 28), got {x.shape}")
        if self.fused:
            x = self.conv2(self.conv1(x))
        else:
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)

    def extra_repr(self):
        return f"fused={self.fused}"

    @classmethod
    def fused_by_default(cls, fused=True):
        """What ``--model simplecnn`` builds (``minicnn train``, the benchmarks): the fused blocks unless
        ``fused=False`` (``--model-arg fused=false``)."""
        return cls(fused=fused)
