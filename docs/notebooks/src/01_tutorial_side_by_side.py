# %% [markdown]
# # The tutorial's program on minicnn, beside PyTorch
#
# The PyTorch tutorial that minicnn follows trains a small CNN, `SimpleCNN`, on MNIST: two 3×3
# convolutions with ReLU and 2×2 max pooling, then two linear layers; cross-entropy loss, SGD with
# momentum 0.9, batches of 64. Here is its program twice, once on PyTorch and once on minicnn, with
# the same names on both sides. Both networks start from the same weights and see the same batches in
# the same order, so their loss curves can be laid side by side.
#
# To stay quick this trains for 300 steps (a third of an epoch) instead of the tutorial's 5 epochs;
# `make train` runs the whole thing.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

import minicnn
from minicnn import data

minicnn.threads.configure()      # one thread per core for minicnn's kernels (OpenBLAS held at 1)
# One torch thread: this is not a race (notebook 6 times the two properly), and torch's OpenMP workers
# spin-wait between ops, which on a few shared cores slows down everything else running there.
torch.set_num_threads(1)
STEPS = 300

# %% [markdown]
# ## The network, twice
#
# PyTorch's is the tutorial's code as it is. minicnn's differs only in its imports: `nn`, `F` and
# `optim` have torch's names and signatures.

# %%
import torch.nn as tnn
import torch.nn.functional as TF


class TorchSimpleCNN(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1)
        self.conv2 = tnn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.fc1 = tnn.Linear(64 * 7 * 7, 128)
        self.fc2 = tnn.Linear(128, 10)

    def forward(self, x):
        x = TF.max_pool2d(TF.relu(self.conv1(x)), 2)
        x = TF.max_pool2d(TF.relu(self.conv2(x)), 2)
        x = x.view(-1, 64 * 7 * 7)
        x = TF.relu(self.fc1(x))
        return self.fc2(x)


# %%
import minicnn.functional as F
from minicnn import nn, optim


class SimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3, stride=1, padding=1)
        self.conv2 = nn.Conv2d(32, 64, kernel_size=3, stride=1, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 64 * 7 * 7)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


# %% [markdown]
# ## The same start and the same batches
#
# minicnn initialises like torch (the same distributions), but from its own random numbers; copying its
# weights into the torch network makes the two start identical. The data are the tutorial's:
# MNIST scaled to [-1, 1] (`ToTensor`, then `Normalize((0.5,), (0.5,))`), read from the files `make`
# fetched into the repository's `data/`. The batches of a seeded `minicnn.data.DataLoader` are kept, and
# both networks train on that list.

# %%
REPO = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "pyproject.toml").is_file())
root = REPO / (os.environ.get("MINICNN_DATA") or "data")    # an absolute $MINICNN_DATA replaces REPO
x_train, y_train = data.load_mnist(root, train=True)          # float32 (60000, 1, 28, 28), int64 labels
x_test, y_test = data.load_mnist(root, train=False)

loader = data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)
batches = [(np.asarray(images), np.asarray(labels)) for (images, labels), _ in zip(loader, range(STEPS))]

minicnn.manual_seed(0)
model = SimpleCNN()
torch_model = TorchSimpleCNN()
torch_model.load_state_dict({name: torch.from_numpy(np.array(value)) for name, value in model.state_dict().items()})
print(f"{len(batches)} batches of {len(batches[0][1])}; parameters:",
      {name: tuple(value.shape) for name, value in model.state_dict().items()})

# %% [markdown]
# ## Training: the tutorial's five lines, on each
#
# `outputs = model(images)`, `loss = criterion(outputs, labels)`, `optimizer.zero_grad()`,
# `loss.backward()`, `optimizer.step()`. On PyTorch, `backward()` runs torch's autograd; on minicnn it
# walks the recorded graph and calls each layer's hand-written backward kernel.

# %%
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
model.train()
losses = []
for images, labels in batches:
    outputs = model(images)
    loss = criterion(outputs, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())

torch_criterion = tnn.CrossEntropyLoss()
torch_optimizer = torch.optim.SGD(torch_model.parameters(), lr=0.01, momentum=0.9)
torch_model.train()
torch_losses = []
for images, labels in batches:
    outputs = torch_model(torch.from_numpy(images))
    loss = torch_criterion(outputs, torch.from_numpy(labels))
    torch_optimizer.zero_grad()
    loss.backward()
    torch_optimizer.step()
    torch_losses.append(loss.item())

print(f"first batch's loss: minicnn {losses[0]:.6f}, torch {torch_losses[0]:.6f}")
print(f"mean loss of the last 50 steps: minicnn {np.mean(losses[-50:]):.4f}, torch {np.mean(torch_losses[-50:]):.4f}")

# %% [markdown]
# ## The loss curves
#
# The first steps agree to float32's last digits. Later the two drift apart a little: float32 sums in a
# different order (minicnn's Winograd convolution, torch's oneDNN) round differently, and once a ReLU or a
# max-pool window decides the other way the runs go separate, equally good, paths. In float64 they stay
# within about 1e-16 for hundreds of steps ([docs/correctness.md](../correctness.md)).

# %%
def smooth(values, width=20):
    return np.convolve(values, np.ones(width) / width, mode="valid")


fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
for ax, curve, name in ((axes[0], losses, "minicnn"), (axes[1], torch_losses, "PyTorch")):
    ax.plot(curve, color="lightgrey", lw=0.8, label="each batch")
    ax.plot(np.arange(19, len(curve)), smooth(curve), label="mean of 20")
    ax.set_title(name), ax.set_xlabel("step"), ax.set_ylim(0, 2.5), ax.legend()
axes[0].set_ylabel("training loss")
axes[2].semilogy(np.maximum(np.abs(np.array(losses) - np.array(torch_losses)), 1e-12))
axes[2].set_title("|minicnn loss - PyTorch loss|  (equal: drawn at 1e-12)", fontsize=10), axes[2].set_xlabel("step")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Test accuracy
#
# The tutorial's evaluation on all 10 000 test images: the class with the largest logit, under
# `no_grad()` (nothing is recorded and no layer keeps a cache).

# %%
def accuracy(predict):
    correct = 0
    for start in range(0, len(x_test), 500):
        correct += int((predict(x_test[start:start + 500]) == y_test[start:start + 500]).sum())
    return 100 * correct / len(x_test)


model.eval()
torch_model.eval()
with minicnn.no_grad():
    acc = accuracy(lambda images: model(images).argmax(dim=1).numpy())
with torch.no_grad():
    torch_acc = accuracy(lambda images: torch_model(torch.from_numpy(images)).argmax(dim=1).numpy())
print(f"Test Accuracy after {STEPS} steps: minicnn {acc:.2f}%, PyTorch {torch_acc:.2f}%")
assert acc > 90 and torch_acc > 90 and abs(acc - torch_acc) < 2

# %% [markdown]
# And the tutorial's closing picture: six test digits with what each network says they are.

# %%
with minicnn.no_grad():
    ours = model(x_test[:6]).argmax(dim=1).numpy()
with torch.no_grad():
    theirs = torch_model(torch.from_numpy(x_test[:6])).argmax(dim=1).numpy()
fig, axes = plt.subplots(1, 6, figsize=(12, 2.4))
for i, ax in enumerate(axes):
    ax.imshow(x_test[i, 0], cmap="gray")
    ax.set_title(f"label {y_test[i]}\nminicnn {ours[i]}, torch {theirs[i]}", fontsize=9)
    ax.axis("off")
plt.show()
