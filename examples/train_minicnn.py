"""The tutorial's training program, written against minicnn instead of torch.

    python examples/train_minicnn.py [--epochs 5] [--limit N] [--out runs/examples/train_minicnn] [--quick]

Read it beside ``examples/tutorial_torchvision.py``, the tutorial's own
program: every line has its PyTorch twin — ``model(images)``,
``criterion(outputs, labels)``, ``optimizer.zero_grad()``,
``loss.backward()``, ``optimizer.step()``, ``loss.item()``, ``torch.no_grad()``.
Where torch's autograd runs its C++ backward formulas, ``loss.backward()``
here walks the recorded graph and calls minicnn's hand-written kernels
(``minicnn/kernels/``, derived in ``docs/backprop.md``).

Writes ``OUT/checkpoint.npz`` (for ``minicnn evaluate``/``predict`` and the
other examples) and ``OUT/predictions.png``, the tutorial's closing figure.
``--quick``: one epoch on 1000 images, tested on the first 1000 test images.
"""
import argparse

import minicnn
from minicnn import data, figures, nn, optim, threads
from minicnn.checkpoint import save_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="first N training images only")
    parser.add_argument("--out", default="runs/examples/train_minicnn")
    parser.add_argument("--quick", action="store_true", help="1 epoch on 1000 images, 1000 test images")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.limit = 1, args.limit or 1000
    threads.configure()

    # 1. data: MNIST, ToTensor + Normalize((0.5,), (0.5,)) -> float32 (N, 1, 28, 28) in [-1, 1]
    x_train, y_train = data.load_mnist(train=True)
    x_test, y_test = data.load_mnist(train=False)
    if args.limit:
        x_train, y_train = x_train[:args.limit], y_train[:args.limit]
    if args.quick:
        x_test, y_test = x_test[:1000], y_test[:1000]
    train_loader = data.DataLoader(x_train, y_train, batch_size=64, shuffle=True, seed=0)
    test_loader = data.DataLoader(x_test, y_test, batch_size=64, shuffle=False)

    # 2. model, 3. loss and optimiser
    minicnn.manual_seed(0)
    model = minicnn.SimpleCNN()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    # 4. training
    model.train()
    for epoch in range(args.epochs):
        total_loss = 0
        for images, labels in train_loader:
            outputs = model(images)            # forward (recorded on the graph)
            loss = criterion(outputs, labels)  # loss, a 0-d Tensor
            optimizer.zero_grad()              # clear the gradients
            loss.backward()                    # backward: the hand-written kernels, in reverse order
            optimizer.step()                   # update
            total_loss += loss.item()
        print(f"Epoch [{epoch + 1}/{args.epochs}], Loss: {total_loss / len(train_loader):.4f}")

    # 5. test
    model.eval()
    correct = 0
    total = 0
    with minicnn.no_grad():
        for images, labels in test_loader:
            outputs = model(images)
            _, predicted = minicnn.max(outputs, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    accuracy = 100 * correct / total
    print(f"Test Accuracy: {accuracy:.2f}%")

    # 6. the tutorial shows six test digits with their predictions; we save them, and the weights
    with minicnn.no_grad():
        predicted = model(x_test[:6]).argmax(1).numpy()
    figures.save_predictions(f"{args.out}/predictions.png", x_test[:6], y_test[:6], predicted)
    save_checkpoint(f"{args.out}/checkpoint.npz", model.state_dict(), {"name": "simplecnn", "kwargs": {}})
    print(f"wrote {args.out}/checkpoint.npz and {args.out}/predictions.png")
    return accuracy


if __name__ == "__main__":
    main()
