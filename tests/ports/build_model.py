"""pytorch/tutorials' "Build the Neural Network" (beginner/basics/buildmodel_tutorial), in its idioms:
the device line, nn.Flatten and a Sequential of Linear and ReLU, print(model), torch.rand, nn.Softmax(dim=1),
argmax, the layers one by one on a minibatch, and the named parameters with their sizes and first rows.

A torch program: tests/test_ports.py runs it under torch, then with only its imports rewritten for minicnn.
"""
import torch
from torch import nn

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28*28, 512),
            nn.ReLU(),
            nn.Linear(512, 512),
            nn.ReLU(),
            nn.Linear(512, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


def main():
    model = NeuralNetwork().to(device)
    print(model)

    X = torch.rand(1, 28, 28, device=device)
    logits = model(X)
    pred_probab = nn.Softmax(dim=1)(logits)
    y_pred = pred_probab.argmax(1)
    print(f"Predicted class: {y_pred.item() in range(10)}")

    input_image = torch.rand(3, 28, 28)
    print(input_image.size())

    flatten = nn.Flatten()
    flat_image = flatten(input_image)
    print(flat_image.size())

    layer1 = nn.Linear(in_features=28*28, out_features=20)
    hidden1 = layer1(flat_image)
    print(hidden1.size())

    hidden1 = nn.ReLU()(hidden1)
    print(f"After ReLU: {(hidden1 >= 0).all().item()}")

    seq_modules = nn.Sequential(
        flatten,
        layer1,
        nn.ReLU(),
        nn.Linear(20, 10)
    )
    input_image = torch.rand(3, 28, 28)
    logits = seq_modules(input_image)

    softmax = nn.Softmax(dim=1)
    pred_probab = softmax(logits)
    print(f"Rows sum to 1: {torch.allclose(pred_probab.sum(1), torch.ones(3))}")

    print(f"Model structure: {model}\n\n")

    for name, param in model.named_parameters():
        print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2].shape} \n")


if __name__ == "__main__":
    main()
