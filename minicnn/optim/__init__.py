"""Optimisers and learning-rate schedules shaped like ``torch.optim``.

``Optimizer`` (``optimizer.py``) holds the param groups and per-parameter
state; each optimiser is then only its update rule, written out in its
module's docstring: ``sgd.py``, ``adam.py`` (Adam, AdamW), ``rmsprop.py``,
``adagrad.py``, ``adadelta.py``.
``lr_scheduler`` changes the groups' ``lr`` between epochs (StepLR,
MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR, ReduceLROnPlateau)
or between batches (OneCycleLR, which also cycles the momentum).

Registries, for a command line or a config file:

``OPTIMIZERS``
    ``"sgd"`` -> SGD, ``"adam"`` -> Adam, ``"adamw"`` -> AdamW, ``"rmsprop"`` -> RMSprop,
    ``"adagrad"`` -> Adagrad, ``"adadelta"`` -> Adadelta.
``SCHEDULERS`` (from ``lr_scheduler``)
    ``"none"`` -> None (a constant lr), ``"step"`` -> StepLR,
    ``"multistep"`` -> MultiStepLR, ``"cosine"`` -> CosineAnnealingLR.  The other
    schedules need what a name cannot give (a function, a metric, the number of
    batches) and are constructed in code.
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .lr_scheduler import SCHEDULERS
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop, "adagrad": Adagrad,
              "adadelta": Adadelta}

__all__ = ["OPTIMIZERS", "SCHEDULERS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop",
           "lr_scheduler"]
