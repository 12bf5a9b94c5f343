"""The exercises, in the order a course teaches them: what each file is called, which functions the learner
writes in it, and which of minicnn's kernels they stand in for."""
import dataclasses


@dataclasses.dataclass(frozen=True)
class Exercise:
    number: int
    name: str            # what ``minicnn exercises check DIR NAME`` takes
    title: str
    functions: tuple     # the functions the learner writes in the file
    needs: tuple = ()    # exercises whose functions this one runs with (conv's backward: its forward)

    @property
    def file(self):
        return f"{self.number:02d}_{self.name}.py"

    @property
    def label(self):
        return f"{self.number:02d} {self.name}"


EXERCISES = [
    Exercise(1, "linear", "the linear layer", ("linear_forward", "linear_backward")),
    Exercise(2, "relu", "ReLU", ("relu_forward", "relu_backward")),
    Exercise(3, "cross_entropy", "softmax cross-entropy", ("cross_entropy_forward", "cross_entropy_backward")),
    Exercise(4, "max_pool2d", "max pooling", ("max_pool2d_forward", "max_pool2d_backward")),
    Exercise(5, "im2col", "im2col and col2im", ("im2col", "col2im")),
    Exercise(6, "conv2d_forward", "the convolution's forward pass", ("conv2d_forward",)),
    Exercise(7, "conv2d_backward", "the convolution's backward pass", ("conv2d_backward",), needs=("conv2d_forward",)),
    Exercise(8, "avg_pool2d", "average pooling", ("avg_pool2d_forward", "avg_pool2d_backward")),
    Exercise(9, "batch_norm", "batch norm, forward and backward", ("batch_norm_forward", "batch_norm_backward")),
    Exercise(10, "dropout", "dropout", ("dropout_forward", "dropout_backward")),
    Exercise(11, "sgd", "one step of SGD with momentum", ("sgd_step",)),
    Exercise(12, "adam", "one step of Adam", ("adam_step",)),
    Exercise(13, "engine", "the engine: a topological order and accumulating into .grad",
             ("topological_order", "accumulate")),
]
BY_NAME = {e.name: e for e in EXERCISES}

# The exercises whose kernels stand in for minicnn's (kernels.use): exercise -> the kernel names it provides
KERNELS = {"linear": ("linear_forward", "linear_backward"), "relu": ("relu_forward", "relu_backward"),
           "cross_entropy": ("cross_entropy_forward", "cross_entropy_backward"),
           "max_pool2d": ("max_pool2d_forward", "max_pool2d_backward"), "conv2d_forward": ("conv2d_forward",),
           "conv2d_backward": ("conv2d_backward",), "avg_pool2d": ("avg_pool2d_forward", "avg_pool2d_backward"),
           "batch_norm": ("batch_norm_forward", "batch_norm_backward"),
           "dropout": ("dropout_forward", "dropout_backward")}

# What SimpleCNN runs on: these must pass before it trains on the learner's kernels
TRAINING = ("linear", "relu", "cross_entropy", "max_pool2d", "conv2d_forward", "conv2d_backward")


def find(name):
    """The exercise named ``name``: its name (``relu``), number (``2``, ``02``) or file (``02_relu.py``)."""
    text = str(name).strip()
    for exercise in EXERCISES:
        if text in (exercise.name, exercise.file, exercise.file[:-3], str(exercise.number), f"{exercise.number:02d}"):
            return exercise
    raise ValueError(f"exercises: no exercise {name!r}; expected one of {', '.join(e.name for e in EXERCISES)} "
                     f"(or its number)")
