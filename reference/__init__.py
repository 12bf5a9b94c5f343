"""The PyTorch reference: the tutorial's SimpleCNN and training loop in torch.

``reference/`` mirrors ``minicnn/``'s names so the two can be read side by side:

    minicnn/models.py   SimpleCNN with hand-written backward    reference/models.py   the tutorial's torch SimpleCNN
    minicnn/train.py    train(cfg) on minicnn's layers          reference/train.py    train(cfg) on torch.nn

Both train on the same batches (``minicnn.data.DataLoader`` with the same seed)
and read and write the same ``.npz`` checkpoints.  ``reference.models`` and
``reference.train`` import torch; ``minicnn`` itself never does (``minicnn
train --backend torch`` imports them only when asked).
"""
