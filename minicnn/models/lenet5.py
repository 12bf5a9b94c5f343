"""LeCun's LeNet-5 on 28x28 MNIST (the 32x32 input of the paper is made by padding the first conv by 2).

    conv1  Conv2d(1, 6, 5, padding=2) -> Tanh -> AvgPool2d(2)    (N, 6, 14, 14)
    conv2  Conv2d(6, 16, 5)           -> Tanh -> AvgPool2d(2)    (N, 16, 5, 5)
    fc1    Linear(400, 120) -> Tanh
    fc2    Linear(120, 84)  -> Tanh
    fc3    Linear(84, 10)                                        (N, 10) logits

The modern reading of the classic: plain averaging pools (the paper's
subsampling layers had a trainable scale and bias each), full C3 connectivity
and a linear classifier instead of the RBF output layer.
"""
from .. import functional as F
from .. import nn


class LeNet5(nn.Module):
    """state_dict keys ``conv1.*``, ``conv2.*``, ``fc1.*``, ``fc2.*``, ``fc3.*``, as ``reference.models.LeNet5``.

    Shapes: input (N, 1, 28, 28) -> logits (N, 10).
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.avg_pool2d(F.tanh(self.conv1(x)), 2)
        x = F.avg_pool2d(F.tanh(self.conv2(x)), 2)
        x = F.tanh(self.fc1(x.flatten(1)))
        x = F.tanh(self.fc2(x))
        return self.fc3(x)
