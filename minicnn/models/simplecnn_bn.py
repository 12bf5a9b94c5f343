"""SimpleCNN with batch normalisation after each convolution and dropout before the classifier.

    conv1  Conv2d(1, 32, 3, padding=1, bias=False) -> BatchNorm2d(32) -> ReLU -> MaxPool2d(2)   (N, 32, 14, 14)
    conv2  Conv2d(32, 64, 3, padding=1, bias=False) -> BatchNorm2d(64) -> ReLU -> MaxPool2d(2)  (N, 64, 7, 7)
    fc1    Linear(3136, 128) -> ReLU -> Dropout(0.25)
    fc2    Linear(128, 10)                                                                      (N, 10) logits

The convolutions have no bias: the batch norm that follows subtracts each
channel's mean, so a bias would cancel (its gradient is exactly zero).  Each
batch norm and the ReLU after it run as one layer (``nn.BatchNormReLU2d``, one
pass instead of two, the same numbers and state_dict keys).
"""
from .. import functional as F
from .. import nn


class SimpleCNNBN(nn.Module):
    """state_dict keys ``conv1.weight``, ``bn1.{weight,bias,running_mean,running_var,num_batches_tracked}``,
    ``conv2.weight``, ``bn2.*``, ``fc1.*``, ``fc2.*``, as ``reference.models.SimpleCNNBN``.

    Parameters
    ----------
    dropout : float, default 0.25, the drop probability before fc2 (0 for a deterministic network)

    Shapes: input (N, 1, 28, 28) -> logits (N, 10).
    """

    def __init__(self, dropout=0.25):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, padding=1, bias=False)
        self.bn1 = nn.BatchNormReLU2d(32)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, padding=1, bias=False)
        self.bn2 = nn.BatchNormReLU2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.dropout = nn.Dropout(dropout)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(self.bn1(self.conv1(x)), 2)    # bn1 includes the ReLU
        x = F.max_pool2d(self.bn2(self.conv2(x)), 2)
        x = self.dropout(F.relu(self.fc1(x.flatten(1))))
        return self.fc2(x)
