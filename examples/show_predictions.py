"""The tutorial's figure: six test images with their label and the model's prediction.

    python examples/show_predictions.py runs/minicnn/checkpoint.npz [--out predictions.png]

Loads a checkpoint written by ``minicnn train`` (either backend) into
minicnn's SimpleCNN and saves the figure as a PNG (the tutorial calls plt.show()).
"""
import argparse

from minicnn import SimpleCNN, data, figures, io

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("checkpoint")
parser.add_argument("--out", default="predictions.png")
args = parser.parse_args()

model = SimpleCNN()
model.load_state_dict(io.load_checkpoint(args.checkpoint))
images, labels = data.load_mnist(train=False)
images, labels = images[:64], labels[:64]             # the tutorial's first test batch
predictions = model(images).argmax(axis=1)

figures.save_predictions(args.out, images, labels, predictions)
print(f"wrote {args.out}")
