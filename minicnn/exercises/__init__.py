"""Exercises: write each backward pass yourself, graded on your machine by the evidence minicnn uses.

``minicnn exercises init DIR`` writes a workbook, one file per exercise in course order (linear, ReLU,
softmax cross-entropy, max pooling, im2col/col2im, the convolution's forward and backward, average pooling,
batch norm, dropout, the SGD-momentum and Adam steps, the engine's order and accumulation), each with its
functions' signatures, shapes and contract and bodies that raise NotImplementedError.
``minicnn exercises check DIR [NAME]`` plugs the learner's functions into minicnn's ops
(``kernels.use``) and grades them in stages, stopping at the first failure: the contract, float64 central
differences of the learner's own forward, torch on hypothesis-drawn cases (the hard ones first), torch's
OpInfo samples; a failure names the first wrong element, the expected and obtained values, and the known
mistake it looks like.  ``--train`` then trains SimpleCNN on the learner's kernels beside minicnn's.
``minicnn exercises status DIR`` is the progress table (cached in ``DIR/.progress.json``), and
``minicnn train --kernels DIR`` trains on the learner's kernels.

docs/exercises.md is the guide.  The modules: :mod:`.catalog` (the exercises), :mod:`.workbook` (the files),
:mod:`.checks` (grading one exercise), :mod:`.stages`, :mod:`.specs` and :mod:`.mistakes` (the kernel
exercises' stages, cases and known mistakes), :mod:`.optim_checks`, :mod:`.engine_checks`, :mod:`.grading`
(what they share), :mod:`.progress`, :mod:`.training`, :mod:`.commands` (what the CLI runs).
"""
from .catalog import EXERCISES, TRAINING, Exercise, find
from .checks import Result, check_exercise, report
from .commands import (ExercisesFailed, check_command, init_command, kernels_for_training, status_command,
                       status_rows)
from .workbook import LoadError, hypothesis_home, init, load, load_file, template

__all__ = ["EXERCISES", "TRAINING", "Exercise", "ExercisesFailed", "LoadError", "Result", "check_command",
           "check_exercise", "find", "hypothesis_home", "init", "init_command", "kernels_for_training", "load",
           "load_file", "report", "status_command", "status_rows", "template"]
