"""``minicnn exercises check DIR --train``: the tutorial's SimpleCNN trained on the learner's kernels and on
minicnn's, from the same seed over the same batches, and the two test accuracies side by side."""
import time

TOLERANCE = 0.3   # points of test accuracy: the learner's run must end this close to minicnn's


def train_simplecnn(kernels, images, labels, test_images, test_labels, seed=0, batch_size=64, lr=0.01, momentum=0.9):
    """One epoch of SimpleCNN (the separate Conv2d, ReLU and MaxPool2d layers: the learner's kernels are those)
    with SGD, on ``kernels`` (``"fast"`` or a mapping for ``kernels.use``); returns the test accuracy in %."""
    from .. import data, kernels as K, nn, optim
    from ..models import SimpleCNN
    from ..rng import manual_seed
    from ..train import accuracy, train_step
    manual_seed(seed)
    model = SimpleCNN(fused=False)
    criterion, optimizer = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    with K.use(kernels):
        model.train()
        for batch_images, batch_labels in data.DataLoader(images, labels, batch_size=batch_size, shuffle=True,
                                                          seed=seed):
            train_step(model, batch_images, batch_labels, criterion, optimizer)
        return accuracy(model, test_images, test_labels)


def compare_training(overrides, out=print, data_dir=None, limit=None, seed=0):
    """Train on the learner's kernels, then on minicnn's; print both accuracies; ValueError if they are more
    than :data:`TOLERANCE` points apart (the learner's kernels train differently)."""
    from .. import data, threads
    threads.configure()
    root = data.resolve_root(data_dir)
    images, labels = data.load_mnist(root, train=True)
    test_images, test_labels = data.load_mnist(root, train=False)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    out(f"training SimpleCNN for one epoch ({len(images)} images, SGD lr 0.01 momentum 0.9, seed {seed}) on your "
        f"kernels ({', '.join(sorted({k.rsplit('_', 1)[0] for k in overrides}))}), then on minicnn's ...")
    begun = time.monotonic()
    yours = train_simplecnn(overrides, images, labels, test_images, test_labels, seed)
    middle = time.monotonic()
    theirs = train_simplecnn("fast", images, labels, test_images, test_labels, seed)
    out(f"test accuracy on your kernels: {yours:.2f}%  ({middle - begun:.0f} s)")
    out(f"test accuracy on minicnn's:    {theirs:.2f}%  ({time.monotonic() - middle:.0f} s)")
    if abs(yours - theirs) > TOLERANCE:
        raise ValueError(f"--train: your kernels trained to {yours:.2f}%, minicnn's to {theirs:.2f}% from the same "
                         f"seed: more than {TOLERANCE} points apart")
    out(f"within {TOLERANCE} points of minicnn's: your kernels train the tutorial's network")
    return yours, theirs
