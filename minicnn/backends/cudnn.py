"""``torch.backends.cudnn``: NVIDIA's cuDNN, which minicnn does not have; its flags are accepted and unused."""

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available():
    return False


def version():
    return None
