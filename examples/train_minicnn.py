"""The tutorial's training program, written against minicnn instead of torch.

    python examples/train_minicnn.py [--epochs 5] [--limit N]

Every line has its PyTorch twin: ``model(images)``, ``criterion(outputs,
labels)``, ``optimizer.zero_grad()``, then — where torch says
``loss.backward()`` — minicnn hands the loss gradient to the model's
hand-written backward pass.
"""
import argparse


import minicnn
from minicnn import data, io, nn, optim, threads

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--limit", type=int, default=None, help="first N training images only")
args = parser.parse_args()
threads.configure()

# 1. data: MNIST, ToTensor + Normalize((0.5,), (0.5,)) -> float32 (N, 1, 28, 28) in [-1, 1]
x_train, y_train = data.load_mnist(train=True)
x_test, y_test = data.load_mnist(train=False)
if args.limit:
    x_train, y_train = x_train[:args.limit], y_train[:args.limit]
train_loader = data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)

# 2. model, 3. loss and optimiser
minicnn.manual_seed(0)
model = minicnn.SimpleCNN()
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

# 4. training
model.train()
for epoch in range(args.epochs):
    total_loss = 0.0
    for images, labels in train_loader:
        outputs = model(images)                        # forward
        loss = criterion(outputs, labels)
        optimizer.zero_grad()
        model.backward(criterion.backward())           # backward, by hand
        optimizer.step()
        total_loss += loss
    print(f"Epoch [{epoch + 1}/{args.epochs}], Loss: {total_loss / len(train_loader):.4f}")

# 5. test
model.eval()
correct = sum(int((model(x_test[i:i + 1000]).argmax(axis=1) == y_test[i:i + 1000]).sum())
              for i in range(0, len(x_test), 1000))
print(f"Test Accuracy: {100 * correct / len(x_test):.2f}%")
io.save_checkpoint("simplecnn_minicnn.npz", model.state_dict())
