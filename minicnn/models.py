"""The tutorial's SimpleCNN, layer for layer.

    conv1  Conv2d(1, 32, 3, padding=1)  -> ReLU -> MaxPool2d(2)    (N, 32, 14, 14)
    conv2  Conv2d(32, 64, 3, padding=1) -> ReLU -> MaxPool2d(2)    (N, 64, 7, 7)
    flatten                                                        (N, 3136)
    fc1    Linear(3136, 128) -> ReLU
    fc2    Linear(128, 10)                                         (N, 10) logits
"""
from . import nn


class SimpleCNN(nn.Module):
    """The seed tutorial's network; ``state_dict`` keys ``conv1.weight`` … ``fc2.bias`` as torch's.

    Parameters
    ----------
    fused : bool, default True
        True runs each conv -> ReLU -> pool as one :class:`nn.Conv2dReLUMaxPool2d`
        (fewer passes over memory); False runs the separate Conv2d, ReLU and
        MaxPool2d layers, the readable form.  Both compute the same numbers and
        have the same parameters and state_dict.

    Shapes: input (N, 1, 28, 28) -> logits (N, 10).
    """

    def __init__(self, fused=True):
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
        if not self.fused:
            # parameter-free layers: one instance per use, since each caches its own forward
            self.relu1, self.pool1 = nn.ReLU(), nn.MaxPool2d(2)
            self.relu2, self.pool2 = nn.ReLU(), nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.relu3 = nn.ReLU()

    def forward(self, x):
        if getattr(x, "ndim", None) == 4 and x.shape[1:] != (1, 28, 28):
            raise ValueError(f"SimpleCNN: expected input of shape (N, 1, 28, 28), got {x.shape}")
        if self.fused:
            x = self.conv2(self.conv1(x))
        else:
            x = self.pool1(self.relu1(self.conv1(x)))
            x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(self.flatten(x)))
        return self.fc2(x)

    def backward(self, grad_out, need_input_grad=True):
        """Back-propagate d loss / d logits (N, 10); returns d loss / d input, or None."""
        g = self.relu3.backward(self.fc2.backward(grad_out))
        g = self.flatten.backward(self.fc1.backward(g))
        if self.fused:
            return self.conv1.backward(self.conv2.backward(g), need_input_grad)
        g = self.conv2.backward(self.relu2.backward(self.pool2.backward(g)))
        return self.conv1.backward(self.relu1.backward(self.pool1.backward(g)), need_input_grad)

    def extra_repr(self):
        return f"fused={self.fused}"
